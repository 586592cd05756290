// Scenario 2, one-to-one: 500 online pairs (1,000 sessions), each session chatting with its
// partner's full JID. (a) Throughput: every session keeps `window` messages in flight to its
// partner and sends the next as one arrives, for the duration; delivered messages/s are counted
// over that time. (b) Latency at a fixed total rate (2,000 msg/s), spread round-robin over the
// senders, from write to arrival. Both check that every message arrived once and in order.
// The bare variant (scenario one2one-bare) is the shape of an outside load generator's run: half
// of the sessions send, one way, to their partner's bare JID (so the server picks the resource,
// RFC 6121 §8.5.2), each keeping 20 messages in flight.
import { writeFileSync } from "node:fs";
import type { Link } from "../lib/http.ts";
import { bodyScanner, type Scanner } from "../lib/scan.ts";
import { percentile, round, sleep } from "../lib/stats.ts";
import { closeAll, failed, loginMany, ok, settle, type Cells, type ScenarioContext, withCpu } from "./common.ts";

interface Peer {
  conn: Link;
  partner: number;
  to: string;
  sent: number;
  /** Last sequence number received from the partner. */
  got: number;
  received: number;
  anomalies: number;
  scan: Scanner;
  sendTimes: number[];
}

interface Totals { sent: number; delivered: number; anomalies: number; errors: number; closed: number }

function totals(peers: Peer[]): Totals {
  const t = { sent: 0, delivered: 0, anomalies: 0, errors: 0, closed: 0 };
  for (const p of peers) {
    t.sent += p.sent;
    t.delivered += p.received;
    t.anomalies += p.anomalies;
    t.errors += p.scan.errors;
    if (p.conn.closed) t.closed++;
  }
  return t;
}

/** `ns` is the stanza's own xmlns, which WebSocket and BOSH payloads carry (RFC 7395 §3.3.3, XEP-0206 §6). */
const message = (p: Peer, self: number, ns = "") => `<message${ns} to='${p.to}' type='chat' id='m${self}-${p.sent}'><body>${self}:${p.sent}</body></message>`;

