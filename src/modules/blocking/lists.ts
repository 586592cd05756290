// The blocklists of the accounts: stored one item per blocked JID (MapStore "blocklist", the
// value is when it was blocked), and cached in memory because every stanza to or from an account
// asks. Changes are serialised per account and go through this class, which keeps the cache in
// step (in-process: with several nodes, a change on one must reach the others' caches; the
// registry of a scale-out deployment has to invalidate it).
import type { MapStore } from "../../storage/types.ts";
import { KeyedLock } from "../../core/keyed-lock.ts";

/** The map store of blocklists: owner the account's bare JID, key a blocked JID, value when it was blocked. */
export const BLOCKLIST_STORE = "blocklist";

/** Accounts whose blocklist is cached; beyond, the least recently used half is dropped. */
const CACHE_SIZE = 50_000;

export class Blocklists {
  private readonly store: MapStore<number>;
  private readonly lock = new KeyedLock();
  // A two-generation cache (as the JID cache): cheap, never quadratic on eviction.
  private young = new Map<string, ReadonlySet<string>>();
  private old = new Map<string, ReadonlySet<string>>();

  constructor(store: MapStore<number>) {
    this.store = store;
  }

  /** The blocked JIDs of an account (bare JID string). */
  async get(owner: string): Promise<ReadonlySet<string>> {
    return this.cached(owner) ?? this.lock.run(owner, async () => this.cached(owner) ?? this.load(owner));
  }

  /** The blocked JIDs of an account when they are cached (a synchronous answer for hot paths). */
  peek(owner: string): ReadonlySet<string> | undefined {
    return this.cached(owner);
  }

  /** The items, oldest block first (the order a client is given them). */
  async items(owner: string): Promise<string[]> {
    const all = await this.store.getAll(owner);
    return [...all.entries()].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1)).map(([jid]) => jid);
  }

  /** Adds JIDs; resolves with those that were not blocked yet. Refuses to grow past `max`. */
  add(owner: string, jids: string[], max: number): Promise<string[] | "full"> {
    return this.lock.run(owner, async () => {
      const current = new Set(await this.load(owner));
      const added = jids.filter((j) => !current.has(j));
      if (current.size + added.length > max) return "full";
      const at = Date.now();
      for (const j of added) await this.store.set(owner, j, at);
      for (const j of added) current.add(j);
      this.remember(owner, current);
      return added;
    });
  }

  /** Removes JIDs (all of them when `jids` is undefined); resolves with those that were blocked. */
  remove(owner: string, jids: string[] | undefined): Promise<string[]> {
    return this.lock.run(owner, async () => {
      const current = new Set(await this.load(owner));
      const removed = jids === undefined ? [...current] : jids.filter((j) => current.has(j));
      if (jids === undefined) await this.store.clear(owner);
      else for (const j of removed) await this.store.set(owner, j, undefined);
      for (const j of removed) current.delete(j);
      this.remember(owner, current);
      return removed;
    });
  }

  /** Forgets the cached list (the account was deleted; its stored items went with it). */
  forget(owner: string): void {
    this.young.delete(owner);
    this.old.delete(owner);
  }

  private cached(owner: string): ReadonlySet<string> | undefined {
    const hit = this.young.get(owner);
    if (hit) return hit;
    const aged = this.old.get(owner);
    if (aged) this.remember(owner, aged);
    return aged;
  }

  private async load(owner: string): Promise<ReadonlySet<string>> {
    const list = new Set((await this.store.getAll(owner)).keys());
    this.remember(owner, list);
    return list;
  }

  private remember(owner: string, list: ReadonlySet<string>): void {
    if (this.young.size >= CACHE_SIZE / 2 && !this.young.has(owner)) {
      this.old = this.young;
      this.young = new Map();
    }
    this.old.delete(owner);
    this.young.set(owner, list);
  }
}
