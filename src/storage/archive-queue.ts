// The write queue in front of an archive's LogStore (types.ts), used by the account archive
// (XEP-0313, src/modules/mam/) and the room archives (src/modules/muc/), each with a queue of its
// own. Archiving must never hold up delivery (the c2s stream acks a message once it is routed),
// so entries wait here, in memory, and go to the store in batches: one LogStore.append per batch,
// several batches on their way at once, each new one taking whatever arrived meanwhile. A slow
// store therefore delays the writes, not the messages. The queue is bounded: when it is full,
// push() returns a promise that resolves once there is room, so a sender that outruns the store
// is slowed down (its own stream waits), nobody else. A crash loses what is queued and nothing
// that was delivered; a message that went offline is durable in the offline store anyway.
import { WriteMarks } from "./write-marks.ts";
import type { LogBatch, LogEntry, LogStore } from "./types.ts";
import type { ArchiveQuota } from "./archive-quota.ts";
import { StorageFullError } from "./errors.ts";
import { flat } from "../xml/serialize.ts";

/** The longest pause between two attempts of a batch (a batch refused for lack of space retries until it lands). */
const MAX_RETRY_MS = 5000;

export type QueuedEntry = LogEntry & { owner: string };

export interface QueueStats {
  /** Entries waiting or being written now. */
  depth: number;
  /** The largest depth seen. */
  maxDepth: number;
  /** Entries ever pushed, written, and given up after the store failed repeatedly. */
  queued: number;
  written: number;
  dropped: number;
  /** LogStore.append calls that succeeded, and those that failed (each retried). */
  batches: number;
  failures: number;
  /** Pushes that found the queue full and waited for room (back-pressure). */
  waits: number;
}

export interface QueueOptions {
  /**
   * Entries held before pushes wait for room (queued plus being written). A push beyond it is
   * queued all the same, packed with the others, and its promise holds its sender back; so the
   * queue exceeds the bound by at most one entry per sender held back.
   */
  bound: number;
  /** Entries per LogStore.append at most. */
  batch: number;
  /**
   * Batches on their way to the store at once (default 16). One at a time made the one-to-one
   * benchmark wait on the embedded store's fsync: each commit carried one batch, the queue stayed
   * full and senders waited. Batches posted together share a commit there (group commit); a
   * networked store takes them as concurrent requests.
   */
  parallel?: number;
  /**
   * Milliseconds a batch that is not full waits for more entries when none is on its way
   * (default 10). Without it, a light load (the one-to-one benchmark at 2,000 msg/s) made a
   * commit of three or four entries every 0.9 ms on the embedded store: each commit appends its
   * pages to the write-ahead log again, so the log filled every 67 ms and its checkpoint took the
   * server's core for 3-8 ms, the one-to-one p99's outliers. A query of the archive does not wait
   * for it (settled() sends what waits at once); the sender's stream-management ack does.
   */
  linger?: number;
  /** Attempts per batch before it is dropped, and the pause before the first retry (doubling). */
  attempts?: number;
  retryMs?: number;
  onError?: (err: unknown, dropped: number) => void;
  /** Told of what each batch wrote, to keep every owner within its quota. */
  quota?: ArchiveQuota;
}

/** Entries queued together for one write: the store's packed batch, or an array of them. */
interface Batch {
  readonly pack: LogBatch;
  /** The owner of each entry, in order (the quota counts them). */
  readonly owners: string[];
  /** The sequence number of its first entry; the others follow it. */
  readonly first: number;
}

/**
 * The batch of a store that packs nothing (LogStore.batch absent): the entries as they came,
 * their payloads made flat (serialize.ts's flat), or every piece of a serialised stanza would be
 * held until the batch is written.
 */
class EntryList implements LogBatch {
  readonly entries: QueuedEntry[] = [];
  get size(): number {
    return this.entries.length;
  }
  add(entry: QueuedEntry): void {
    flat(entry.value);
    this.entries.push(entry);
  }
  release(): void {}
}

