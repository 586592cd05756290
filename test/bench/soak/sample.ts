// The soak's samples and verdict: every interval the server's resident memory and open file
// descriptors (from /proc), its V8 heap in use, connections and sessions (from its Prometheus
// metrics listener), the generator's counts and the interval's message latencies. At the end a
// table (start, middle, end, max) and a linear fit of RSS, heap and descriptors over the second
// half of the run: growth over that half beyond a threshold fails the run, as does any message
// lost, duplicated or reordered.
import { readdirSync } from "node:fs";
import { loadavg } from "node:os";
import { cpuSeconds, rssBytes } from "../lib/proc.ts";
import { percentile, round } from "../lib/stats.ts";
import type { Accounting } from "./ledger.ts";
import type { Counts } from "./traffic.ts";

export interface Sample {
  /** Seconds since the traffic started. */
  t: number;
  rssMiB: number;
  heapMiB: number;
  /** The least heap in use over the last two minutes of samples: the floor the collector gets back to, where a leak shows. */
  heapFloorMiB: number;
  fds: number;
  connections: number;
  /** Descriptors besides the client connections: what must stay flat while logins come and go. */
  otherFds: number;
  sessions: number;
  detached: number;
  /** Per second over the interval. */
  sentPerSec: number;
  receivedPerSec: number;
  p50ms: number;
  p99ms: number;
  latencySamples: number;
  /** Messages held across a cut connection (resent after the resumption), and the longest they took. */
  held: number;
  heldMaxMs: number;
  cuts: number;
  logins: number;
  failures: number;
  /** The server's and the generator's CPU over the interval (cores), and the machine's 1-minute load: what tells a stall of the server from a busy machine. */
  serverCpu: number;
  generatorCpu: number;
  load: number;
}

function openFds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

/** One value of the Prometheus text format, e.g. metric(text, 'xmppd_sessions{state="detached"}'). */
function metric(text: string, name: string): number {
  const i = text.indexOf(`\n${name} `);
  return i < 0 ? NaN : Number(text.slice(i + name.length + 2, text.indexOf("\n", i + 1)));
}

export class Sampler {
  readonly samples: Sample[] = [];
  private last: Counts;
  private lastAt: number;
  private lastCpu: number;
  private lastOwnCpu = process.cpuUsage();
  private readonly t0: number;
  private readonly pid: number;
  private readonly metricsUrl: string;

  constructor(pid: number, metricsUrl: string, counts: Counts) {
    this.pid = pid;
    this.metricsUrl = metricsUrl;
    this.last = { ...counts };
    this.lastCpu = cpuSeconds(pid);
    this.t0 = this.lastAt = performance.now();
  }

  async take(counts: Counts, latencies: { live: number[]; held: number[] }, windowSeconds = 120): Promise<Sample> {
    const now = performance.now();
    const secs = (now - this.lastAt) / 1000;
    let text = "";
    try {
      text = `\n${await (await fetch(this.metricsUrl, { signal: AbortSignal.timeout(5000) })).text()}`;
    } catch { /* counted as NaN below: a server that does not answer its metrics shows */ }
    const fds = openFds(this.pid);
    const connections = metric(text, 'xmppd_connections{transport="tcp"}');
    const connected = metric(text, 'xmppd_sessions{state="connected"}');
    const detached = metric(text, 'xmppd_sessions{state="detached"}');
    const t = round((now - this.t0) / 1000, 1);
    const heapMiB = round(metric(text, "nodejs_heap_size_used_bytes") / 2 ** 20, 1);
    const recent = this.samples.filter((p) => p.t > t - windowSeconds).map((p) => p.heapMiB);
    const s: Sample = {
      t, rssMiB: round(rssBytes(this.pid) / 2 ** 20, 1), heapMiB, heapFloorMiB: Math.min(heapMiB, ...recent),
      fds, connections, otherFds: fds - connections,
      sessions: connected + detached, detached,
      sentPerSec: round((counts.stanzasSent - this.last.stanzasSent) / secs),
      receivedPerSec: round((counts.stanzasReceived - this.last.stanzasReceived) / secs),
      p50ms: round(percentile(latencies.live, 50), 2), p99ms: round(percentile(latencies.live, 99), 2), latencySamples: latencies.live.length,
      held: latencies.held.length, heldMaxMs: round(percentile(latencies.held, 100), 1),
      cuts: counts.cuts - this.last.cuts, logins: counts.logins - this.last.logins, failures: counts.failures - this.last.failures,
      serverCpu: round((cpuSeconds(this.pid) - this.lastCpu) / secs, 2), generatorCpu: 0, load: round(loadavg()[0]!, 2),
    };
    const own = process.cpuUsage(this.lastOwnCpu);
    s.generatorCpu = round((own.user + own.system) / 1e6 / secs, 2);
    this.lastCpu = cpuSeconds(this.pid);
    this.lastOwnCpu = process.cpuUsage();
    this.samples.push(s);
    this.last = { ...counts };
    this.lastAt = now;
    return s;
  }
}

