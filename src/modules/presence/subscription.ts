// RFC 6121 §3 and Appendix A: the presence subscription state machine, as a pure function of
// (state, direction, stanza type). The state is the owner's view of one contact: "None", "To",
// "From", "Both", each with its pending sub-states, plus the pre-approval flag of §3.4.
//
// "outbound": the owner sent the stanza (Appendix A.2, the user's server); "forward" means route
// it to the contact. "inbound": the contact sent it (Appendix A.3, the contact's server);
// "deliver" means hand it to the owner's available resources. The other effects are what the
// server does on the owner's behalf; the caller performs them after storing the new state.
import type { RosterItem, Subscription } from "../roster/item.ts";

export type SubscriptionType = "subscribe" | "subscribed" | "unsubscribe" | "unsubscribed";
export type Direction = "outbound" | "inbound";

export interface SubState {
  subscription: Subscription;
  /** The owner asked for the contact's presence (ask='subscribe'). */
  pendingOut: boolean;
  /** The contact asked for the owner's presence; the request is stored until answered. */
  pendingIn: boolean;
  /** §3.4: the owner approved in advance. */
  approved: boolean;
}

export type Effect =
  | "forward"
  | "deliver"
  | "store-request"
  | "drop-request"
  /** Answer "subscribed" on the owner's behalf (§3.1.3: the contact already has "from"; §3.4). */
  | "auto-subscribed"
  /** The contact just gained "from": send it the presence of each available resource (§3.1.5). */
  | "send-presence"
  /** The contact lost "from": send it unavailable from each available resource (§3.2.2, §3.3.3). */
  | "send-unavailable";

export interface Outcome {
  state: SubState;
  effects: Effect[];
}

export const SUBSCRIPTION_TYPES: ReadonlySet<string> = new Set(["subscribe", "subscribed", "unsubscribe", "unsubscribed"]);

const hasTo = (s: Subscription) => s === "to" || s === "both";
const hasFrom = (s: Subscription) => s === "from" || s === "both";
const withTo = (s: Subscription, on: boolean): Subscription => compose(on, hasFrom(s));
const withFrom = (s: Subscription, on: boolean): Subscription => compose(hasTo(s), on);

function compose(to: boolean, from: boolean): Subscription {
  return to ? (from ? "both" : "to") : from ? "from" : "none";
}

export function transition(state: SubState, direction: Direction, type: SubscriptionType): Outcome {
  return direction === "outbound" ? outbound(state, type) : inbound(state, type);
}

/** Appendix A.2. Subscribe and unsubscribe are always routed (§3.1.2, §3.3.2: they resync peers). */
function outbound(s: SubState, type: SubscriptionType): Outcome {
  switch (type) {
    case "subscribe":
      if (hasTo(s.subscription) || s.pendingOut) return { state: s, effects: ["forward"] };
      return { state: { ...s, pendingOut: true }, effects: ["forward"] };
    case "unsubscribe":
      if (!hasTo(s.subscription) && !s.pendingOut) return { state: s, effects: ["forward"] };
      return { state: { ...s, subscription: withTo(s.subscription, false), pendingOut: false }, effects: ["forward"] };
    case "subscribed":
      if (s.pendingIn) {
        return {
          state: { ...s, subscription: withFrom(s.subscription, true), pendingIn: false, approved: false },
          effects: ["forward", "drop-request", "send-presence"],
        };
      }
      if (hasFrom(s.subscription) || s.approved) return { state: s, effects: [] };
      return { state: { ...s, approved: true }, effects: [] }; // §3.4: a pre-approval, not routed
    case "unsubscribed": {
      const state = { ...s, approved: false }; // [1]: any pre-approval is cancelled
      if (s.pendingIn) return { state: { ...state, pendingIn: false }, effects: ["forward", "drop-request"] };
      if (hasFrom(s.subscription)) {
        return { state: { ...state, subscription: withFrom(s.subscription, false) }, effects: ["forward", "send-unavailable"] };
      }
      return { state: s.approved ? state : s, effects: [] };
    }
  }
}

/** Appendix A.3. */
function inbound(s: SubState, type: SubscriptionType): Outcome {
  switch (type) {
    case "subscribe":
      if (hasFrom(s.subscription)) return { state: s, effects: ["auto-subscribed", "send-presence"] };
      if (s.approved) {
        return { state: { ...s, subscription: withFrom(s.subscription, true), approved: false }, effects: ["auto-subscribed", "send-presence"] };
      }
      if (s.pendingIn) return { state: s, effects: [] };
      return { state: { ...s, pendingIn: true }, effects: ["deliver", "store-request"] };
    case "unsubscribe":
      if (s.pendingIn) return { state: { ...s, pendingIn: false }, effects: ["deliver", "drop-request"] };
      if (hasFrom(s.subscription)) {
        return { state: { ...s, subscription: withFrom(s.subscription, false) }, effects: ["deliver", "send-unavailable"] };
      }
      return { state: s, effects: [] };
    case "subscribed":
      if (!s.pendingOut) return { state: s, effects: [] };
      return { state: { ...s, subscription: withTo(s.subscription, true), pendingOut: false }, effects: ["deliver"] };
    case "unsubscribed":
      if (!s.pendingOut && !hasTo(s.subscription)) return { state: s, effects: [] };
      return { state: { ...s, subscription: withTo(s.subscription, false), pendingOut: false }, effects: ["deliver"] };
  }
}

/** The state held by a roster item (or its absence) and a stored request. */
export function stateOf(item: RosterItem | undefined, pendingIn: boolean): SubState {
  return {
    subscription: item?.subscription ?? "none",
    pendingOut: item?.ask === "subscribe",
    pendingIn,
    approved: item?.approved === true,
  };
}

/**
 * The roster item that holds `state`. A contact only asking for the owner's presence gets no
 * item (§3.1.3: "None + Pending In" is not pushed); an item once there stays, even at "none".
 */
export function itemWithState(item: RosterItem | undefined, jid: string, state: SubState): RosterItem | undefined {
  if (!item && state.subscription === "none" && !state.pendingOut && !state.approved) return undefined;
  const out: RosterItem = { ...(item ?? { jid, groups: [] }), subscription: state.subscription };
  if (state.pendingOut) out.ask = "subscribe";
  else delete out.ask;
  if (state.approved) out.approved = true;
  else delete out.approved;
  return out;
}
