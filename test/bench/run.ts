// The benchmark: starts each server under test on loopback ports of its own (ours on the
// embedded default; Prosody and ejabberd when installed), pinned to core 0 while this generator
// runs on core 1, runs the scenarios against each and prints one table with the three side by
// side. The s2s row starts two servers of each kind, federating, one per core (servers/pair.ts).
// Raw results go to test/bench/results/. `./run bench --help` for the options.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Target } from "./lib/conn.ts";
import { makeCert, type CertFiles } from "./lib/cert.ts";
import { cpuSeconds, pinSelf } from "./lib/proc.ts";
import { round } from "./lib/stats.ts";
import type { Cells, ScenarioContext } from "./scenarios/common.ts";
import { groups } from "./scenarios/groups.ts";
import { logins } from "./scenarios/login.ts";
import { offline } from "./scenarios/offline.ts";
import { reconnects } from "./scenarios/reconnect.ts";
import { BARE, oneToOne } from "./scenarios/one2one.ts";
import { federated } from "./scenarios/s2s.ts";
import { httpTransports } from "./scenarios/http.ts";
import { idleSessions } from "./scenarios/sessions.ts";
import { clusterSessions, type ClusterSessionsResult } from "./scenarios/cluster-sessions.ts";
import { ejabberdInstalled, startEjabberd } from "./servers/ejabberd.ts";
import { Redis } from "ioredis";
import { dropOursKeyspace, startOurs, type OursCluster, type OursStorage } from "./servers/ours.ts";
import { DOMAINS, missingPairDns, startPair, type FederatedPair } from "./servers/pair.ts";
import { prosodyInstalled, startProsody } from "./servers/prosody.ts";
import type { RunningServer, ServerName, ServerOptions } from "./servers/types.ts";
import { renderNotes, renderTable, type Results } from "./table.ts";
import { SOAK_HELP, soakMain } from "./soak/index.ts";

export const SCENARIOS = ["login", "reconnect", "sessions", "one2one", "one2one-bare", "http", "groups", "offline", "cores", "s2s"] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface BenchOptions {
  scenarios: Scenario[];
  servers: ServerName[];
  quick: boolean;
  /** Also the TLS rows (STARTTLS logins, RSS per TLS session). */
  tls: boolean;
  /** The most idle sessions to try (full mode). */
  maxSessions: number;
  /** The rivals archive every message (mod_mam), as ours does; false turns it off. */
  archive: boolean;
  /** Pin server and generator to separate cores. */
  pin: boolean;
  /** Write a CPU profile of ours into this folder. */
  cpuProfDir?: string;
  /** Ours with its metrics listener on and scraped (the default is off, as shipped). */
  metrics?: boolean;
  /** Where ours keeps its data (the embedded default unless told). */
  oursStorage?: OursStorage;
  /** The Redis the cores row's two nodes of ours share (default: the project's, see DEFAULT_REDIS). */
  redis?: string;
  /** Run against this server instead of starting any. */
  external?: ExternalTarget;
  log(line: string): void;
}

const USERS_PREFIX = "b";
/** The reconnect row: 200 devices at a time for 15 s, then 1,000 logins (at most 10 s) one at a time. */
const RECONNECT = { concurrency: 200, seconds: 15, sequential: 1000 };
/** The http row: pairs over WebSocket, then over BOSH. */
const HTTP_PAIRS = 100;
const PASSWORD = "bench-pw";
const OFFLINE = { sender: "offsender", recipient: "offrecipient" };

export interface BenchRun {
  results: Results;
  servers: Record<string, { version: string; settings: string[] }>;
  machine: Record<string, unknown>;
  options: Omit<BenchOptions, "log">;
}

