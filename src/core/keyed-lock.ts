// A lock per key, for read-decide-write sequences on stored state: one holder of a key at a time,
// in arrival order; different keys never wait for each other. A roster's subscription stanza,
// roster set and removal, a blocklist's changes, a pubsub node's publishes and an account's
// offline queue each take their key, since interleaving two of them would lose a change.
// (In-process: a scale-out store needs its own compare-and-set.)

export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs fn once every earlier holder of `key` is done; errors reach the caller only. */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const before = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = before.then(() => mine);
    this.tails.set(key, tail);
    try {
      await before;
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Keys with a holder or waiters (tests: nothing leaks). */
  get size(): number {
    return this.tails.size;
  }
}
