// RFC 6121 §4.2-§4.5: presence a client sends without a 'to'. Initial presence (§4.2.2) goes to
// the contacts subscribed to the user ("from"/"both"), to the user's available resources, and
// probes the contacts the user is subscribed to ("to"/"both"); the new resource also gets the
// presence of the account's other resources and the subscription requests still unanswered
// (§3.1.3). Subsequent presence (§4.4.2) goes to the same contacts and resources. Unavailable
// presence (§4.5.2), sent or implied by a closed session, also reaches directed-presence targets.
import { xml, type Element } from "../../xml/element.ts";
import { StanzaError } from "../../core/errors.ts";
import type { StanzaEvent } from "../../core/events.ts";
import { isAvailable, type Session } from "../../core/session.ts";
import { pace } from "../../core/pace.ts";
import { readdress } from "../../core/stanza.ts";
import { receivesPresence, sendsPresence, type RosterItem } from "../roster/item.ts";
import { storedRequest } from "../roster/pending.ts";
import { hasDirected, takeDirected } from "./directed.ts";
import { availableSessions, route, type PresenceEnv } from "./env.ts";
import { parseClientPresence } from "./parse.ts";

export async function onBroadcast(env: PresenceEnv, ev: StanzaEvent): Promise<void> {
  const session = ev.origin;
  if (!session) return; // the router raises this hook for local sessions only
  const { type, priority } = parseClientPresence(ev.stanza);
  // The server keeps the stanza as the client sent it, addressed from its full JID, without 'to'.
  const own = readdress(ev.stanza, undefined, session.jid.toString());
  if (type === "available") return available(env, session, own, priority);
  if (type === "unavailable") return unavailable(env, session, own);
  if (type === "error") return; // RFC 6120 §8.3.1: never answered
  throw new StanzaError("bad-request", `presence of type '${type}' needs a 'to'`);
}

async function available(env: PresenceEnv, session: Session, own: Element, priority: number): Promise<void> {
  const initial = !isAvailable(session);
  session.presence = own;
  session.priority = priority;
  const items = await env.roster.items(session.jid);
  await toSubscribers(env, own, items);
  for (const s of availableSessions(env, session.jid)) s.send(readdress(own, s.jid.toString()));
  if (!initial) return;
  for (const item of items) {
    if (receivesPresence(item.subscription)) await route(env, xml("presence", { type: "probe", from: session.jid.toString(), to: item.jid }));
  }
  for (const s of availableSessions(env, session.jid)) {
    if (s !== session) session.send(readdress(s.presence!, session.jid.toString()));
  }
  for (const request of await env.roster.pendingRequests(session.jid)) {
    const stanza = storedRequest(request);
    if (stanza) session.send(stanza);
  }
  await env.notify("presence/initial", session, (e) => session.log.error({ err: e }, "presence/initial listener failed"));
}

async function unavailable(env: PresenceEnv, session: Session, own: Element): Promise<void> {
  const wasAvailable = isAvailable(session);
  session.presence = undefined;
  session.priority = 0;
  await broadcastUnavailable(env, session, own, wasAvailable);
}

/** §4.6.3 and §4.5.2 for a session that ends without saying so: its unavailable presence is implied. */
export async function onClosed(env: PresenceEnv, session: Session): Promise<void> {
  const wasAvailable = isAvailable(session);
  if (!wasAvailable && !hasDirected(session)) return;
  session.presence = undefined;
  await broadcastUnavailable(env, session, xml("presence", { type: "unavailable", from: session.jid.toString() }), wasAvailable);
}

async function broadcastUnavailable(env: PresenceEnv, session: Session, own: Element, wasAvailable: boolean): Promise<void> {
  const directed = takeDirected(session);
  let reached = new Set<string>();
  if (wasAvailable) {
    reached = await toSubscribers(env, own, await env.roster.items(session.jid));
    for (const s of availableSessions(env, session.jid)) {
      if (s !== session) s.send(readdress(own, s.jid.toString()));
    }
  }
  // Directed targets that are subscribers heard it already through their bare JID.
  for (const [target, bare] of directed) {
    if (!reached.has(bare)) await route(env, readdress(own, target));
  }
}

/**
 * Sends the presence to each contact with "from" or "both"; returns their bare JIDs. Paced
 * (core/pace.ts) for large rosters; the session's next stanza waits for this one's broadcast
 * (its stream handles one element at a time), so contacts still get its presence in order.
 */
async function toSubscribers(env: PresenceEnv, own: Element, items: RosterItem[]): Promise<Set<string>> {
  const reached = new Set<string>();
  for (const item of items) {
    if (!sendsPresence(item.subscription)) continue;
    await pace(reached.size);
    reached.add(item.jid);
    await route(env, readdress(own, item.jid));
  }
  return reached;
}
