// The s2s row: messages across two servers of one kind federating (RFC 6120 server-to-server).
// `senders` sessions on the first server (a.test) each chat with a partner on the second
// (b.test), same account name, full JID. Before measuring, each pair's first message is sent and
// received (the first pair's alone, which sets up the streams and dialback, then the others), so
// that neither connection setup nor authentication is in the figures. (a) Throughput: every
// sender keeps `window` messages in flight to its partner and sends the next as one arrives, for
// the duration; messages delivered to the receivers per second. (b) Latency at a fixed total
// rate (2,000 msg/s), spread round-robin over the senders, from the write on a.test's session to
// the arrival on b.test's, both read on this process's clock. Every message must arrive once and
// in order, and nothing may come back to a sender (a bounce).
import type { Conn, Target } from "../lib/conn.ts";
import { cpuSeconds } from "../lib/proc.ts";
import { bodyScanner, type Scanner } from "../lib/scan.ts";
import { percentile, round, sleep } from "../lib/stats.ts";
import { closeAll, failed, loginMany, ok, settle, type Cells, type ScenarioContext, withCpu } from "./common.ts";

/** The second server: where the receivers are, and its process for the CPU figures. */
export interface RemoteServer { target: Target; pid(): number }

interface Pair {
  sender: Conn;
  receiver: Conn;
  to: string;
  sent: number;
  /** Last sequence number the receiver got. */
  got: number;
  received: number;
  anomalies: number;
  /** The receiver's scanner (deliveries, error stanzas). */
  scan: Scanner;
  /** The sender's: anything with a body coming back is a bounce. */
  back: Scanner;
  bounced: number;
  sendTimes: number[];
}

interface Totals { sent: number; delivered: number; anomalies: number; errors: number; closed: number }

function totals(pairs: Pair[]): Totals {
  const t = { sent: 0, delivered: 0, anomalies: 0, errors: 0, closed: 0 };
  for (const p of pairs) {
    t.sent += p.sent;
    t.delivered += p.received;
    t.anomalies += p.anomalies + p.bounced;
    t.errors += p.scan.errors + p.back.errors;
    if (p.sender.closed) t.closed++;
    if (p.receiver.closed) t.closed++;
  }
  return t;
}

const message = (p: Pair, i: number) => `<message to='${p.to}' type='chat' id='s${i}-${p.sent}'><body>${i}:${p.sent}</body></message>`;

/** Waits until everything sent has arrived, or nothing has moved for `idleMs`. */
async function drain(pairs: Pair[], idleMs = 5000): Promise<Totals> {
  let last = -1;
  let since = performance.now();
  for (;;) {
    const t = totals(pairs);
    if (t.delivered >= t.sent) return t;
    if (t.delivered !== last) {
      last = t.delivered;
      since = performance.now();
    } else if (performance.now() - since > idleMs) return t;
    await sleep(50);
  }
}

function verdict(t: Totals): string | undefined {
  if (t.delivered !== t.sent) return `${t.sent - t.delivered} of ${t.sent} messages lost`;
  if (t.anomalies > 0) return `${t.anomalies} duplicated, reordered, misdelivered or bounced messages`;
  if (t.errors > 0) return `${t.errors} error stanzas`;
  if (t.closed > 0) return `${t.closed} sessions closed by the servers`;
  return undefined;
}

/** Waits until `done`, or fails after `ms` saying what it waited for. */
async function until(done: () => boolean, ms: number, what: () => string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`${what()} after ${ms / 1000} s`);
    await sleep(20);
  }
}

/** `fn`'s CPU figures with the second server's beside them. */
async function withCpus<T>(ctx: ScenarioContext, b: RemoteServer, fn: () => Promise<T>): Promise<{ result: T; cpuA: number; cpuB: number; generatorCpu: number }> {
  const pid = b.pid();
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  const r = await withCpu(ctx, fn);
  return { result: r.result, cpuA: r.cpu, cpuB: (cpuSeconds(pid) - c0) / ((performance.now() - t0) / 1000), generatorCpu: r.generatorCpu };
}

