// Many concurrent sessions on one machine, as an operator runs them: `nodes` processes of ours
// on one Redis (src/cluster/), each under its own open-file limit, and one generator process
// per node (lib/session-gen.ts), each from a source address of its own, logging in its node's
// share of the accounts (SCRAM-SHA-1, bind, initial presence) and holding them. Measured: the
// resident memory each node gains per session, split into its own sessions and its mirror of
// the others' (the first node logs in alone, then the rest at once), Redis's memory per session
// (INFO memory), the login rate, and two broadcasts that must reach every session:
//   - a message: the XEP-0133 announcement (a headline to every online session) asked of each
//     node's admin socket at once, since each node announces to its own sessions;
//   - a presence: one account whose roster has every other account as a subscriber ("from")
//     sends available presence, which RFC 6121 §4.2.2 sends to each of them, across the nodes.
// Each is timed from the request to the last session's receipt. Results and settings are data
// (ClusterSessionsResult); run.ts prints them and writes them to test/bench/results/.
import { execFileSync, fork, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import { adminRequest } from "../../../src/ops/admin-client.ts";
import type { RosterItem } from "../../../src/modules/roster/item.ts";
import { Conn, type Target } from "../lib/conn.ts";
import { cpuSeconds, freePort, rssBytes } from "../lib/proc.ts";
import { now, type Arrivals, type GenReport, type GenRequest } from "../lib/session-gen.ts";
import { round, sleep } from "../lib/stats.ts";
import { startOurs } from "../servers/ours.ts";
import type { RunningServer } from "../servers/types.ts";

const root = join(import.meta.dirname, "..", "..", "..");
const PASSWORD = "bench-pw";
const BROADCASTER = "broadcaster";
const SETTLE_MS = 5000;

export interface ClusterSessionsOptions {
  sessions: number;
  nodes: number;
  /** Scratch folder (config, data, logs; a Redis of its own unless `redis` is given). */
  dir: string;
  tls: { cert: string; key: string; combined: string };
  /** Use this Redis instead of starting one (its memory figures then include whatever else it holds). */
  redis?: string;
  /** Logins in flight per generator. */
  concurrency?: number;
  /** How long a broadcast may take to reach everyone. */
  broadcastTimeoutMs?: number;
  log(line: string): void;
}

export interface NodeFigures {
  sessions: number;
  baseMiB: number;
  /** After the first node's logins (phase 1). */
  phase1MiB: number;
  rssMiB: number;
  /** (rss - base) / own sessions: what an operator sees per session on this node. */
  kibPerSession: number;
  /** CPU seconds the node used for logins (both phases). */
  loginCpuSeconds: number;
}

export interface Broadcast { reached: number; of: number; ms: number; firstMs: number; detail: Record<string, unknown> }

export interface ClusterSessionsResult {
  sessions: number;
  held: number;
  failedLogins: number;
  loginErrors: string[];
  login: { seconds: number; perSecond: number; phase1PerSecond: number; phase2PerSecond: number; nodeCpuMsPerLogin: number; generatorCpuMsPerLogin: number; redisCpuMsPerLogin: number };
  nodes: NodeFigures[];
  /** From phase 1: a node's memory per own session and per session of another node (its directory mirror). */
  split: { ownKiB: number; mirrorKiB: number };
  redis: { beforeMiB: number; afterMiB: number; bytesPerSession: number; keys: number; version: string; own: boolean };
  announce: Broadcast;
  presence: Broadcast;
  /** Warnings and errors the nodes logged (a node taken for dead by the others, say): how many, and the first few. */
  warnings: { count: number; first: string[] };
  settings: string[];
}

/** The warnings and errors (pino levels 40 and up) in the nodes' logs. */
function nodeWarnings(dir: string, nodes: number): { count: number; first: string[] } {
  const lines = Array.from({ length: nodes }, (_, k) => {
    try {
      return readFileSync(join(dir, `node${k}`, "xmppd.log"), "utf8").split("\n").filter((l) => /"level":(4|5|6)0/.test(l)).map((l) => `node${k} ${l.slice(0, 300)}`);
    } catch {
      return [];
    }
  }).flat();
  return { count: lines.length, first: lines.slice(0, 10) };
}

/** One generator process and its reports. */
class Generator {
  readonly child: ChildProcess;
  private readonly waiters: { type: GenReport["type"]; token?: string; resolve: (r: GenReport) => void }[] = [];
  progress = 0;
  /** The tokens every session of this generator has received. */
  private readonly complete = new Set<string>();

  constructor() {
    // Diagnosis, e.g. BENCH_GEN_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" (as BENCH_SERVER_NODE_FLAGS for the nodes).
    const flags = (process.env.BENCH_GEN_NODE_FLAGS ?? "").split(" ").filter(Boolean);
    this.child = fork(join(import.meta.dirname, "..", "lib", "session-gen.ts"), [], { stdio: ["ignore", "inherit", "inherit", "ipc"], execArgv: [...process.execArgv, ...flags] });
    this.child.on("message", (r: GenReport) => {
      if (r.type === "progress") this.progress = r.done;
      if (r.type === "complete") this.complete.add(r.token);
      const i = this.waiters.findIndex((w) => w.type === r.type && (w.token === undefined || (r.type === "complete" && r.token === w.token)));
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(r);
    });
  }

  request(m: GenRequest): void {
    this.child.send(m);
  }

  /** Resolves once every session of this generator has `token` (at once if they all had it already). */
  completed(token: string): Promise<unknown> {
    return this.complete.has(token) ? Promise.resolve() : this.next("complete", token);
  }

  next<T extends GenReport["type"]>(type: T, token?: string): Promise<Extract<GenReport, { type: T }>> {
    return new Promise((resolve) => this.waiters.push({ type, ...(token ? { token } : {}), resolve: resolve as (r: GenReport) => void }));
  }

  async counts(): Promise<Extract<GenReport, { type: "counts" }>> {
    const p = this.next("counts");
    this.request({ type: "counts" });
    return p;
  }

  close(): Promise<void> {
    const gone = new Promise<void>((r) => (this.child.exitCode !== null ? r() : this.child.once("exit", () => r())));
    try {
      this.request({ type: "close" });
    } catch { /* gone already */ }
    return within(gone, 10_000).then((done) => void (done || this.child.kill("SIGKILL")));
  }
}

/** Whether `p` settled within `ms` (its timer cleared either way, so that it holds nothing open). */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((r) => (timer = setTimeout(r, ms, false)));
  try {
    return await Promise.race([p.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

const mib = (b: number): number => round(b / 2 ** 20, 1);

async function redisMemory(r: Redis): Promise<number> {
  const info = await r.info("memory");
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
}

/** A Redis of our own (scripts/services/redis.sh on a port and folder of this run), so that its memory is ours alone. */
function ownRedis(dir: string, port: number, action: "start" | "stop"): void {
  execFileSync("bash", [join(root, "scripts/services/redis.sh"), action], {
    env: { ...process.env, XMPPD_REDIS_PORT: String(port), XMPPD_SERVICES_DIR: join(dir, "services") }, stdio: ["ignore", "ignore", "inherit"],
  });
}

/** Accounts s0 .. s<n-1>, node k's a contiguous share. */
function shares(sessions: number, nodes: number): string[][] {
  return Array.from({ length: nodes }, (_, k) => {
    const from = Math.floor((k * sessions) / nodes);
    const to = Math.floor(((k + 1) * sessions) / nodes);
    return Array.from({ length: to - from }, (_, i) => `s${from + i}`);
  });
}

/** Waits for every generator's report of `token`, or the deadline; then asks each for its counts. */
async function awaitBroadcast(gens: Generator[], token: string, t0: number, of: number, timeoutMs: number): Promise<Broadcast> {
  await within(Promise.all(gens.map((g) => g.completed(token))), timeoutMs);
  const counts = await Promise.all(gens.map((g) => g.counts()));
  const arr: Arrivals[] = counts.map((c) => c.arrivals[token] ?? { count: 0, first: 0, last: 0 });
  const reached = arr.reduce((a, x) => a + x.count, 0);
  const last = Math.max(...arr.map((x) => x.last));
  const first = Math.min(...arr.filter((x) => x.count > 0).map((x) => x.first));
  return { reached, of, ms: round(last - t0, 1), firstMs: round(first - t0, 1), detail: { perGenerator: arr.map((x) => x.count) } };
}

export async function clusterSessions(o: ClusterSessionsOptions): Promise<ClusterSessionsResult> {
  if (o.nodes < 2) throw new Error("cluster-sessions needs at least 2 nodes");
  const slices = shares(o.sessions, o.nodes);
  const fdLimit = Number(execFileSync("sh", ["-c", "ulimit -n"], { encoding: "utf8" }).trim()) || 1024;
  const widest = Math.max(...slices.map((s) => s.length));
  if (widest > fdLimit - 1000) throw new Error(`${widest} sessions per node do not fit an open-file limit of ${fdLimit}: more --nodes`);
  const run = `${process.pid.toString(36)}${Date.now().toString(36)}`;
  const tokens = { announce: `ann-${run}`, presence: `pres-${run}` };
  const redisPort = o.redis ? 0 : await freePort();
  const redisUrl = o.redis ?? `redis://127.0.0.1:${redisPort}/0`;
  if (!o.redis) ownRedis(o.dir, redisPort, "start");
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  const gens: Generator[] = [];
  let server: RunningServer | undefined;
  try {
    const redisVersion = /redis_version:(\S+)/.exec(await redis.info("server"))?.[1] ?? "";
    const redis0 = await redisMemory(redis);
    const t0 = performance.now();
    o.log(`cluster-sessions: ${o.nodes} nodes, ${o.sessions} accounts (${widest} per node at most), provisioning and starting`);
    const dir = join(o.dir, "ours");
    mkdirSync(dir, { recursive: true });
    server = await startOurs({
      dir, users: [], password: PASSWORD, tls: o.tls, archive: true, cpus: "0,1",
      cluster: {
        nodes: o.nodes, redis: redisUrl, split: 0,
        accountsOf: (k) => (k === 0 ? [...slices[0]!, BROADCASTER] : slices[k]!),
        // Idle generator sessions do not answer XEP-0199 pings: the server's keepalive is off.
        config: { modules: { ping: { interval: 0 } } },
        provision: async (k, storage, domain) => {
          if (k !== 0) return;
          const roster = storage.map<RosterItem>("roster");
          const owner = `${BROADCASTER}@${domain}`;
          const all = slices.flat();
          for (let i = 0; i < all.length; i += 1000) {
            await Promise.all(all.slice(i, i + 1000).map((u) => roster.set(owner, `${u}@${domain}`, { jid: `${u}@${domain}`, groups: [], subscription: "from" })));
          }
        },
      },
    });
    const nodes = server.nodes!;
    o.log(`cluster-sessions: nodes up in ${round((performance.now() - t0) / 1000, 1)} s`);
    await sleep(SETTLE_MS);
    const base = nodes.map((n) => rssBytes(n.pid));
    const cpu0 = nodes.map((n) => cpuSeconds(n.pid));
    const redis1 = await redisMemory(redis);
    const targetOf = (k: number): Target => ({ ...server!.target, port: nodes[k]!.port });

    for (let k = 0; k < o.nodes; k++) gens.push(new Generator());
    const redisPid = Number(/process_id:(\d+)/.exec(await redis.info("server"))?.[1] ?? 0);
    const genCpu = () => gens.reduce((a, g) => a + cpuSeconds(g.child.pid!), 0);
    const gcpu0 = genCpu();
    const rcpu0 = cpuSeconds(redisPid);
    const login = async (ks: number[]) => {
      const done = ks.map((k) => gens[k]!.next("logged"));
      for (const k of ks) {
        gens[k]!.request({ type: "login", target: targetOf(k), localAddress: `127.0.0.${11 + k}`, users: slices[k]!, password: PASSWORD, concurrency: o.concurrency ?? 50, tokens: [tokens.announce, tokens.presence] });
      }
      const ticker = setInterval(() => o.log(`  logged in: ${gens.reduce((a, g) => a + g.progress, 0)}`), 10_000);
      try {
        return await Promise.all(done);
      } finally {
        clearInterval(ticker);
      }
    };
    // Phase 1, node 0 alone: its growth is its own sessions and the others' mirror of them.
    const p1 = await login([0]);
    await sleep(SETTLE_MS);
    const phase1 = nodes.map((n) => rssBytes(n.pid));
    const others = Array.from({ length: o.nodes - 1 }, (_, i) => i + 1);
    const p2 = await login(others);
    const logged = [...p1, ...p2];
    const cpu1 = nodes.map((n) => cpuSeconds(n.pid));
    const gcpu = genCpu() - gcpu0;
    const rcpu = cpuSeconds(redisPid) - rcpu0;
    const held = logged.reduce((a, r) => a + r.done, 0);
    const failedLogins = logged.reduce((a, r) => a + r.failed, 0);
    const span = (rs: typeof logged) => (Math.max(...rs.map((r) => r.end)) - Math.min(...rs.map((r) => r.start))) / 1000;
    const loginSeconds = span(p1) + span(p2);
    o.log(`cluster-sessions: ${held} sessions held, ${failedLogins} logins failed, ${round(held / loginSeconds)} logins/s`);
    await sleep(SETTLE_MS);
    const rss = nodes.map((n) => rssBytes(n.pid));
    const redis2 = await redisMemory(redis);
    const keys = await redis.dbsize();

    // The announcement: each node's admin socket at once.
    const a0 = now();
    const sent = await Promise.all(nodes.map((n) => adminRequest(n.adminSocket, "announce", [`maintenance tonight ${tokens.announce}`]) as Promise<{ sent: number }>));
    const asked = now() - a0;
    const announce = await awaitBroadcast(gens, tokens.announce, a0, held, o.broadcastTimeoutMs ?? 120_000);
    announce.detail = { ...announce.detail, sentByNodes: sent.map((s) => s.sent), adminAnswersMs: round(asked, 1) };
    o.log(`cluster-sessions: announcement reached ${announce.reached}/${held} in ${announce.ms} ms`);

    // The presence: the broadcaster, on node 0, sends available presence to its 'from' contacts.
    const b = await Conn.login(targetOf(0), { user: BROADCASTER, password: PASSWORD, mechanism: "SCRAM-SHA-1", resource: "desk", presence: false });
    await sleep(1000);
    const p0 = now();
    b.send(`<presence><status>${tokens.presence}</status></presence>`);
    const presence = await awaitBroadcast(gens, tokens.presence, p0, held, o.broadcastTimeoutMs ?? 120_000);
    o.log(`cluster-sessions: presence reached ${presence.reached}/${held} in ${presence.ms} ms`);
    b.destroy();

    const alive = (await Promise.all(gens.map((g) => g.counts()))).reduce((a, c) => a + c.alive, 0);
    const own = slices[0]!.length;
    const mirrorKiB = phase1.slice(1).reduce((a, r, i) => a + (r - base[i + 1]!), 0) / (o.nodes - 1) / own / 1024;
    const ownKiB = (phase1[0]! - base[0]!) / own / 1024;
    const loginCpu = cpu1.reduce((a, c, i) => a + c - cpu0[i]!, 0);
    return {
      sessions: o.sessions, held: alive, failedLogins, loginErrors: logged.flatMap((r) => r.errors).slice(0, 10),
      login: {
        seconds: round(loginSeconds, 1), perSecond: round(held / loginSeconds),
        phase1PerSecond: round(p1[0]!.done / span(p1)), phase2PerSecond: round(p2.reduce((a, r) => a + r.done, 0) / span(p2)),
        nodeCpuMsPerLogin: round((loginCpu * 1000) / held, 2), generatorCpuMsPerLogin: round((gcpu * 1000) / held, 2), redisCpuMsPerLogin: round((rcpu * 1000) / held, 3),
      },
      nodes: nodes.map((n, k) => ({
        sessions: slices[k]!.length, baseMiB: mib(base[k]!), phase1MiB: mib(phase1[k]!), rssMiB: mib(rss[k]!),
        kibPerSession: round((rss[k]! - base[k]!) / slices[k]!.length / 1024, 1), loginCpuSeconds: round(cpu1[k]! - cpu0[k]!, 1),
      })),
      split: { ownKiB: round(ownKiB, 1), mirrorKiB: round(mirrorKiB, 2) },
      redis: { beforeMiB: mib(redis1), afterMiB: mib(redis2), bytesPerSession: round((redis2 - redis1) / held), keys, version: redisVersion, own: !o.redis },
      announce, presence, warnings: nodeWarnings(dir, o.nodes),
      settings: [
        ...server.settings,
        `redis ${redisVersion}${o.redis ? ` at ${o.redis} (shared)` : " of scripts/services/redis.sh on a port of this run"}; memory before the nodes ${mib(redis0)} MiB`,
        `one generator process per node, source addresses 127.0.0.11.., ${o.concurrency ?? 50} logins in flight each, SCRAM-SHA-1 (4096 iterations, keys stored), bind, initial presence; no TLS`,
        "modules.ping.interval 0 (idle generator sessions do not answer XEP-0199 pings)",
        `open-file limit ${fdLimit} per process`,
      ],
    };
  } finally {
    const t = performance.now();
    await Promise.all(gens.map((g) => g.close()));
    o.log(`cluster-sessions: generators closed in ${round((performance.now() - t) / 1000, 1)} s`);
    if (server) await server.stop();
    o.log(`cluster-sessions: nodes stopped in ${round((performance.now() - t) / 1000, 1)} s`);
    redis.disconnect();
    if (!o.redis) ownRedis(o.dir, redisPort, "stop");
  }
}