/** Least-squares slope of y over x (units of y per unit of x); 0 with fewer than two points. */
export function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** What may grow over the second half before the run fails: a share of the mean, and at least a floor. */
export const THRESHOLDS = {
  rssMiB: { share: 0.1, floor: 8 },
  heapFloorMiB: { share: 0.1, floor: 8 },
  otherFds: { share: 0, floor: 8 },
} as const;

export interface Trend { metric: keyof typeof THRESHOLDS; perHour: number; growth: number; limit: number; growing: boolean }

/** The fit of each watched figure over the second half of the samples. */
export function trends(samples: Sample[]): Trend[] {
  const half = samples.slice(Math.floor(samples.length / 2));
  const xs = half.map((s) => s.t);
  const span = xs.length > 1 ? xs[xs.length - 1]! - xs[0]! : 0;
  return (Object.keys(THRESHOLDS) as (keyof typeof THRESHOLDS)[]).map((m) => {
    const ys = half.map((s) => s[m]);
    const k = slope(xs, ys);
    const mean = ys.reduce((a, b) => a + b, 0) / Math.max(1, ys.length);
    const limit = Math.max(THRESHOLDS[m].floor, THRESHOLDS[m].share * mean);
    const growth = k * span;
    return { metric: m, perHour: round(k * 3600, 1), growth: round(growth, 1), limit: round(limit, 1), growing: growth > limit };
  });
}

const COLUMNS: [keyof Sample, string][] = [
  ["rssMiB", "RSS MiB"], ["heapMiB", "heap used MiB"], ["heapFloorMiB", "heap floor MiB (least in 2 min)"], ["fds", "open fds"], ["otherFds", "fds besides connections"],
  ["sessions", "sessions"], ["sentPerSec", "stanzas sent/s"], ["receivedPerSec", "stanzas received/s"], ["p50ms", "latency p50 ms"], ["p99ms", "latency p99 ms"], ["heldMaxMs", "held across a cut: max ms"],
  ["serverCpu", "server CPU (cores)"], ["generatorCpu", "generator CPU (cores)"], ["load", "machine load (1 min)"],
];

export function table(samples: Sample[]): string {
  if (samples.length === 0) return "(no samples)";
  const at = (i: number) => samples[Math.min(samples.length - 1, Math.max(0, i))]!;
  const picks = [at(0), at(Math.floor((samples.length - 1) / 2)), at(samples.length - 1)];
  const rows = COLUMNS.map(([k, label]) => {
    const vals = samples.map((s) => s[k]).filter((v) => Number.isFinite(v));
    return [label, ...picks.map((s) => String(s[k])), String(vals.length ? Math.max(...vals) : NaN)];
  });
  const head = ["", `start (${picks[0]!.t} s)`, `middle (${picks[1]!.t} s)`, `end (${picks[2]!.t} s)`, "max"];
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => (i === 0 ? c.padEnd(width[i]!) : c.padStart(width[i]!))).join(" | ")} |`;
  return [line(head), `|${width.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)].join("\n");
}

export interface Verdict { pass: boolean; lines: string[] }

export function verdict(samples: Sample[], a: Accounting, counts: Counts, failureNotes: string[]): Verdict {
  const lines: string[] = [];
  let pass = true;
  if (samples.length < 4) {
    pass = false;
    lines.push(`FAIL: ${samples.length} samples, too few to fit`);
  }
  for (const t of trends(samples)) {
    if (t.growing) pass = false;
    lines.push(`${t.growing ? "FAIL" : "ok"}: ${t.metric} ${t.growing ? "growing" : "flat"}, ${t.growth >= 0 ? "+" : ""}${t.growth} over the second half (fit ${t.perHour}/h; limit +${t.limit})`);
  }
  const accounted = a.lost === 0 && a.duplicated === 0 && a.reordered === 0;
  if (!accounted || a.sent === 0) pass = false;
  lines.push(`${accounted && a.sent > 0 ? "ok" : "FAIL"}: ${a.received}/${a.sent} messages received over ${a.streams} streams; ${a.lost} lost, ${a.duplicated} duplicated, ${a.reordered} reordered`);
  lines.push(...a.examples.map((e) => `  ${e}`));
  if (counts.failures > 0) pass = false;
  lines.push(`${counts.failures ? "FAIL" : "ok"}: ${counts.failures} failures (error stanzas, failed logins or resumptions)`);
  lines.push(...failureNotes.map((n) => `  ${n}`));
  if (samples.some((s) => !Number.isFinite(s.heapMiB))) {
    pass = false;
    lines.push("FAIL: the metrics listener did not answer every sample");
  }
  lines.push(`${counts.cuts} connections cut and ${counts.resumes} resumed (${counts.resent} stanzas resent by the generator), ${counts.logins} logins, ${counts.logouts} logouts`);
  lines.push(`verdict: ${pass ? "PASS" : "FAIL"}`);
  return { pass, lines };
}