/** What the receivers' scanners act on: the phase, the window, the samples, the first bounce. */
interface Run {
  mode: "throughput" | "latency" | "idle";
  window: number;
  latencies: number[];
  /** The first thing that came back to a sender, to say why in the failure note. */
  bounce: string;
}

/** What went wrong, with the first bounce if any. */
function why(run: Run, t: Totals): string | undefined {
  const bad = verdict(t);
  return bad && run.bounce ? `${bad}; the first came back as ${run.bounce}` : bad;
}

/** Scanners on both ends of every pair: the receiver counts, checks order and, by phase, sends the next or takes a sample. */
function wire(pairs: Pair[], run: Run): void {
  pairs.forEach((p, i) => {
    p.sender.discardText();
    p.receiver.discardText();
    p.back = bodyScanner(() => p.bounced++);
    p.sender.onChunk = (chunk) => {
      p.back(chunk);
      if (!run.bounce && (p.bounced > 0 || p.back.errors > 0)) run.bounce = chunk.toString("utf8").slice(0, 600);
    };
    p.scan = bodyScanner((from, seq) => {
      if (from !== i || seq !== p.got + 1) p.anomalies++;
      if (seq > p.got) p.got = seq;
      p.received++;
      if (from !== i) return;
      if (run.mode === "throughput") {
        if (p.sent - seq < run.window) {
          p.sent++;
          p.sender.queue(message(p, i));
        }
      } else if (run.mode === "latency") {
        const t = p.sendTimes[seq];
        if (t !== undefined) run.latencies.push(performance.now() - t);
      }
    });
    p.receiver.onChunk = p.scan;
  });
}

/** Each pair's first message, the first pair's alone (it opens the streams and runs dialback); the setup time in ms. */
async function warmUp(pairs: Pair[], run: Run, domain: string): Promise<number> {
  const first = (p: Pair, i: number) => {
    p.sent++;
    p.sender.send(message(p, i));
  };
  const t0 = performance.now();
  first(pairs[0]!, 0);
  await until(() => pairs[0]!.received > 0 || run.bounce !== "", 60_000, () => `the first message to ${domain} did not arrive`);
  if (run.bounce) throw new Error(`the first message to ${domain} came back: ${run.bounce}`);
  const setup = performance.now() - t0;
  pairs.forEach((p, i) => i > 0 && first(p, i));
  await until(() => totals(pairs).delivered >= pairs.length, 60_000, () => `${pairs.length - totals(pairs).delivered} of ${pairs.length} first messages not delivered`);
  const bad = why(run, totals(pairs));
  if (bad) throw new Error(`first messages: ${bad}`);
  return setup;
}

/** (a) Every sender keeps `window` messages in flight for `seconds`: delivered messages/s. */
async function closedLoop(ctx: ScenarioContext, b: RemoteServer, pairs: Pair[], run: Run, seconds: number, setup: number): Promise<Cells> {
  run.window = 16;
  run.mode = "throughput";
  const tp = await withCpus(ctx, b, async () => {
    const before = totals(pairs).delivered;
    const start = performance.now();
    pairs.forEach((p, i) => {
      for (let w = 0; w < run.window; w++) {
        p.sent++;
        p.sender.queue(message(p, i));
      }
    });
    await sleep(seconds * 1000);
    const delivered = totals(pairs).delivered - before;
    run.mode = "idle";
    return delivered / ((performance.now() - start) / 1000);
  });
  const t = await drain(pairs);
  const bad = why(run, t);
  const d = {
    senders: pairs.length, window: run.window, seconds, setupMs: round(setup), sent: t.sent, delivered: t.delivered,
    serverCpu: round(tp.cpuA, 2), serverCpuB: round(tp.cpuB, 2), generatorCpu: round(tp.generatorCpu, 2),
  };
  ctx.log(`  throughput: ${round(tp.result)} msg/s, ${t.delivered}/${t.sent} delivered, server cpu a ${d.serverCpu} b ${d.serverCpuB}, generator cpu ${d.generatorCpu}`);
  return { "s2s.throughput": bad ? failed(bad, d) : ok(round(tp.result), d) };
}

