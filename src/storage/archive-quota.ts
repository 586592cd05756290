// A quota of entries per owner for an archive (XEP-0313 on accounts and rooms), kept by dropping
// the oldest: the archive is a window on the recent past (its retention already drops by age),
// and what clients need of it is the recent end, to catch up on other devices. Refusing new
// entries instead would let whoever fills an archive (anyone may write to anyone) stop it from
// recording what comes next, which is worse than losing its oldest. The LogStore's own count,
// query and remove do it, so that every backend has it.
//
// An owner's archive is counted in the store at its first write here, and then believed: the
// count goes up with each entry written, and the store is asked again only when that passes the
// quota, or after `recount` writes, for what this process does not see (other nodes' writes in a
// cluster; expiry and removals only make the belief too high, which costs a count, not an entry).
// A count in the store reads the owner's whole index (on the embedded store, synchronously on
// the event loop: at a few thousand entries, most of a millisecond), so it is not taken every
// few writes.
import type { LogStore } from "./types.ts";

export interface QuotaOptions {
  /** Entries an owner keeps at most. */
  readonly entries: number;
  /** Writes to an owner between two counts in the store; default 10% of `entries`, at least 1, at most 1,000. */
  readonly recount?: number;
  onError?(err: unknown): void;
}

/** Entries removed per LogStore.remove. */
const CHUNK = 500;

/** Owners whose counts are kept at most; past it they are forgotten, and counted again at their next write. */
const KNOWN_MAX = 100_000;

interface Belief {
  /** Entries the owner's archive holds, as far as this process knows. */
  entries: number;
  /** Writes since the store was last asked. */
  since: number;
}

export class ArchiveQuota {
  private readonly store: LogStore;
  private readonly max: number;
  private readonly recount: number;
  private readonly onError: (err: unknown) => void;
  private readonly known = new Map<string, Belief>();
  /** Owners being counted (and trimmed) now, and the checks under way (for tests and shutdown). */
  private readonly trimming = new Map<string, Promise<void>>();

  constructor(store: LogStore, opts: QuotaOptions) {
    this.store = store;
    this.max = opts.entries;
    this.recount = opts.recount ?? Math.min(1000, Math.max(1, Math.floor(opts.entries / 10)));
    this.onError = opts.onError ?? (() => {});
  }

  /** Entries were written for these owners (one name per entry). */
  written(owners: Iterable<string>): void {
    for (const owner of owners) {
      const b = this.known.get(owner);
      if (b !== undefined) {
        b.entries++;
        b.since++;
        if (this.trimming.has(owner) || (b.entries <= this.max && b.since < this.recount)) continue;
      } else if (this.trimming.has(owner)) continue;
      this.check(owner);
    }
  }

  /** Counts the owner's archive in the store, trims it to the quota, and believes what is left. */
  private check(owner: string): void {
    const done = this.trim(owner).then(
      (left) => {
        if (this.known.size >= KNOWN_MAX && !this.known.has(owner)) this.known.clear();
        this.known.set(owner, { entries: left, since: 0 });
      },
      (err: unknown) => {
        this.known.delete(owner);
        this.onError(err);
      },
    ).finally(() => this.trimming.delete(owner));
    this.trimming.set(owner, done);
  }

  /** Resolves once the trims under way are done. */
  async settled(): Promise<void> {
    await Promise.all(this.trimming.values());
  }

  /** Drops the owner's oldest entries beyond the quota; resolves with the entries left. */
  async trim(owner: string): Promise<number> {
    const count = await this.store.count(owner, {});
    let over = count - this.max;
    let removed = 0;
    while (over > 0) {
      const page = await this.store.query(owner, { limit: Math.min(over, CHUNK) });
      if (page.entries.length === 0) break;
      await this.store.remove(owner, page.entries.map((e) => e.id));
      removed += page.entries.length;
      over -= page.entries.length;
    }
    return count - removed;
  }

  /** Forgets what it believed of an owner whose archive was cleared or deleted. */
  forget(owner: string): void {
    this.known.delete(owner);
  }
}