/** Waits until everything sent has arrived, or nothing has moved for `idleMs`. */
async function drain(peers: Peer[], idleMs = 5000): Promise<Totals> {
  let last = -1;
  let since = performance.now();
  for (;;) {
    const t = totals(peers);
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
  if (t.anomalies > 0) return `${t.anomalies} duplicated, reordered or misdelivered messages`;
  if (t.errors > 0) return `${t.errors} error stanzas`;
  if (t.closed > 0) return `${t.closed} sessions closed by the server`;
  return undefined;
}

/**
 * How the pairs talk: both ways to full JIDs (one2one), or one way to bare JIDs (one2one-bare);
 * the latency phase's total rate; and how the sessions log in (TCP unless told: the http row's
 * WebSocket and BOSH).
 */
export interface Shape {
  readonly bare: boolean;
  readonly window: number;
  readonly row: string;
  readonly rate?: number;
  readonly login?: (ctx: ScenarioContext, from: number, n: number) => Promise<Link[]>;
}
export const FULL: Shape = { bare: false, window: 16, row: "one2one" };
export const BARE: Shape = { bare: true, window: 20, row: "one2one.bare" };

export async function oneToOne(ctx: ScenarioContext, pairs = 500, shape: Shape = FULL): Promise<Cells> {
  pairs = Math.min(pairs, Math.floor(ctx.poolSize / 2));
  // One way: only the first of each pair sends.
  const senders = shape.bare ? pairs : pairs * 2;
  const seconds = ctx.quick ? 3 : 20;
  const conns: Link[] = shape.login ? await shape.login(ctx, 0, pairs * 2) : await loginMany(ctx, 0, pairs * 2, { resource: "chat", presence: true });
  await settle();
  const peers: Peer[] = conns.map((conn, i) => {
    const partner = i < pairs ? i + pairs : i - pairs;
    return { conn, partner, to: `${ctx.user(partner)}@${ctx.target.domain}${shape.bare ? "" : "/chat"}`, sent: 0, got: 0, received: 0, anomalies: 0, scan: undefined as unknown as Scanner, sendTimes: [] };
  });
  const ns = shape.login ? " xmlns='jabber:client'" : "";
  let mode: "throughput" | "latency" | "idle" = "throughput";
  let window = 0;
  const latencies: number[] = [];
  /**
   * BENCH_LATENCY_DUMP=FILE keeps each latency sample with its send time (epoch ms): whether the
   * slow ones come in episodes, and how far apart, tells a collector's period from a writer's.
   */
  const dumpTo = process.env.BENCH_LATENCY_DUMP;
  const sentAt: number[] = [];
  for (let i = 0; i < peers.length; i++) {
    const me = peers[i]!;
    me.conn.discardText();
    me.scan = bodyScanner((from, seq) => {
      if (from !== me.partner || seq !== me.got + 1) me.anomalies++;
      if (seq > me.got) me.got = seq;
      me.received++;
      const sender = peers[from];
      if (!sender) return;
      if (mode === "throughput") {
        if (sender.sent - seq < window) {
          sender.sent++;
          sender.conn.queue(message(sender, from, ns));
        }
      } else if (mode === "latency") {
        const t = sender.sendTimes[seq];
        if (t === undefined) return;
        latencies.push(performance.now() - t);
        if (dumpTo) sentAt.push(t + performance.timeOrigin);
      }
    });
    me.conn.onChunk = me.scan;
  }
  const cells: Cells = {};

  // (a) Throughput, closed loop.
  window = shape.window;
  const tp = await withCpu(ctx, async () => {
    const before = totals(peers).delivered;
    const t0 = performance.now();
    for (let i = 0; i < senders; i++) {
      const p = peers[i]!;
      for (let w = 0; w < window; w++) {
        p.sent++;
        p.conn.queue(message(p, i, ns));
      }
    }
    await sleep(seconds * 1000);
    const delivered = totals(peers).delivered - before;
    mode = "idle";
    return delivered / ((performance.now() - t0) / 1000);
  });
  const t1 = await drain(peers);
  const bad1 = verdict(t1);
  const d1 = { pairs, window, seconds, sent: t1.sent, delivered: t1.delivered, serverCpu: round(tp.cpu, 2), generatorCpu: round(tp.generatorCpu, 2) };
  ctx.log(`  throughput: ${round(tp.result)} msg/s, ${t1.delivered}/${t1.sent} delivered, server cpu ${d1.serverCpu}, generator cpu ${d1.generatorCpu}`);
  cells[`${shape.row}.throughput`] = bad1 ? failed(bad1, d1) : ok(round(tp.result), d1);

  // (b) Latency at a fixed rate.
  await settle();
  const rate = shape.rate ?? 2000;
  mode = "latency";
  const lat = await withCpu(ctx, async () => {
    const t0 = performance.now();
    let sent = 0;
    let next = 0;
    while (performance.now() - t0 < seconds * 1000) {
      const due = Math.floor(((performance.now() - t0) / 1000) * rate);
      while (sent < due) {
        const i = next;
        next = (next + 1) % senders;
        const p = peers[i]!;
        p.sent++;
        p.sendTimes[p.sent] = performance.now();
        p.conn.send(message(p, i, ns));
        sent++;
      }
      await sleep(1);
    }
    return sent;
  });
  const t2 = await drain(peers);
  mode = "idle";
  if (dumpTo) writeFileSync(dumpTo, sentAt.map((t, i) => `${t.toFixed(3)} ${latencies[i]!.toFixed(3)}\n`).join(""));
  const bad2 = verdict(t2);
  const d2 = {
    rate, seconds, samples: latencies.length, p50ms: round(percentile(latencies, 50), 3), p99ms: round(percentile(latencies, 99), 3),
    maxms: round(percentile(latencies, 100), 3), serverCpu: round(lat.cpu, 2), generatorCpu: round(lat.generatorCpu, 2),
  };
  ctx.log(`  latency at ${rate}/s: p50 ${d2.p50ms} ms, p99 ${d2.p99ms} ms, ${latencies.length}/${lat.result} samples, server cpu ${d2.serverCpu}`);
  cells[`${shape.row}.p50`] = bad2 ? failed(bad2, d2) : ok(d2.p50ms, d2);
  cells[`${shape.row}.p99`] = bad2 ? failed(bad2, d2) : ok(d2.p99ms, d2);
  closeAll(conns);
  await sleep(500);
  return cells;
}
