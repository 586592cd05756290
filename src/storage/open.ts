// Picks the storage backend the configuration names (storage.backend): the embedded SQLite file
// in dataDir, or the Cassandra cluster of storage.cassandra.
import { join, resolve } from "node:path";
import { CassandraStorage } from "./cassandra/index.ts";
import type { CassandraOptions } from "./cassandra/options.ts";
import { SqliteStorage } from "./embedded/sqlite.ts";
import { DATABASE_FILE } from "./embedded/backup.ts";
import type { StorageProvider } from "./types.ts";

export const STORAGE_BACKENDS = ["embedded", "cassandra"] as const;

/** The configuration's storage section. */
export interface StorageOptions {
  backend: (typeof STORAGE_BACKENDS)[number];
  cassandra: CassandraOptions;
}

/** Opens the configured backend; a networked one connects on first use (see storageReady). */
export function openStorage(options: StorageOptions, dataDir: string): StorageProvider {
  if (options.backend === "cassandra") return new CassandraStorage(options.cassandra);
  return new SqliteStorage(join(dataDir, DATABASE_FILE));
}

/** Connects a backend that connects lazily, so that an unreachable cluster fails the start. */
export async function storageReady(storage: StorageProvider): Promise<void> {
  if (storage instanceof CassandraStorage) await storage.ready();
}

/** One line for `xmppd check` and the start-up log: where the data goes. */
export function describeStorage(options: StorageOptions, dataDir: string): string {
  if (options.backend === "embedded") return `embedded storage in ${resolve(dataDir, DATABASE_FILE)}`;
  const c = options.cassandra;
  return `cassandra storage: keyspace ${c.keyspace} at ${c.contactPoints.join(", ")} (${c.localDataCenter}, ${c.consistency})`;
}
