// The relay of an activated bytestream (XEP-0065 §6.3.5, "at this point the parties can begin
// exchanging data"): the bytes of each connection are written to the other, both ways, until
// both have ended. Bounded: a number of bytes per stream (both directions together), token
// buckets that every byte is taken from (the stream's, its account's, the process's), and an
// idle time. Flow control is the sockets' own: a side whose peer does not read is paused, and so is
// a side over a rate, its chunk held until the buckets have paid for it: what the relay holds is
// one chunk per direction.
import type { Socket } from "node:net";
import type { TokenBucket } from "../../core/limits.ts";

export interface RelayLimits {
  /** Bytes both ways together before the stream is cut; 0: no bound. */
  readonly maxBytes: number;
  /** The stream ends after this long without a byte in either direction. */
  readonly idleMs: number;
  /** Every relayed byte is taken from each of these; the side that sent it waits for the slowest. */
  readonly buckets: readonly TokenBucket[];
}

/** Why a stream ended: both sides closed, nothing for idleMs, maxBytes reached, a socket error, or the server stopped it. */
export type RelayEnd = "closed" | "idle" | "max-bytes" | "error" | "stopped";

/** How long a side has to take what was relayed to it after the stream was cut at its bound. */
const LINGER_MS = 5000;

export class Relay {
  /** Bytes relayed so far, both directions. */
  bytes = 0;
  private readonly sides: readonly [Socket, Socket];
  private readonly limits: RelayLimits;
  private readonly onEnd: (why: RelayEnd, bytes: number) => void;
  private lastActivity = Date.now();
  private idleTimer: NodeJS.Timeout;
  private readonly waits = new Set<NodeJS.Timeout>();
  private ended = false;
  private closed = 0;
  /** Chunks held for a rate, both directions. */
  private held = 0;

  constructor(a: Socket, b: Socket, limits: RelayLimits, onEnd: (why: RelayEnd, bytes: number) => void) {
    this.sides = [a, b];
    this.limits = limits;
    this.onEnd = onEnd;
    this.idleTimer = setTimeout(() => this.checkIdle(), limits.idleMs).unref();
    this.pipe(a, b);
    this.pipe(b, a);
    for (const s of this.sides) {
      s.on("error", () => this.finish("error", false));
      s.on("close", () => {
        // A side gone: the other gets an end after what it was sent; the stream is over once both are.
        for (const other of this.sides) if (other !== s && !other.writableEnded) other.end();
        if (++this.closed === 2) this.finish("closed", false);
      });
      s.resume();
    }
  }

  /** Cuts the stream now (the server is stopping). */
  stop(): void {
    this.finish("stopped", false);
  }

  private pipe(src: Socket, dst: Socket): void {
    let draining = false;
    let holding = false;
    let endAfterHeld = false;
    const resume = () => {
      if (!draining && !holding && !this.ended) src.resume();
    };
    dst.on("drain", () => {
      draining = false;
      resume();
    });
    const forward = (data: Buffer, last: boolean) => {
      this.lastActivity = Date.now();
      const flowing = data.length === 0 || dst.write(data);
      if (last) return this.finish("max-bytes", true);
      if (!flowing) {
        draining = true;
        src.pause();
      }
    };
    src.on("data", (chunk: Buffer) => {
      if (this.ended) return;
      const max = this.limits.maxBytes;
      const over = max > 0 && this.bytes + chunk.length > max;
      const data = over ? chunk.subarray(0, max - this.bytes) : chunk;
      this.bytes += data.length;
      this.lastActivity = Date.now();
      let wait = 0;
      for (const bucket of this.limits.buckets) wait = Math.max(wait, bucket.take(data.length));
      if (wait === 0) return forward(data, over);
      // Over a rate: this chunk goes when the buckets have paid for it, and nothing is read meanwhile.
      src.pause();
      holding = true;
      this.held++;
      const t = setTimeout(() => {
        this.waits.delete(t);
        holding = false;
        this.held--;
        forward(data, over);
        if (endAfterHeld && !dst.writableEnded) dst.end();
        resume();
      }, wait);
      this.waits.add(t);
    });
    // Half-close (RFC 9293 §3.6): an end from one side ends the other's direction, after its data.
    src.on("end", () => {
      if (holding) endAfterHeld = true;
      else if (!dst.writableEnded) dst.end();
    });
  }

  private checkIdle(): void {
    // A chunk held for a rate is traffic.
    const idle = this.held > 0 ? 0 : Date.now() - this.lastActivity;
    if (idle >= this.limits.idleMs) return this.finish("idle", false);
    this.idleTimer = setTimeout(() => this.checkIdle(), this.limits.idleMs - idle).unref();
  }

  /** Ends the stream once: `graceful` ends both sides after what was written to them, else cuts them. */
  private finish(why: RelayEnd, graceful: boolean): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.idleTimer);
    for (const t of this.waits) clearTimeout(t);
    this.waits.clear();
    for (const s of this.sides) {
      if (!graceful) {
        s.destroy();
        continue;
      }
      s.pause();
      s.end();
      setTimeout(() => s.destroy(), LINGER_MS).unref();
    }
    this.onEnd(why, this.bytes);
  }
}
