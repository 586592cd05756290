// A network partition between two nodes of a cluster, for real: node b runs in a network
// namespace the test makes (test/helpers/netns.ts), reaching Redis and Cassandra only through a
// veth pair (and relays on the host's side of it), its clients through another. Alice on node a
// and Bob on node b write to each other without pause (XEP-0198); the first pair's link goes
// down for a few seconds: b is cut off from Redis, Cassandra and node a, while Bob stays
// connected to it. What Alice sends Bob meanwhile is acknowledged once node a has stored it
// (it takes b for dead) or bounced, never lost; Bob's acks wait. Once the link is back, b
// publishes its session again, messages cross live both ways, and every acknowledged message
// has reached its recipient once (live, or from the offline store at the next login) and stands
// in the archive in order. Needs root and iproute2, and the Redis and Cassandra of the tests;
// skipped otherwise (with the reason), except that in CI missing services fail.
import { spawnSync, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { ROOT, freePort, startProcess } from "../helpers/process.ts";
import { deleteKeys, dropKeyspace, serviceUp, services } from "../helpers/services.ts";
import { Netns, Relay } from "../helpers/netns.ts";
import { kill9, publishedIn, sleep } from "../helpers/chaos.ts";
import { TwoWay, online } from "../helpers/chaos-chat.ts";

const noNetns = Netns.unavailable();
if (noNetns) console.warn(`chaos partition tests skipped: network namespaces unavailable (${noNetns})`);
const up = noNetns === undefined && (await serviceUp("redis")) && (await serviceUp("cassandra"));
const run = `${process.pid}_${Date.now().toString(36)}`;
const keyspace = `xmppd_chaos_part_${run}`;
const prefix = `chaos-part-${run}:`;
const redisUrl = `redis://${services.redis.host}:${services.redis.port}/0`;
const dir = mkdtempSync(join(tmpdir(), "xmppd-chaos-part-"));
const nodes: Record<string, { port: number; child?: ChildProcess }> = { a: { port: 0 }, b: { port: 0 } };
const env = (node: string) => ({
  ...process.env, XMPPD_DATA_DIR: join(dir, node), XMPPD_C2S__PORT: String(nodes[node]!.port), XMPPD_CLUSTER__NODE: node,
});
let ns: Netns | undefined;
const relays: Relay[] = [];

/** A node's configuration: the same cluster and keyspace, reached at the addresses given. */
function config(node: string, redis: string, cassandra: string, c2sHost: string): string {
  const file = join(dir, `${node}.json`);
  writeFileSync(file, JSON.stringify({
    domain: "localhost",
    log: { level: "warn" },
    c2s: { host: c2sHost, directTlsPort: 0, requireTls: false },
    http: { port: 0, tlsPort: 0 },
    limits: { stanzasPerSecond: 0, bytesPerSecond: 0 },
    storage: { backend: "cassandra", cassandra: { contactPoints: [cassandra], localDataCenter: services.cassandra.localDataCenter, keyspace, replication: { class: "SimpleStrategy", replication_factor: 1 } } },
    cluster: { redis, prefix, ackTimeout: 1000, heartbeat: 300 },
  }));
  return file;
}

describe.skipIf(!up)("node b cut off from Redis, Cassandra and node a by a network partition", () => {
  let chat: TwoWay;
  /** Where Bob's client reaches node b: a relay on loopback to b's client-side address. */
  let bobPort = 0;

  beforeAll(async () => {
    ns = Netns.create();
    const { host: rHost, port: rPort } = services.redis;
    const { host: cHost, port: cPort } = services.cassandra;
    // Node b reaches Redis and Cassandra through relays on the host's end of its cluster link.
    const toRedis = await Relay.start(ns.hostAddress, { host: rHost, port: rPort });
    const toCassandra = await Relay.start(ns.hostAddress, { host: cHost, port: cPort });
    relays.push(toRedis, toCassandra);
    const aFile = config("a", redisUrl, `${cHost}:${cPort}`, "127.0.0.1");
    const bFile = config("b", `redis://${ns.hostAddress}:${toRedis.port}/0`, `${ns.hostAddress}:${toCassandra.port}`, ns.clientAddress);
    for (const n of Object.values(nodes)) n.port = await freePort();
    for (const u of ["alice", "bob"]) {
      const r = spawnSync(process.execPath, [join(ROOT, "src/main.ts"), "-c", aFile, "adduser", `${u}@localhost`, "pw"], { cwd: dir, env: env("a"), encoding: "utf8" });
      if (r.status !== 0) throw new Error(r.stderr);
    }
    const log = (name: string) => (process.env.CHAOS_LOGS ? createWriteStream(join(process.env.CHAOS_LOGS, `partition-${name}.log`)) : undefined);
    nodes.a!.child = await startProcess(dir, env("a"), { args: ["-c", aFile], timeoutMs: 60_000, output: log("a") });
    nodes.b!.child = await startProcess(dir, env("b"), { args: ["-c", bFile], timeoutMs: 60_000, output: log("b"), wrap: (argv) => ns!.wrap(argv) });
    const toB = await Relay.start("127.0.0.1", { host: ns.clientAddress, port: nodes.b!.port });
    relays.push(toB);
    bobPort = toB.port;
    chat = new TwoWay(await online(nodes.a!.port, "alice", "desk"), await online(bobPort, "bob", "phone"));
    expect(await publishedIn(redisUrl, prefix, "bob@localhost/phone", "b", 5000)).toBeGreaterThanOrEqual(0);
    await sleep(200); // and from Redis to node a
  }, 120_000);

  afterAll(async () => {
    ns?.heal();
    for (const n of Object.values(nodes)) await kill9(n.child);
    for (const r of relays) await r.close();
    ns?.destroy();
    if (up) {
      const r = new Redis(redisUrl);
      await deleteKeys(r, prefix);
      r.disconnect();
      await dropKeyspace(keyspace).catch(() => undefined);
    }
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it("during the partition Alice's messages are acknowledged (stored by node a) or bounced, Bob's acks wait; after it, delivery resumes live both ways", { timeout: 120_000 }, async () => {
    await chat.chat(1000);
    const before = { alice: chat.toBob.acked, bob: chat.toAlice.acked };
    ns!.cut();
    const longest = await chat.chat(6000);
    const during = { alice: chat.toBob.acked - before.alice, bob: chat.toAlice.acked - before.bob };
    ns!.heal();
    const healed = Date.now();
    await chat.chat(1000);
    const r = await chat.recovered("the partition", 60_000);
    const bobIn = await publishedIn(redisUrl, prefix, "bob@localhost/phone", "b", 15_000);
    console.info(`chaos partition: 6 s cut: Alice's messages acked meanwhile ${during.alice} (longest wait ${longest.alice} ms), Bob's ${during.bob} (longest wait ${longest.bob} ms); ` +
      `healed: acks caught up ${Date.now() - healed} ms after, Bob's session in Redis again, a message each way live: ${r.live}, errors ${r.errors}`);
    // Node a went on without b: Alice's acks did not wait for the partition to end.
    expect(during.alice).toBeGreaterThan(0);
    expect(longest.alice).toBeLessThan(5000);
    expect([bobIn >= 0, r.live]).toEqual([true, true]);
  });

  it("in the end each acknowledged message reached its recipient once, and the archives hold them in order", { timeout: 90_000 }, async () => {
    for (const line of await chat.finalCheck({ alice: nodes.a!.port, bob: bobPort })) console.info(`chaos partition: ${line}`);
  });
});
