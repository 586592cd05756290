// What the chaos tests (test/chaos/) share: a stream-managed sender (XEP-0198) that numbers its
// messages, knows which of them the server acknowledged (<a h/>) and sends again what was not
// acknowledged when its connection or its server died; reading an archive (XEP-0313) page by
// page; and the check the tests end with: every acknowledged message delivered, in order, and a
// message seen twice only if it was sent twice (XEP-0198 §4: what was not acknowledged is sent
// again, and may have been stored already).
import type { ChildProcess } from "node:child_process";
import { Redis } from "ioredis";
import { xml, type Element } from "../../src/xml/element.ts";
import { SmClient, chat } from "./sm.ts";

const SM = "urn:xmpp:sm:3";
const MAM = "urn:xmpp:mam:2";
const RSM = "http://jabber.org/protocol/rsm";

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** SIGKILL, and the process's exit. */
export async function kill9(c: ChildProcess | undefined): Promise<void> {
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise((r) => c.once("exit", r));
  c.kill("SIGKILL");
  await exited;
}

/**
 * Sends messages `<prefix><i>` to one recipient, i = 0, 1, 2 ... in order, over one stream
 * management session after another. Messages [0, acked) are acknowledged; a new session starts
 * again at `acked` (attach), as a client does after a failed resumption.
 */
export class Pusher {
  /** Messages [0, acked) are acknowledged by the server. */
  acked = 0;
  /** The next index to send on the current session. */
  next = 0;
  /** How many times each index was sent. */
  readonly sent: number[] = [];
  /** Error replies the server sent back (type='error' messages). */
  readonly errors: Element[] = [];
  /** The indexes of the messages those errors answered: refused, visibly (not lost). */
  readonly bounced = new Set<number>();
  /** The current session's client. */
  client: SmClient | undefined;
  private base = 0;
  private readonly to: string;
  private readonly prefix: string;

  constructor(to: string, prefix: string) {
    this.to = to;
    this.prefix = prefix;
  }

  /**
   * A new session: it sends again from the first message not acknowledged. `before`: stanzas
   * this session sent before (initial presence), which the server counts in h too.
   */
  attach(c: SmClient, before = 0): void {
    this.client = c;
    c.autoAck = true;
    this.next = this.acked;
    this.base = this.acked - before;
  }

  /** A session resumed (XEP-0198 §5) with the server's h: what it did not count is sent again. */
  resumed(c: SmClient, h: number): void {
    this.client = c;
    c.autoAck = true;
    this.collect();
    this.acked = Math.max(this.acked, this.base + h);
    this.next = this.acked;
  }

  /** Sends a stanza of another kind on the session: counted in h, not one of the numbered messages. */
  sendOther(stanza: Element | string): void {
    this.client!.send(stanza);
    this.base--;
  }

  get closed(): boolean {
    return this.client?.raw.closed ?? true;
  }

  /**
   * Sends `n` messages and an <r/>, reads the acks that came; false once the connection is gone.
   * No more than `window` are left unacknowledged (a client's own bound).
   */
  burst(n: number, limit = Infinity, window = Infinity): boolean {
    const c = this.client;
    if (!c || c.raw.closed) return false;
    this.collect();
    for (let i = 0; i < n && this.next < limit && this.next - this.acked < window; i++, this.next++) {
      c.send(chat(this.to, `${this.prefix}${this.next}`));
      this.sent[this.next] = (this.sent[this.next] ?? 0) + 1;
    }
    c.send(`<r xmlns='${SM}'/>`);
    this.collect();
    return true;
  }

  /** Sends bursts every `pauseMs` until `stop` says so, the connection dies or `limit` is sent. */
  async push(stop: () => boolean, opts: { burst?: number; pauseMs?: number; limit?: number } = {}): Promise<void> {
    const limit = opts.limit ?? Infinity;
    while (!stop() && this.next < limit && this.burst(opts.burst ?? 5, limit)) await sleep(opts.pauseMs ?? 5);
  }

  /** Reads the <a/> and error replies received so far. */
  collect(): void {
    const inbox = this.client?.inbox ?? [];
    for (let i = 0; i < inbox.length; ) {
      const el = inbox[i]!;
      if (el.name === "a" && el.attrs.xmlns === SM) this.acked = Math.max(this.acked, this.base + Number(el.attrs.h));
      else if (el.name === "message" && el.attrs.type === "error") {
        this.errors.push(el);
        if (el.attrs.id?.startsWith(this.prefix)) this.bounced.add(Number(el.attrs.id.slice(this.prefix.length)));
      }
      else {
        i++;
        continue;
      }
      inbox.splice(i, 1);
    }
  }

  /** Asks for acks until everything sent on this session is acknowledged; false when `ms` passed or the connection died. */
  async settle(ms = 20_000): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      this.collect();
      if (this.acked >= this.next) return true;
      if (this.closed) return false;
      this.client!.send(`<r xmlns='${SM}'/>`);
      await sleep(50);
    }
    this.collect();
    return this.acked >= this.next;
  }
}