function poolSize(o: BenchOptions): number {
  let n = 0;
  if (o.scenarios.includes("login") || o.scenarios.includes("cores")) n = Math.max(n, 400);
  if (o.scenarios.includes("reconnect")) n = Math.max(n, RECONNECT.concurrency);
  if (o.scenarios.includes("one2one") || o.scenarios.includes("one2one-bare")) n = Math.max(n, o.quick ? 200 : 1000);
  if (o.scenarios.includes("http")) n = Math.max(n, o.quick ? 40 : HTTP_PAIRS * 2);
  if (o.scenarios.includes("groups")) n = Math.max(n, o.quick ? 100 : 1000);
  if (o.scenarios.includes("sessions")) n = Math.max(n, o.quick ? 1000 : o.maxSessions);
  return n;
}

type Starter = (o: ServerOptions) => Promise<RunningServer>;
const STARTERS: Record<ServerName, Starter> = { ours: startOurs, prosody: startProsody, ejabberd: startEjabberd };

export function installed(name: ServerName): boolean {
  if (name === "prosody") return prosodyInstalled();
  if (name === "ejabberd") return ejabberdInstalled();
  return true;
}

/** Busy time of every core (jiffies) from /proc/stat, to tell how much else ran during the run. */
function cpuBusyJiffies(): number {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f;
  return user! + nice! + system! + irq! + softirq! + steal!;
}

async function benchServer(name: ServerName, o: BenchOptions, base: string, cert: CertFiles, results: Results): Promise<{ version: string; settings: string[]; ownCpu: number }> {
  const dir = join(base, name);
  mkdirSync(dir, { recursive: true });
  const size = poolSize(o);
  const users = [...Array.from({ length: size }, (_, i) => `${USERS_PREFIX}${i}`), OFFLINE.sender, OFFLINE.recipient];
  const cpusOf = o.pin ? "0" : "0,1";
  let provisioned = false;
  let ownCpu = 0;
  let info = { version: "", settings: [] as string[] };
  const put = (cells: Cells) => {
    for (const [row, cell] of Object.entries(cells)) (results[row] ??= {})[name] = cell;
  };
  /** One server start for a group of scenarios (memory rows want a fresh process each). */
  const session = async (label: string, fn: (ctx: ScenarioContext) => Promise<void>, cluster?: OursCluster) => {
    // The nodes of a cluster on the embedded default have data folders of their own, provisioned anew.
    const fresh = !provisioned || (cluster !== undefined && (o.oursStorage?.backend ?? "embedded") === "embedded");
    o.log(`${name}: starting for ${label}${fresh ? ` (creating ${users.length} accounts)` : ""}`);
    const t0 = performance.now();
    const start = STARTERS[name];
    const common = { dir, users: fresh ? users : [], password: PASSWORD, tls: cert, archive: o.archive };
    const server = await (name === "ours" ? startOurs({ ...common, cpus: cluster ? "0,1" : cpusOf, ...(cluster ? { cluster } : {}), ...(o.cpuProfDir ? { cpuProfDir: o.cpuProfDir } : {}), ...(o.oursStorage ? { storage: o.oursStorage } : {}), metrics: o.metrics === true })
      : start({ ...common, cpus: cpusOf }));
    provisioned = true;
    if (!cluster || !info.version) info = { version: server.version, settings: server.settings };
    o.log(`${name}: ${server.version} up in ${round((performance.now() - t0) / 1000, 1)} s`);
    const ctx = context(server.target, () => server.workerPid(), size, o);
    const pid = server.workerPid();
    const c0 = cpuSeconds(pid);
    try {
      await fn(ctx);
    } catch (e) {
      o.log(`${name}: ${label} aborted: ${(e as Error).stack ?? e}`);
      put({ [`error.${label}`]: { status: "failed", note: (e as Error).message } });
    } finally {
      ownCpu += cpuSeconds(pid) - c0;
      await server.stop();
    }
  };

  // The memory rows come last: holding and dropping ~20k connections leaves the generator's heap
  // and the kernel's socket tables (ports in TIME_WAIT) busy for a while, and a login row after
  // them was bound by the generator (it used a whole core in the full run, not in a login-only one).
  const rest = o.scenarios.filter((s) => s !== "sessions" && s !== "cores" && s !== "s2s");
  if (rest.length > 0) await session(rest.join(", "), (ctx) => mainScenarios(ctx, rest, o, put, OFFLINE));
  if (o.scenarios.includes("cores") && name === "ours") {
    // Two nodes of ours on both cores, one cluster on Redis: logins spread over both, and the
    // one-to-one scenario with every pair split across them (each message crosses nodes).
    const pairs = Math.min(o.quick ? 100 : 500, Math.floor(size / 2));
    const redis = o.redis ?? DEFAULT_REDIS;
    const down = await redisDown(redis);
    if (down) put({ "cores.login.scram": { status: "failed", note: down }, "cores.one2one.throughput": { status: "failed", note: down } });
    else {
      await session("cores (2 nodes on Redis)", async (ctx) => {
        put({ "cores.login.scram": await logins(ctx, "SCRAM-SHA-1") });
        for (const [row, cell] of Object.entries(await oneToOne(ctx, pairs))) put({ [`cores.${row}`]: cell });
      }, { nodes: 2, redis, split: pairs });
    }
  }
  if (o.scenarios.includes("s2s")) {
    const r = await s2sRow(name, o, dir, put);
    ownCpu += r.cpu;
    if (!info.version) info = { version: r.version, settings: [] };
    info.settings.push(...r.settings);
  }
  if (o.scenarios.includes("sessions")) {
    const levels = o.quick ? [{ n: 1000, key: "1k" }] : [{ n: 1000, key: "1k" }, { n: 10_000, key: "10k" }, { n: o.maxSessions, key: "max" }];
    await session("sessions", async (ctx) => put(await idleSessions(ctx, { levels, security: "plain", rowPrefix: "rss" })));
    if (o.tls) await session("sessions over TLS", async (ctx) => put(await idleSessions(ctx, { levels: [{ n: 1000, key: "1k" }], security: "tls", rowPrefix: "rss-tls" })));
  }
  if (name === "ours" && o.oursStorage) await dropOursKeyspace(o.oursStorage);
  return { ...info, ownCpu };
}

