// The soak (`./run bench soak`): one server of ours on the embedded default, started as the
// benchmark starts it (servers/ours.ts, with src/node-flags.ts) and with its metrics listener on,
// under mixed traffic at a moderate steady rate for a long time (an hour unless told): logins and
// logouts, chat to full and bare JIDs, room messages, presence and roster changes, connections
// cut and resumed (traffic.ts). Every interval it samples the server (sample.ts); at the end it
// prints a table and a verdict (flat or growing; every message accounted for) and writes the raw
// samples to test/bench/results/.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeCert } from "../lib/cert.ts";
import { freePort, pinSelf } from "../lib/proc.ts";
import { round, sleep } from "../lib/stats.ts";
import { startOurs } from "../servers/ours.ts";
import { Ledger, type Accounting } from "./ledger.ts";
import { Sampler, table, trends, verdict, type Sample, type Trend } from "./sample.ts";
import { describeNote, Traffic, type Counts } from "./traffic.ts";

export interface SoakOptions {
  /** How long the traffic runs. */
  seconds: number;
  /** Stanzas the generator sends per second (room messages count once, whatever their fan-out). */
  rate: number;
  users: number;
  rooms: number;
  /** Seconds between two samples. */
  interval: number;
  /** Mean ms between two connection cuts, and between two churner logins or logouts. */
  cutEveryMs: number;
  churnEveryMs: number;
  /** Server on core 0, generator on core 1. */
  pin: boolean;
  seed: number;
  /** Traces each message and session event, the server logging at info: a lost message is shown with what happened around it. */
  trace?: boolean;
  /** Where the raw samples go (a file); none when undefined. */
  out?: string;
  log(line: string): void;
}

export const SOAK_DEFAULTS = { seconds: 3600, rate: 1000, users: 64, rooms: 4, interval: 10, cutEveryMs: 2000, churnEveryMs: 1000, pin: true, seed: 1 };

export interface SoakRun {
  options: Omit<SoakOptions, "log">;
  version: string;
  samples: Sample[];
  trends: Trend[];
  accounting: Accounting;
  counts: Counts;
  failures: string[];
  table: string;
  verdict: string[];
  pass: boolean;
}

const PASSWORD = "soak-pw";

/** A small seeded generator (mulberry32), so that a run's mix can be repeated. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Calls `fn` at random moments `meanMs` apart on average until stopped. */
function every(meanMs: number, random: () => number, fn: () => Promise<void>): { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const next = () => {
    timer = setTimeout(() => {
      void fn();
      if (!stopped) next();
    }, meanMs * (0.5 + random()));
  };
  next();
  return { stop: () => ((stopped = true), clearTimeout(timer)) };
}

export async function runSoak(o: SoakOptions): Promise<SoakRun> {
  if (o.pin) pinSelf("1");
  const base = mkdtempSync(join(tmpdir(), "xmppd-soak-"));
  const names = Array.from({ length: o.users }, (_, i) => `soak${i}`);
  const metricsPort = await freePort();
  o.log(`ours: starting (creating ${o.users} accounts), metrics on 127.0.0.1:${metricsPort}`);
  const server = await startOurs({
    dir: base, users: names, password: PASSWORD, tls: makeCert(base, "localhost"), archive: true, cpus: o.pin ? "0" : "0,1",
    config: { metrics: { enabled: true, host: "127.0.0.1", port: metricsPort }, ...(o.trace ? { log: { level: "info" } } : {}) },
  });
  const random = seeded(o.seed);
  const ledger = new Ledger(o.trace, describeNote);
  const traffic = new Traffic({
    target: server.target, password: PASSWORD, user: (i) => names[i]!, users: o.users, rooms: o.rooms, random, log: o.log, trace: o.trace === true,
  }, ledger);
  const t0Wall = Date.now() - performance.now();
  const timers: { stop(): void }[] = [];
  try {
    await traffic.setup();
    o.log(`${o.users} users online, ${o.rooms} rooms entered; traffic at ${o.rate} stanzas/s for ${o.seconds} s, a sample every ${o.interval} s`);
    ledger.takeLatencies();
    const sampler = new Sampler(server.workerPid(), `http://127.0.0.1:${metricsPort}/metrics`, traffic.counts);
    timers.push(every(o.cutEveryMs, random, () => traffic.cut()));
    timers.push(every(o.churnEveryMs, random, () => traffic.churn()));
    const acks = setInterval(() => traffic.requestAcks(), 1000);
    timers.push({ stop: () => clearInterval(acks) });
    const t0 = performance.now();
    let steps = 0;
    let nextSample = o.interval;
    while (performance.now() - t0 < o.seconds * 1000) {
      const elapsed = (performance.now() - t0) / 1000;
      // After a stall the generator catches up by at most a tenth of a second's worth at once.
      const due = Math.min(Math.floor(elapsed * o.rate) - steps, Math.ceil(o.rate / 10));
      for (let k = 0; k < due; k++) traffic.step();
      steps = Math.max(steps + due, Math.floor(elapsed * o.rate) - Math.ceil(o.rate / 10));
      if (elapsed >= nextSample) {
        nextSample += o.interval;
        const s = await sampler.take(traffic.counts, ledger.takeLatencies());
        o.log(`  ${s.t} s: rss ${s.rssMiB} MiB, heap ${s.heapMiB} MiB (floor ${s.heapFloorMiB}), fds ${s.fds} (${s.otherFds} besides ${s.connections} connections), ${s.sessions} sessions (${s.detached} detached), sent ${s.sentPerSec}/s, received ${s.receivedPerSec}/s, p50 ${s.p50ms} ms, p99 ${s.p99ms} ms, ${s.held} held across cuts (max ${s.heldMaxMs} ms), ${s.cuts} cuts, ${s.logins} logins, ${s.failures} failures; cpu server ${s.serverCpu}, generator ${s.generatorCpu}, load ${s.load}`);
      }
      await sleep(10);
    }
    for (const t of timers.splice(0)) t.stop();
    o.log("traffic stopped; waiting for everything sent to arrive");
    const drainStart = performance.now();
    await traffic.drain(30_000);
    o.log(`drained in ${round((performance.now() - drainStart) / 1000, 1)} s`);
    const accounting = ledger.account();
    for (const m of accounting.lostMessages ?? []) {
      const [, from, to] = m.stream.split(" ");
      o.log(`lost: ${m.stream} #${m.seq}, sent at ${new Date(t0Wall + m.at).toISOString()} (${m.note}); around it:`);
      for (const e of traffic.eventsAround([from!, to!.split("/").pop()!], m.at, 10_000)) {
        const [t, ...rest] = e.split(" ");
        o.log(`  ${new Date(t0Wall + Number(t)).toISOString()} ${rest.join(" ")}`);
      }
    }
    if (o.trace) o.log(`the server's log (info): ${join(base, "xmppd.log")}`);
    if (ledger.strangers > 0) traffic.fail(`${ledger.strangers} messages the generator did not send, or to the wrong receiver`);
    const v = verdict(sampler.samples, accounting, traffic.counts, traffic.failureNotes);
    const { log: _log, ...options } = o;
    const run: SoakRun = {
      options, version: server.version, samples: sampler.samples, trends: trends(sampler.samples), accounting, counts: { ...traffic.counts },
      failures: traffic.failureNotes, table: table(sampler.samples), verdict: v.lines, pass: v.pass,
    };
    if (o.out) {
      mkdirSync(join(o.out, ".."), { recursive: true });
      writeFileSync(o.out, JSON.stringify(run, null, 2));
    }
    return run;
  } finally {
    for (const t of timers) t.stop();
    const closing = performance.now();
    await traffic.close().catch(() => undefined);
    await server.stop();
    o.log(`sessions closed and server stopped in ${round((performance.now() - closing) / 1000, 1)} s`);
    if (process.env.BENCH_KEEP || o.trace) o.log(`kept ${base}`);
    else rmSync(base, { recursive: true, force: true });
  }
}