export class ArchiveQueue {
  private readonly store: LogStore;
  private readonly opts: Required<Omit<QueueOptions, "quota">>;
  private readonly quota: ArchiveQuota | undefined;
  /** Batches not yet written, oldest first; only the last may be filling still. */
  private queued: Batch[] = [];
  private queuedEntries = 0;
  /** Batches being written, oldest first (they may finish in any order). */
  private inFlight: Batch[] = [];
  private inFlightEntries = 0;
  private scheduled = false;
  /** Runs while the entries waiting linger; once it has fired (or a reader waits) they are ripe. */
  private lingerTimer: NodeJS.Timeout | undefined;
  private ripe = false;
  /** Pushes that found the queue full, in order (their entries are queued). */
  private waiting: (() => void)[] = [];
  /** Every entry queued gets a sequence number; all up to doneSeq are written (or given up). */
  private seq = 0;
  private doneSeq = 0;
  /** The last sequence number queued for each owner. */
  private readonly lastOf = new WriteMarks();
  private readonly doneWaiters: { seq: number; resolve: () => void }[] = [];
  /** Batches refused for lack of space and waiting for it; who waits to read while it lasts. */
  private full = 0;
  private fullWaiters: (() => void)[] = [];
  private readonly counts: Omit<QueueStats, "depth"> = { maxDepth: 0, queued: 0, written: 0, dropped: 0, batches: 0, failures: 0, waits: 0 };

  constructor(store: LogStore, opts: QueueOptions) {
    this.store = store;
    const { quota, ...rest } = opts;
    this.opts = { attempts: 3, retryMs: 500, parallel: 16, linger: 10, onError: () => {}, ...rest };
    this.quota = quota;
  }

  /** Entries queued or being written. */
  get depth(): number {
    return this.queuedEntries + this.inFlightEntries;
  }

  stats(): QueueStats {
    return { depth: this.depth, ...this.counts };
  }

