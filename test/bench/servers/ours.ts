// xmppd on its embedded default (SQLite in a scratch folder), or on a Cassandra cluster
// (`--storage cassandra`: a keyspace of its own, dropped after the run), started as
// `node src/main.ts start` pinned to one core. With `cluster`, N such processes (nodes) share the
// cores, each on its own ports and data folder, joined through Redis (src/cluster/): the target's
// portFor sends account i to node (i + floor(i / split)) % N, so that with two nodes consecutive
// accounts alternate (logins spread) and pairs (i, i + split) are on different nodes (chat crosses). Accounts are written through the storage API before start with one SCRAM
// derivation shared by all (the CLI derives both hashes per account, 4096 iterations each, which
// is minutes for 100k accounts and measures nothing the benchmark is about).
// With `s2s` (the s2s row) it federates on a port of its own, finding the other server through
// static routes (s2s.routes: no DNS at all), with its self-signed certificate: TLS required and
// Server Dialback (XEP-0220), its defaults; the per-peer read limits are lifted as the c2s ones are.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import cassandra from "cassandra-driver";
import { Redis } from "ioredis";
import type { AccountRecord } from "../../../src/core/accounts.ts";
import { loadConfig } from "../../../src/core/config.ts";
import { openStorage, storageReady } from "../../../src/storage/open.ts";
import { deriveCredentials } from "../../../src/core/credentials.ts";
import type { StorageProvider } from "../../../src/storage/types.ts";
import { NODE_FLAGS } from "../../../src/node-flags.ts";
import { freePort, spawnPinned, stopPids, waitPort } from "../lib/proc.ts";
import { deleteKeys } from "../../helpers/services.ts";
import type { RunningServer, S2sOptions, ServerOptions } from "./types.ts";

const root = join(import.meta.dirname, "..", "..", "..");
const DOMAIN = "localhost";
const ITERATIONS = 4096;

/** Where ours keeps its data: the embedded default, or this Cassandra cluster and keyspace. */
export type OursStorage = { backend: "embedded" } | { backend: "cassandra"; contactPoint: string; keyspace: string };

/**
 * Writes in flight at once while provisioning: the embedded store commits what queued up together
 * (group commit); Cassandra's are lightweight transactions, kept to a few at a time.
 */
const PROVISION_BATCH = { embedded: 1000, other: 50 };

/**
 * Creates the accounts in the storage that the config file `cfg` names: the SCRAM keys derived
 * once (one salt for all, as the benchmark's accounts share a password) and written directly,
 * a batch at a time; then `more`, given the storage open (a roster to write, say).
 */
export async function provisionOurs(cfg: string, users: string[], password: string, more?: (storage: StorageProvider, domain: string) => Promise<void>): Promise<void> {
  const { server } = loadConfig(cfg, {});
  const storage = openStorage(server.storage, server.dataDir);
  await storageReady(storage);
  try {
    const credentials = await deriveCredentials(password, { iterations: ITERATIONS });
    const store = storage.keyval<AccountRecord>("accounts");
    const created = Date.now();
    const batch = server.storage.backend === "embedded" ? PROVISION_BATCH.embedded : PROVISION_BATCH.other;
    for (let i = 0; i < users.length; i += batch) {
      await Promise.all(users.slice(i, i + batch).map((u) => store.add(`${u}@${server.domain}`, { credentials, created })));
    }
    if (more) await more(storage, server.domain);
  } finally {
    await storage.close();
  }
}

/** The federation settings of the s2s row: its own port, static routes, read limits lifted. */
function s2sConfig(s2s: S2sOptions | undefined): Record<string, unknown> {
  if (!s2s) return { enabled: false };
  return {
    enabled: true, host: "127.0.0.1", port: s2s.port, directTlsPort: 0,
    routes: Object.fromEntries(Object.entries(s2s.routes).map(([domain, port]) => [domain, `127.0.0.1:${port}`])),
    bytesPerSecond: 0, stanzasPerSecond: 0,
  };
}

const METRICS_SCRAPE_MS = 5000;

/** The config the benchmark runs ours with: loopback, no TLS requirement, limits lifted. */
export function oursConfig(dataDir: string, port: number, tlsPort: number, tls?: { cert: string; key: string }, storage: OursStorage = { backend: "embedded" }, domain = DOMAIN, s2s?: S2sOptions, archive = true): Record<string, unknown> {
  return {
    ...(storage.backend === "cassandra" ? {
      storage: { backend: "cassandra", cassandra: { contactPoints: [storage.contactPoint], keyspace: storage.keyspace, consistency: "LOCAL_QUORUM" } },
    } : {}),
    domain,
    dataDir,
    ...(tls ? { tls } : {}),
    log: { level: "warn" },
    c2s: { host: "127.0.0.1", port, directTlsPort: tlsPort, requireTls: false, maxConnections: 1_000_000 },
    http: { port: 0, tlsPort: 0 },
    s2s: s2sConfig(s2s),
    limits: { bytesPerSecond: 0, stanzasPerSecond: 0 },
    auth: { iterations: ITERATIONS, failuresPerMinute: 1_000_000, failuresPerAccount: 1_000_000 },
    registration: { enabled: true, perHourPerAddress: 1_000_000 },
    // The SOCKS5 proxy's fixed port (7777) would clash between the nodes of a cluster run.
    // Without the archive (--no-archive, as the rivals then run without mod_mam): retention 0 keeps nothing.
    modules: { proxy65: { port: 0 }, ...(archive ? {} : { mam: { retention: 0 } }) },
  };
}

