// A quota of entries per owner for an archive (XEP-0313 on accounts and rooms), kept by dropping
// the oldest: the archive is a window on the recent past (its retention already drops by age),
// and what clients need of it is the recent end, to catch up on other devices. Refusing new
// entries instead would let whoever fills an archive (anyone may write to anyone) stop it from
// recording what comes next, which is worse than losing its oldest. Checked after writes, every
// `slack` entries of an owner (an archive goes at most that far over), with the LogStore's own
// count, query and remove, so that every backend has it.
import type { LogStore } from "./types.ts";

export interface QuotaOptions {
  /** Entries an owner keeps at most. */
  readonly entries: number;
  /** Entries written to an owner between two checks; default 1% of `entries`, at least 1, at most 100. */
  readonly slack?: number;
  onError?(err: unknown): void;
}

/** Entries removed per LogStore.remove. */
const CHUNK = 500;

export class ArchiveQuota {
  private readonly store: LogStore;
  private readonly max: number;
  private readonly slack: number;
  private readonly onError: (err: unknown) => void;
  /** Entries written per owner since its last check. */
  private readonly since = new Map<string, number>();
  /** Owners being trimmed now, and the trims under way (for tests and shutdown). */
  private readonly trimming = new Map<string, Promise<void>>();

  constructor(store: LogStore, opts: QuotaOptions) {
    this.store = store;
    this.max = opts.entries;
    this.slack = opts.slack ?? Math.min(100, Math.max(1, Math.floor(opts.entries / 100)));
    this.onError = opts.onError ?? (() => {});
  }

  /** Entries were written for these owners (one name per entry). */
  written(owners: Iterable<string>): void {
    for (const owner of owners) {
      const n = (this.since.get(owner) ?? 0) + 1;
      if (n < this.slack || this.trimming.has(owner)) {
        this.since.set(owner, n);
        continue;
      }
      this.since.delete(owner);
      const trim = this.trim(owner).then(() => {}, this.onError).finally(() => this.trimming.delete(owner));
      this.trimming.set(owner, trim);
    }
  }

  /** Resolves once the trims under way are done. */
  async settled(): Promise<void> {
    await Promise.all(this.trimming.values());
  }

  /** Drops the owner's oldest entries beyond the quota. */
  async trim(owner: string): Promise<number> {
    let over = (await this.store.count(owner, {})) - this.max;
    let removed = 0;
    while (over > 0) {
      const page = await this.store.query(owner, { limit: Math.min(over, CHUNK) });
      if (page.entries.length === 0) break;
      await this.store.remove(owner, page.entries.map((e) => e.id));
      removed += page.entries.length;
      over -= page.entries.length;
    }
    return removed;
  }
}
