// An in-process store with the same contract, for unit tests of modules that need a store.
import type { KeyValueStore, LogEntry, LogQuery, LogStore, MapStore, StorageProvider } from "./types.ts";
import { bareOf, logFilter } from "./log-filter.ts";

export class MemoryStorage implements StorageProvider {
  private readonly kv = new Map<string, Map<string, string>>();
  private readonly maps = new Map<string, Map<string, Map<string, string>>>();

  keyval<T>(name: string): KeyValueStore<T> {
    const table = this.kv.get(name) ?? new Map<string, string>();
    this.kv.set(name, table);
    return {
      get: async (owner) => {
        const v = table.get(owner);
        return v === undefined ? undefined : (JSON.parse(v) as T);
      },
      set: async (owner, value) => {
        if (value === undefined) table.delete(owner);
        else table.set(owner, JSON.stringify(value));
      },
      add: async (owner, value) => {
        if (table.has(owner)) return false;
        table.set(owner, JSON.stringify(value));
        return true;
      },
    };
  }

  map<T>(name: string): MapStore<T> {
    const table = this.maps.get(name) ?? new Map<string, Map<string, string>>();
    this.maps.set(name, table);
    const of = (owner: string) => {
      let m = table.get(owner);
      if (!m) table.set(owner, (m = new Map()));
      return m;
    };
    return {
      get: async (owner, key) => {
        const v = table.get(owner)?.get(key);
        return v === undefined ? undefined : (JSON.parse(v) as T);
      },
      set: async (owner, key, value) => {
        if (value === undefined) table.get(owner)?.delete(key);
        else of(owner).set(key, JSON.stringify(value));
      },
      getAll: async (owner) =>
        new Map([...(table.get(owner) ?? new Map<string, string>())].map(([k, v]) => [k, JSON.parse(v) as T])),
      clear: async (owner) => {
        table.delete(owner);
      },
    };
  }

  private readonly logs = new Map<string, Map<string, LogEntry[]>>();

  log(name: string): LogStore {
    const table = this.logs.get(name) ?? new Map<string, LogEntry[]>();
    this.logs.set(name, table);
    const matching = (owner: string, q: Omit<LogQuery, "limit" | "fromEnd">) => {
      const f = logFilter(q);
      const ids = q.ids && new Set(q.ids);
      return (table.get(owner) ?? []).filter((e) =>
        (f.withFull === undefined || e.with === f.withFull) &&
        (f.withBare === undefined || bareOf(e.with) === f.withBare) &&
        (q.start === undefined || e.at >= q.start) && (q.end === undefined || e.at <= q.end) &&
        (q.after === undefined || e.id > q.after) && (q.before === undefined || e.id < q.before) &&
        (ids === undefined || ids.has(e.id)));
    };
    return {
      append: async (entries) => {
        for (const { owner, ...e } of entries) {
          let list = table.get(owner);
          if (!list) table.set(owner, (list = []));
          if (list.some((x) => x.id === e.id)) continue;
          list.push(e);
          list.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
        }
      },
      query: async (owner, q) => {
        const all = matching(owner, q);
        const entries = q.fromEnd ? all.slice(Math.max(0, all.length - q.limit)) : all.slice(0, q.limit);
        return { entries: entries.map((e) => ({ ...e })), complete: all.length <= q.limit };
      },
      count: async (owner, q) => matching(owner, q).length,
      remove: async (owner, ids) => {
        const drop = new Set(ids);
        const list = table.get(owner);
        if (list) table.set(owner, list.filter((e) => !drop.has(e.id)));
      },
      replace: async (owner, id, value) => {
        const list = table.get(owner);
        const i = list?.findIndex((e) => e.id === id) ?? -1;
        if (i < 0) return false;
        list![i] = { ...list![i]!, value };
        return true;
      },
      clear: async (owner) => {
        table.delete(owner);
      },
      expire: async (now) => {
        let n = 0;
        for (const [owner, list] of table) {
          const keep = list.filter((e) => e.expires === 0 || e.expires > now);
          n += list.length - keep.length;
          table.set(owner, keep);
        }
        return n;
      },
    };
  }

  async owners(name: string): Promise<string[]> {
    return [...(this.kv.get(name)?.keys() ?? [])].sort();
  }

  async purgeOwner(owner: string): Promise<void> {
    for (const t of this.kv.values()) t.delete(owner);
    for (const t of this.maps.values()) t.delete(owner);
    for (const t of this.logs.values()) t.delete(owner);
  }

  async close(): Promise<void> {}
}
