// The embedded default: one SQLite file through Node's built-in node:sqlite (no native addon to
// build, no service to run). Acked data must survive a crash, so synchronous=FULL: a write has
// reached the disk when its promise resolves. That fsync must not stall the server, so writes go
// to a thread of their own (writer.ts) that commits whatever has queued up while it was busy as
// one transaction (group commit); reads run here, on a second connection (WAL lets it read
// while the writer writes), except while writes to what it reads are on their way: then it
// queues behind them in the writer, so a caller always sees what it wrote, awaited or not.
import { DatabaseSync } from "node:sqlite";
import { closeSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { Worker } from "node:worker_threads";
import type { KeyValueStore, LogEntry, LogPage, LogQuery, LogStore, MapStore, StorageProvider } from "../types.ts";
import { bareOf, logFilter } from "../log-filter.ts";
import { WriteMarks } from "../write-marks.ts";
import { PRIVATE_DIR, PRIVATE_FILE } from "../data-dir.ts";
import { BatchRunner, PRAGMAS, joinRows, migrate, type Operation, type Outcome, type Statement } from "./batch.ts";
import type { WriterMessage } from "./writer.ts";
import { BufferPool, LOG_ROW_WIDTH, PackedRows } from "./packed.ts";
import { StorageFullError } from "../errors.ts";

const SQL = {
  kvGet: "SELECT value FROM keyval WHERE store = ? AND owner = ?",
  kvSet: "INSERT INTO keyval (store, owner, value) VALUES (?, ?, ?) ON CONFLICT (store, owner) DO UPDATE SET value = excluded.value",
  kvAdd: "INSERT INTO keyval (store, owner, value) VALUES (?, ?, ?) ON CONFLICT (store, owner) DO NOTHING",
  kvDel: "DELETE FROM keyval WHERE store = ? AND owner = ?",
  kvOwners: "SELECT owner FROM keyval WHERE store = ? ORDER BY owner",
  mapGet: "SELECT value FROM map WHERE store = ? AND owner = ? AND key = ?",
  mapSet: "INSERT INTO map (store, owner, key, value) VALUES (?, ?, ?, ?) ON CONFLICT (store, owner, key) DO UPDATE SET value = excluded.value",
  mapDel: "DELETE FROM map WHERE store = ? AND owner = ? AND key = ?",
  mapAll: "SELECT key, value FROM map WHERE store = ? AND owner = ?",
  mapClear: "DELETE FROM map WHERE store = ? AND owner = ?",
  purgeKv: "DELETE FROM keyval WHERE owner = ?",
  purgeMap: "DELETE FROM map WHERE owner = ?",
  purgeLog: "DELETE FROM log WHERE owner = ?",
  logAdd: "INSERT INTO log (store, owner, id, at, with_full, with_bare, value, expires) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
  logDel: "DELETE FROM log WHERE store = ? AND owner = ? AND id = ?",
  logReplace: "UPDATE log SET value = ? WHERE store = ? AND owner = ? AND id = ?",
  logClear: "DELETE FROM log WHERE store = ? AND owner = ?",
  logExpire: "DELETE FROM log WHERE store = ? AND expires > 0 AND expires <= ?",
} as const;

interface Waiter { resolve(v: unknown): void; reject(e: Error): void }

/** Rows as a caller may change them (a page's rows are popped and reversed): a list is copied, a row is not changed by any. */
function copyOf(value: unknown): unknown {
  return Array.isArray(value) ? [...value] : value;
}

/** A failed operation's error: StorageFullError when SQLite had no room for it. */
function errorOf(o: { readonly error: string; readonly full?: true }): Error {
  return o.full ? new StorageFullError(o.error) : new Error(o.error);
}

/**
 * What a write touches, so that a read waits only for the writes it could see: one owner's rows
 * of one store of one table, one owner in every store (an account purge), or a whole store (the
 * archive's expiry). A read of an owner's rows in a store checks all three.
 */
const scope = {
  rows: (table: string, store: string, owner: string) => `${table}\0${store}\0${owner}`,
  owner: (owner: string) => `*\0${owner}`,
  store: (table: string, store: string) => `${table}\0${store}`,
};
const readScopes = (table: string, store: string, owner: string): string[] =>
  [scope.rows(table, store, owner), scope.owner(owner), scope.store(table, store)];

export interface SqliteOptions {
  /**
   * "thread" (the default): writes commit on the writer thread. "inline": each write commits on
   * the calling thread before its promise resolves, as a benchmark's point of comparison.
   */
  writer?: "thread" | "inline";
}

export class SqliteStorage implements StorageProvider {
  /** The event loop's connection: reads, and every write in inline mode. */
  private readonly db: DatabaseSync;
  private readonly local: BatchRunner;
  private readonly worker: Worker | undefined;
  /** Operations not yet posted to the writer (posted together at the end of this turn). */
  private outbox: Operation[] = [];
  /** A batch is with the writer: what queues up meanwhile is posted when it answers. */
  private posted = false;
  /** One per operation posted or in the outbox, in order; the writer answers in that order. */
  private waiting: Waiter[] = [];
  /** For each scope written, the number of the last operation that wrote it (`answered` of them have landed). */
  private readonly marks = new WriteMarks();
  private submitted = 0;
  private answered = 0;
  private head = 0;
  private failed: Error | undefined;
  private exited: Promise<void> = Promise.resolve();
  /** Commits made by the writer thread, and the operations they carried. */
  private readonly counts = { commits: 0, operations: 0 };
  /**
   * Reads made here in this turn of the event loop, by statement, with their scopes: the same
   * read again within the turn is answered from it (a burst of a thousand messages to one
   * offline account asked for the account, and for its push registrations, once per message).
   * A write to one of its scopes drops it at once; the turn's end drops them all. Nothing else
   * writes to the file, so what is kept here is what the file holds. Measured on the offline
   * row (1,000 messages until the ping's answer, after the one-to-one row, five pairs in turns):
   * 110-151 ms without, mean 125; 77-135 ms with, mean 110; lower in every pair.
   */
  private readonly memo = new Map<string, { readonly value: unknown; readonly scopes: readonly string[] }>();
  private readonly forgetTurn = (): void => void this.memo.clear();
  /** The buffers of the log stores' packed batches (packed.ts). */
  private readonly buffers = new BufferPool();

  constructor(path: string, options: SqliteOptions = {}) {
    if (path !== ":memory:") {
      mkdirSync(dirname(path), { recursive: true, mode: PRIVATE_DIR });
      // SQLite makes the -wal and -shm files with the database file's mode: 0600 for all three.
      closeSync(openSync(path, "a", PRIVATE_FILE));
    }
    this.db = new DatabaseSync(path);
    this.db.exec(PRAGMAS);
    migrate(this.db);
    this.local = new BatchRunner(this.db);
    if (options.writer === "inline" || path === ":memory:") return;
    const worker = new Worker(new URL("./writer.ts", import.meta.url), { workerData: { path } });
    worker.on("message", (outcomes: Outcome[]) => this.settle(outcomes));
    worker.on("error", (e) => this.fail(e));
    this.exited = new Promise((resolve) => worker.once("exit", () => {
      this.fail(new Error("the embedded store's writer thread has stopped"));
      resolve();
    }));
    worker.unref(); // after the listeners: adding one refs the worker again
    this.worker = worker;
  }

  /** Operations posted or queued and not yet answered. */
  private get pending(): number {
    return this.waiting.length - this.head;
  }

  /** Runs op atomically; resolves with its last statement's result once it is on disk. */
  private write(op: Operation, scopes: readonly string[]): Promise<unknown> {
    if (this.memo.size > 0) this.forget(scopes);
    if (!this.worker) {
      const outcome = this.local.runBatch([op])[0]!;
      return "ok" in outcome ? Promise.resolve(outcome.ok) : Promise.reject(errorOf(outcome));
    }
    if (this.failed) return Promise.reject(this.failed);
    if (this.pending === 0) this.worker.ref(); // a write on its way keeps the process alive
    // Posted at most once per event-loop turn (setImmediate runs after the turn's I/O
    // callbacks), not per microtask checkpoint, which comes after every socket read; and while
    // the writer is busy with a batch, not at all: it could not take them before it answers,
    // and they go together then. In the login benchmark postMessage was 10% of the server's
    // samples with a post per checkpoint, 6% with one per turn.
    if (this.outbox.length === 0 && !this.posted) setImmediate(this.postNow);
    this.outbox.push(op);
    const n = ++this.submitted;
    for (const s of scopes) this.marks.mark(s, n);
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  /**
   * A read sees every write made before it: here when none to what it reads (`scopes`; all of
   * them when undefined) is on its way, else behind them. A login's credential lookup thus no
   * longer waits for the fsync of other sessions' writes (their last-activity records).
   */
  private read(st: Statement, scopes?: readonly string[]): Promise<unknown> {
    if (this.pending > 0 && (scopes === undefined || scopes.some((s) => this.marks.pending(s, this.answered) !== undefined))) return this.write([st], []);
    const key = scopes !== undefined && st[0] !== "each" ? `${st[0]}\0${st[1]}\0${st[2].join("\0")}` : undefined;
    const known = key === undefined ? undefined : this.memo.get(key);
    if (known !== undefined) return Promise.resolve(copyOf(known.value));
    try {
      const value = this.local.exec(st);
      if (key !== undefined) {
        if (this.memo.size === 0) setImmediate(this.forgetTurn);
        this.memo.set(key, { value, scopes: scopes! });
      }
      return Promise.resolve(copyOf(value));
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }

  /** Drops the reads kept this turn that a write to `scopes` may change (a read on its way to the writer has none). */
  private forget(scopes: readonly string[]): void {
    if (scopes.length === 0) return;
    for (const [key, m] of this.memo) if (m.scopes.some((s) => scopes.includes(s))) this.memo.delete(key);
  }

  private readonly postNow = (): void => this.post();

  private post(): void {
    if (this.posted || this.outbox.length === 0 || this.failed) return;
    const ops = this.outbox;
    this.outbox = [];
    this.posted = true;
    // Packed rows move to the writer: their bytes were copied for it (PackedRows.bytes).
    const moved: ArrayBuffer[] = [];
    for (const op of ops) for (const st of op) if (st[0] === "each" && typeof st[2] !== "string") moved.push(st[2].buffer as ArrayBuffer);
    this.worker!.postMessage({ ops } satisfies WriterMessage, moved);
  }

  /** Group commit at work: operations per commit is the batching the load gave. */
  stats(): { readonly commits: number; readonly operations: number; readonly pending: number } {
    return { ...this.counts, pending: this.pending };
  }

  private settle(outcomes: readonly Outcome[]): void {
    this.posted = false;
    this.post();
    this.counts.commits++;
    this.counts.operations += outcomes.length;
    for (const o of outcomes) {
      const w = this.waiting[this.head++];
      if (!w) break;
      this.answered++;
      if ("ok" in o) w.resolve(o.ok);
      else w.reject(errorOf(o));
    }
    this.marks.landed(this.answered);
    if (this.head > 1024 && this.head * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
    if (this.pending === 0) this.worker!.unref();
  }

  private fail(e: Error): void {
    this.failed ??= e;
    const waiting = this.waiting.slice(this.head);
    this.marks.clear();
    this.waiting = [];
    this.head = 0;
    this.outbox = [];
    for (const w of waiting) w.reject(this.failed);
  }

  log(name: string): LogStore {
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
      // Entries given at once (the offline store's, one message each) go as one joined string;
      // packed like a queue's batch (appendBatch), each took a buffer and a transfer of its own,
      // and the offline row's 1,000 messages took 174-178 ms against 136-138.
      append: async (entries) => {
        if (entries.length === 0) return;
        const values: (string | number)[] = [];
        const scopes = new Set<string>();
        for (const e of entries) {
          values.push(name, e.owner, e.id, e.at, e.with, bareOf(e.with), e.value, e.expires);
          scopes.add(scope.rows("log", name, e.owner));
        }
        await this.write([["each", SQL.logAdd, joinRows(values), entries.length, LOG_ROW_WIDTH]], [...scopes]);
      },
      batch: () => new PackedRows(name, this.buffers),
      appendBatch: async (batch) => {
        if (!(batch instanceof PackedRows)) throw new TypeError("appendBatch takes the batches of this store's batch()");
        if (batch.size === 0) return;
        await this.write([["each", SQL.logAdd, batch.bytes(), batch.size, LOG_ROW_WIDTH]], [...batch.owners].map((o) => scope.rows("log", name, o)));
      },
      query: async (owner, q): Promise<LogPage> => {
        const w = where(owner, q);
        const order = q.fromEnd ? "DESC" : "ASC";
        const sql = `SELECT id, at, with_full AS "with", value, expires FROM log WHERE ${w.sql} ORDER BY id ${order} LIMIT ?`;
        const rows = (await this.read(["all", sql, [...w.args, q.limit + 1]], readScopes("log", name, owner))) as LogEntry[];
        const complete = rows.length <= q.limit;
        if (!complete) rows.pop();
        if (q.fromEnd) rows.reverse();
        return { entries: rows.map((r) => ({ ...r })), complete };
      },
      count: async (owner, q) => {
        const w = where(owner, q);
        return Number(((await this.read(["get", `SELECT COUNT(*) AS n FROM log WHERE ${w.sql}`, w.args], readScopes("log", name, owner))) as { n: number }).n);
      },
      remove: async (owner, ids) => {
        if (ids.length === 0) return;
        await this.write(ids.map((id) => ["run", SQL.logDel, [name, owner, id]] as const), [scope.rows("log", name, owner)]);
      },
      replace: async (owner, id, value) =>
        ((await this.write([["run", SQL.logReplace, [value, name, owner, id]]], [scope.rows("log", name, owner)])) as number) > 0,
      clear: async (owner) => {
        await this.write([["run", SQL.logClear, [name, owner]]], [scope.rows("log", name, owner)]);
      },
      expire: async (now) => (await this.write([["run", SQL.logExpire, [name, now]]], [scope.store("log", name)])) as number,
    };
  }

  keyval<T>(name: string): KeyValueStore<T> {
    return {
      get: async (owner) => {
        const row = (await this.read(["get", SQL.kvGet, [name, owner]], readScopes("kv", name, owner))) as { value: string } | undefined;
        return row ? (JSON.parse(row.value) as T) : undefined;
      },
      set: async (owner, value) => {
        await this.write([value === undefined ? ["run", SQL.kvDel, [name, owner]] : ["run", SQL.kvSet, [name, owner, JSON.stringify(value)]]],
          [scope.rows("kv", name, owner)]);
      },
      add: async (owner, value) => (await this.write([["run", SQL.kvAdd, [name, owner, JSON.stringify(value)]]], [scope.rows("kv", name, owner)])) === 1,
    };
  }

  map<T>(name: string): MapStore<T> {
    return {
      get: async (owner, key) => {
        const row = (await this.read(["get", SQL.mapGet, [name, owner, key]], readScopes("map", name, owner))) as { value: string } | undefined;
        return row ? (JSON.parse(row.value) as T) : undefined;
      },
      set: async (owner, key, value) => {
        await this.write([value === undefined
          ? ["run", SQL.mapDel, [name, owner, key]]
          : ["run", SQL.mapSet, [name, owner, key, JSON.stringify(value)]]], [scope.rows("map", name, owner)]);
      },
      getAll: async (owner) => {
        const rows = (await this.read(["all", SQL.mapAll, [name, owner]], readScopes("map", name, owner))) as { key: string; value: string }[];
        return new Map(rows.map((r) => [r.key, JSON.parse(r.value) as T]));
      },
      clear: async (owner) => {
        await this.write([["run", SQL.mapClear, [name, owner]]], [scope.rows("map", name, owner)]);
      },
    };
  }

  async owners(name: string): Promise<string[]> {
    return ((await this.read(["all", SQL.kvOwners, [name]])) as { owner: string }[]).map((r) => r.owner);
  }

  async purgeOwner(owner: string): Promise<void> {
    await this.write([["run", SQL.purgeKv, [owner]], ["run", SQL.purgeMap, [owner]], ["run", SQL.purgeLog, [owner]]], [scope.owner(owner)]);
  }

  /** Waits for the writes on their way, stops the writer thread, closes the connection. */
  async close(): Promise<void> {
    if (this.worker && !this.failed) {
      await this.write([], []).catch(() => {}); // answered after every write before it
      this.worker.ref();
      this.worker.postMessage({ close: true } satisfies WriterMessage);
      await this.exited;
    } else if (this.worker) {
      await this.worker.terminate();
    }
    if (this.db.isOpen) this.db.close();
  }
}