/**
 * The plain HTTP listener of the http row (WebSocket and BOSH), on loopback: the generator comes
 * from one address, so the per-address BOSH session cap and the per-session request rate are
 * lifted as the c2s read limits are.
 */
const HTTP = (port: number) => ({ host: "127.0.0.1", port, tlsPort: 0, bosh: { maxSessionsPerAddress: 1_000_000, requestsPerSecond: 0 } });

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

/** Several nodes on one Redis: how many, the Redis URL, and the account index where the second node's accounts start. */
export interface OursCluster {
  nodes: number;
  redis: string;
  split: number;
  /** The accounts node k has in its embedded store (default: all of them on each). */
  accountsOf?: (k: number) => string[];
  /** Settings laid over each node's (its `modules` over theirs, key by key). */
  config?: Record<string, unknown>;
  /** Writes more into node k's store after its accounts (embedded: each node's own). */
  provision?: (k: number, storage: StorageProvider, domain: string) => Promise<void>;
}

/**
 * `config`: sections of the config file set on top of the benchmark's (e.g. the metrics listener
 * of the soak); `metrics`: the metrics listener on, scraped every few seconds (--metrics).
 */
export async function startOurs(o: ServerOptions & { cluster?: OursCluster; heapSignal?: boolean; storage?: OursStorage; config?: Record<string, unknown>; metrics?: boolean }): Promise<RunningServer> {
  if (o.cluster) return startNodes(o, o.cluster);
  const dataDir = join(o.dir, "data");
  const storage = o.storage ?? { backend: "embedded" };
  const port = await freePort();
  const tlsPort = await freePort();
  const cfg = join(o.dir, "xmppd.json");
  const domain = o.domain ?? DOMAIN;
  const httpPort = await freePort();
  const metricsPort = o.metrics ? await freePort() : 0;
  const metrics = o.metrics ? { metrics: { enabled: true, host: "127.0.0.1", port: metricsPort } } : {};
  writeFileSync(cfg, JSON.stringify({ ...oursConfig(dataDir, port, tlsPort, { cert: o.tls.cert, key: o.tls.key }, storage, domain, o.s2s, o.archive), http: HTTP(httpPort), ...metrics, ...o.config }, null, 2));
  if (o.users.length) await provisionOurs(cfg, o.users, o.password);
  const nodeArgs = [...NODE_FLAGS];
  if (o.cpuProfDir) nodeArgs.push("--cpu-prof", `--cpu-prof-dir=${o.cpuProfDir}`);
  // `kill -USR2 <pid>` then writes a heap snapshot into the scratch folder (test/bench/heap.ts reads them).
  if (o.heapSignal) nodeArgs.push("--heapsnapshot-signal=SIGUSR2");
  // Diagnosis, e.g. BENCH_SERVER_NODE_FLAGS=--trace-gc (its output goes to xmppd.log; BENCH_KEEP=1 keeps it).
  nodeArgs.push(...(process.env.BENCH_SERVER_NODE_FLAGS ?? "").split(" ").filter(Boolean));
  const script = [join(root, "src/main.ts"), "-c", cfg, "start"];
  const p = spawnPinned(o.cpus, process.execPath, [...nodeArgs, ...script], { cwd: o.dir, logFile: join(o.dir, "xmppd.log") });
  let alive = true;
  void p.exited.then(() => (alive = false));
  await waitPort("127.0.0.1", port, 60_000, () => alive);
  // With --metrics, scraped as a Prometheus would, only more often (every 5 s rather than 15-60).
  const scraper = o.metrics ? setInterval(() => void fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.text()).catch(() => {}), METRICS_SCRAPE_MS) : undefined;
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
  return {
    target: { name: "ours", host: "127.0.0.1", port, tlsPort, domain, mucDomain: `conference.${domain}`, http: { port: httpPort, websocket: "/xmpp-websocket", bosh: "/http-bind" } },
    version: `xmppd ${pkg.version} (node ${process.version})`,
    settings: [
      `${storage.backend === "cassandra" ? `Cassandra at ${storage.contactPoint}, keyspace ${storage.keyspace} (replication 1, LOCAL_QUORUM)` : `embedded SQLite (synchronous=FULL) in ${o.dir}`}; log level warn; SCRAM keys stored (${ITERATIONS} iterations)`,
      `plain HTTP on port ${httpPort} (WebSocket /xmpp-websocket, BOSH /http-bind); http.bosh.maxSessionsPerAddress 1e6 and requestsPerSecond 0 (lifted)`,
      "c2s.requireTls false; limits.bytesPerSecond and stanzasPerSecond 0 (lifted); auth.failuresPerMinute and failuresPerAccount 1e6; registration on",
      `one process, taskset -c ${o.cpus}`,
      ...(o.s2s ? [`s2s on port ${o.s2s.port}: static routes (no DNS), TLS required (its default), certificate not required to be valid (its default), so dialback (XEP-0220); s2s.bytesPerSecond and stanzasPerSecond 0 (lifted)`] : []),
      ...(o.metrics ? [`metrics listener on (127.0.0.1:${metricsPort}), scraped every ${METRICS_SCRAPE_MS / 1000} s`] : []),
      `modules as shipped: offline store (XEP-0160), ${o.archive ? "archive (XEP-0313, retention 30 days)" : "archive off (mam.retention 0)"}, carbons, stream management, MUC, PEP`,
    ],
    workerPid: () => p.pid,
    stop: () => {
      clearInterval(scraper);
      return stopPids([p.pid], p.exited, 60_000);
    },
  };
}