/**
 * The s2s row: two servers of this kind federating, a.test's on core 0 and b.test's on core 1,
 * where this generator runs too (it is pinned there for the whole run, as in every row).
 */
async function s2sRow(name: ServerName, o: BenchOptions, dir: string, put: (cells: Cells) => void): Promise<{ cpu: number; version: string; settings: string[] }> {
  const senders = o.quick ? 100 : 500;
  const rows = ["s2s.throughput", "s2s.p50", "s2s.p99"];
  const fail = (status: "failed" | "skipped", note: string) => {
    for (const row of rows) put({ [row]: { status, note } });
  };
  const missing = name === "ours" ? undefined : missingPairDns();
  if (missing) {
    fail("skipped", missing);
    return { cpu: 0, version: "", settings: [] };
  }
  const users = Array.from({ length: senders }, (_, i) => `${USERS_PREFIX}${i}`);
  o.log(`${name}: starting two for s2s (${DOMAINS.join(" and ")}, creating ${senders} accounts on each)`);
  const t0 = performance.now();
  let pair: FederatedPair;
  try {
    pair = await startPair(STARTERS[name], {
      dir: join(dir, "s2s"), users, password: PASSWORD, archive: o.archive, cpus: o.pin ? ["0", "1"] : ["0,1", "0,1"],
      dns: name !== "ours", ...(o.cpuProfDir ? { cpuProfDir: o.cpuProfDir } : {}),
    });
  } catch (e) {
    o.log(`${name}: s2s servers did not start: ${(e as Error).stack ?? e}`);
    fail("failed", `did not start: ${(e as Error).message.slice(0, 300)}`);
    return { cpu: 0, version: "", settings: [] };
  }
  o.log(`${name}: two of ${pair.a.version} up in ${round((performance.now() - t0) / 1000, 1)} s`);
  const pids = [pair.a.workerPid(), pair.b.workerPid()];
  const c0 = pids.map(cpuSeconds);
  try {
    const ctx = context(pair.a.target, () => pair.a.workerPid(), senders, o);
    put(await federated(ctx, { target: pair.b.target, pid: () => pair.b.workerPid() }, senders));
  } catch (e) {
    o.log(`${name}: s2s aborted: ${(e as Error).stack ?? e}`);
    fail("failed", (e as Error).message);
  }
  const cpu = pids.reduce((sum, pid, k) => sum + cpuSeconds(pid) - c0[k]!, 0);
  const dns = pair.dnsReport();
  await pair.stop();
  if (dns) o.log(`${name}: ${dns}`);
  const own = pair.a.settings.filter((l) => l.startsWith("s2s "));
  const settings = [
    `s2s row: ${DOMAINS.join(" and ")}, a process each, ${o.pin ? "cores 0 and 1 (the generator on core 1)" : "unpinned"}, each with a self-signed RSA 2048 certificate for its domain; ${own.join("; ")}`,
    ...(dns ? [`s2s row: ${dns}`] : []),
  ];
  return { cpu, version: pair.a.version, settings };
}

