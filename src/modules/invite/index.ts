// Invitations: XEP-0401 (the ad-hoc commands that make them, commands.ts), XEP-0445 (an invitee
// registers with one although public registration is off, preauth.ts) and XEP-0379 (a contact
// invitation makes the invitee and the inviter contacts, pars.ts). Tokens live in the key-value
// store (store.ts), where the command line makes them too (`xmppd invite`). Every hosted domain
// has invitations: each belongs to one domain, registers there only, and befriends an account there.
import { defineModule } from "../../core/module.ts";
import { bool, int } from "../../core/schema.ts";
import { ADHOC } from "../adhoc/command.ts";
import type { PresenceEnv } from "../presence/env.ts";
import { REGISTRATION } from "../register/gate.ts";
import { ROSTER } from "../roster/service.ts";
import { inviteCommands } from "./commands.ts";
import { befriendInviter, preauthSubscriptions } from "./pars.ts";
import { PARS, PreAuthorizations, preauthFeatures } from "./preauth.ts";
import { invitationStores, Invitations } from "./store.ts";

export const INVITE_OPTIONS = {
  expiry: int("Seconds an invitation stays valid (XEP-0379: each token MUST have a limited validity time).", 7 * 86_400, 60),
  usersMayInvite: bool("Let every user make contact invitations (urn:xmpp:invite#invite); administrators always may.", false),
  perUser: int("Open invitations one user who is not an administrator may have at once.", 5, 1),
  perHour: int("Invitations users who are not administrators may make per hour, all of them together (per server process).", 100, 1),
};

export default defineModule({
  name: "invite",
  specs: [{ spec: "XEP-0401", version: "0.6.0" }, { spec: "XEP-0445", version: "0.2.0" }, { spec: "XEP-0379", version: "0.3.3" }],
  depends: ["register", "roster", "presence", "adhoc"],
  options: INVITE_OPTIONS,
  setup(ctx) {
    const invitations = new Invitations(invitationStores({ keyval: (n) => ctx.keyval(n), map: (n) => ctx.map(n) }), ctx.hosts);
    const roster = ctx.use(ROSTER);
    const env: PresenceEnv = { send: ctx.send, sessions: ctx.sessions, accounts: ctx.hosts, notify: ctx.notify, roster };
    const secureEnough = (secure: boolean) => secure || !ctx.settings.c2s.requireTls;

    const gate = new PreAuthorizations(invitations, befriendInviter(roster, ctx.hosts));
    ctx.use(REGISTRATION).addGate(gate);
    ctx.preAuthIq(PARS, gate.handler(secureEnough, ctx.log));
    ctx.fold("stream/features-preauth", (v) => {
      if (secureEnough(v.secure) && ctx.hosts.has(v.domain)) v.features.push(...preauthFeatures());
      return v;
    });

    // Before the presence module's handler: a request with a good token is answered here.
    ctx.handle("presence/bare", preauthSubscriptions(env, invitations), "early");

    const adhoc = ctx.use(ADHOC);
    for (const cmd of inviteCommands(ctx, invitations, ctx.options, ctx.log)) adhoc.add(cmd);
  },
});
