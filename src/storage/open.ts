// Picks the storage backend the configuration names (storage.backend): the embedded SQLite file
// in dataDir, or the Cassandra cluster of storage.cassandra.
import { join, resolve } from "node:path";
import type { ServerConfig } from "../core/config.ts";
import { CassandraStorage } from "./cassandra/index.ts";
import { SqliteStorage } from "./embedded/sqlite.ts";
import type { StorageProvider } from "./types.ts";

/** Opens the configured backend; a networked one connects on first use (see storageReady). */
export function openStorage(config: ServerConfig): StorageProvider {
  if (config.storage.backend === "cassandra") return new CassandraStorage(config.storage.cassandra);
  return new SqliteStorage(join(config.dataDir, "xmppd.sqlite"));
}

/** Connects a backend that connects lazily, so that an unreachable cluster fails the start. */
export async function storageReady(storage: StorageProvider): Promise<void> {
  if (storage instanceof CassandraStorage) await storage.ready();
}

/** One line for `xmppd check` and the start-up log: where the data goes. */
export function describeStorage(config: ServerConfig): string {
  if (config.storage.backend === "embedded") return `embedded storage in ${resolve(config.dataDir, "xmppd.sqlite")}`;
  const c = config.storage.cassandra;
  return `cassandra storage: keyspace ${c.keyspace} at ${c.contactPoints.join(", ")} (${c.localDataCenter}, ${c.consistency})`;
}
