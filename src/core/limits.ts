// Rate limits kept in process: per-address counters (auth failures, registrations) and a token
// bucket for connection bandwidth. The cluster's Redis backend (src/cluster/) implements Counter too.

/** Counts events per key in fixed windows. */
export class WindowCounter {
  private readonly counts = new Map<string, { n: number; until: number }>();
  private readonly windowMs: number;
  private readonly max: number;
  constructor(windowMs: number, max: number) {
    this.windowMs = windowMs;
    this.max = max;
  }

  /** True while the key is under its limit (does not count). */
  allowed(key: string, now = Date.now()): boolean {
    const c = this.counts.get(key);
    return !c || c.until <= now || c.n < this.max;
  }

  hit(key: string, now = Date.now()): void {
    const c = this.counts.get(key);
    if (!c || c.until <= now) {
      if (this.counts.size > 100_000) this.sweep(now);
      this.counts.set(key, { n: 1, until: now + this.windowMs });
    } else c.n++;
  }

  /** Counts the event if the key is under its limit; false (and not counted) when it is not. */
  take(key: string, now = Date.now()): boolean {
    if (!this.allowed(key, now)) return false;
    this.hit(key, now);
    return true;
  }

  /** Uncounts an event taken in the current window (none when the window has passed). */
  give(key: string, now = Date.now()): void {
    const c = this.counts.get(key);
    if (c && c.until > now && c.n > 0) c.n--;
  }

  private sweep(now: number): void {
    for (const [k, c] of this.counts) if (c.until <= now) this.counts.delete(k);
  }
}

/** A token bucket: `rate` tokens per second, holding at most `burst`. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly rate: number;
  private readonly burst: number;
  constructor(rate: number, burst: number, now = Date.now()) {
    this.rate = rate;
    this.burst = burst;
    this.tokens = burst;
    this.last = now;
  }

  /** Takes n tokens; returns the milliseconds to wait before reading more (0 when none). */
  take(n: number, now = Date.now()): number {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.rate) * 1000);
  }
}

export interface ShaperLimits {
  /** Bytes per second sustained, and the burst; a rate of 0 lifts it. */
  readonly bytesPerSecond: number;
  readonly burstBytes: number;
  /** Stanzas per second sustained, and the burst; a rate of 0 lifts it. */
  readonly stanzasPerSecond: number;
  readonly stanzaBurst: number;
}

interface Buckets { bytes: TokenBucket | undefined; stanzas: TokenBucket | undefined; last: number }

/**
 * The input shapers of a server: a byte bucket and a stanza bucket per key, which every
 * connection of one account shares (more connections do not buy more), kept as long as they are
 * in use. A key idle for long enough to be full again is forgotten: a fresh bucket is full too,
 * so forgetting changes nothing but memory. Callers ask by key each time and hold no bucket.
 */
export class Shapers {
  private readonly limits: ShaperLimits;
  private readonly keys = new Map<string, Buckets>();
  /** Keys are swept when the map has grown to this size. */
  private sweepAt = 1024;
  /** Milliseconds after which an unused key's buckets are full again. */
  private readonly refillMs: number;

  constructor(limits: ShaperLimits) {
    this.limits = limits;
    const bytes = limits.bytesPerSecond > 0 ? limits.burstBytes / limits.bytesPerSecond : 0;
    const stanzas = limits.stanzasPerSecond > 0 ? limits.stanzaBurst / limits.stanzasPerSecond : 0;
    this.refillMs = Math.ceil(Math.max(bytes, stanzas) * 1000);
  }

  /** Whether any shaper is on. */
  get on(): boolean {
    return this.limits.bytesPerSecond > 0 || this.limits.stanzasPerSecond > 0;
  }

  /** Takes `n` bytes read for `key`; the milliseconds to stop reading (0 when none). */
  bytes(key: string, n: number, now = Date.now()): number {
    return this.of(key, now).bytes?.take(n, now) ?? 0;
  }

  /** Takes one stanza for `key`; the milliseconds to stop reading (0 when none). */
  stanza(key: string, now = Date.now()): number {
    return this.of(key, now).stanzas?.take(1, now) ?? 0;
  }

  private of(key: string, now: number): Buckets {
    let b = this.keys.get(key);
    if (!b) {
      if (this.keys.size >= this.sweepAt) this.sweep(now);
      const l = this.limits;
      b = {
        bytes: l.bytesPerSecond > 0 ? new TokenBucket(l.bytesPerSecond, l.burstBytes, now) : undefined,
        stanzas: l.stanzasPerSecond > 0 ? new TokenBucket(l.stanzasPerSecond, l.stanzaBurst, now) : undefined,
        last: now,
      };
      this.keys.set(key, b);
    }
    b.last = now;
    return b;
  }

  private sweep(now: number): void {
    for (const [k, b] of this.keys) if (now - b.last > this.refillMs) this.keys.delete(k);
    this.sweepAt = Math.max(1024, this.keys.size * 2);
  }
}
