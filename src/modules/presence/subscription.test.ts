// Every row of RFC 6121 Appendix A (A.2: outbound, A.3: inbound), plus pre-approval (§3.4).
import { describe, expect, it } from "vitest";
import { itemWithState, stateOf, transition, type Direction, type SubState, type SubscriptionType } from "./subscription.ts";

const STATES: Record<string, SubState> = {
  "None": { subscription: "none", pendingOut: false, pendingIn: false, approved: false },
  "None + Pending Out": { subscription: "none", pendingOut: true, pendingIn: false, approved: false },
  "None + Pending In": { subscription: "none", pendingOut: false, pendingIn: true, approved: false },
  "None + Pending Out/In": { subscription: "none", pendingOut: true, pendingIn: true, approved: false },
  "To": { subscription: "to", pendingOut: false, pendingIn: false, approved: false },
  "To + Pending In": { subscription: "to", pendingOut: false, pendingIn: true, approved: false },
  "From": { subscription: "from", pendingOut: false, pendingIn: false, approved: false },
  "From + Pending Out": { subscription: "from", pendingOut: true, pendingIn: false, approved: false },
  "Both": { subscription: "both", pendingOut: false, pendingIn: false, approved: false },
};

const SAME = "no state change";
type Row = [existing: string, passes: "yes" | "no", result: string];

/** Appendix A: for outbound, "passes" is ROUTE?; for inbound, DELIVER?. */
const TABLES: Record<`${Direction} ${SubscriptionType}`, Row[]> = {
  // A.2.1 (and §3.1.2: the user's server routes every subscribe, so peers out of sync recover)
  "outbound subscribe": [
    ["None", "yes", "None + Pending Out"],
    ["None + Pending Out", "yes", SAME],
    ["None + Pending In", "yes", "None + Pending Out/In"],
    ["None + Pending Out/In", "yes", SAME],
    ["To", "yes", SAME],
    ["To + Pending In", "yes", SAME],
    ["From", "yes", "From + Pending Out"],
    ["From + Pending Out", "yes", SAME],
    ["Both", "yes", SAME],
  ],
  // A.2.2 (and §3.3.2: always routed)
  "outbound unsubscribe": [
    ["None", "yes", SAME],
    ["None + Pending Out", "yes", "None"],
    ["None + Pending In", "yes", SAME],
    ["None + Pending Out/In", "yes", "None + Pending In"],
    ["To", "yes", "None"],
    ["To + Pending In", "yes", "None + Pending In"],
    ["From", "yes", SAME],
    ["From + Pending Out", "yes", "From"],
    ["Both", "yes", "From"],
  ],
  // A.2.3 (without a pending request, "subscribed" is a pre-approval: see below)
  "outbound subscribed": [
    ["None + Pending In", "yes", "From"],
    ["None + Pending Out/In", "yes", "From + Pending Out"],
    ["To + Pending In", "yes", "Both"],
    ["From", "no", SAME],
    ["From + Pending Out", "no", SAME],
    ["Both", "no", SAME],
  ],
  // A.2.4
  "outbound unsubscribed": [
    ["None", "no", SAME],
    ["None + Pending Out", "no", SAME],
    ["None + Pending In", "yes", "None"],
    ["None + Pending Out/In", "yes", "None + Pending Out"],
    ["To", "no", SAME],
    ["To + Pending In", "yes", "To"],
    ["From", "yes", "None"],
    ["From + Pending Out", "yes", "None + Pending Out"],
    ["Both", "yes", "To"],
  ],
  // A.3.1 (From/Both: not delivered, the server auto-replies "subscribed")
  "inbound subscribe": [
    ["None", "yes", "None + Pending In"],
    ["None + Pending Out", "yes", "None + Pending Out/In"],
    ["None + Pending In", "no", SAME],
    ["None + Pending Out/In", "no", SAME],
    ["To", "yes", "To + Pending In"],
    ["To + Pending In", "no", SAME],
    ["From", "no", SAME],
    ["From + Pending Out", "no", SAME],
    ["Both", "no", SAME],
  ],
  // A.3.2
  "inbound unsubscribe": [
    ["None", "no", SAME],
    ["None + Pending Out", "no", SAME],
    ["None + Pending In", "yes", "None"],
    ["None + Pending Out/In", "yes", "None + Pending Out"],
    ["To", "no", SAME],
    ["To + Pending In", "yes", "To"],
    ["From", "yes", "None"],
    ["From + Pending Out", "yes", "None + Pending Out"],
    ["Both", "yes", "To"],
  ],
  // A.3.3
  "inbound subscribed": [
    ["None", "no", SAME],
    ["None + Pending Out", "yes", "To"],
    ["None + Pending In", "no", SAME],
    ["None + Pending Out/In", "yes", "To + Pending In"],
    ["To", "no", SAME],
    ["To + Pending In", "no", SAME],
    ["From", "no", SAME],
    ["From + Pending Out", "yes", "Both"],
    ["Both", "no", SAME],
  ],
  // A.3.4
  "inbound unsubscribed": [
    ["None", "no", SAME],
    ["None + Pending Out", "yes", "None"],
    ["None + Pending In", "no", SAME],
    ["None + Pending Out/In", "yes", "None + Pending In"],
    ["To", "yes", "None"],
    ["To + Pending In", "yes", "None + Pending In"],
    ["From", "no", SAME],
    ["From + Pending Out", "yes", "From"],
    ["Both", "yes", "From"],
  ],
};

