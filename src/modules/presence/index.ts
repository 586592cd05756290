// RFC 6121 §3 (presence subscriptions, with pre-approval §3.4) and §4 (exchanging presence).
// Presence without a 'to' is the broadcast of broadcast.ts; presence to an account's bare or
// full JID is a subscription stanza, a probe, or directed presence, sorted here.
import { xml } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import type { StanzaEvent } from "../../core/events.ts";
import { defineModule } from "../../core/module.ts";
import { ROSTER } from "../roster/service.ts";
import { onBroadcast, onClosed } from "./broadcast.ts";
import { noteDirected } from "./directed.ts";
import type { PresenceEnv } from "./env.ts";
import { parseClientPresence, presenceType } from "./parse.ts";
import { answerProbe } from "./probe.ts";
import { inboundSubscription, outboundSubscription } from "./subscribe.ts";
import { SUBSCRIPTION_TYPES, type SubscriptionType } from "./subscription.ts";

/** Presence to a local bare or full JID. True when taken; false lets the router deliver it. */
async function onAddressed(env: PresenceEnv, ev: StanzaEvent): Promise<boolean> {
  const origin = ev.origin;
  const type = origin ? parseClientPresence(ev.stanza).type : presenceType(ev.stanza);
  if (type === undefined) return true; // a peer's malformed presence: dropped, never answered
  if (SUBSCRIPTION_TYPES.has(type)) {
    // §3.1.3: subscription stanzas to a full JID are handled as if sent to the bare JID.
    const sub = type as SubscriptionType;
    if (origin) await outboundSubscription(env, ev.from.bare, ev.to.bare, ev.stanza, sub);
    else await inboundSubscription(env, ev.to.bare, ev.from.bare, ev.stanza, sub);
    return true;
  }
  if (type === "probe") {
    await answerProbe(env, ev);
    return true;
  }
  if (origin && (type === "available" || type === "unavailable")) noteDirected(origin, ev.to, type);
  return false;
}

/**
 * A user's presence to a foreign contact (an external component's, or another server's): the
 * sender's side of a subscription (its roster, §3.1.2, and the bare JID stamped) and directed
 * presence are kept as for a local contact, then the stanza goes on. A probe is the contact's
 * server's to answer (§4.3), not ours: it goes on untouched.
 */
async function onForeign(env: PresenceEnv, ev: StanzaEvent): Promise<boolean> {
  return ev.origin !== undefined && parseClientPresence(ev.stanza).type !== "probe" ? onAddressed(env, ev) : false;
}

export default defineModule({
  name: "presence",
  specs: [{ spec: "RFC 6121", version: "RFC" }],
  depends: ["roster"],
  setup(ctx) {
    const env: PresenceEnv = { send: ctx.send, sessions: ctx.sessions, accounts: ctx.hosts, notify: ctx.notify, roster: ctx.use(ROSTER) };
    // Early, so that later listeners of the broadcast see the session's presence already updated.
    ctx.handle("presence/broadcast", (ev) => onBroadcast(env, ev), "early");
    ctx.handle("presence/bare", (ev) => onAddressed(env, ev));
    ctx.handle("presence/full", (ev) => onAddressed(env, ev));
    ctx.handle("stanza/out", (ev) => ev.stanza.name === "presence" && ctx.foreign(ev.to.domain) ? onForeign(env, ev) : false);
    ctx.on("session/closed", ({ session }) => onClosed(env, session));
    ctx.fold("stream/features", (v) => {
      v.features.push(xml("sub", { xmlns: NS.preApproval }));
      return v;
    });
  },
});
