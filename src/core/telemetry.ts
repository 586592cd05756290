// What the server counts as it runs, for the metrics endpoint (src/ops/metrics.ts) and the admin
// socket's `stats`. The hot paths only add to numbers that exist from the start: a stanza's kind
// picks a slot of a typed array, a mechanism's counts are made once per offered mechanism, and no
// label, string or map entry is built per stanza. The metrics endpoint reads all this when it is
// scraped. Latency is timed on a sample (one message in SAMPLE_EVERY), and only when a reader
// asked for it (`timing`), so that a server without metrics does not read the clock per message.
import type { QueueStats } from "../storage/archive-queue.ts";

/** Stanza kinds, as slots of the per-kind counters. */
export const KINDS = ["message", "presence", "iq"] as const;
export type Kind = (typeof KINDS)[number];

/** The counters' slot of a stanza by its element name (`other`: 3, for what is not a stanza). */
export function kindSlot(name: string): number {
  return name === "message" ? 0 : name === "presence" ? 1 : name === "iq" ? 2 : 3;
}

/**
 * The slot of a serialised stanza by its first letters: "<message", "<presence", "<iq". What a
 * session writes is one of the three (the stream's own elements do not go through Session.send).
 */
export function kindSlotOfText(text: string): number {
  const c = text.charCodeAt(1);
  return c === 0x6d /* m */ ? 0 : c === 0x70 /* p */ ? 1 : c === 0x69 /* i */ ? 2 : 3;
}

/** One message in this many is timed from routing to its write (a power of two). */
export const SAMPLE_EVERY = 16;

/**
 * A histogram with fixed upper bounds (seconds), kept as counts per bucket: an observation is a
 * short scan of the bounds and two additions. Counts are per bucket, not cumulative; the
 * exporter sums them into Prometheus's cumulative `le` buckets.
 */
export class Buckets {
  readonly bounds: readonly number[];
  /** counts[i] for bounds[i]; the last slot is above every bound (+Inf). */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(seconds: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && seconds > b[i]!) i++;
    this.counts[i]!++;
    this.sum += seconds;
    this.count++;
  }
}

/** Delivery is sub-millisecond when all is well: buckets from 50 µs to 2.5 s. */
export const DELIVERY_BOUNDS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** Storage writes: from 100 µs (an embedded commit) to 10 s (a struggling cluster). */
export const WRITE_BOUNDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Logins by SASL mechanism. */
export interface AuthCounts { success: number; failure: number }

/** The offline store's traffic (XEP-0160), counted by the offline module. */
export interface OfflineCounts {
  /** Messages stored, and handed to a session when it came online. */
  stored: number;
  delivered: number;
  /** Refused because the recipient's queue was full. */
  refused: number;
  /** Messages on their way into the store now (waiting for the account's turn, or being written). */
  pending: number;
  /** How long storing one took, turn included. */
  readonly writes: Buckets;
}

export class Telemetry {
  /** Stanzas received from this node's sessions, by kind slot (KINDS, then other). */
  readonly stanzasIn = new Float64Array(4);
  /** Stanzas written to this node's sessions, by kind slot. */
  readonly stanzasOut = new Float64Array(4);
  /** Sessions bound since start. */
  sessionsBound = 0;
  /** Time from routing to the write to the recipient's session, for a sample of messages. */
  readonly delivery = new Buckets(DELIVERY_BOUNDS);
  readonly offline: OfflineCounts = { stored: 0, delivered: 0, refused: 0, pending: 0, writes: new Buckets(WRITE_BOUNDS) };
  /** The archives' write queues (XEP-0313: "mam", MUC's "muc"), registered by their modules. */
  readonly queues = new Map<string, () => QueueStats>();
  /** Whether latencies are timed (a metrics endpoint reads them). */
  timing = false;
  private readonly auth = new Map<string, AuthCounts>();
  private seq = 0;

  /** The counts of a mechanism (made on its first login; mechanisms are the few the server offers). */
  authOf(mechanism: string): AuthCounts {
    let c = this.auth.get(mechanism);
    if (c === undefined) this.auth.set(mechanism, (c = { success: 0, failure: 0 }));
    return c;
  }

  /** Mechanisms with their counts, for the exporter. */
  authCounts(): IterableIterator<[string, AuthCounts]> {
    return this.auth.entries();
  }

  /** When a message routed now is to be timed: the clock's reading (ms), else 0. */
  sampleStart(): number {
    return this.timing && (++this.seq & (SAMPLE_EVERY - 1)) === 0 ? performance.now() : 0;
  }

  /** A timed message (sampleStart's reading) has been written to its session. */
  delivered(startedAt: number): void {
    this.delivery.observe((performance.now() - startedAt) / 1000);
  }
}