/**
 * `c.nodes` processes of ours on the cores `o.cpus`, one Redis cluster (a key prefix of their own,
 * removed after), each with its own ports; on the embedded default each has its own data folder,
 * provisioned with the same accounts (chat between full JIDs shares nothing else), on Cassandra
 * they share the keyspace. The measured process (workerPid) is the first node.
 */
async function startNodes(o: ServerOptions & { storage?: OursStorage }, c: OursCluster): Promise<RunningServer> {
  const storage = o.storage ?? { backend: "embedded" };
  const prefix = `bench-${process.pid}-${Date.now().toString(36)}:`;
  const nodes: { port: number; tlsPort: number; p: ReturnType<typeof spawnPinned>; adminSocket: string }[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((n) => stopPids([n.p.pid], n.p.exited, 60_000)));
    const redis = new Redis(c.redis, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      await deleteKeys(redis, prefix);
    } finally {
      redis.disconnect();
    }
  };
  try {
    for (let k = 0; k < c.nodes; k++) {
      const port = await freePort();
      const tlsPort = await freePort();
      const dir = join(o.dir, `node${k}`);
      mkdirSync(dir, { recursive: true });
      const cfg = join(dir, "xmppd.json");
      const base = oursConfig(join(dir, "data"), port, tlsPort, { cert: o.tls.cert, key: o.tls.key }, storage, undefined, undefined, o.archive);
      writeFileSync(cfg, JSON.stringify({
        ...base, ...c.config,
        modules: { ...(base.modules as object), ...(c.config?.modules as object | undefined) },
        cluster: { redis: c.redis, node: `bench${k}`, prefix },
      }, null, 2));
      // Each embedded node has its accounts; a shared Cassandra keyspace needs them once.
      const users = c.accountsOf?.(k) ?? o.users;
      const more = c.provision && ((s: StorageProvider, d: string) => c.provision!(k, s, d));
      if ((users.length || more) && (k === 0 || storage.backend === "embedded")) await provisionOurs(cfg, users, o.password, more);
      const p = spawnPinned(o.cpus, process.execPath, [...NODE_FLAGS, join(root, "src/main.ts"), "-c", cfg, "start"], { cwd: dir, logFile: join(dir, "xmppd.log") });
      nodes.push({ port, tlsPort, p, adminSocket: join(dir, "data", "admin.sock") });
      let alive = true;
      void p.exited.then(() => (alive = false));
      await waitPort("127.0.0.1", port, 60_000, () => alive);
    }
  } catch (e) {
    await stop();
    throw e;
  }
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
  const first = nodes[0]!;
  return {
    target: {
      name: "ours", host: "127.0.0.1", port: first.port, tlsPort: first.tlsPort, domain: DOMAIN, mucDomain: `conference.${DOMAIN}`,
      portFor: (i) => nodes[(i + Math.floor(i / c.split)) % nodes.length]!.port,
    },
    version: `xmppd ${pkg.version} (node ${process.version})`,
    settings: [
      `${c.nodes} nodes (processes) on Redis ${c.redis}, cores ${o.cpus}; ${storage.backend === "cassandra" ? `Cassandra keyspace ${storage.keyspace}, shared` : "embedded SQLite, one per node"}`,
    ],
    workerPid: () => first.p.pid,
    nodes: nodes.map((n) => ({ port: n.port, pid: n.p.pid, adminSocket: n.adminSocket })),
    stop,
  };
}
