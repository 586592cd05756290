// Two nodes on a Redis of the test's own (test/helpers/own-redis.ts) and the Cassandra of the
// tests. Alice on node a and Bob on node b write to each other without pause (XEP-0198), while
// Redis first freezes for a few seconds (SIGSTOP: connections open, no answer), then is killed
// and started again empty a few seconds later (connections refused, every key gone). Throughout,
// a message is acknowledged once it is delivered or stored, or answered with an error; when Redis
// is back the nodes publish their sessions again and the route bus carries messages live; and in
// the end every acknowledged message has reached its recipient (live, or from the offline store
// at the next login) once, and stands in the recipient's archive in order.
// Skipped when Cassandra does not answer or redis-server is not installed, except in CI.
import { spawnSync, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, freePort, startProcess } from "../helpers/process.ts";
import { dropKeyspace, serviceUp, services } from "../helpers/services.ts";
import { OwnRedis } from "../helpers/own-redis.ts";
import { kill9, publishedIn } from "../helpers/chaos.ts";
import { TwoWay, online } from "../helpers/chaos-chat.ts";

const hasRedis = spawnSync("redis-server", ["--version"]).status === 0;
if (!hasRedis && !process.env.CI) console.warn("chaos redis tests skipped: no redis-server (apt-get install redis-server)");
const up = (hasRedis || !!process.env.CI) && (await serviceUp("cassandra"));
const run = `${process.pid}_${Date.now().toString(36)}`;
const keyspace = `xmppd_chaos_redis_${run}`;
const prefix = `chaos-${run}:`;
const dir = mkdtempSync(join(tmpdir(), "xmppd-chaos-redis-"));
const configFile = join(dir, "xmppd.json");
const nodes: Record<string, { port: number; child?: ChildProcess }> = { a: { port: 0 }, b: { port: 0 } };
const env = (node: string) => ({
  ...process.env, XMPPD_DATA_DIR: join(dir, node), XMPPD_C2S__PORT: String(nodes[node]?.port ?? 0), XMPPD_CLUSTER__NODE: node,
});
let redis: OwnRedis | undefined;

describe.skipIf(!up)("Redis frozen, then restarted empty, under two nodes", () => {
  let chat: TwoWay;

  beforeAll(async () => {
    redis = await OwnRedis.start(dir);
    const { host, port, localDataCenter } = services.cassandra;
    writeFileSync(configFile, JSON.stringify({
      domain: "localhost",
      log: { level: "warn" },
      c2s: { host: "127.0.0.1", directTlsPort: 0, requireTls: false },
      http: { port: 0, tlsPort: 0 },
      limits: { stanzasPerSecond: 0, bytesPerSecond: 0 },
      storage: { backend: "cassandra", cassandra: { contactPoints: [`${host}:${port}`], localDataCenter, keyspace, replication: { class: "SimpleStrategy", replication_factor: 1 } } },
      cluster: { redis: redis.url, prefix, ackTimeout: 1000, heartbeat: 300 },
    }));
    for (const n of Object.values(nodes)) n.port = await freePort();
    for (const u of ["alice", "bob"]) {
      const r = spawnSync(process.execPath, [join(ROOT, "src/main.ts"), "-c", configFile, "adduser", `${u}@localhost`, "pw"], { cwd: dir, env: env("a"), encoding: "utf8" });
      if (r.status !== 0) throw new Error(r.stderr);
    }
    for (const name of Object.keys(nodes)) {
      const output = process.env.CHAOS_LOGS ? createWriteStream(join(process.env.CHAOS_LOGS, `redis-${name}.log`)) : undefined;
      nodes[name]!.child = await startProcess(dir, env(name), { args: ["-c", configFile], timeoutMs: 60_000, output });
    }
    chat = new TwoWay(await online(nodes.a!.port, "alice", "desk"), await online(nodes.b!.port, "bob", "phone"));
    expect(await publishedIn(redis.url, prefix, "alice@localhost/desk", "a", 5000)).toBeGreaterThanOrEqual(0);
  }, 120_000);

  afterAll(async () => {
    for (const n of Object.values(nodes)) await kill9(n.child);
    await redis?.kill();
    if (up && !process.env.CHAOS_LOGS) await dropKeyspace(keyspace).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  /** After an outage: acks caught up, both sessions in Redis again, a message each way live. */
  async function recovered(what: string): Promise<void> {
    const r = await chat.recovered(what);
    const bobIn = await publishedIn(redis!.url, prefix, "bob@localhost/phone", "b", 15_000);
    const aliceIn = await publishedIn(redis!.url, prefix, "alice@localhost/desk", "a", 15_000);
    console.info(`chaos redis: ${what}: acks caught up in ${r.settledMs} ms, sessions in Redis again (${bobIn} / ${aliceIn} ms later), a message each way live: ${r.live}, errors ${r.errors}`);
    expect([bobIn >= 0, aliceIn >= 0, r.live]).toEqual([true, true, true]);
  }

  it("Redis frozen for 4 s: acks wait, nothing is lost, the cluster carries on", { timeout: 90_000 }, async () => {
    await chat.chat(1000);
    redis!.freeze();
    const longest = await chat.chat(4000);
    redis!.thaw();
    await chat.chat(1000);
    console.info(`chaos redis: frozen: longest wait for an ack ${longest.alice} / ${longest.bob} ms; ${chat.toBob.acked} + ${chat.toAlice.acked} acked`);
    await recovered("Redis frozen 4 s");
  });

  it("Redis killed, started again empty 3 s later: the nodes publish their sessions again, the bus works, nothing is lost", { timeout: 90_000 }, async () => {
    await chat.chat(1000);
    await redis!.kill();
    const longest = await chat.chat(3000);
    await redis!.run();
    await chat.chat(1000);
    console.info(`chaos redis: restarted: longest wait for an ack ${longest.alice} / ${longest.bob} ms; ${chat.toBob.acked} + ${chat.toAlice.acked} acked`);
    await recovered("Redis restarted empty");
  });

  it("in the end each acknowledged message reached its recipient once, and the archives hold them in order", { timeout: 90_000 }, async () => {
    for (const line of await chat.finalCheck({ alice: nodes.a!.port, bob: nodes.b!.port })) console.info(`chaos redis: ${line}`);
  });
});
