// xmppd on its embedded default (SQLite in a scratch folder), or on a Cassandra cluster
// (`--storage cassandra`: a keyspace of its own, dropped after the run), started as
// `node src/main.ts start` pinned to one core. Accounts are written through the storage API before start with one SCRAM
// derivation shared by all (the CLI derives both hashes per account, 4096 iterations each, which
// is minutes for 100k accounts and measures nothing the benchmark is about).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import cassandra from "cassandra-driver";
import type { AccountRecord } from "../../../src/core/accounts.ts";
import { loadConfig } from "../../../src/core/config.ts";
import { openStorage, storageReady } from "../../../src/storage/open.ts";
import { deriveCredentials } from "../../../src/stream/sasl/credentials.ts";
import { freePort, spawnPinned, stopPids, waitPort } from "../lib/proc.ts";
import type { RunningServer, ServerOptions } from "./types.ts";

const root = join(import.meta.dirname, "..", "..", "..");
const DOMAIN = "localhost";
const ITERATIONS = 4096;

/** Where ours keeps its data: the embedded default, or this Cassandra cluster and keyspace. */
export type OursStorage = { backend: "embedded" } | { backend: "cassandra"; contactPoint: string; keyspace: string };

/** Creates the accounts in the storage that the config file `cfg` names. */
export async function provisionOurs(cfg: string, users: string[], password: string): Promise<void> {
  const storage = openStorage(loadConfig(cfg, {}).server);
  await storageReady(storage);
  try {
    const credentials = await deriveCredentials(password, { iterations: ITERATIONS });
    const store = storage.keyval<AccountRecord>("accounts");
    const created = Date.now();
    for (const u of users) await store.add(`${u}@${DOMAIN}`, { credentials, created });
  } finally {
    await storage.close();
  }
}

/** The config the benchmark runs ours with: loopback, no TLS requirement, limits lifted. */
export function oursConfig(dataDir: string, port: number, tlsPort: number, tls?: { cert: string; key: string }, storage: OursStorage = { backend: "embedded" }): Record<string, unknown> {
  return {
    ...(storage.backend === "cassandra" ? {
      storage: { backend: "cassandra", cassandra: { contactPoints: [storage.contactPoint], keyspace: storage.keyspace, consistency: "LOCAL_QUORUM" } },
    } : {}),
    domain: DOMAIN,
    dataDir,
    ...(tls ? { tls } : {}),
    log: { level: "warn" },
    c2s: { host: "127.0.0.1", port, directTlsPort: tlsPort, requireTls: false, maxConnections: 1_000_000 },
    limits: { bytesPerSecond: 0 },
    auth: { iterations: ITERATIONS, failuresPerMinute: 1_000_000 },
    registration: { enabled: true, perHourPerAddress: 1_000_000 },
  };
}

/** Drops the keyspace a Cassandra run used. */
export async function dropOursKeyspace(storage: OursStorage): Promise<void> {
  if (storage.backend !== "cassandra") return;
  const client = new cassandra.Client({ contactPoints: [storage.contactPoint], localDataCenter: "datacenter1" });
  try {
    await client.execute(`DROP KEYSPACE IF EXISTS ${storage.keyspace}`);
  } finally {
    await client.shutdown();
  }
}

export async function startOurs(o: ServerOptions & { workers?: number; heapSignal?: boolean; storage?: OursStorage }): Promise<RunningServer> {
  const dataDir = join(o.dir, "data");
  const storage = o.storage ?? { backend: "embedded" };
  const port = await freePort();
  const tlsPort = await freePort();
  const cfg = join(o.dir, "xmppd.json");
  writeFileSync(cfg, JSON.stringify(oursConfig(dataDir, port, tlsPort, { cert: o.tls.cert, key: o.tls.key }, storage), null, 2));
  if (o.users.length) await provisionOurs(cfg, o.users, o.password);
  const workers = o.workers ?? 1;
  const nodeArgs = ["--max-old-space-size=16384"];
  if (o.cpuProfDir) nodeArgs.push("--cpu-prof", `--cpu-prof-dir=${o.cpuProfDir}`);
  // `kill -USR2 <pid>` then writes a heap snapshot into the scratch folder (test/bench/heap.ts reads them).
  if (o.heapSignal) nodeArgs.push("--heapsnapshot-signal=SIGUSR2");
  // Diagnosis, e.g. BENCH_SERVER_NODE_FLAGS=--trace-gc (its output goes to xmppd.log; BENCH_KEEP=1 keeps it).
  nodeArgs.push(...(process.env.BENCH_SERVER_NODE_FLAGS ?? "").split(" ").filter(Boolean));
  const script = workers > 1 ? [join(root, "test/bench/servers/cluster.ts"), String(workers), cfg] : [join(root, "src/main.ts"), "-c", cfg, "start"];
  const p = spawnPinned(o.cpus, process.execPath, [...nodeArgs, ...script], { cwd: o.dir, logFile: join(o.dir, "xmppd.log") });
  let alive = true;
  void p.exited.then(() => (alive = false));
  await waitPort("127.0.0.1", port, 60_000, () => alive);
  const pkg = JSON.parse((await import("node:fs")).readFileSync(join(root, "package.json"), "utf8")) as { version: string };
  return {
    target: { name: "ours", host: "127.0.0.1", port, tlsPort, domain: DOMAIN, mucDomain: `conference.${DOMAIN}` },
    version: `xmppd ${pkg.version} (node ${process.version})`,
    settings: [
      `${storage.backend === "cassandra" ? `Cassandra at ${storage.contactPoint}, keyspace ${storage.keyspace} (replication 1, LOCAL_QUORUM)` : `embedded SQLite (synchronous=FULL) in ${o.dir}`}; log level warn; SCRAM keys stored (${ITERATIONS} iterations)`,
      "c2s.requireTls false; limits.bytesPerSecond 0 (lifted); auth.failuresPerMinute 1e6; registration on",
      workers > 1 ? `${workers} worker processes sharing the port (node:cluster), cores ${o.cpus}` : `one process, taskset -c ${o.cpus}`,
      "modules as shipped: offline store (XEP-0160), archive (XEP-0313, retention 30 days), carbons, stream management, MUC, PEP",
    ],
    workerPid: () => p.pid,
    stop: () => stopPids([p.pid], p.exited, 60_000),
  };
}
