// The server on a ring of three Cassandra nodes (scripts/services/cassandra.sh start --nodes 3),
// its keyspace replicated three times, read and written at LOCAL_QUORUM. Bob (XEP-0198) pushes
// numbered messages to Alice, who is offline, while one node is killed (SIGKILL) in the middle
// of it: the first contact point, so that the server must go on through the nodes it discovered.
// Writes go on (acks keep coming), and reads too: a login (the account and its credentials), an
// archive query. The node comes back; then another one is stopped the orderly way (SIGTERM),
// and the same holds. At the end, with that node still down, Alice logs in: the offline store
// gives her every acknowledged message once, in order, and her archive holds each of them.
// Skipped unless the ring answers (it is not one of the services scripts/test.sh starts:
// `./run chaos` starts it).
import { spawnSync, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import cassandra from "cassandra-driver";
import type { Element } from "../../src/xml/element.ts";
import { SmClient } from "../helpers/sm.ts";
import { ROOT, freePort, startProcess } from "../helpers/process.ts";
import { Pusher, archived, delivered, expectAllOnce, kill9, sleep } from "../helpers/chaos.ts";
import { ringContactPoints, ringPort, ringUp, startRing, stopRingNode } from "../helpers/cassandra-ring.ts";

const down = await ringUp();
if (down) console.warn(`chaos cassandra tests skipped: ${down}`);
const run = `${process.pid}_${Date.now().toString(36)}`;
const keyspace = `xmppd_chaos_ring_${run}`;
const dir = mkdtempSync(join(tmpdir(), "xmppd-chaos-ring-"));
const configFile = join(dir, "xmppd.json");
let port = 0;
let child: ChildProcess | undefined;
const env = () => ({ ...process.env, XMPPD_DATA_DIR: join(dir, "data"), XMPPD_C2S__PORT: String(port) });
/** Ring nodes this test stopped and has not started again. */
const stopped = new Set<number>();

describe.skipIf(down !== undefined)("a Cassandra node stopped under replication 3 at LOCAL_QUORUM", () => {
  const p = new Pusher("alice@localhost", "c ");

  beforeAll(async () => {
    port = await freePort();
    writeFileSync(configFile, JSON.stringify({
      domain: "localhost",
      log: { level: "warn" },
      c2s: { host: "127.0.0.1", directTlsPort: 0, requireTls: false },
      http: { port: 0, tlsPort: 0 },
      limits: { stanzasPerSecond: 0, bytesPerSecond: 0 },
      storage: {
        backend: "cassandra",
        cassandra: { contactPoints: ringContactPoints(), localDataCenter: "datacenter1", keyspace, consistency: "LOCAL_QUORUM", replication: { class: "SimpleStrategy", replication_factor: 3 } },
      },
    }));
    for (const u of ["alice", "bob"]) {
      const r = spawnSync(process.execPath, [join(ROOT, "src/main.ts"), "-c", configFile, "adduser", `${u}@localhost`, "pw"], { cwd: dir, env: env(), encoding: "utf8" });
      if (r.status !== 0) throw new Error(r.stderr);
    }
    const output = process.env.CHAOS_LOGS ? createWriteStream(join(process.env.CHAOS_LOGS, "ring-server.log")) : undefined;
    child = await startProcess(dir, env(), { args: ["-c", configFile], timeoutMs: 60_000, output });
    p.attach((await SmClient.login(port, "bob", "phone")).c);
  }, 120_000);

  afterAll(async () => {
    await kill9(child);
    // The ring is left as it was found: every node running.
    if (stopped.size > 0) await startRing();
    if (down === undefined) {
      const admin = new cassandra.Client({ contactPoints: ringContactPoints(), localDataCenter: "datacenter1", protocolOptions: { port: ringPort } });
      await admin.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => undefined);
      await admin.shutdown();
    }
    rmSync(dir, { recursive: true, force: true });
  }, 300_000);

  /** Bob writes until `done` says so; the longest wait for an ack, in ms. */
  async function write(done: () => boolean): Promise<number> {
    let longest = 0;
    let last = Date.now();
    while (!done()) {
      const before = p.acked;
      if (!p.burst(2, Infinity, 40)) throw new Error("Bob's connection closed");
      await sleep(20);
      p.collect();
      const now = Date.now();
      if (p.acked > before || p.acked === p.next) last = now;
      longest = Math.max(longest, now - last);
    }
    return longest;
  }

  const forMs = (ms: number) => {
    const end = Date.now() + ms;
    return () => Date.now() >= end;
  };

  /** Reads while a node is down: a new login (account, credentials) and an archive query. */
  async function reads(): Promise<string> {
    const started = Date.now();
    const { c } = await SmClient.login(port, "bob", `reader-${Date.now()}`, { resume: false });
    const loginMs = Date.now() - started;
    const own = await archived(c);
    c.send("</stream:stream>");
    return `login ${loginMs} ms, archive query ${Date.now() - started - loginMs} ms (${own.length} entries)`;
  }

  /** A node stopped in the middle of Bob's stream: acks keep coming for 6 s after it is gone, reads are answered. */
  async function outage(node: number, signal: "SIGKILL" | "SIGTERM"): Promise<void> {
    await write(forMs(1000));
    let gone = 0;
    const writing = write(() => gone > 0 && Date.now() - gone > 6000);
    await sleep(500);
    const stopping = Date.now();
    await stopRingNode(node, signal);
    stopped.add(node);
    gone = Date.now();
    const before = p.acked;
    const longest = await writing;
    const meanwhile = p.acked - before;
    const readsSummary = await reads();
    expect(await p.settle(30_000)).toBe(true);
    console.info(`chaos cassandra: node ${node} stopped (${signal}, gone ${gone - stopping} ms later): ${meanwhile} acked in the 6 s after, longest wait for an ack ${longest} ms, ${p.errors.length} errors; with it down: ${readsSummary}`);
    expect(meanwhile).toBeGreaterThan(0);
    expect(p.errors.map(String)).toEqual([]);
  }

  it("node 1 (the first contact point) killed while Bob writes: acks keep coming, reads are answered", { timeout: 120_000 }, async () => {
    await outage(1, "SIGKILL");
  });

  it("node 1 back, then node 3 stopped while Bob writes: the same", { timeout: 300_000 }, async () => {
    const started = Date.now();
    await startRing();
    stopped.delete(1);
    console.info(`chaos cassandra: node 1 answers again after ${Date.now() - started} ms`);
    await outage(3, "SIGTERM");
  });

  it("with node 3 still down, Alice gets every acknowledged message once, in order, from the offline store, and her archive holds them", { timeout: 120_000 }, async () => {
    p.client!.send(`<a xmlns='urn:xmpp:sm:3' h='${p.client!.handled}'/></stream:stream>`);
    const { c: alice } = await SmClient.login(port, "alice", "phone", { resume: false });
    alice.autoAck = true;
    alice.send("<presence/>");
    const isLast = (e: Element) => e.getChildText("body") === `c ${p.acked - 1}`;
    for (let t = 0; t < 600 && !alice.inbox.some(isLast); t++) await sleep(50);
    await sleep(500);
    const offline = delivered(alice.inbox.filter((e) => e.name === "message"), "c ");
    alice.inbox.length = 0;
    console.info(`chaos cassandra: ${expectAllOnce("offline store", offline, p)}`);
    console.info(`chaos cassandra: ${expectAllOnce("archive", delivered(await archived(alice), "c "), p)}`);
    alice.send("</stream:stream>");
  });
});
