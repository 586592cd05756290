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
  private last = Date.now();
  private readonly rate: number;
  private readonly burst: number;
  constructor(rate: number, burst: number) {
    this.rate = rate;
    this.burst = burst;
    this.tokens = burst;
  }

  /** Takes n tokens; returns the milliseconds to wait before reading more (0 when none). */
  take(n: number, now = Date.now()): number {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.rate) * 1000);
  }
}