/** Everything but the memory rows, on one server start. */
async function mainScenarios(ctx: ScenarioContext, rest: Scenario[], o: BenchOptions, put: (cells: Cells) => void, off: { sender: string; recipient: string }): Promise<void> {
  if (rest.includes("login")) {
    put({ "login.scram": await logins(ctx, "SCRAM-SHA-1") });
    // ours offers PLAIN only under TLS (RFC 6120 §13.8): the PLAIN row is over direct TLS
    // (XEP-0368) for all three, as is the TLS SCRAM row.
    if (ctx.target.tlsPort !== undefined) {
      put({ "login.plain": await logins(ctx, "PLAIN", "tls") });
      if (o.tls) put({ "login.scram.tls": await logins(ctx, "SCRAM-SHA-1", "tls") });
    }
  }
  if (rest.includes("reconnect")) put(await reconnects(ctx, o.quick ? { concurrency: 50, seconds: 3, sequential: 50 } : RECONNECT));
  if (rest.includes("one2one")) put(await oneToOne(ctx, o.quick ? 100 : 500));
  if (rest.includes("one2one-bare")) put(await oneToOne(ctx, o.quick ? 100 : 500, BARE));
  if (rest.includes("http")) put(await httpTransports(ctx, o.quick ? 20 : HTTP_PAIRS));
  if (rest.includes("groups")) {
    put(await groups(ctx, 100, `room100x${Date.now().toString(36)}`));
    if (!o.quick) put(await groups(ctx, 500, `room500x${Date.now().toString(36)}`));
    if (!o.quick) put(await groups(ctx, 1000, `room1000x${Date.now().toString(36)}`));
  }
  if (rest.includes("offline")) put(await offline(ctx, off.sender, off.recipient));
}

function context(target: Target, pid: () => number, size: number, o: BenchOptions, prefix = USERS_PREFIX, password = PASSWORD): ScenarioContext {
  return {
    target, pid, poolSize: size, password, quick: o.quick, log: o.log,
    user: (i) => `${prefix}${i}`,
  };
}

/**
 * A server someone else runs: accounts PREFIX0 .. PREFIX(count-1) with one password must exist;
 * the last two serve the offline scenario. RSS and CPU only with the server's PID.
 */
export interface ExternalTarget { target: Target; prefix: string; count: number; password: string; pid: number }