  /** Queues an entry; returns a promise only when the queue is full (await it: back-pressure). */
  push(entry: QueuedEntry): Promise<void> | undefined {
    const room = this.depth < this.opts.bound && this.waiting.length === 0;
    // Queued even when full: held apart, as an object, while its sender waits (the whole time,
    // at saturation, for every entry), it outlived the young generation's collections.
    this.add(entry);
    if (room) return undefined;
    this.counts.waits++;
    // Released in order, so a sender that waited is not overtaken by a later one.
    return new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  /** Resolves once every entry queued so far (for `owner`, when given) is written: queries read their own writes. */
  settled(owner?: string): Promise<void> {
    const seq = owner === undefined ? this.seq : this.lastOf.pending(owner, this.doneSeq);
    if (seq === undefined || seq <= this.doneSeq) return Promise.resolve();
    this.ripen();
    return this.whenDone(seq);
  }

  /**
   * For a reader of the store (an archive query): as settled(owner), but at once while the store
   * refuses writes for lack of space, so that the reader gets what is stored instead of waiting
   * for the space to return.
   */
  readable(owner: string): Promise<void> {
    if (this.full > 0) return Promise.resolve();
    const written = this.settled(owner);
    return new Promise<void>((resolve) => {
      this.fullWaiters.push(resolve);
      void written.then(() => {
        const i = this.fullWaiters.indexOf(resolve);
        if (i >= 0) this.fullWaiters.splice(i, 1);
        resolve();
      });
    });
  }

  /**
   * Resolves once what is queued for `owner` is written, or undefined when nothing is. Unlike
   * settled(), it lets the batch linger: it is for acks, which may wait a few milliseconds.
   */
  pendingFor(owner: string): Promise<void> | undefined {
    const seq = this.lastOf.pending(owner, this.doneSeq);
    return seq === undefined ? undefined : this.whenDone(seq);
  }

  private whenDone(seq: number): Promise<void> {
    return new Promise((resolve) => this.doneWaiters.push({ seq, resolve }));
  }

  /** Resolves once the queue is empty. */
  async flush(): Promise<void> {
    while (this.depth > 0) await this.settled();
  }

  /**
   * Deletes the archive of `owner` (deleted itself): what is queued for it (packed among other
   * owners' entries) lands, and then the store's entries of the owner go, those included.
   */
  async discard(owner: string): Promise<void> {
    await this.settled(owner);
    await this.store.clear(owner);
    this.quota?.forget(owner);
  }

  private add(entry: QueuedEntry): void {
    let last = this.queued[this.queued.length - 1];
    if (last === undefined || last.pack.size >= this.opts.batch) {
      last = { pack: this.store.batch && this.store.appendBatch ? this.store.batch() : new EntryList(), owners: [], first: this.seq + 1 };
      this.queued.push(last);
    }
    last.pack.add(entry);
    last.owners.push(entry.owner);
    this.seq++;
    if (++this.queuedEntries === 1 && this.lingerTimer === undefined) this.startLinger();
    this.lastOf.mark(entry.owner, this.seq);
    this.counts.queued++;
    if (this.depth > this.counts.maxDepth) this.counts.maxDepth = this.depth;
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || !this.mayPost()) return;
    this.scheduled = true;
    // One tick: the entries of every message routed in this turn of the event loop share a batch.
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private startLinger(): void {
    this.ripe = this.opts.linger <= 0;
    if (this.ripe) return;
    this.lingerTimer = setTimeout(() => {
      this.lingerTimer = undefined;
      this.ripen();
    }, this.opts.linger);
  }

  /** Ends the linger: what waits may go now (`ripe`), or nothing waits any more. */
  private stopLinger(ripe: boolean): void {
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    this.ripe = ripe;
  }

  /** What waits may go without lingering further. */
  private ripen(): void {
    if (this.queuedEntries === 0) return;
    this.stopLinger(true);
    this.pump();
  }

  /**
   * A batch may go now: a full one while fewer than `parallel` are on their way, or, when none
   * is, one that has lingered or that a reader waits for.
   */
  private mayPost(): boolean {
    const head = this.queued[0];
    if (head === undefined) return false;
    const full = head.pack.size >= this.opts.batch;
    return this.inFlight.length === 0 ? full || this.ripe : full && this.inFlight.length < this.opts.parallel;
  }

  /**
   * Sends what may go (mayPost); each batch that lands sends more. At a low rate entries thus
   * gather for `linger` ms and behind the one write on its way, instead of each tick posting a
   * write of its own.
   */
  private pump(): void {
    while (this.mayPost()) {
      const batch = this.queued.shift()!;
      const n = batch.owners.length;
      this.queuedEntries -= n;
      if (this.queued.length === 0) this.stopLinger(false);
      this.inFlight.push(batch);
      this.inFlightEntries += n;
      void this.write(batch.pack).then((ok) => {
        this.inFlight.splice(this.inFlight.indexOf(batch), 1);
        this.inFlightEntries -= n;
        batch.pack.release();
        if (ok) {
          this.counts.written += n;
          this.quota?.written(batch.owners);
        } else this.counts.dropped += n;
        this.progress();
        this.freeRoom();
        this.pump();
      });
    }
  }

  /**
   * Writes a batch, retrying. A batch refused for lack of space (StorageFullError) is never given
   * up: the acks of its messages wait for it, and the queue's bound holds back its senders, until
   * space returns; other failures drop it after `attempts`.
   */
  private async write(batch: LogBatch): Promise<boolean> {
    let full = false;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          await (batch instanceof EntryList ? this.store.append(batch.entries) : this.store.appendBatch!(batch));
          this.counts.batches++;
          return true;
        } catch (err) {
          // append is idempotent on ids: retrying a batch that partly went through cannot duplicate.
          this.counts.failures++;
          if (err instanceof StorageFullError && !full) {
            full = true;
            this.full++;
            if (this.full === 1) for (const w of this.fullWaiters.splice(0)) w();
          }
          const last = !full && attempt >= this.opts.attempts;
          // Out of space, the first refusal is reported; the retries say nothing new.
          if (!full || attempt === 1) this.opts.onError(err, last ? batch.size : 0);
          if (last) return false;
          await new Promise((r) => setTimeout(r, Math.min(MAX_RETRY_MS, this.opts.retryMs * 2 ** (attempt - 1))));
        }
      }
    } finally {
      if (full) this.full--;
    }
  }

  /** Everything before the oldest entry still queued or in flight is written: wake who waits for it. */
  private progress(): void {
    const oldest = this.inFlight[0]?.first ?? this.queued[0]?.first;
    const seq = oldest === undefined ? this.seq : oldest - 1;
    this.doneSeq = seq;
    this.lastOf.landed(seq);
    if (this.doneWaiters.length === 0) return;
    const ready = this.doneWaiters.filter((w) => w.seq <= seq);
    if (ready.length === 0) return;
    this.doneWaiters.splice(0, this.doneWaiters.length, ...this.doneWaiters.filter((w) => w.seq > seq));
    for (const w of ready) w.resolve();
  }

  /** Releases the pushes that waited, oldest first, as far as the room below the bound goes (their own entries not counted). */
  private freeRoom(): void {
    while (this.waiting.length > 0 && this.depth - this.waiting.length < this.opts.bound) this.waiting.shift()!();
  }
}
