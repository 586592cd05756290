// What a reader must wait for, in a write pipeline that numbers its writes as they come and
// lands them in order: the number of the last write to each key, against the count landed.
// Keys stay after their writes landed (their number says so) until there are many: deleting
// each as it landed made the map shrink and grow again, a new table each time, which the
// one-to-one benchmark's GC promoted (the embedded store's scopes, the archive queue's owners).

/** Keys remembered before those whose writes have all landed are dropped. */
const PRUNE_AT = 4096;

export class WriteMarks {
  private readonly last = new Map<string, number>();

  /** Write number `n` touches `key`. */
  mark(key: string, n: number): void {
    this.last.set(key, n);
  }

  /** The number of `key`'s last write while it has not landed (all up to `landed` have), else undefined. */
  pending(key: string, landed: number): number | undefined {
    const n = this.last.get(key);
    return n !== undefined && n > landed ? n : undefined;
  }

  /** Writes up to `landed` are done: forgets their keys once many are remembered. */
  landed(landed: number): void {
    if (this.last.size <= PRUNE_AT) return;
    // forEach, not for-of: no [key, value] array per key.
    this.last.forEach((n, key) => {
      if (n <= landed) this.last.delete(key);
    });
  }

  clear(): void {
    this.last.clear();
  }
}
