// Scenario 3, groups (XEP-0045): one room with N occupants. The first occupant creates the room
// and accepts the default configuration (an instant room, §10.1.2); the others join at once
// (100 joins in flight), each done when its own presence with status 110 comes back; time for
// all. Then deliveries/s: `senders` occupants keep messages in flight (the next once the room
// reflects the last back), every occupant must receive every message once and in sender order.
// Then latency at 10 msg/s from one occupant to the last of the others to receive it.
import type { Conn } from "../lib/conn.ts";
import { bodyScanner, markerScanner, type Scanner } from "../lib/scan.ts";
import { percentile, pool, round, sleep } from "../lib/stats.ts";
import { closeAll, discoFeatures, failed, loginMany, notBuilt, ok, settle, type Cells, type ScenarioContext, withCpu } from "./common.ts";

const MUC = "http://jabber.org/protocol/muc";
const SELF = ["code='110'", 'code="110"'];

/** XEP-0045 is there when the MUC service answers disco#info as a conference service. */
export async function hasMuc(ctx: ScenarioContext, c: Conn): Promise<boolean> {
  const info = await discoFeatures(c, ctx.target.mucDomain);
  return !info.error && info.features.includes(MUC);
}

interface Occupant { conn: Conn; last: Int32Array; received: number; anomalies: number; scan: Scanner; sent: number }