async function benchExternal(x: ExternalTarget, o: BenchOptions, results: Results): Promise<void> {
  const put = (cells: Cells) => {
    for (const [row, cell] of Object.entries(cells)) (results[row] ??= {})[x.target.name] = cell;
  };
  const size = x.count - 2;
  const ctx = context(x.target, () => x.pid, size, o, x.prefix, x.password);
  if (o.scenarios.includes("sessions") && x.pid) {
    const levels = [{ n: 1000, key: "1k" }, { n: 10_000, key: "10k" }, { n: o.maxSessions, key: "max" }].filter((l) => l.n <= size);
    if (levels.length > 0) put(await idleSessions(ctx, { levels, security: "plain", rowPrefix: "rss" }));
  }
  const rest = o.scenarios.filter((s) => s !== "sessions" && s !== "cores" && s !== "s2s");
  await mainScenarios(ctx, rest, o, put, { sender: `${x.prefix}${size}`, recipient: `${x.prefix}${size + 1}` });
}

function machine(): Record<string, unknown> {
  const cpu = cpus();
  let kernel = "";
  try {
    kernel = execFileSync("uname", ["-sr"], { encoding: "utf8" }).trim();
  } catch { /* not Linux */ }
  return { cpu: cpu[0]?.model, cores: cpu.length, memoryGiB: round(Number(readFileSync("/proc/meminfo", "utf8").match(/MemTotal:\s+(\d+)/)?.[1] ?? 0) / 2 ** 20), kernel, node: process.version };
}

export async function runBench(o: BenchOptions): Promise<BenchRun> {
  if (o.pin) pinSelf("1");
  const base = mkdtempSync(join(tmpdir(), "xmppd-bench-"));
  // The rivals run as their own users and must reach their folders.
  execFileSync("chmod", ["755", base]);
  const results: Results = {};
  const servers: BenchRun["servers"] = {};
  const busy0 = cpuBusyJiffies();
  const g0 = process.cpuUsage();
  const load0 = loadavg()[0]!;
  const t0 = performance.now();
  let serverCpu = 0;
  try {
    const cert = makeCert(base, "localhost");
    if (o.external) {
      await benchExternal(o.external, o, results);
      servers[o.external.target.name] = { version: "external", settings: [`${o.external.target.host}:${o.external.target.port}, domain ${o.external.target.domain}`] };
    }
    for (const name of o.external ? [] : o.servers) {
      if (!installed(name)) {
        o.log(`${name}: not installed (apt-get install ${name}); skipped`);
        continue;
      }
      const r = await benchServer(name, o, base, cert, results);
      servers[name] = { version: r.version, settings: r.settings };
      serverCpu += r.ownCpu;
    }
  } finally {
    if (process.env.BENCH_KEEP) o.log(`kept ${base}`);
    else rmSync(base, { recursive: true, force: true });
  }
  const seconds = (performance.now() - t0) / 1000;
  const g = process.cpuUsage(g0);
  const busySeconds = (cpuBusyJiffies() - busy0) / 100;
  // What ran besides this benchmark, in cores: a quiet machine is near 0.
  const others = Math.max(0, busySeconds - serverCpu - (g.user + g.system) / 1e6) / seconds;
  return {
    results, servers,
    machine: { ...machine(), loadAverageAtStart: round(load0, 2), loadAverageAtEnd: round(loadavg()[0]!, 2), otherProcessesCores: round(others, 2), seconds: round(seconds) },
    options: { scenarios: o.scenarios, servers: o.servers, quick: o.quick, tls: o.tls, maxSessions: o.maxSessions, pin: o.pin, archive: o.archive, metrics: o.metrics ?? false, ...(o.oursStorage ? { oursStorage: o.oursStorage } : {}) },
  };
}

