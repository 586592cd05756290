// One roster changes at a time: a subscription stanza, a roster set and a removal of the same
// account each read, decide and write; interleaving them would lose a state change. Different
// accounts never wait for each other. (In-process: a scale-out store needs its own compare-and-set.)

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