export async function groups(ctx: ScenarioContext, size: number, room: string): Promise<Cells> {
  const k = `groups.${size}`;
  size = Math.min(size, ctx.poolSize);
  const seconds = ctx.quick ? 3 : 20;
  const conns = await loginMany(ctx, 0, size, { resource: "muc", presence: true });
  try {
    if (!(await hasMuc(ctx, conns[0]!))) {
      const nb = notBuilt(`no MUC service at ${ctx.target.mucDomain}`);
      return { [`${k}.join`]: nb, [`${k}.deliveries`]: nb, [`${k}.p99`]: nb };
    }
    const roomJid = `${room}@${ctx.target.mucDomain}`;
    const join = (i: number) => `<presence to='${roomJid}/n${i}'><x xmlns='${MUC}'><history maxstanzas='0'/></x></presence>`;
    const t0 = performance.now();
    // The creator: join, then accept the default configuration (unlocks the room where it is locked).
    const creator = conns[0]!;
    creator.discardText();
    creator.send(join(0));
    await creator.expect(/code=["']110["']/, 30_000);
    await creator.iq("cfg1", `<iq type='set' id='cfg1' to='${roomJid}'><query xmlns='${MUC}#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`);
    let joined = 1;
    await pool(size - 1, 100, (n) => new Promise<void>((resolve) => {
      const c = conns[n + 1]!;
      c.discardText();
      c.onChunk = markerScanner(SELF, () => {
        joined++;
        c.onChunk = () => {};
        resolve();
      });
      c.send(join(n + 1));
    }));
    const joinSeconds = (performance.now() - t0) / 1000;
    ctx.log(`  ${size} occupants joined in ${round(joinSeconds, 2)} s`);
    creator.discardText();
    await settle();

    const occ: Occupant[] = conns.map((conn) => ({ conn, last: new Int32Array(size), received: 0, anomalies: 0, scan: undefined as unknown as Scanner, sent: 0 }));
    const senders = Math.min(20, size);
    const perSender = Math.max(1, Math.ceil(Math.min(200, Math.max(20, 20_000 / size)) / senders));
    let mode: "throughput" | "latency" | "idle" = "throughput";
    const latencySent: number[] = [];
    const latencyCount: number[] = [];
    const latencyLast: number[] = [];
    const msg = (i: number) => `<message to='${roomJid}' type='groupchat' id='g${i}-${occ[i]!.sent}'><body>${i}:${occ[i]!.sent}</body></message>`;
    for (let i = 0; i < size; i++) {
      const me = occ[i]!;
      me.scan = bodyScanner((from, seq) => {
        if (from >= size) {
          me.anomalies++;
          return;
        }
        if (seq !== me.last[from]! + 1) me.anomalies++;
        if (seq > me.last[from]!) me.last[from] = seq;
        me.received++;
        if (mode === "throughput" && from === i && i < senders) {
          me.sent++;
          me.conn.queue(msg(i));
        } else if (mode === "latency" && from === 0 && i !== 0) {
          latencyCount[seq] = (latencyCount[seq] ?? 0) + 1;
          latencyLast[seq] = performance.now();
        }
      });
      me.conn.onChunk = me.scan;
    }
    const sentTotal = () => occ.reduce((a, o) => a + o.sent, 0);
    const deliveredTotal = () => occ.reduce((a, o) => a + o.received, 0);
    const drain = async (expected: () => number) => {
      let last = -1;
      let since = performance.now();
      while (deliveredTotal() < expected()) {
        if (deliveredTotal() !== last) {
          last = deliveredTotal();
          since = performance.now();
        } else if (performance.now() - since > 5000) break;
        await sleep(50);
      }
    };
    const check = (): string | undefined => {
      const expected = sentTotal() * size;
      const got = deliveredTotal();
      if (got !== expected) return `${expected - got} of ${expected} deliveries missing`;
      const anomalies = occ.reduce((a, o) => a + o.anomalies, 0);
      if (anomalies) return `${anomalies} duplicated or reordered deliveries`;
      const errors = occ.reduce((a, o) => a + o.scan.errors, 0);
      if (errors) return `${errors} error stanzas`;
      const closed = occ.filter((o) => o.conn.closed).length;
      if (closed) return `${closed} occupants disconnected`;
      return undefined;
    };

    const tp = await withCpu(ctx, async () => {
      const before = deliveredTotal();
      const s0 = performance.now();
      for (let i = 0; i < senders; i++) {
        for (let w = 0; w < perSender; w++) {
          occ[i]!.sent++;
          occ[i]!.conn.queue(msg(i));
        }
      }
      await sleep(seconds * 1000);
      const rate = (deliveredTotal() - before) / ((performance.now() - s0) / 1000);
      mode = "idle";
      return rate;
    });
    await drain(() => sentTotal() * size);
    const bad1 = check();
    const d1 = { occupants: size, senders, inFlightPerSender: perSender, sent: sentTotal(), delivered: deliveredTotal(), serverCpu: round(tp.cpu, 2), generatorCpu: round(tp.generatorCpu, 2) };
    ctx.log(`  ${size} occupants: ${round(tp.result)} deliveries/s (${d1.sent} messages), server cpu ${d1.serverCpu}, generator cpu ${d1.generatorCpu}${bad1 ? `; ${bad1}` : ""}`);

    // Latency to the last occupant at 10 msg/s from occupant 0.
    await settle();
    mode = "latency";
    const count = ctx.quick ? 20 : 200;
    for (let n = 0; n < count; n++) {
      occ[0]!.sent++;
      latencySent[occ[0]!.sent] = performance.now();
      occ[0]!.conn.send(msg(0));
      await sleep(100);
    }
    await drain(() => sentTotal() * size);
    mode = "idle";
    const lat: number[] = [];
    let incomplete = 0;
    for (const [seq, t] of latencySent.entries()) {
      if (t === undefined) continue;
      if (latencyCount[seq] !== size - 1) incomplete++;
      else lat.push(latencyLast[seq]! - t);
    }
    const bad2 = check() ?? (incomplete ? `${incomplete} messages did not reach everyone` : undefined);
    const d2 = { messages: count, p50ms: round(percentile(lat, 50), 2), p99ms: round(percentile(lat, 99), 2) };
    ctx.log(`  latency to the last of ${size - 1}: p50 ${d2.p50ms} ms, p99 ${d2.p99ms} ms`);
    return {
      [`${k}.join`]: ok(round(joinSeconds, 2), { occupants: size, joined }),
      [`${k}.deliveries`]: bad1 ? failed(bad1, d1) : ok(round(tp.result), d1),
      [`${k}.p99`]: bad2 ? failed(bad2, d2) : ok(d2.p99ms, d2),
    };
  } finally {
    closeAll(conns);
    await sleep(1000);
  }
}
