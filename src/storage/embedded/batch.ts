// What the embedded store's writer runs: batches of operations, each operation a few SQL
// statements that stand or fall together. The writer thread (writer.ts) runs every batch that
// has queued up while it was committing the previous one as ONE transaction, so one fsync
// (synchronous=FULL) covers all of them: group commit. The same code runs in-process for the
// reads that must see writes still on their way (see sqlite.ts).
import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";

export const PRAGMAS = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;";

/**
 * Pages the write-ahead log holds before the writer copies them into the database (SQLite's
 * default is 1,000, 4 MB). Archive entries of many owners change index pages all over the file,
 * so each commit appends a few dozen pages; at 2,000 messages/s the default filled the log
 * every 90 ms, and its checkpoint, 2.7 ms of CPU each time, was what most of the one-to-one
 * p99's outliers overlapped. At 10,000 (40 MB) a page changed by many commits is copied once:
 * checkpoint CPU fell from 620 to 250 ms per 20 s, and the p99 from 1.16-1.27 to 0.68-0.78 ms.
 */
export const WAL_CHECKPOINT_PAGES = 10_000;

/**
 * The writer's page cache, in KiB (SQLite's default is 2,000). The archive's key puts each
 * owner's entries at a leaf of their own, so a commit of a few thousand entries of a thousand
 * owners touches a thousand or more leaves, and their parents on the way: the default's 500
 * pages could not hold them, and every commit read most of them back from the file. At 16 MiB
 * (800,000 entries of 1,000 owners in commits of 8,000, measured apart from the server) the
 * writer's CPU per entry fell from 10.0 to 7.4 µs, of it the system's from 5.3 to 2.3 µs.
 */
export const WRITER_CACHE_KIB = 16_384;

const TABLES = `
CREATE TABLE IF NOT EXISTS keyval (store TEXT NOT NULL, owner TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (store, owner)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS keyval_owner ON keyval (owner);
CREATE TABLE IF NOT EXISTS map (store TEXT NOT NULL, owner TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (store, owner, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS map_owner ON map (owner);
`;

// Logs are a rowid table: entries of many owners arrive interleaved, and appending rows in rowid
// order with the payload out of the keyed index costs half what a WITHOUT ROWID table keyed by
// (store, owner, id) did (measured: 33k against 19k inserts/s), where every insert landed in the
// middle of the tree and moved whole payloads on page splits.
//
// One keyed index, not two: each index an entry goes into is a b-tree leaf touched per owner in
// each commit, and at a few entries per owner per commit that page is written to the WAL whole,
// so the second index, (owner, store, with_bare, id), was half the cost of an append (measured
// with the one-to-one benchmark's rows, 1,000 owners, commits of 400: 15-20 against 9-10 µs of
// the writer's CPU per row). The key (owner, store, id) carries with_bare at its end instead: a
// query "with" someone walks the owner's ids in order and reads the contact from the index,
// fetching only the rows that match, so its cost is bounded by the archive's size (its quota),
// not by the table's. Unique on all four: ids are unique per owner and store already, and an
// entry written again (a retried batch) has the same contact, so ON CONFLICT keeps appends
// idempotent. The owner first also serves deleting an owner's entries.
const LOG = `
CREATE TABLE IF NOT EXISTS log (store TEXT NOT NULL, owner TEXT NOT NULL, id TEXT NOT NULL, at INTEGER NOT NULL,
  with_full TEXT NOT NULL, with_bare TEXT NOT NULL, value TEXT NOT NULL, expires INTEGER NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS log_key ON log (owner, store, id, with_bare);
CREATE INDEX IF NOT EXISTS log_expires ON log (expires) WHERE expires > 0;
`;

/**
 * PRAGMA user_version: 0 before versions were kept (the log keyed WITHOUT ROWID), 1 with the log
 * a rowid table and a second index by contact, 2 now (one key, see LOG).
 */
const VERSION = 2;

