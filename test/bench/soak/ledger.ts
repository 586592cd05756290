// The soak's accounting: every message the generator sends is numbered per stream (one sender to
// one receiver, or one sender through a room to one occupant) and stamped with its send time, so
// that at the end each stream says how many were sent, how many arrived, and whether any came
// twice or out of order; and each interval's latencies give its p50 and p99.

/** What a stream of numbered messages from one sender to one receiver shows. */
class Stream {
  sent = 0;
  /** The next number expected: everything below it arrived. */
  next = 0;
  /** Numbers that arrived ahead of a gap. */
  readonly ahead = new Set<number>();
  duplicates = 0;
  reordered = 0;
  /** When tracing: each message's send time (performance.now()) and its note's code, by number (typed arrays: millions of them). */
  private times: Float64Array | undefined;
  private codes: Uint32Array | undefined;

  constructor(trace: boolean) {
    if (trace) {
      this.times = new Float64Array(1024);
      this.codes = new Uint32Array(1024);
    }
  }

  /** Keeps message `seq`'s send time and note code, when tracing. */
  note(seq: number, at: number, code: number): void {
    if (!this.times || !this.codes) return;
    if (seq >= this.times.length) {
      const times = new Float64Array(this.times.length * 2);
      times.set(this.times);
      const codes = new Uint32Array(this.codes.length * 2);
      codes.set(this.codes);
      this.times = times;
      this.codes = codes;
    }
    this.times[seq] = at;
    this.codes[seq] = code;
  }

  /** What was kept of message `seq` (tracing), else undefined. */
  noted(seq: number): { at: number; code: number } | undefined {
    return this.times && this.codes && seq < this.sent ? { at: this.times[seq]!, code: this.codes[seq]! } : undefined;
  }

  get tracing(): boolean {
    return this.times !== undefined;
  }

  /** The numbers sent that never arrived. */
  missing(): number[] {
    const out: number[] = [];
    for (let i = this.next; i < this.sent; i++) if (!this.ahead.has(i)) out.push(i);
    return out;
  }

  receive(seq: number): void {
    if (seq < this.next || this.ahead.has(seq)) {
      this.duplicates++;
      return;
    }
    if (seq > this.next) {
      this.ahead.add(seq);
      this.reordered++;
      return;
    }
    this.next++;
    while (this.ahead.delete(this.next)) this.next++;
  }

  get received(): number {
    return this.next + this.ahead.size;
  }
}

export interface Accounting {
  streams: number;
  sent: number;
  received: number;
  lost: number;
  duplicated: number;
  reordered: number;
  /** A few streams that lost, duplicated or reordered, for the report. */
  examples: string[];
  /** When tracing: the first messages lost, with their stream, number, send time and note. */
  lostMessages?: LostMessage[];
}

export interface LostMessage { stream: string; seq: number; at: number; note: string }

export class Ledger {
  private readonly streams = new Map<string, Stream>();
  /** Latencies (ms) of this interval; taken by the sampler. */
  private latencies: number[] = [];
  /** The same of messages held across a cut connection of their sender or receiver (the cut's length is in them). */
  private held: number[] = [];
  /** Whether a message of `from` to `me` sent at `at` (performance.now()) was in flight across a cut. */
  wasHeld: (from: string, me: string, at: number) => boolean = () => false;
  /** Messages received that the generator did not send (a body it cannot read). */
  strangers = 0;
  /** Keeps every message's send time and note, so that a lost one can be traced. */
  private readonly trace: boolean;
  /** A note's words from its code and its stream's key (the caller's encoding). */
  private readonly describe: (key: string, code: number) => string;

  constructor(trace = false, describe: (key: string, code: number) => string = () => "") {
    this.trace = trace;
    this.describe = describe;
  }

  private stream(key: string): Stream {
    let s = this.streams.get(key);
    if (!s) this.streams.set(key, (s = new Stream(this.trace)));
    return s;
  }

  /** Numbers the next message of `from` to `to` (a receiver's key) and returns its body; `note` (a code) is kept when tracing. */
  body(kind: "c" | "g", from: string, to: string, note = 0): string {
    const s = this.stream(`${kind} ${from} ${to}`);
    const now = performance.now();
    s.note(s.sent, now, note);
    return `${kind} ${from} ${to} ${s.sent++} ${now.toFixed(3)}`;
  }

  /** For a room message: one stream per occupant that must receive it, the same number in each. */
  roomBody(from: string, room: string, occupants: readonly string[]): string {
    let seq = -1;
    const now = performance.now();
    for (const o of occupants) {
      const s = this.stream(`g ${from} ${room}/${o}`);
      if (seq >= 0 && s.sent !== seq) throw new Error(`room stream ${from} -> ${room}/${o} out of step`);
      s.note(s.sent, now, 0);
      seq = s.sent++;
    }
    return `g ${from} ${room} ${seq} ${now.toFixed(3)}`;
  }

  /** A message body arrived at `me` (the receiver's key): numbered and timed, or a stranger. */
  receive(me: string, body: string): void {
    const [kind, from, to, seq, at] = body.split(" ");
    if ((kind !== "c" && kind !== "g") || !from || !to || seq === undefined || at === undefined) {
      this.strangers++;
      return;
    }
    if (kind === "c" && to !== me) {
      this.strangers++;
      return;
    }
    const s = this.streams.get(kind === "c" ? `c ${from} ${me}` : `g ${from} ${to}/${me}`);
    if (!s) {
      this.strangers++;
      return;
    }
    s.receive(Number(seq));
    const t = Number(at);
    (this.wasHeld(from, me, t) ? this.held : this.latencies).push(performance.now() - t);
  }

  /** Messages sent to `to` (a receiver's key) that have not arrived yet. */
  owed(to: string): number {
    let n = 0;
    for (const [key, s] of this.streams) if (key.endsWith(` ${to}`) || key.endsWith(`/${to}`)) n += s.sent - s.received;
    return n;
  }

  /** Messages sent that have not arrived (or arrived twice, which cancels: the end's accounting tells). */
  get outstanding(): number {
    let n = 0;
    for (const s of this.streams.values()) n += s.sent - s.received;
    return n;
  }

  /** This interval's latencies: of live messages, and of those held across a cut. */
  takeLatencies(): { live: number[]; held: number[] } {
    const l = { live: this.latencies, held: this.held };
    this.latencies = [];
    this.held = [];
    return l;
  }

  account(): Accounting {
    const a: Accounting = { streams: this.streams.size, sent: 0, received: 0, lost: 0, duplicated: 0, reordered: 0, examples: [] };
    for (const [key, s] of this.streams) {
      a.sent += s.sent;
      a.received += s.received;
      a.lost += s.sent - s.received;
      a.duplicated += s.duplicates;
      a.reordered += s.reordered;
      if ((s.sent !== s.received || s.duplicates || s.reordered) && a.examples.length < 10) {
        a.examples.push(`${key}: sent ${s.sent}, received ${s.received}, duplicated ${s.duplicates}, reordered ${s.reordered}`);
      }
      if (s.tracing && s.sent !== s.received) {
        a.lostMessages ??= [];
        for (const seq of s.missing().slice(0, 20 - a.lostMessages.length)) {
          const n = s.noted(seq)!;
          a.lostMessages.push({ stream: key, seq, at: n.at, note: this.describe(key, n.code) });
        }
      }
    }
    return a;
  }
}
