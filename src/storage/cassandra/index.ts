// The Cassandra backend of the storage shapes (src/storage/types.ts), for a server spread over
// several nodes: every node reads and writes the same keyspace. Schema and access paths:
// schema.ts; key-value and maps: keyval.ts; logs: log.ts; the connection: db.ts. It passes the
// contract suite unchanged (test/storage/cassandra.test.ts).
import type { KeyValueStore, LogStore, MapStore, StorageProvider } from "../types.ts";
import { CassandraDb } from "./db.ts";
import type { CassandraOptions } from "./options.ts";
import { keyvalStore, mapStore } from "./keyval.ts";
import { clearLog, inChunks, logStore } from "./log.ts";

export { CONSISTENCIES, type CassandraOptions, type Consistency } from "./options.ts";

export class CassandraStorage implements StorageProvider {
  private readonly db: CassandraDb;
  private readonly ttlMargin: number;

  /** Connects on first use; `ready()` connects now (and creates the schema) to fail at start, not at the first login. */
  constructor(opts: CassandraOptions & { ttlMarginSeconds?: number }) {
    this.db = new CassandraDb(opts);
    this.ttlMargin = opts.ttlMarginSeconds ?? 2 * 86_400;
  }

  async ready(): Promise<void> {
    await this.db.client();
  }

  keyval<T>(name: string): KeyValueStore<T> {
    return keyvalStore<T>(this.db, name);
  }

  map<T>(name: string): MapStore<T> {
    return mapStore<T>(this.db, name);
  }

  log(name: string): LogStore {
    return logStore(this.db, name, { ttlMargin: this.ttlMargin });
  }

  async owners(name: string): Promise<string[]> {
    const rows = await this.db.all(`SELECT owner FROM ${this.db.ks}.keyval_owners WHERE store = ?`, [name]);
    return rows.map((r) => r.owner as string);
  }

  /**
   * Finds the owner's stores in owner_stores and deletes what each holds. Partition deletes carry
   * a timestamp taken first, so a write that comes after the purge began is kept; keyval rows go
   * by lightweight transaction, like every write to them (keyval.ts).
   */
  async purgeOwner(owner: string): Promise<void> {
    const ks = this.db.ks;
    const timestamp = await this.db.timestamp();
    const stores = await this.db.all(`SELECT kind, store FROM ${ks}.owner_stores WHERE owner = ?`, [owner]);
    await inChunks(stores, async ({ kind, store }) => {
      if (kind === "kv") {
        await this.db.applied(`DELETE FROM ${ks}.keyval WHERE store = ? AND owner = ? IF EXISTS`, [store, owner]);
        await this.db.execute(`DELETE FROM ${ks}.keyval_owners WHERE store = ? AND owner = ?`, [store, owner], { timestamp });
      } else if (kind === "map") {
        await this.db.execute(`DELETE FROM ${ks}.map WHERE store = ? AND owner = ?`, [store, owner], { timestamp });
      } else if (kind === "log") {
        await clearLog(this.db, store as string, owner, timestamp);
      }
    });
    await this.db.execute(`DELETE FROM ${ks}.owner_stores WHERE owner = ?`, [owner], { timestamp });
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