const HELP = `usage: ./run bench [scenario...] [options]

scenarios: ${SCENARIOS.join(", ")} (default: all)
  and, run alone, not among the default ones:
  cluster-sessions     --sessions N (default 100000) sessions held at once on --nodes K (default 6) nodes
                       of ours on a Redis of its own (or --redis URL), one generator process per node;
                       memory per session (nodes, Redis), login rate, an announcement and a presence
                       broadcast to every session (scenarios/cluster-sessions.ts)

       ./run bench soak [options]   an hour of mixed traffic against ours, watching memory,
                                    descriptors, latency and every message (soak --help)

options:
  --servers LIST       comma-separated: ours,prosody,ejabberd (default: all installed)
  --quick              short runs and small sizes, to check the tool (not for figures)
  --no-tls             skip the TLS rows (SCRAM over direct TLS, RSS per TLS session)
  --max-sessions N     the most idle sessions to try (default 100000)
  --metrics            ours with its metrics listener on (off as shipped), scraped every 5 s
  --no-archive         all three without their archive (mod_mam off; ours with mam.retention 0)
  --no-pin             do not pin the server to core 0 and the generator to core 1
  --storage B          where ours keeps its data: embedded (default) or cassandra (a keyspace of its own, dropped after)
  --cassandra H:P      the Cassandra node for --storage cassandra (default 127.0.0.1:$XMPPD_CASSANDRA_PORT, else 19042)
  --redis URL          the Redis the cores row's two nodes share (default redis://127.0.0.1:$XMPPD_REDIS_PORT/0, else port 16379)
  --cpu-prof DIR       write a V8 CPU profile of ours (node --cpu-prof) into DIR
  --target HOST:PORT[:TLSPORT]  run against a server already running there (no server is started)
  --domain D           its XMPP domain (with --target; default localhost)
  --users PREFIX:COUNT its accounts PREFIX0 .. PREFIX<COUNT-1>, all with --password (last two: offline)
  --password PW        their password
  --pid PID            its process, for the RSS and CPU figures
  --concurrency N      cluster-sessions: logins in flight per generator (default 50)
  --out FILE           raw results (default test/bench/results/<time>-<mode>.json)
  --note TEXT          a note kept with the results (e.g. "busy machine")`;

function external(v: { target?: string; domain?: string; users?: string; password?: string; pid?: string }): ExternalTarget {
  const [host, port, tlsPort] = (v.target ?? "").split(":");
  const [prefix, count] = (v.users ?? "").split(":");
  if (!host || !Number(port) || prefix === undefined || !(Number(count) > 2) || !v.password) {
    throw new Error(`--target HOST:PORT[:TLSPORT] needs --users PREFIX:COUNT (COUNT > 2) and --password\n\n${HELP}`);
  }
  const domain = v.domain ?? "localhost";
  return {
    target: { name: "target", host, port: Number(port), ...(tlsPort ? { tlsPort: Number(tlsPort) } : {}), domain, mucDomain: `conference.${domain}` },
    prefix, count: Number(count), password: v.password, pid: Number(v.pid ?? 0),
  };
}

/** The Redis of scripts/services/redis.sh. */
const DEFAULT_REDIS = `redis://127.0.0.1:${process.env.XMPPD_REDIS_PORT ?? 16379}/0`;

/** Why the cores row cannot run (Redis does not answer), or undefined. */
async function redisDown(url: string): Promise<string | undefined> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on("error", () => undefined);
  try {
    await r.connect();
    await r.ping();
    return undefined;
  } catch (e) {
    return `no Redis at ${url} (--redis): ${(e as Error).message}`;
  } finally {
    r.disconnect();
  }
}

function oursStorage(backend: string, node: string | undefined): OursStorage {
  if (backend === "embedded") return { backend };
  if (backend !== "cassandra") throw new Error(`--storage: embedded or cassandra, not '${backend}'\n\n${HELP}`);
  const contactPoint = node ?? `127.0.0.1:${process.env.XMPPD_CASSANDRA_PORT ?? 19042}`;
  return { backend, contactPoint, keyspace: `bench_${Date.now().toString(36)}` };
}

/** `./run bench soak [options]`: the soak, not one of the scenarios of the comparison (soak/index.ts). */
async function soak(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      minutes: { type: "string" }, rate: { type: "string" }, users: { type: "string" }, rooms: { type: "string" }, interval: { type: "string" },
      "cut-every": { type: "string" }, "churn-every": { type: "string" }, seed: { type: "string" }, "no-pin": { type: "boolean" }, trace: { type: "boolean" }, out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) console.log(SOAK_HELP);
  else await soakMain(values);
}

