// XEP-0012: Last Activity. To an account's bare JID (§4, offline user query): the seconds since
// the account's last resource went away and the status it left with, for the account itself and
// for contacts allowed to see its presence ("from"/"both"); 0 while a resource is available;
// <forbidden/> for anyone else. To the server (§5): its uptime. Queries to a full JID reach
// the client itself (the router delivers them).
import { xml, type Element } from "../xml/element.ts";
import { NS } from "../xml/ns.ts";
import type { JID } from "../xml/jid.ts";
import { StanzaError } from "../core/errors.ts";
import { defineModule } from "../core/module.ts";
import { isAvailable, sessionKey, type Session } from "../core/session.ts";
import { sendsPresence, type Subscription } from "./roster/item.ts";
import { ROSTER } from "./roster/service.ts";

export interface LastRecord {
  /** When the last resource went unavailable or disconnected (ms since epoch). */
  at: number;
  status?: string;
}

/** Status texts longer than this are cut: they are kept for every account. */
export const MAX_STATUS = 1024;

/** The status text of the session's last unavailable presence. */
const STATUS = sessionKey<string>("last.status");
/** The session has been available since its last recorded unavailable presence. */
const SEEN = sessionKey<boolean>("last.seen");

export function secondsSince(then: number, now: number): number {
  return Math.max(0, Math.floor((now - then) / 1000));
}

export function lastQuery(seconds: number, status?: string): Element {
  return xml("query", { xmlns: NS.last, seconds }, status || undefined);
}

/** §4: the account itself, or someone the account's presence goes to. */
export function mayQuery(requester: JID, owner: JID, subscription: Subscription | undefined): boolean {
  return requester.bare.equals(owner.bare) || sendsPresence(subscription);
}

export function statusOf(presence: Element): string | undefined {
  const text = presence.getChildText("status");
  return text ? text.slice(0, MAX_STATUS) : undefined;
}

export default defineModule({
  name: "last",
  specs: [{ spec: "XEP-0012", version: "2.0" }],
  depends: ["roster"],
  setup(ctx) {
    const started = Date.now();
    const store = ctx.keyval<LastRecord>("last");
    const roster = ctx.use(ROSTER);
    const sessions = ctx.sessions;
    const online = (account: JID) => sessions.of(account).some(isAvailable);
    const record = (session: Session) => store.set(session.jid.bare.toString(), { at: Date.now(), status: session.get(STATUS) });

    ctx.feature(NS.last);
    ctx.accountFeature(NS.last);
    ctx.iq("host", NS.last, "query", { get: () => lastQuery(secondsSince(started, Date.now())) });
    ctx.iq("account", NS.last, "query", {
      get: async ({ from, to }) => {
        const owner = to.bare;
        const item = from.bare.equals(owner) ? undefined : await roster.item(owner, from.bare.toString());
        if (!mayQuery(from, owner, item?.subscription)) throw new StanzaError("forbidden");
        if (online(owner)) return lastQuery(0);
        const last = await store.get(owner.toString());
        if (!last) throw new StanzaError("item-not-found", "no recorded activity");
        return lastQuery(secondsSince(last.at, Date.now()), last.status);
      },
    });
    // After the presence module (band "early") has updated the session.
    ctx.handle("presence/broadcast", async ({ origin, stanza }) => {
      if (!origin) return;
      if (stanza.attrs.type !== "unavailable") {
        origin.set(STATUS, undefined);
        origin.set(SEEN, true);
        return;
      }
      origin.set(STATUS, statusOf(stanza));
      origin.set(SEEN, undefined);
      if (!online(origin.jid)) await record(origin);
    }, "late");
    // A session that never sent available presence was never online for anyone (a bot's, a
    // client woken by a push to fetch its messages): its end changes nothing to record, as in
    // ejabberd and Prosody. One that went unavailable before closing was recorded then.
    ctx.on("session/closed", async ({ session }) => {
      if (session.get(SEEN) && !online(session.jid)) await record(session);
    });
  },
});
