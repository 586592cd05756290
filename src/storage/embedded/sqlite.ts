// The embedded default: one SQLite file through Node's built-in node:sqlite (no native addon to
// build, no service to run). WAL journal, synchronous=NORMAL... except that acked data must
// survive a crash, so synchronous=FULL: a write has reached the disk when its promise resolves.
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { KeyValueStore, LogEntry, LogPage, LogQuery, LogStore, MapStore, StorageProvider } from "../types.ts";
import { bareOf, logFilter } from "../log-filter.ts";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS keyval (store TEXT NOT NULL, owner TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (store, owner)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS keyval_owner ON keyval (owner);
CREATE TABLE IF NOT EXISTS map (store TEXT NOT NULL, owner TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (store, owner, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS map_owner ON map (owner);
CREATE TABLE IF NOT EXISTS log (store TEXT NOT NULL, owner TEXT NOT NULL, id TEXT NOT NULL, at INTEGER NOT NULL,
  with_full TEXT NOT NULL, with_bare TEXT NOT NULL, value TEXT NOT NULL, expires INTEGER NOT NULL,
  PRIMARY KEY (store, owner, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS log_expires ON log (expires) WHERE expires > 0;
CREATE INDEX IF NOT EXISTS log_owner ON log (owner);
CREATE INDEX IF NOT EXISTS log_with ON log (store, owner, with_bare, id);
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
      purgeLog: p("DELETE FROM log WHERE owner = ?"),
      logAdd: p("INSERT INTO log (store, owner, id, at, with_full, with_bare, value, expires) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"),
      logDel: p("DELETE FROM log WHERE store = ? AND owner = ? AND id = ?"),
      logClear: p("DELETE FROM log WHERE store = ? AND owner = ?"),
      logExpire: p("DELETE FROM log WHERE store = ? AND expires > 0 AND expires <= ?"),
    };
  }

  /** Statements for log queries, by the shape of their filter. */
  private readonly queries = new Map<string, StatementSync>();

  private logQuery(sql: string): StatementSync {
    let st = this.queries.get(sql);
    if (!st) this.queries.set(sql, (st = this.db.prepare(sql)));
    return st;
  }

  /** Runs fn in one transaction (one fsync for a batch). */
  private transaction(fn: () => void): void {
    this.db.exec("BEGIN");
    try {
      fn();
      this.db.exec("COMMIT");
    } catch (e) {
      this.db.exec("ROLLBACK");
      throw e;
    }
  }

  log(name: string): LogStore {
    const s = this.stmt;
    const where = (owner: string, q: Omit<LogQuery, "limit" | "fromEnd">) => {
      const f = logFilter(q);
      const clauses = ["store = ?", "owner = ?"];
      const args: (string | number)[] = [name, owner];
      if (f.withFull !== undefined) { clauses.push("with_full = ?"); args.push(f.withFull); }
      if (f.withBare !== undefined) { clauses.push("with_bare = ?"); args.push(f.withBare); }
      if (q.start !== undefined) { clauses.push("at >= ?"); args.push(q.start); }
      if (q.end !== undefined) { clauses.push("at <= ?"); args.push(q.end); }
      if (q.after !== undefined) { clauses.push("id > ?"); args.push(q.after); }
      if (q.before !== undefined) { clauses.push("id < ?"); args.push(q.before); }
      if (q.ids !== undefined) {
        clauses.push(`id IN (${q.ids.map(() => "?").join(", ") || "NULL"})`);
        args.push(...q.ids);
      }
      return { sql: clauses.join(" AND "), args };
    };
    return {
      append: async (entries) => {
        this.transaction(() => {
          for (const e of entries) s.logAdd!.run(name, e.owner, e.id, e.at, e.with, bareOf(e.with), e.value, e.expires);
        });
      },
      query: async (owner, q): Promise<LogPage> => {
        const w = where(owner, q);
        const order = q.fromEnd ? "DESC" : "ASC";
        const rows = this.logQuery(`SELECT id, at, with_full AS "with", value, expires FROM log WHERE ${w.sql} ORDER BY id ${order} LIMIT ?`)
          .all(...w.args, q.limit + 1) as unknown as LogEntry[];
        const complete = rows.length <= q.limit;
        if (!complete) rows.pop();
        if (q.fromEnd) rows.reverse();
        return { entries: rows.map((r) => ({ ...r })), complete };
      },
      count: async (owner, q) => {
        const w = where(owner, q);
        return Number((this.logQuery(`SELECT COUNT(*) AS n FROM log WHERE ${w.sql}`).get(...w.args) as { n: number }).n);
      },
      remove: async (owner, ids) => {
        this.transaction(() => {
          for (const id of ids) s.logDel!.run(name, owner, id);
        });
      },
      clear: async (owner) => {
        s.logClear!.run(name, owner);
      },
      expire: async (now) => Number(s.logExpire!.run(name, now).changes),
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
    this.transaction(() => {
      this.stmt.purgeKv!.run(owner);
      this.stmt.purgeMap!.run(owner);
      this.stmt.purgeLog!.run(owner);
    });
  }

  async close(): Promise<void> {
    if (this.db.isOpen) this.db.close();
  }
}