async function main(): Promise<void> {
  if (process.argv[2] === "soak") return soak(process.argv.slice(3));
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      servers: { type: "string" }, quick: { type: "boolean" }, "no-tls": { type: "boolean" }, "max-sessions": { type: "string" },
      "no-pin": { type: "boolean" }, "no-archive": { type: "boolean" }, metrics: { type: "boolean" },
      target: { type: "string" }, domain: { type: "string" }, users: { type: "string" }, password: { type: "string" }, pid: { type: "string" }, "cpu-prof": { type: "string" }, storage: { type: "string" }, cassandra: { type: "string" }, redis: { type: "string" }, out: { type: "string" }, note: { type: "string" }, help: { type: "boolean", short: "h" },
      sessions: { type: "string" }, nodes: { type: "string" }, concurrency: { type: "string" },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  if (positionals.includes("cluster-sessions")) {
    if (positionals.length > 1) throw new Error(`cluster-sessions runs alone\n\n${HELP}`);
    return mainClusterSessions(values);
  }
  const bad = positionals.filter((p) => !(SCENARIOS as readonly string[]).includes(p));
  if (bad.length) throw new Error(`unknown scenario ${bad.join(", ")}\n\n${HELP}`);
  const servers = (values.servers ?? "ours,prosody,ejabberd").split(",") as ServerName[];
  // Each session is a descriptor in the server and one in the generator.
  const fdLimit = Number(execFileSync("sh", ["-c", "ulimit -n"], { encoding: "utf8" }).trim()) || 1024;
  let maxSessions = Number(values["max-sessions"] ?? 100_000);
  if (maxSessions > fdLimit - 500) {
    process.stderr.write(`at most ${fdLimit - 500} sessions: the open-file limit is ${fdLimit} (raise it with ulimit -n)\n`);
    maxSessions = fdLimit - 500;
  }
  const o: BenchOptions = {
    scenarios: positionals.length ? (positionals as Scenario[]) : [...SCENARIOS],
    servers, quick: values.quick ?? false, tls: !values["no-tls"],
    maxSessions, pin: !values["no-pin"], archive: !values["no-archive"], metrics: values.metrics ?? false,
    ...(values["cpu-prof"] ? { cpuProfDir: values["cpu-prof"] } : {}),
    ...(values.storage ? { oursStorage: oursStorage(values.storage, values.cassandra) } : {}),
    ...(values.redis ? { redis: values.redis } : {}),
    ...(values.target ? { external: external(values) } : {}),
    log: (l) => process.stderr.write(`${l}\n`),
  };
  const run = await runBench(o);
  const shown = o.external ? [o.external.target.name] : servers.filter((s) => run.servers[s]);
  const table = renderTable(run.results, shown);
  console.log(table);
  for (const n of renderNotes(run.results)) console.log(n);
  for (const [name, s] of Object.entries(run.servers)) console.log(`\n${name}: ${s.version}\n${s.settings.map((l) => `  ${l}`).join("\n")}`);
  const m = run.machine;
  console.log(`\nmachine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.kernel}, node ${m.node}; other processes used ${m.otherProcessesCores} cores on average during the run (load ${m.loadAverageAtStart} -> ${m.loadAverageAtEnd})`);
  const out = values.out ?? join(import.meta.dirname, "results", `${new Date().toISOString().replace(/[:.]/g, "-")}-${o.quick ? "quick" : "full"}.json`);
  mkdirSync(join(out, ".."), { recursive: true });
  writeFileSync(out, JSON.stringify({ ...run, note: values.note ?? "", table }, null, 2));
  console.log(`raw results: ${out}`);
}

