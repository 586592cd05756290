// A storage provider that answers every call asynchronously, after the event loop has turned
// (as a networked backend does), over another provider. The embedded store answers within the
// same turn, so interleavings that Redis or Cassandra produce never happen with it; tests of
// ordering under concurrency run against this too.
import type { KeyValueStore, LogStore, MapStore, StorageProvider } from "../../src/storage/types.ts";

const turn = () => new Promise<void>((r) => setImmediate(r));

/** Every method of `o`, each awaiting a turn of the event loop first. */
function later<T extends object>(o: T): T {
  const out = {} as Record<string, unknown>;
  for (const k of Object.keys(o) as (keyof T & string)[]) {
    const f = o[k];
    if (typeof f === "function") {
      out[k] = async (...args: unknown[]) => {
        await turn();
        return (f as (...a: unknown[]) => unknown).apply(o, args);
      };
    }
  }
  return out as T;
}

export function yielding(inner: StorageProvider): StorageProvider {
  return {
    keyval: <T>(name: string): KeyValueStore<T> => later(inner.keyval<T>(name)),
    map: <T>(name: string): MapStore<T> => later(inner.map<T>(name)),
    log: (name: string): LogStore => later(inner.log(name)),
    owners: async (name) => (await turn(), inner.owners(name)),
    purgeOwner: async (owner) => (await turn(), inner.purgeOwner(owner)),
    close: () => inner.close(),
  };
}
