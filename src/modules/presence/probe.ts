// RFC 6121 §4.3.2: a presence probe to a local account. A subscriber ("from" or "both", or the
// account itself) gets the last presence of each available resource, or unavailable presence
// when there is none; anyone else learns nothing about the account's presence and, as the RFC
// recommends, gets "unsubscribed" so that its server's roster can catch up.
import { xml } from "../../xml/element.ts";
import type { StanzaEvent } from "../../core/events.ts";
import { readdress } from "../../core/stanza.ts";
import { sendsPresence } from "../roster/item.ts";
import { availableSessions, route, type PresenceEnv } from "./env.ts";

export async function answerProbe(env: PresenceEnv, ev: StanzaEvent): Promise<void> {
  const owner = ev.to.bare;
  const requester = ev.from;
  if (!requester.bare.equals(owner)) {
    const item = await env.roster.item(owner, requester.bare.toString());
    if (!sendsPresence(item?.subscription)) {
      // A contact still waiting for an answer to its request is not told "no" by a probe.
      if (!(await env.roster.hasPending(owner, requester.bare.toString()))) {
        await route(env, xml("presence", { type: "unsubscribed", from: owner.toString(), to: requester.bare.toString() }));
      }
      return;
    }
  }
  const sessions = availableSessions(env, owner);
  if (sessions.length === 0) {
    await route(env, xml("presence", { type: "unavailable", from: owner.toString(), to: requester.toString() }));
    return;
  }
  for (const s of sessions) await route(env, readdress(s.presence!, requester.toString(), s.jid.toString()));
}