/** The cluster-sessions scenario: its own run, its own results file. */
async function mainClusterSessions(v: { sessions?: string; nodes?: string; concurrency?: string; redis?: string; out?: string; note?: string }): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), "xmppd-bench-"));
  const busy0 = cpuBusyJiffies();
  const load0 = loadavg()[0]!;
  const t0 = performance.now();
  let r: ClusterSessionsResult;
  const own0 = process.cpuUsage();
  try {
    r = await clusterSessions({
      sessions: Number(v.sessions ?? 100_000), nodes: Number(v.nodes ?? 6), dir: base, tls: makeCert(base, "localhost"),
      ...(v.redis ? { redis: v.redis } : {}), ...(v.concurrency ? { concurrency: Number(v.concurrency) } : {}),
      log: (l) => process.stderr.write(`${l}\n`),
    });
  } finally {
    if (process.env.BENCH_KEEP) process.stderr.write(`kept ${base}\n`);
    else rmSync(base, { recursive: true, force: true });
  }
  const seconds = (performance.now() - t0) / 1000;
  const m: Record<string, unknown> = { ...machine(), loadAverageAtStart: round(load0, 2), loadAverageAtEnd: round(loadavg()[0]!, 2), busyCores: round((cpuBusyJiffies() - busy0) / 100 / seconds, 2), seconds: round(seconds) };
  const table = renderClusterSessions(r);
  console.log(table);
  console.log(`\n${r.settings.map((l) => `  ${l}`).join("\n")}`);
  console.log(`\nmachine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.kernel}, node ${m.node}; all cores busy ${m.busyCores} on average during the run (load ${m.loadAverageAtStart} -> ${m.loadAverageAtEnd}); this runner ${round((process.cpuUsage(own0).user + process.cpuUsage(own0).system) / 1e6, 1)} CPU s (its generators not included)`);
  const out = v.out ?? join(import.meta.dirname, "results", `${new Date().toISOString().replace(/[:.]/g, "-")}-cluster-sessions.json`);
  mkdirSync(join(out, ".."), { recursive: true });
  writeFileSync(out, JSON.stringify({ scenario: "cluster-sessions", result: r, machine: m, note: v.note ?? "", table }, null, 2));
  console.log(`raw results: ${out}`);
  // Every process it started is stopped; a socket whose peer is gone must not hold the exit.
  process.exit(0);
}

function renderClusterSessions(r: ClusterSessionsResult): string {
  const rows = [
    "| node | sessions | RSS before / after MiB | KiB per session | login CPU s |",
    "|---|---|---|---|---|",
    ...r.nodes.map((n, k) => `| ${k} | ${n.sessions} | ${n.baseMiB} / ${n.rssMiB} | ${n.kibPerSession} | ${n.loginCpuSeconds} |`),
  ];
  const b = (x: ClusterSessionsResult["announce"]) => `${x.reached} of ${x.of} in ${x.ms} ms (first after ${x.firstMs} ms)`;
  return [
    `${r.held} of ${r.sessions} sessions held at once (${r.failedLogins} logins failed)`,
    ...rows,
    `per node: ${r.split.ownKiB} KiB per own session, ${r.split.mirrorKiB} KiB per session of another node (directory mirror)`,
    `Redis: ${r.redis.beforeMiB} -> ${r.redis.afterMiB} MiB, ${r.redis.bytesPerSession} bytes per session, ${r.redis.keys} keys`,
    `logins: ${r.login.perSecond}/s overall (${r.login.seconds} s; node 0 alone ${r.login.phase1PerSecond}/s, the other ${r.nodes.length - 1} at once ${r.login.phase2PerSecond}/s), CPU per login: nodes ${r.login.nodeCpuMsPerLogin} ms, generators ${r.login.generatorCpuMsPerLogin} ms, Redis ${r.login.redisCpuMsPerLogin} ms`,
    `announcement (XEP-0133, every node's admin socket): ${b(r.announce)}`,
    `presence (one account, every session its subscriber): ${b(r.presence)}`,
    `warnings in the nodes' logs: ${r.warnings.count}${r.warnings.first.map((l) => `\n  ${l}`).join("")}`,
  ].join("\n");
}

if (import.meta.main) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  });
}
