// What the embedded store's writer runs: batches of operations, each operation a few SQL
// statements that stand or fall together. The writer thread (writer.ts) runs every batch that
// has queued up while it was committing the previous one as ONE transaction, so one fsync
// (synchronous=FULL) covers all of them: group commit. The same code runs in-process for the
// reads that must see writes still on their way (see sqlite.ts).
import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";

export const PRAGMAS = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;";

export const SCHEMA = `
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

/**
 * One SQL statement: `run` yields the number of rows changed, `get` the first row (or
 * undefined), `all` every row.
 */
export type Statement = readonly [mode: "run" | "get" | "all", sql: string, args: readonly SQLInputValue[]];

/** Statements applied atomically; the operation's result is its last statement's. */
export type Operation = readonly Statement[];

export type Outcome = { readonly ok: unknown } | { readonly error: string };

/** Runs operations on one connection, with its statements prepared once per SQL text. */
export class BatchRunner {
  private readonly db: DatabaseSync;
  private readonly prepared = new Map<string, StatementSync>();

  constructor(db: DatabaseSync) {
    this.db = db;
  }

  statement(sql: string): StatementSync {
    let st = this.prepared.get(sql);
    if (!st) this.prepared.set(sql, (st = this.db.prepare(sql)));
    return st;
  }

  /** One statement, outside any transaction the caller has not opened. */
  exec([mode, sql, args]: Statement): unknown {
    const st = this.statement(sql);
    if (mode === "get") return st.get(...args);
    if (mode === "all") return st.all(...args);
    return Number(st.run(...args).changes);
  }

  /**
   * Every operation in one transaction: one commit, one fsync. Should one of them fail, the
   * transaction is rolled back and each operation is run again in a transaction of its own, so
   * a bad operation fails alone and the others still commit.
   */
  runBatch(ops: readonly Operation[]): Outcome[] {
    this.db.exec("BEGIN");
    try {
      const outcomes = ops.map((op) => ({ ok: this.apply(op) }));
      this.db.exec("COMMIT");
      return outcomes;
    } catch {
      this.db.exec("ROLLBACK");
    }
    return ops.map((op) => {
      this.db.exec("BEGIN");
      try {
        const ok = this.apply(op);
        this.db.exec("COMMIT");
        return { ok };
      } catch (e) {
        this.db.exec("ROLLBACK");
        return { error: e instanceof Error ? e.message : String(e) };
      }
    });
  }

  private apply(op: Operation): unknown {
    let last: unknown;
    for (const st of op) last = this.exec(st);
    return last;
  }
}
