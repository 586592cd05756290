// Key-value and map stores on Cassandra (schema.ts: keyval, keyval_owners, map, owner_stores).
//
// add() must be atomic across server nodes (two registrations of one name: exactly one wins), so
// it is INSERT ... IF NOT EXISTS, a lightweight transaction. Every other write of a keyval row is
// a lightweight transaction too (UPDATE ... IF EXISTS, DELETE ... IF EXISTS): Cassandra orders
// Paxos writes by their ballots and plain writes by client timestamps, and mixing the two on one
// row can let an older plain write shadow a newer conditional one. Keyval rows are accounts,
// preferences and vCards — written seldom, so the extra round trips cost little.
//
// The index rows (keyval_owners for owners(), owner_stores for purgeOwner()) are written before
// the value: a crash between the two leaves an index row without a value (harmless), never a
// value that purgeOwner() cannot find.
import type { KeyValueStore, MapStore } from "../types.ts";
import type { CassandraDb } from "./db.ts";

export function keyvalStore<T>(db: CassandraDb, store: string): KeyValueStore<T> {
  const ks = db.ks;
  const index = (owner: string) => Promise.all([
    db.execute(`INSERT INTO ${ks}.keyval_owners (store, owner) VALUES (?, ?)`, [store, owner]),
    db.execute(`INSERT INTO ${ks}.owner_stores (owner, kind, store) VALUES (?, 'kv', ?)`, [owner, store]),
  ]);
  const insert = (owner: string, json: string) =>
    db.applied(`INSERT INTO ${ks}.keyval (store, owner, value) VALUES (?, ?, ?) IF NOT EXISTS`, [store, owner, json]);
  return {
    get: async (owner) => {
      const row = (await db.execute(`SELECT value FROM ${ks}.keyval WHERE store = ? AND owner = ?`, [store, owner])).first();
      return row ? (JSON.parse(row.value as string) as T) : undefined;
    },
    set: async (owner, value) => {
      if (value === undefined) {
        const ts = await db.timestamp();
        await db.applied(`DELETE FROM ${ks}.keyval WHERE store = ? AND owner = ? IF EXISTS`, [store, owner]);
        // Not an add() that came after the delete: its index row has a later timestamp.
        await db.execute(`DELETE FROM ${ks}.keyval_owners WHERE store = ? AND owner = ?`, [store, owner], { timestamp: ts });
        return;
      }
      const json = JSON.stringify(value);
      await index(owner);
      // Update when there is a row, insert when there is none; a delete or an insert racing in
      // between makes one condition fail, and the loop tries the other.
      for (let attempt = 0; attempt < 8; attempt++) {
        if (await db.applied(`UPDATE ${ks}.keyval SET value = ? WHERE store = ? AND owner = ? IF EXISTS`, [json, store, owner])) return;
        if (await insert(owner, json)) return;
      }
      throw new Error(`keyval ${store}: ${owner} kept changing under set()`);
    },
    add: async (owner, value) => {
      await index(owner);
      return insert(owner, JSON.stringify(value));
    },
  };
}

export function mapStore<T>(db: CassandraDb, store: string): MapStore<T> {
  const ks = db.ks;
  return {
    get: async (owner, key) => {
      const row = (await db.execute(`SELECT value FROM ${ks}.map WHERE store = ? AND owner = ? AND key = ?`, [store, owner, key])).first();
      return row ? (JSON.parse(row.value as string) as T) : undefined;
    },
    set: async (owner, key, value) => {
      if (value === undefined) {
        await db.execute(`DELETE FROM ${ks}.map WHERE store = ? AND owner = ? AND key = ?`, [store, owner, key]);
        return;
      }
      await db.execute(`INSERT INTO ${ks}.owner_stores (owner, kind, store) VALUES (?, 'map', ?)`, [owner, store]);
      await db.execute(`INSERT INTO ${ks}.map (store, owner, key, value) VALUES (?, ?, ?, ?)`, [store, owner, key, JSON.stringify(value)]);
    },
    getAll: async (owner) => {
      const rows = await db.all(`SELECT key, value FROM ${ks}.map WHERE store = ? AND owner = ?`, [store, owner]);
      return new Map(rows.map((r) => [r.key as string, JSON.parse(r.value as string) as T]));
    },
    clear: async (owner) => {
      await db.execute(`DELETE FROM ${ks}.map WHERE store = ? AND owner = ?`, [store, owner]);
    },
  };
}
