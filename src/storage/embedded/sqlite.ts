// The embedded default: one SQLite file through Node's built-in node:sqlite (no native addon to
// build, no service to run). WAL journal, synchronous=NORMAL... except that acked data must
// survive a crash, so synchronous=FULL: a write has reached the disk when its promise resolves.
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { KeyValueStore, MapStore, StorageProvider } from "../types.ts";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS keyval (store TEXT NOT NULL, owner TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (store, owner)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS keyval_owner ON keyval (owner);
CREATE TABLE IF NOT EXISTS map (store TEXT NOT NULL, owner TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (store, owner, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS map_owner ON map (owner);
`;

export class SqliteStorage implements StorageProvider {
  private readonly db: DatabaseSync;
  private readonly stmt: Record<string, StatementSync>;

  constructor(path: string) {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    this.db = new DatabaseSync(path);
    this.db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;");
    this.db.exec(SCHEMA);
    const p = (sql: string) => this.db.prepare(sql);
    this.stmt = {
      kvGet: p("SELECT value FROM keyval WHERE store = ? AND owner = ?"),
      kvSet: p("INSERT INTO keyval (store, owner, value) VALUES (?, ?, ?) ON CONFLICT (store, owner) DO UPDATE SET value = excluded.value"),
      kvAdd: p("INSERT INTO keyval (store, owner, value) VALUES (?, ?, ?) ON CONFLICT (store, owner) DO NOTHING"),
      kvDel: p("DELETE FROM keyval WHERE store = ? AND owner = ?"),
      kvOwners: p("SELECT owner FROM keyval WHERE store = ? ORDER BY owner"),
      mapGet: p("SELECT value FROM map WHERE store = ? AND owner = ? AND key = ?"),
      mapSet: p("INSERT INTO map (store, owner, key, value) VALUES (?, ?, ?, ?) ON CONFLICT (store, owner, key) DO UPDATE SET value = excluded.value"),
      mapDel: p("DELETE FROM map WHERE store = ? AND owner = ? AND key = ?"),
      mapAll: p("SELECT key, value FROM map WHERE store = ? AND owner = ?"),
      mapClear: p("DELETE FROM map WHERE store = ? AND owner = ?"),
      purgeKv: p("DELETE FROM keyval WHERE owner = ?"),
      purgeMap: p("DELETE FROM map WHERE owner = ?"),
    };
  }

  keyval<T>(name: string): KeyValueStore<T> {
    const s = this.stmt;
    return {
      get: async (owner) => {
        const row = s.kvGet!.get(name, owner) as { value: string } | undefined;
        return row ? (JSON.parse(row.value) as T) : undefined;
      },
      set: async (owner, value) => {
        if (value === undefined) s.kvDel!.run(name, owner);
        else s.kvSet!.run(name, owner, JSON.stringify(value));
      },
      add: async (owner, value) => s.kvAdd!.run(name, owner, JSON.stringify(value)).changes === 1,
    };
  }

  map<T>(name: string): MapStore<T> {
    const s = this.stmt;
    return {
      get: async (owner, key) => {
        const row = s.mapGet!.get(name, owner, key) as { value: string } | undefined;
        return row ? (JSON.parse(row.value) as T) : undefined;
      },
      set: async (owner, key, value) => {
        if (value === undefined) s.mapDel!.run(name, owner, key);
        else s.mapSet!.run(name, owner, key, JSON.stringify(value));
      },
      getAll: async (owner) => {
        const rows = s.mapAll!.all(name, owner) as { key: string; value: string }[];
        return new Map(rows.map((r) => [r.key, JSON.parse(r.value) as T]));
      },
      clear: async (owner) => {
        s.mapClear!.run(name, owner);
      },
    };
  }

  async owners(name: string): Promise<string[]> {
    return (this.stmt.kvOwners!.all(name) as { owner: string }[]).map((r) => r.owner);
  }

  async purgeOwner(owner: string): Promise<void> {
    this.db.exec("BEGIN");
    try {
      this.stmt.purgeKv!.run(owner);
      this.stmt.purgeMap!.run(owner);
      this.db.exec("COMMIT");
    } catch (e) {
      this.db.exec("ROLLBACK");
      throw e;
    }
  }

  async close(): Promise<void> {
    if (this.db.isOpen) this.db.close();
  }
}
