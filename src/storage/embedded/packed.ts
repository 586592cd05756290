// Log entries packed for the embedded store's writer as they are queued: the values of its
// INSERT, row after row, as UTF-8 bytes with NUL between them (the form of batch.ts's `each`
// statement). The bytes live outside the JavaScript heap, in buffers kept for reuse, so a queue
// of tens of thousands of entries is neither copied by the young generation's collections nor
// promoted to the old one; a batch posted to the writer moves a copy of its bytes there (a
// transfer, not a clone) and keeps its own for a retry.
import type { LogBatch, LogEntry } from "../types.ts";
import { bareOf } from "../log-filter.ts";

/** Bytes a buffer starts with; it doubles when an entry does not fit. */
const FIRST_BYTES = 64 * 1024;

/** The largest buffer kept for reuse: one grown by a batch of large stanzas is let go. */
const MAX_KEPT_BYTES = 4 * 1024 * 1024;

/** Free buffers kept for the next batches; what is beyond goes to the collector. */
export class BufferPool {
  private readonly free: Buffer[] = [];
  private readonly keep: number;

  constructor(keep = 8) {
    this.keep = keep;
  }

  /** A buffer of at least `bytes` (its content is not cleared). */
  take(bytes = FIRST_BYTES): Buffer {
    for (let i = this.free.length - 1; i >= 0; i--) {
      if (this.free[i]!.length >= bytes) return this.free.splice(i, 1)[0]!;
    }
    return Buffer.allocUnsafeSlow(Math.max(bytes, FIRST_BYTES));
  }

  give(buf: Buffer): void {
    if (this.free.length < this.keep && buf.length <= MAX_KEPT_BYTES) this.free.push(buf);
  }

  /** Buffers waiting for reuse. */
  get size(): number {
    return this.free.length;
  }
}

/** The eight values of a row of the log table (batch.ts), in its INSERT's order. */
export const LOG_ROW_WIDTH = 8;

export class PackedRows implements LogBatch {
  private readonly store: string;
  private readonly pool: BufferPool;
  private buf: Buffer | undefined;
  private length = 0;
  private count = 0;
  /** The owners of the rows, once each: the scopes a read waits on while the batch is on its way. */
  readonly owners = new Set<string>();

  constructor(store: string, pool: BufferPool) {
    this.store = store;
    this.pool = pool;
  }

  get size(): number {
    return this.count;
  }

  add(e: LogEntry & { owner: string }): void {
    const row = `${this.count === 0 ? "" : "\0"}${this.store}\0${e.owner}\0${e.id}\0${e.at}\0${e.with}\0${bareOf(e.with)}\0${e.value}\0${e.expires}`;
    // UTF-8 takes at most three bytes per UTF-16 unit (a surrogate pair, two units, takes four).
    const room = this.length + 3 * row.length;
    if (this.buf === undefined || room > this.buf.length) this.grow(room);
    this.length += this.buf!.write(row, this.length, "utf8");
    this.count++;
    this.owners.add(e.owner);
  }

  /** A copy of the bytes so far, to be moved to the writer thread (transferred: it is unusable here after). */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    if (this.buf !== undefined) out.set(this.buf.subarray(0, this.length));
    return out;
  }

  release(): void {
    if (this.buf !== undefined) this.pool.give(this.buf);
    this.buf = undefined;
  }

  private grow(bytes: number): void {
    const old = this.buf;
    this.buf = this.pool.take(old === undefined ? bytes : Math.max(bytes, 2 * old.length));
    if (old === undefined) return;
    old.copy(this.buf, 0, 0, this.length);
    this.pool.give(old);
  }
}