export const SOAK_HELP = `usage: ./run bench soak [options]

An hour of mixed traffic against one server of ours (embedded default, metrics listener on):
logins and logouts, chat to full and bare JIDs, MUC rooms, presence and roster changes,
connections cut and resumed (XEP-0198). Samples RSS, V8 heap, open descriptors and latency
every interval; fails when RSS, heap or descriptors grow over the second half beyond a
threshold, or a message is lost, duplicated or reordered.

options:
  --minutes N          how long (default ${SOAK_DEFAULTS.seconds / 60}; fractions allowed)
  --rate N             stanzas/s the generator sends (default ${SOAK_DEFAULTS.rate})
  --users N            accounts online at once, a quarter of them logging in and out (default ${SOAK_DEFAULTS.users})
  --rooms N            MUC rooms the steady users sit in (default ${SOAK_DEFAULTS.rooms})
  --interval S         seconds between samples (default ${SOAK_DEFAULTS.interval})
  --cut-every MS       mean ms between two cut connections (default ${SOAK_DEFAULTS.cutEveryMs})
  --churn-every MS     mean ms between two logins or logouts (default ${SOAK_DEFAULTS.churnEveryMs})
  --seed N             the traffic's random seed (default ${SOAK_DEFAULTS.seed})
  --trace              keep each message's send time and each session event, the server logging
                       at info (its data dir is kept): a lost message is shown with what
                       happened to its sender and receiver around it
  --no-pin             do not pin the server to core 0 and the generator to core 1
  --out FILE           raw samples (default test/bench/results/<time>-soak.json)`;

/** `./run bench soak ...`: the figures on stdout, the raw samples in a file; exit code 1 when the verdict fails. */
export async function soakMain(args: Record<string, string | boolean | undefined>): Promise<void> {
  const num = (k: string, d: number) => {
    const v = args[k];
    if (v === undefined) return d;
    const n = Number(v);
    if (!(n > 0)) throw new Error(`--${k}: a positive number, not '${String(v)}'\n\n${SOAK_HELP}`);
    return n;
  };
  const out = typeof args.out === "string" ? args.out : join(import.meta.dirname, "..", "results", `${new Date().toISOString().replace(/[:.]/g, "-")}-soak.json`);
  const run = await runSoak({
    seconds: round(num("minutes", SOAK_DEFAULTS.seconds / 60) * 60), rate: num("rate", SOAK_DEFAULTS.rate), users: Math.max(4, Math.round(num("users", SOAK_DEFAULTS.users) / 4) * 4),
    rooms: num("rooms", SOAK_DEFAULTS.rooms), interval: num("interval", SOAK_DEFAULTS.interval), cutEveryMs: num("cut-every", SOAK_DEFAULTS.cutEveryMs),
    churnEveryMs: num("churn-every", SOAK_DEFAULTS.churnEveryMs), seed: num("seed", SOAK_DEFAULTS.seed), pin: !args["no-pin"], trace: args.trace === true, out,
    log: (l) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${l}\n`),
  });
  console.log(run.table);
  console.log(run.verdict.join("\n"));
  console.log(`\n${run.version}; raw samples: ${out}`);
  if (!run.pass) process.exitCode = 1;
}
