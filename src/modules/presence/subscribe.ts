// RFC 6121 §3: the server's part in presence subscriptions, around the pure state machine of
// subscription.ts. Outbound (§3.1.2, §3.1.5, §3.2.2, §3.3.2): the owner's own stanza, stamped
// with the owner's bare JID and routed to the contact's bare JID. Inbound (§3.1.3, §3.1.6,
// §3.2.3, §3.3.3): a contact's stanza to the owner. State is stored under the owner's roster
// lock; routing and delivery happen after it is released (the peer may be local and answer).
import { xml, type Element } from "../../xml/element.ts";
import type { JID } from "../../xml/jid.ts";
import { readdress } from "../../core/stanza.ts";
import { pendingRequest } from "../roster/pending.ts";
import { availableSessions, route, type PresenceEnv } from "./env.ts";
import { itemWithState, stateOf, transition, type Direction, type Effect, type SubscriptionType } from "./subscription.ts";

interface Exchange {
  owner: JID;
  peer: JID;
  /** The stanza, addressed bare JID to bare JID. */
  stanza: Element;
}

export async function outboundSubscription(env: PresenceEnv, owner: JID, peer: JID, stanza: Element, type: SubscriptionType): Promise<void> {
  // §3.1.2: "stamp the outbound subscription request with the bare JID of the user".
  await settle(env, "outbound", type, { owner, peer, stanza: readdress(stanza, peer.toString(), owner.toString()) });
}

export async function inboundSubscription(env: PresenceEnv, owner: JID, peer: JID, stanza: Element, type: SubscriptionType): Promise<void> {
  if (!(await env.accounts.exists(owner))) {
    // RFC 6121 §8.5.1 / §3.1.3: no such user; a request is answered "unsubscribed", the rest ignored.
    if (type === "subscribe") await route(env, xml("presence", { type: "unsubscribed", from: owner.toString(), to: peer.toString() }));
    return;
  }
  await settle(env, "inbound", type, { owner, peer, stanza: readdress(stanza, owner.toString(), peer.toString()) });
}

async function settle(env: PresenceEnv, direction: Direction, type: SubscriptionType, x: Exchange): Promise<void> {
  if (x.owner.equals(x.peer)) return; // one's own presence needs no subscription
  const contact = x.peer.toString();
  const effects = await env.roster.change(x.owner, contact, (item, pending) => {
    const out = transition(stateOf(item, pending !== undefined), direction, type);
    let next = pending;
    if (out.effects.includes("store-request")) next = pendingRequest(x.stanza);
    if (out.effects.includes("drop-request")) next = undefined;
    return { item: itemWithState(item, contact, out.state), pending: next, result: out.effects };
  });
  for (const e of effects) await perform(env, e, x);
}

async function perform(env: PresenceEnv, effect: Effect, x: Exchange): Promise<void> {
  const owner = x.owner.toString();
  const peer = x.peer.toString();
  switch (effect) {
    case "forward":
      return route(env, x.stanza);
    case "deliver":
      for (const s of availableSessions(env, x.owner)) s.send(x.stanza);
      return;
    case "auto-subscribed":
      return route(env, xml("presence", { type: "subscribed", from: owner, to: peer }));
    case "send-presence":
      for (const s of availableSessions(env, x.owner)) await route(env, readdress(s.presence!, peer, s.jid.toString()));
      return;
    case "send-unavailable":
      for (const s of availableSessions(env, x.owner)) await route(env, xml("presence", { type: "unavailable", from: s.jid.toString(), to: peer }));
      return;
    case "store-request":
    case "drop-request":
      return; // done with the state, under the lock
  }
}
