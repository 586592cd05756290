// The soak's accounting and verdict on made-up data: a lost, duplicated or reordered message is
// seen; memory that climbs over the second half fails, a sawtooth around a level does not.
import { describe, expect, it } from "vitest";
import { Ledger } from "./ledger.ts";
import { trends, verdict, type Sample } from "./sample.ts";

const counts = { stanzasSent: 0, stanzasReceived: 0, logins: 0, logouts: 0, cuts: 0, resumes: 0, resent: 0, failures: 0 };

describe("soak ledger", () => {
  it("counts each stream's messages once and in order", () => {
    const l = new Ledger();
    const bodies = [0, 1, 2, 3].map(() => l.body("c", "a", "b"));
    for (const b of bodies) l.receive("b", b);
    expect(l.account()).toMatchObject({ sent: 4, received: 4, lost: 0, duplicated: 0, reordered: 0 });
  });

  it("sees a message lost, one duplicated and one overtaken", () => {
    const l = new Ledger();
    const [m0, m1, m2, m3] = [0, 1, 2, 3].map(() => l.body("c", "a", "b"));
    l.receive("b", m0!);
    l.receive("b", m0!);
    l.receive("b", m2!);
    l.receive("b", m1!);
    expect(l.owed("b")).toBe(1);
    expect(l.account()).toMatchObject({ sent: 4, received: 3, lost: 1, duplicated: 1, reordered: 1 });
    l.receive("b", m3!);
    expect(l.outstanding).toBe(0);
  });

  it("when tracing, a lost message is named with its send time and its note", () => {
    const l = new Ledger(true, (key, code) => `${key.split(" ")[0]} note ${code}`);
    const bodies = Array.from({ length: 3000 }, (_, i) => l.body("c", "a", "b", i * 7));
    for (const [i, b] of bodies.entries()) if (i !== 2500) l.receive("b", b);
    const { lostMessages } = l.account();
    expect(lostMessages).toHaveLength(1);
    expect(lostMessages![0]).toMatchObject({ stream: "c a b", seq: 2500, note: "c note 17500" });
    expect(lostMessages![0]!.at).toBeCloseTo(Number(bodies[2500]!.split(" ")[4]), 2);
    expect(new Ledger().account().lostMessages).toBeUndefined();
  });

  it("a room message is owed to every occupant; one addressed to someone else is a stranger", () => {
    const l = new Ledger();
    const m = l.roomBody("a", "r@conference.localhost", ["a", "b", "c"]);
    l.receive("a", m);
    l.receive("b", m);
    expect(l.owed("c")).toBe(1);
    l.receive("c", l.body("c", "a", "b"));
    expect(l.strangers).toBe(1);
    expect(l.account()).toMatchObject({ sent: 4, received: 2, lost: 2 });
  });
});

const sample = (t: number, rssMiB: number, heapFloorMiB: number, otherFds: number): Sample => ({
  t, rssMiB, heapMiB: heapFloorMiB, heapFloorMiB, fds: otherFds + 10, connections: 10, otherFds, sessions: 10, detached: 0,
  sentPerSec: 100, receivedPerSec: 100, p50ms: 1, p99ms: 2, latencySamples: 100, held: 0, heldMaxMs: NaN, cuts: 0, logins: 0, failures: 0, serverCpu: 0.5, generatorCpu: 0.3, load: 1,
});
const none = { streams: 1, sent: 10, received: 10, lost: 0, duplicated: 0, reordered: 0, examples: [] };

describe("soak verdict", () => {
  it("a level with noise is flat", () => {
    const s = Array.from({ length: 60 }, (_, i) => sample(i * 10, 200 + (i % 3) * 4, 40 + (i % 5), 40 + (i % 2)));
    expect(trends(s).map((t) => t.growing)).toEqual([false, false, false]);
    expect(verdict(s, none, counts, []).pass).toBe(true);
  });

  it("RSS, heap or descriptors climbing over the second half fail", () => {
    const flat = (i: number) => sample(i * 10, 200, 40, 40);
    const climb = [
      (i: number) => ({ ...flat(i), rssMiB: 200 + i }),
      (i: number) => ({ ...flat(i), heapFloorMiB: 40 + i / 2 }),
      (i: number) => ({ ...flat(i), otherFds: 40 + Math.floor(i / 3) }),
    ];
    for (const [k, f] of climb.entries()) {
      const t = trends(Array.from({ length: 60 }, (_, i) => f(i)));
      expect(t.map((x) => x.growing), t[k]!.metric).toEqual([0, 1, 2].map((j) => j === k));
    }
  });

  it("a lost message or a failure fails a flat run", () => {
    const s = Array.from({ length: 20 }, (_, i) => sample(i * 10, 200, 40, 40));
    expect(verdict(s, { ...none, received: 9, lost: 1 }, counts, []).pass).toBe(false);
    expect(verdict(s, none, { ...counts, failures: 1 }, ["x"]).pass).toBe(false);
    expect(verdict(s.slice(0, 3), none, counts, []).pass).toBe(false);
  });
});
