// An in-process store with the same contract, for unit tests of modules that need a store.
import type { KeyValueStore, MapStore, StorageProvider } from "./types.ts";

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

  async owners(name: string): Promise<string[]> {
    return [...(this.kv.get(name)?.keys() ?? [])].sort();
  }

  async purgeOwner(owner: string): Promise<void> {
    for (const t of this.kv.values()) t.delete(owner);
    for (const t of this.maps.values()) t.delete(owner);
  }

  async close(): Promise<void> {}
}