/** Creates the tables, or brings a file of an earlier version up to this one, in one transaction. */
export function migrate(db: DatabaseSync): void {
  const version = Number((db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version);
  if (version === VERSION) return;
  if (version > VERSION) throw new Error(`the database file is of version ${version}, newer than this server's ${VERSION}`);
  db.exec("BEGIN IMMEDIATE");
  try {
    db.exec(TABLES);
    const old = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'log'").get() !== undefined;
    if (old) {
      // Version 0 or 1: the entries move to a table of this version's shape, in id order.
      db.exec("ALTER TABLE log RENAME TO log_old; DROP INDEX IF EXISTS log_expires; DROP INDEX IF EXISTS log_owner; DROP INDEX IF EXISTS log_with;");
      db.exec(LOG);
      db.exec("INSERT INTO log (store, owner, id, at, with_full, with_bare, value, expires) SELECT store, owner, id, at, with_full, with_bare, value, expires FROM log_old ORDER BY id; DROP TABLE log_old;");
    } else {
      db.exec(LOG);
    }
    db.exec(`PRAGMA user_version = ${VERSION}`);
    db.exec("COMMIT");
  } catch (e) {
    db.exec("ROLLBACK");
    throw e;
  }
}

/**
 * One SQL statement: `run` yields the number of rows changed, `get` the first row (or
 * undefined), `all` every row. `each` runs it once for each of `rows` rows of `width` values,
 * a whole batch (the archive's) as one string of its values joined by NUL: an array per row,
 * built and posted to the writer and held until the commit, was the largest part of what the
 * one-to-one benchmark's GC promoted, and posting one flat array of a batch's values still
 * cost the event loop a structured clone of each value (9% of its samples), where one string
 * is one copy. NUL is in no value: XML (RFC 6120 §11.1, XML 1.0 §2.2) and JIDs exclude it,
 * and a batch whose count of values does not come out right fails as a whole. Numbers travel
 * as their text and are stored as numbers by the columns' INTEGER affinity. The values may
 * also come as that string's UTF-8 bytes (PackedRows in sqlite.ts), moved to the writer
 * thread without a copy.
 */
export type Statement =
  | readonly [mode: "run" | "get" | "all", sql: string, args: readonly SQLInputValue[]]
  | readonly [mode: "each", sql: string, values: string | Uint8Array, rows: number, width: number];

/** Joins rows of values for an `each` statement. */
export function joinRows(values: readonly (string | number)[]): string {
  return values.join("\0");
}

const utf8 = new TextDecoder();

/** Statements applied atomically; the operation's result is its last statement's. */
export type Operation = readonly Statement[];

/** An operation's result, or why it failed; `full` when SQLite had no room for it (SQLITE_FULL). */
export type Outcome = { readonly ok: unknown } | { readonly error: string; readonly full?: true };

/** SQLite's primary result code for "database or disk is full". */
const SQLITE_FULL = 13;

function failure(e: unknown): Outcome {
  const code = (e as { errcode?: unknown }).errcode;
  const error = e instanceof Error ? e.message : String(e);
  return typeof code === "number" && (code & 0xff) === SQLITE_FULL ? { error, full: true } : { error };
}

/** Runs operations on one connection, with its statements prepared once per SQL text. */
/**
 * The writer thread shares its core with the event loop where the server is pinned to one, and
 * a commit of a few dozen archive entries took the core for a millisecond at a time (p99 of its
 * runs 1.14-1.18 ms at 2,000 msg/s): a message that arrived meanwhile waited for all of it, and
 * such waits were most of the one-to-one p99's samples over 1 ms. So in a statement of few rows
 * the writer pauses every PAUSE_EVERY rows (the pause of the writer thread, writer.ts: a sleep
 * of some tens of microseconds, in which the kernel runs the event loop if it has work). Its
 * runs' p99 fell to 0.43-0.45 ms, the samples over 1 ms from 429 to 290 (23 s at 2,000 msg/s),
 * the p99 over five runs from 0.995-1.159 ms to 0.814-1.06 ms, for 10% more of the writer's CPU.
 * A statement of more rows than PAUSE_ROWS_MAX is a saturated server's: it runs unpaused, or the
 * writer would fall behind (the one-to-one throughput did not move).
 */
export const PAUSE_EVERY = 8;
export const PAUSE_ROWS_MAX = 1000;

export class BatchRunner {
  private readonly db: DatabaseSync;
  private readonly prepared = new Map<string, StatementSync>();
  private readonly pause: (() => void) | undefined;

  /** `pause`, for the writer thread: called between rows of a statement of few rows (PAUSE_EVERY). */
  constructor(db: DatabaseSync, pause?: () => void) {
    this.db = db;
    this.pause = pause;
  }

  statement(sql: string): StatementSync {
    let st = this.prepared.get(sql);
    if (!st) this.prepared.set(sql, (st = this.db.prepare(sql)));
    return st;
  }

  /** One statement, outside any transaction the caller has not opened. */
  exec(statement: Statement): unknown {
    if (statement[0] === "each") return this.each(statement);
    const [mode, sql, args] = statement;
    const st = this.statement(sql);
    if (mode === "get") return st.get(...args);
    if (mode === "all") return st.all(...args);
    return Number(st.run(...args).changes);
  }

  private each([, sql, joined, rows, width]: Extract<Statement, readonly ["each", ...unknown[]]>): number {
    const values = (typeof joined === "string" ? joined : utf8.decode(joined)).split("\0");
    if (values.length !== rows * width) throw new Error(`a batch of ${rows} rows of ${width} values came as ${values.length} values`);
    const st = this.statement(sql);
    const row = new Array<string>(width);
    let changes = 0;
    const pause = this.pause !== undefined && rows <= PAUSE_ROWS_MAX ? this.pause : undefined;
    for (let i = 0, n = 0; i < values.length; i += width, n++) {
      if (pause !== undefined && n > 0 && n % PAUSE_EVERY === 0) pause();
      for (let j = 0; j < width; j++) row[j] = values[i + j]!;
      changes += Number(st.run(...row).changes);
    }
    return changes;
  }

  /**
   * Every operation in one transaction: one commit, one fsync. Should one of them fail, the
   * transaction is rolled back and each operation is run again in a transaction of its own, so
   * a bad operation fails alone and the others still commit. With the disk full, every one of
   * them fails (SQLITE_FULL, `full`) and nothing is kept; the next batch tries again.
   */
  runBatch(ops: readonly Operation[]): Outcome[] {
    this.db.exec("BEGIN");
    try {
      const outcomes = ops.map((op) => ({ ok: this.apply(op) }));
      this.db.exec("COMMIT");
      return outcomes;
    } catch (e) {
      this.rollback();
      // Out of space, each alone would fail the same way: no need to try them one by one.
      const f = failure(e);
      if ("full" in f) return ops.map(() => f);
    }
    return ops.map((op) => {
      this.db.exec("BEGIN");
      try {
        const ok = this.apply(op);
        this.db.exec("COMMIT");
        return { ok };
      } catch (e) {
        this.rollback();
        return failure(e);
      }
    });
  }

  /**
   * Rolls back the open transaction, if SQLite has not already: after SQLITE_FULL (or IOERR,
   * NOMEM) it may have rolled it back itself, and a ROLLBACK then fails ("no transaction is
   * active"), which must not take the writer down with it.
   */
  private rollback(): void {
    if (this.db.isTransaction) this.db.exec("ROLLBACK");
  }

  private apply(op: Operation): unknown {
    let last: unknown;
    for (const st of op) last = this.exec(st);
    return last;
  }
}
