// Message latency within a node and across nodes: two server processes for one domain
// on Redis and Cassandra (the services of scripts/services/), `pairs` pairs of clients on node a
// chatting among themselves, and as many pairs from node a to node b; messages at a fixed total
// rate, spread round-robin over the senders, alternating between the two kinds of pair; from
// write to arrival. Prints p50 / p99 / max per kind.
//   node test/bench/cluster.ts [--pairs 10] [--messages 4000] [--rate 1000]
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { Accounts } from "../../src/core/accounts.ts";
import { loadConfig } from "../../src/core/config.ts";
import { openStorage, storageReady } from "../../src/storage/open.ts";
import { freePort, startProcess } from "../helpers/process.ts";
import { deleteKeys, dropKeyspace, services } from "../helpers/services.ts";
import { SmClient } from "../helpers/sm.ts";
import { percentile, round, sleep } from "./lib/stats.ts";

const { values } = parseArgs({ options: { pairs: { type: "string" }, messages: { type: "string" }, rate: { type: "string" } } });
const pairs = Number(values.pairs ?? 10);
const total = Number(values.messages ?? 4000);
const rate = Number(values.rate ?? 1000);

const run = `${process.pid}_${Date.now().toString(36)}`;
const keyspace = `xmppd_bench_${run}`;
const prefix = `xmppd-bench-${run}:`;
const dir = mkdtempSync(join(tmpdir(), "xmppd-cluster-bench-"));
const file = join(dir, "xmppd.json");
const { host, port, localDataCenter } = services.cassandra;
writeFileSync(file, JSON.stringify({
  domain: "localhost", log: { level: "warn" }, c2s: { host: "127.0.0.1", directTlsPort: 0, requireTls: false }, http: { port: 0, tlsPort: 0 }, s2s: { enabled: false },
  storage: { backend: "cassandra", cassandra: { contactPoints: [`${host}:${port}`], localDataCenter, keyspace } },
  cluster: { redis: `redis://${services.redis.host}:${services.redis.port}/0`, prefix },
  modules: { mam: { retention: 0 } },
}));

const users = (kind: string) => Array.from({ length: 2 * pairs }, (_, i) => `${kind}${i}`);
const loaded = loadConfig(file, {});
const storage = openStorage(loaded.server.storage, loaded.server.dataDir);
await storageReady(storage);
const accounts = new Accounts(storage, "localhost", 4096);
for (const u of [...users("local"), ...users("cross")]) await accounts.create(u, "pw");
await storage.close();

const ports = { a: await freePort(), b: await freePort() };
const children = [];
for (const [node, p] of Object.entries(ports)) {
  children.push(await startProcess(dir, { ...process.env, XMPPD_DATA_DIR: join(dir, node), XMPPD_C2S__PORT: String(p), XMPPD_CLUSTER__NODE: node }, { args: ["-c", file], timeoutMs: 60_000 }));
}

interface Pair { from: SmClient; to: string; latencies: number[] }
const sentAt = new Map<string, number>();
async function pair(kind: string, i: number, toPort: number, latencies: number[]): Promise<Pair> {
  const login = async (user: string, p: number) => {
    const { c } = await SmClient.login(p, user, "r", { resume: false });
    c.autoAck = true;
    c.send("<presence/>");
    return c;
  };
  const from = await login(`${kind}${2 * i}`, ports.a);
  const to = await login(`${kind}${2 * i + 1}`, toPort);
  to.raw.socket.on("data", () => {
    for (const el of to.inbox.splice(0)) {
      const id = el.name === "message" ? el.attrs.id : undefined;
      const t = id === undefined ? undefined : sentAt.get(id);
      if (t !== undefined) latencies.push(performance.now() - t);
    }
  });
  return { from, to: `${kind}${2 * i + 1}@localhost/r`, latencies };
}

const local: number[] = [];
const cross: number[] = [];
const list: Pair[] = [];
for (let i = 0; i < pairs; i++) list.push(await pair("local", i, ports.a, local), await pair("cross", i, ports.b, cross));
await sleep(1000);
const start = performance.now();
for (let n = 0; n < total; n++) {
  const due = start + (n * 1000) / rate;
  const wait = due - performance.now();
  if (wait > 1) await sleep(wait);
  const p = list[n % list.length]!;
  const id = `m${n}`;
  sentAt.set(id, performance.now());
  p.from.send(`<message to='${p.to}' type='chat' id='${id}'><body>${n}</body></message>`);
}
await sleep(2000);

const row = (name: string, xs: number[]) =>
  `| ${name} | ${xs.length} | ${round(percentile(xs, 50), 2)} | ${round(percentile(xs, 99), 2)} | ${round(Math.max(...xs), 2)} |`;
console.log(`${total} messages at ${rate}/s over ${pairs} + ${pairs} pairs, two nodes on Redis ${services.redis.port} and Cassandra ${port}`);
console.log("| pairs | delivered | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|");
console.log(row("within node a", local));
console.log(row("node a → node b", cross));

for (const p of list) p.from.cut();
for (const c of children) c.kill("SIGKILL");
const r = new Redis(services.redis.port, services.redis.host);
await deleteKeys(r, prefix);
r.disconnect();
await dropKeyspace(keyspace);
rmSync(dir, { recursive: true, force: true });
process.exit(0);