describe("RFC 6121 Appendix A", () => {
  for (const [event, rows] of Object.entries(TABLES)) {
    const [direction, type] = event.split(" ") as [Direction, SubscriptionType];
    const passEffect = direction === "outbound" ? "forward" : "deliver";
    describe(event, () => {
      it.each(rows)("%s: passes=%s, becomes %s", (existing, passes, result) => {
        const out = transition(STATES[existing]!, direction, type);
        expect(out.state).toEqual(STATES[result === SAME ? existing : result]);
        expect(out.effects.includes(passEffect)).toBe(passes === "yes");
      });
    });
  }
});

describe("side effects", () => {
  it("inbound subscribe is stored until answered; answering drops it", () => {
    expect(transition(STATES["None"]!, "inbound", "subscribe").effects).toContain("store-request");
    expect(transition(STATES["None + Pending In"]!, "outbound", "subscribed").effects).toContain("drop-request");
    expect(transition(STATES["To + Pending In"]!, "outbound", "unsubscribed").effects).toContain("drop-request");
    expect(transition(STATES["None + Pending In"]!, "inbound", "unsubscribe").effects).toContain("drop-request");
  });
  it.each(["From", "From + Pending Out", "Both"])("inbound subscribe in %s is auto-approved with presence", (s) => {
    expect(transition(STATES[s]!, "inbound", "subscribe").effects).toEqual(["auto-subscribed", "send-presence"]);
  });
  it("approving sends the owner's presence; revoking sends unavailable", () => {
    expect(transition(STATES["None + Pending In"]!, "outbound", "subscribed").effects).toContain("send-presence");
    expect(transition(STATES["Both"]!, "outbound", "unsubscribed").effects).toContain("send-unavailable");
    expect(transition(STATES["From"]!, "inbound", "unsubscribe").effects).toContain("send-unavailable");
    expect(transition(STATES["None + Pending In"]!, "outbound", "unsubscribed").effects).not.toContain("send-unavailable");
  });
});

describe("pre-approval (RFC 6121 §3.4)", () => {
  const approved = (name: string): SubState => ({ ...STATES[name]!, approved: true });
  it.each(["None", "None + Pending Out", "To"])("outbound subscribed in %s pre-approves, unrouted", (s) => {
    const out = transition(STATES[s]!, "outbound", "subscribed");
    expect(out.state).toEqual(approved(s));
    expect(out.effects).toEqual([]);
  });
  it.each([["None", "From"], ["None + Pending Out", "From + Pending Out"], ["To", "Both"]])(
    "inbound subscribe in %s + approved becomes %s with an auto-reply", (s, result) => {
      const out = transition(approved(s), "inbound", "subscribe");
      expect(out.state).toEqual(STATES[result]);
      expect(out.effects).toEqual(["auto-subscribed", "send-presence"]);
    });
  it("outbound unsubscribed cancels a pre-approval without routing", () => {
    const out = transition(approved("None"), "outbound", "unsubscribed");
    expect(out.state).toEqual(STATES["None"]);
    expect(out.effects).toEqual([]);
  });
  it("a second pre-approval changes nothing", () => {
    const s = approved("None");
    expect(transition(s, "outbound", "subscribed").state).toBe(s);
  });
});

describe("state <-> roster item", () => {
  it("reads ask and approved", () => {
    expect(stateOf({ jid: "a@b", groups: [], subscription: "to", ask: "subscribe" }, true))
      .toEqual({ subscription: "to", pendingOut: true, pendingIn: true, approved: false });
    expect(stateOf(undefined, false)).toEqual(STATES["None"]);
  });
  it("a pending request alone makes no item", () => {
    expect(itemWithState(undefined, "a@b", STATES["None + Pending In"]!)).toBeUndefined();
  });
  it("creates an item when the state needs one", () => {
    expect(itemWithState(undefined, "a@b", STATES["None + Pending Out"]!))
      .toEqual({ jid: "a@b", groups: [], subscription: "none", ask: "subscribe" });
    expect(itemWithState(undefined, "a@b", { ...STATES["None"]!, approved: true }))
      .toEqual({ jid: "a@b", groups: [], subscription: "none", approved: true });
  });
  it("keeps name and groups, clears ask and approved", () => {
    const item = { jid: "a@b", name: "A", groups: ["G"], subscription: "none" as const, ask: "subscribe" as const, approved: true as const };
    expect(itemWithState(item, "a@b", STATES["To"]!)).toEqual({ jid: "a@b", name: "A", groups: ["G"], subscription: "to" });
  });
  it("an item once there stays at none", () => {
    expect(itemWithState({ jid: "a@b", groups: [], subscription: "to" }, "a@b", STATES["None"]!))
      .toEqual({ jid: "a@b", groups: [], subscription: "none" });
  });
});
