// The cluster-sessions scenario of the benchmark (scenarios/cluster-sessions.ts) at a tiny scale,
// so that it cannot rot: two real nodes of ours on a Redis of their own, two generator processes
// logging in 600 sessions over TCP, and both broadcasts (the XEP-0133 announcement through the
// admin sockets, the presence of an account with every other one as a subscriber) reaching every
// session; 300 sessions a node and 600 contacts are more than one pace (src/core/pace.ts) of
// each loop. Not a measurement: unpinned, tiny.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makeCert } from "./lib/cert.ts";
import { clusterSessions } from "./scenarios/cluster-sessions.ts";

const dir = mkdtempSync(join(tmpdir(), "xmppd-cluster-sessions-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the cluster-sessions scenario, 2 nodes and 600 sessions", () => {
  it("holds every session and reaches each with the announcement and the presence", { timeout: 180_000 }, async () => {
    const lines: string[] = [];
    const r = await clusterSessions({ sessions: 600, nodes: 2, dir, tls: makeCert(dir, "localhost"), concurrency: 20, broadcastTimeoutMs: 30_000, log: (l) => lines.push(l) });
    const why = `${JSON.stringify(r, null, 1)}\n${lines.join("\n")}`;
    expect(r.held, why).toBe(600);
    expect(r.failedLogins, why).toBe(0);
    expect(r.nodes.map((n) => n.sessions)).toEqual([300, 300]);
    expect(r.announce.reached, why).toBe(600);
    expect(r.announce.detail.sentByNodes).toEqual([300, 300]);
    expect(r.presence.reached, why).toBe(600);
    expect(r.announce.ms).toBeGreaterThan(0);
    expect(r.presence.ms).toBeGreaterThan(0);
    expect(r.login.perSecond).toBeGreaterThan(0);
    expect(r.redis.own).toBe(true);
    expect(r.redis.afterMiB).toBeGreaterThan(0);
    expect(r.redis.keys).toBeGreaterThan(600);
    expect(r.warnings, why).toEqual({ count: 0, first: [] });
  });
});