/** (b) `rate` messages/s in all, round-robin over the senders, for `seconds`: p50 and p99 from write to arrival. */
async function fixedRate(ctx: ScenarioContext, b: RemoteServer, pairs: Pair[], run: Run, seconds: number, rate: number): Promise<Cells> {
  run.mode = "latency";
  const lat = await withCpus(ctx, b, async () => {
    const start = performance.now();
    let sent = 0;
    let next = 0;
    while (performance.now() - start < seconds * 1000) {
      const due = Math.floor(((performance.now() - start) / 1000) * rate);
      while (sent < due) {
        const i = next;
        next = (next + 1) % pairs.length;
        const p = pairs[i]!;
        p.sent++;
        p.sendTimes[p.sent] = performance.now();
        p.sender.send(message(p, i));
        sent++;
      }
      await sleep(1);
    }
    return sent;
  });
  const t = await drain(pairs);
  run.mode = "idle";
  const bad = why(run, t);
  const xs = run.latencies;
  const d = {
    rate, seconds, samples: xs.length, p50ms: round(percentile(xs, 50), 3), p99ms: round(percentile(xs, 99), 3),
    maxms: round(percentile(xs, 100), 3), serverCpu: round(lat.cpuA, 2), serverCpuB: round(lat.cpuB, 2), generatorCpu: round(lat.generatorCpu, 2),
  };
  ctx.log(`  latency at ${rate}/s: p50 ${d.p50ms} ms, p99 ${d.p99ms} ms, ${xs.length}/${lat.result} samples, server cpu a ${d.serverCpu} b ${d.serverCpuB}`);
  return { "s2s.p50": bad ? failed(bad, d) : ok(d.p50ms, d), "s2s.p99": bad ? failed(bad, d) : ok(d.p99ms, d) };
}

export async function federated(ctx: ScenarioContext, b: RemoteServer, senders = 500): Promise<Cells> {
  senders = Math.min(senders, ctx.poolSize);
  const seconds = ctx.quick ? 3 : 20;
  const fromA = await loginMany(ctx, 0, senders, { resource: "chat", presence: true });
  const toB = await loginMany({ ...ctx, target: b.target }, 0, senders, { resource: "chat", presence: true }).catch((e: unknown) => {
    closeAll(fromA);
    throw e;
  });
  await settle();
  const run: Run = { mode: "idle", window: 0, latencies: [], bounce: "" };
  const pairs: Pair[] = fromA.map((sender, i) => ({
    sender, receiver: toB[i]!, to: `${ctx.user(i)}@${b.target.domain}/chat`, sent: 0, got: 0, received: 0, anomalies: 0,
    scan: undefined as unknown as Scanner, back: undefined as unknown as Scanner, bounced: 0, sendTimes: [],
  }));
  wire(pairs, run);
  const cells: Cells = {};
  try {
    const setup = await warmUp(pairs, run, b.target.domain);
    ctx.log(`  federated: first message across in ${round(setup)} ms (connection and dialback), ${senders} pairs ready`);
    await settle();
    Object.assign(cells, await closedLoop(ctx, b, pairs, run, seconds, setup));
    await settle();
    Object.assign(cells, await fixedRate(ctx, b, pairs, run, seconds, 2000));
  } catch (e) {
    ctx.log(`  s2s: ${(e as Error).message}`);
    for (const row of ["s2s.throughput", "s2s.p50", "s2s.p99"]) cells[row] ??= failed((e as Error).message);
  } finally {
    closeAll(fromA);
    closeAll(toB);
    await sleep(500);
  }
  return cells;
}
