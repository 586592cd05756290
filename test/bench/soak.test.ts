// The soak's machinery over real sockets, short and slow: ours started as `./run bench soak`
// starts it, 16 users (four of them logging in and out), two rooms, connections cut and resumed,
// 150 stanzas/s for 25 s sampled every 2 s. Every message must be accounted for, every cut
// resumed, and every sample must carry the server's memory, heap, descriptors and latency.
import { describe, expect, it } from "vitest";
import { runSoak } from "./soak/index.ts";

describe("soak, briefly", () => {
  it("accounts for every message through logins, logouts and resumptions, and samples the server", { timeout: 120_000 }, async () => {
    const lines: string[] = [];
    const run = await runSoak({
      seconds: 25, rate: 150, users: 16, rooms: 2, interval: 2, cutEveryMs: 1200, churnEveryMs: 800, pin: false, seed: 7, log: (l) => lines.push(l),
    });
    const why = `${run.verdict.join("\n")}\n${lines.join("\n")}`;
    expect(run.counts.failures, why).toBe(0);
    expect(run.accounting.sent, why).toBeGreaterThan(1500);
    expect(run.accounting, why).toMatchObject({ lost: 0, duplicated: 0, reordered: 0, received: run.accounting.sent });
    // Chat between partners (both ways) and room messages to each occupant.
    expect(run.accounting.streams).toBeGreaterThan(16);
    expect(run.counts.cuts, why).toBeGreaterThan(5);
    expect(run.counts.resumes).toBe(run.counts.cuts);
    expect(run.counts.logins).toBeGreaterThan(16);
    expect(run.counts.logouts).toBeGreaterThan(2);
    expect(run.samples.length).toBeGreaterThanOrEqual(10);
    for (const s of run.samples) {
      expect(s.rssMiB).toBeGreaterThan(20);
      expect(s.heapMiB).toBeGreaterThan(1);
      expect(s.fds).toBeGreaterThan(s.connections);
      expect(s.connections).toBeGreaterThanOrEqual(10);
      expect(s.sessions).toBeGreaterThanOrEqual(10);
      expect(s.latencySamples).toBeGreaterThan(0);
      expect(s.p99ms).toBeGreaterThanOrEqual(s.p50ms);
    }
    // Some messages were in flight across a cut and arrived after the resumption.
    expect(run.samples.reduce((n, s) => n + s.held, 0)).toBeGreaterThan(0);
    expect(run.table).toMatch(/\| RSS MiB +\|/);
    expect(run.trends.map((t) => t.metric)).toEqual(["rssMiB", "heapFloorMiB", "otherFds"]);
  });
});