/** The messages of an archive (XEP-0313), oldest first, every page (RSM) of `max`. */
export async function archived(c: SmClient, max = 500, to?: string): Promise<Element[]> {
  const out: Element[] = [];
  let after: string | undefined;
  for (let page = 0; ; page++) {
    const id = `mam-${page}`;
    const set = xml("set", { xmlns: RSM }, xml("max", null, String(max)), ...(after ? [xml("after", null, after)] : []));
    c.send(xml("iq", { type: "set", id, ...(to ? { to } : {}) }, xml("query", { xmlns: MAM, queryid: id }, set)));
    const fin = await c.next((e) => e.name === "iq" && e.attrs.id === id, "the archive's answer", 30_000);
    if (fin.attrs.type !== "result") throw new Error(`archive query failed: ${fin.toString()}`);
    for (let i = 0; i < c.inbox.length; ) {
      const r = c.inbox[i]!.getChild("result", MAM);
      if (r?.attrs.queryid === id) {
        out.push(r.getChild("forwarded")!.getChild("message")!);
        c.inbox.splice(i, 1);
      } else i++;
    }
    const f = fin.getChild("fin", MAM)!;
    after = f.getChild("set", RSM)?.getChildText("last") ?? undefined;
    if (f.attrs.complete === "true" || after === undefined) return out;
  }
}

/** What a list of received messages says about the numbered messages of a Pusher. */
export interface Delivered {
  /** Indexes in the order they arrived, a second copy left out. */
  order: number[];
  /** Indexes that arrived more than once. */
  twice: number[];
  /** Of those, the ones whose copies carry the same XEP-0359 stanza-id (a client keeps one). */
  sameId: number[];
}

export function delivered(messages: Element[], prefix: string): Delivered {
  const seen = new Map<number, string>();
  const order: number[] = [];
  const twice: number[] = [];
  const sameId: number[] = [];
  for (const m of messages) {
    const body = m.getChildText("body");
    if (!body?.startsWith(prefix)) continue;
    const i = Number(body.slice(prefix.length));
    const sid = m.getChildren("stanza-id").map((e) => `${e.attrs.by} ${e.attrs.id}`).sort().join(",");
    const first = seen.get(i);
    if (first === undefined) {
      order.push(i);
      seen.set(i, sid);
    } else {
      twice.push(i);
      if (sid !== "" && sid === first) sameId.push(i);
    }
  }
  return { order, twice, sameId };
}

/**
 * The check: the first copies are exactly [0, acked) but those bounced with an error, in order (unless not `ordered`: what came
 * live and what came later from the offline store); a second copy only of a message sent more
 * than once (it was not acknowledged when its session died, and was sent again), or, where
 * `sameIdTwice` allows it, one carrying the same stanza-id as the first (XEP-0359: the client
 * keeps one; a message whose confirmation between nodes was lost with Redis went offline as well).
 * Returns a one-line summary, or throws saying what is wrong.
 */
export function expectAllOnce(what: string, d: Delivered, p: Pusher, opts: { ordered?: boolean; sameIdTwice?: boolean } = {}): string {
  const ordered = opts.ordered ?? true;
  const missing: number[] = [];
  const seen = new Set(d.order);
  for (let i = 0; i < p.acked; i++) if (!seen.has(i) && !p.bounced.has(i)) missing.push(i);
  if (missing.length > 0) throw new Error(`${what}: ${missing.length} acknowledged messages missing: ${missing.slice(0, 20).join(", ")}`);
  const firsts = d.order.filter((i) => i < p.acked);
  const outOfOrder = ordered ? firsts.findIndex((v, k) => v !== k) : -1;
  if (outOfOrder >= 0) throw new Error(`${what}: out of order at position ${outOfOrder}: ${firsts.slice(Math.max(0, outOfOrder - 3), outOfOrder + 4).join(", ")}`);
  const sentOnce = d.twice.filter((i) => (p.sent[i] ?? 0) < 2);
  const wrong = opts.sameIdTwice ? sentOnce.filter((i) => !d.sameId.includes(i)) : sentOnce;
  if (wrong.length > 0) {
    const same = wrong.filter((i) => d.sameId.includes(i));
    throw new Error(`${what}: sent once, arrived twice: ${wrong.slice(0, 20).join(", ")} (with the same stanza-id: ${same.join(", ") || "none"})`);
  }
  const resent = p.sent.filter((n) => n > 1).length;
  const again = sentOnce.length > 0 ? `; ${sentOnce.length} sent once came twice with the same stanza-id (${sentOnce.slice(0, 10).join(", ")})` : "";
  const bounced = p.bounced.size > 0 ? ` (${p.bounced.size} of them bounced with an error)` : "";
  return `${what}: ${p.acked} acked${bounced}, all there${ordered ? " in order" : ""}; ${resent} sent again after a failure, ${d.twice.length - sentOnce.length} of them stored twice${again}`;
}

/** Waits until Redis has the full JID's session entry (src/cluster/redis.ts) naming `node`; the ms it took, or -1. */
export async function publishedIn(url: string, prefix: string, full: string, node: string, ms: number): Promise<number> {
  const [bare, resource] = full.split("/") as [string, string];
  const r = new Redis(url);
  const started = Date.now();
  try {
    while (Date.now() - started < ms) {
      const json = await r.hget(`${prefix}sess:${bare}`, resource);
      if (json !== null && (JSON.parse(json) as { n: string }).n === node) return Date.now() - started;
      await sleep(50);
    }
    return -1;
  } finally {
    r.disconnect();
  }
}
