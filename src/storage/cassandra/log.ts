// Logs on Cassandra (schema.ts): an entry is a row of `log` in the partition of its month
// (buckets.ts) and, when it has a correspondent, a copy in `log_by_with` under that
// correspondent's bare JID, so the XEP-0313 'with' filter reads only matching rows.
//
// append() upserts on the entry's primary key, so a retried append writes the same rows again
// and cannot duplicate (the id fixes the bucket). Index rows (log_partitions, owner_stores, the
// expiry index) go first, then the two copies: a crash between leaves an index row pointing at
// nothing (harmless) rather than an entry that no query, clear() or expiry can find; a failed
// append is repaired by its retry. No batch: a logged batch would make the two copies atomic but
// refuses mutations over 50 KiB by default, and a stanza may be 256 KiB.
//
// query() walks the owner's month buckets in reading order (newest first when paging backwards)
// and stops as soon as it holds limit + 1 matching rows (the extra one says the page is not
// complete). Time bounds and a full-JID 'with' are filtered by Cassandra inside the one
// partition read (ALLOW FILTERING on a single partition scans at most a month), so LIMIT counts
// matching rows only.
//
// Expiry: expire(now) reads log_expiry day by day (the days from log_expiry_days), deletes the
// entries whose time has come and counts those it found. The rows also carry a Cassandra TTL of
// their expiry plus a margin, a backstop for a deployment where no expire() ran for a while.
import { bareOf, logFilter } from "../log-filter.ts";
import type { LogEntry, LogPage, LogQuery, LogStore } from "../types.ts";
import { idTime } from "../ids.ts";
import { bucketOf, bucketsToRead, monthOf } from "./buckets.ts";
import { num, type CassandraDb, type Row } from "./db.ts";

const DAY = 86_400_000;
/** Cassandra refuses a TTL over 20 years. */
const MAX_TTL = 20 * 365 * 86_400;
/** Requests in flight at once for one call (the driver refuses work past its per-connection limit). */
const CONCURRENCY = 64;
const COLUMNS = "id, at, with_full, value, expires";

type Filter = Omit<LogQuery, "limit" | "fromEnd">;

/** Which copy a query reads: `log`, or the correspondent's `log_by_with` partitions. */
interface Source {
  table: "log" | "log_by_with";
  /** The log_partitions rows to walk: "" for `log`. */
  withBare: string;
  /** A full JID (or "") matched exactly, by Cassandra, within the partitions read. */
  withFull?: string;
}

function sourceOf(q: Filter): Source {
  const f = logFilter(q);
  if (f.withFull !== undefined) {
    const bare = bareOf(f.withFull);
    return bare ? { table: "log_by_with", withBare: bare, withFull: f.withFull } : { table: "log", withBare: "", withFull: f.withFull };
  }
  if (f.withBare === undefined) return { table: "log", withBare: "" };
  // Entries without a correspondent have no second copy: they are found in `log`.
  return f.withBare === "" ? { table: "log", withBare: "", withFull: "" } : { table: "log_by_with", withBare: f.withBare };
}

export async function inChunks<T>(items: readonly T[], fn: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += CONCURRENCY) await Promise.all(items.slice(i, i + CONCURRENCY).map(fn));
}

export interface LogOptions {
  /** Seconds Cassandra keeps an expiring entry after its expiry (the TTL backstop). */
  ttlMargin: number;
}

export function logStore(db: CassandraDb, store: string, opts: LogOptions): LogStore {
  const ks = db.ks;
  const ttlOf = (expires: number, now: number): number => {
    if (expires <= 0) return 0;
    const ttl = Math.max(0, Math.ceil((expires - now) / 1000)) + opts.ttlMargin;
    return ttl > MAX_TTL ? 0 : ttl;
  };

  /** The buckets the owner has in this store for one source ("" = `log`), unordered. */
  const knownBuckets = async (owner: string, withBare: string): Promise<number[]> =>
    (await db.all(`SELECT bucket FROM ${ks}.log_partitions WHERE store = ? AND owner = ? AND with_bare = ? ALLOW FILTERING`,
      [store, owner, withBare])).map((r) => r.bucket as number);

  /** With an ids filter made only of our ids, the only buckets they can be in. */
  const bucketsOfIds = (known: number[], ids: readonly string[]): number[] => {
    const months = new Set<number>();
    for (const id of ids) {
      const t = idTime(id);
      if (t === undefined) return known;
      months.add(monthOf(t));
    }
    return known.filter((b) => months.has(b));
  };

  /** One bucket's statement for a filter: its CQL and its parameters. */
  const statement = (owner: string, src: Source, q: Filter, bucket: number, shape: { count?: boolean; fromEnd?: boolean; limit?: number }) => {
    const where = ["store = ?", "owner = ?"];
    const params: unknown[] = [store, owner];
    const add = (clause: string, value: unknown) => { where.push(clause); params.push(value); };
    if (src.table === "log_by_with") add("with_bare = ?", src.withBare);
    add("bucket = ?", bucket);
    if (q.ids) add("id IN ?", q.ids);
    else {
      if (q.after !== undefined) add("id > ?", q.after);
      if (q.before !== undefined) add("id < ?", q.before);
    }
    let filtering = false;
    if (q.start !== undefined) { add("at >= ?", q.start); filtering = true; }
    if (q.end !== undefined) { add("at <= ?", q.end); filtering = true; }
    if (src.withFull !== undefined) { add("with_full = ?", src.withFull); filtering = true; }
    let cql = `SELECT ${shape.count ? "COUNT(*)" : COLUMNS} FROM ${ks}.${src.table} WHERE ${where.join(" AND ")}`;
    if (shape.limit !== undefined) {
      cql += ` ORDER BY id ${shape.fromEnd ? "DESC" : "ASC"} LIMIT ?`;
      params.push(shape.limit);
    }
    if (filtering) cql += " ALLOW FILTERING";
    return { cql, params };
  };

  const toEntry = (r: Row): LogEntry => ({ id: r.id as string, at: num(r.at), with: r.with_full as string, value: r.value as string, expires: num(r.expires) });

  /** With an ids filter: every listed entry that matches, oldest first (a handful of rows). */
  const byIds = async (owner: string, q: Filter & { ids: string[] }): Promise<LogEntry[]> => {
    if (q.ids.length === 0) return [];
    const src = sourceOf(q);
    const buckets = bucketsToRead(bucketsOfIds(await knownBuckets(owner, src.withBare), q.ids), q);
    const found: LogEntry[] = [];
    for (const b of buckets) {
      const { cql, params } = statement(owner, src, q, b, {});
      for (const r of await db.all(cql, params)) found.push(toEntry(r));
    }
    return found
      .filter((e) => (q.after === undefined || e.id > q.after) && (q.before === undefined || e.id < q.before))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  };

  const query = async (owner: string, q: LogQuery): Promise<LogPage> => {
    const fromEnd = q.fromEnd ?? false;
    const want = q.limit + 1;
    let rows: LogEntry[];
    if (q.ids) {
      const all = await byIds(owner, { ...q, ids: q.ids });
      rows = fromEnd ? all.slice(-want).reverse() : all.slice(0, want);
    } else {
      rows = [];
      const src = sourceOf(q);
      for (const b of bucketsToRead(await knownBuckets(owner, src.withBare), q, fromEnd)) {
        const { cql, params } = statement(owner, src, q, b, { fromEnd, limit: want - rows.length });
        for (const r of await db.all(cql, params)) rows.push(toEntry(r));
        if (rows.length >= want) break;
      }
    }
    const complete = rows.length <= q.limit;
    rows = rows.slice(0, q.limit);
    if (fromEnd) rows.reverse();
    return { entries: rows, complete };
  };

  const count = async (owner: string, q: Filter): Promise<number> => {
    if (q.ids) return (await byIds(owner, { ...q, ids: q.ids })).length;
    const src = sourceOf(q);
    let n = 0;
    for (const b of bucketsToRead(await knownBuckets(owner, src.withBare), q)) {
      const { cql, params } = statement(owner, src, q, b, { count: true });
      n += num((await db.execute(cql, params)).first()?.count);
    }
    return n;
  };

  const deleteEntry = (owner: string, e: { id: string; bucket: number; withBare: string }) => Promise.all([
    db.execute(`DELETE FROM ${ks}.log WHERE store = ? AND owner = ? AND bucket = ? AND id = ?`, [store, owner, e.bucket, e.id]),
    e.withBare === "" ? undefined
      : db.execute(`DELETE FROM ${ks}.log_by_with WHERE store = ? AND owner = ? AND with_bare = ? AND bucket = ? AND id = ?`,
        [store, owner, e.withBare, e.bucket, e.id]),
  ]);

  return {
    append: async (entries) => {
      const now = Date.now();
      const index = new Map<string, { cql: string; params: unknown[] }>();
      const put = (cql: string, params: unknown[]) => index.set(`${cql}\0${params.join("\0")}`, { cql, params });
      const rows = entries.map((e) => ({ e, bucket: bucketOf(e), withBare: bareOf(e.with), ttl: ttlOf(e.expires, now) }));
      for (const { e, bucket, withBare, ttl } of rows) {
        put(`INSERT INTO ${ks}.owner_stores (owner, kind, store) VALUES (?, 'log', ?)`, [e.owner, store]);
        put(`INSERT INTO ${ks}.log_partitions (store, owner, bucket, with_bare) VALUES (?, ?, ?, ?)`, [store, e.owner, bucket, ""]);
        if (withBare !== "") put(`INSERT INTO ${ks}.log_partitions (store, owner, bucket, with_bare) VALUES (?, ?, ?, ?)`, [store, e.owner, bucket, withBare]);
        if (e.expires > 0) {
          const day = Math.floor(e.expires / DAY);
          put(`INSERT INTO ${ks}.log_expiry_days (store, day) VALUES (?, ?)`, [store, day]);
          put(`INSERT INTO ${ks}.log_expiry (store, day, expires, owner, id, bucket, with_bare) VALUES (?, ?, ?, ?, ?, ?, ?) USING TTL ?`,
            [store, day, e.expires, e.owner, e.id, bucket, withBare, ttl]);
        }
      }
      await inChunks([...index.values()], (s) => db.execute(s.cql, s.params));
      await inChunks(rows, ({ e, bucket, withBare, ttl }) => Promise.all([
        db.execute(`INSERT INTO ${ks}.log (store, owner, bucket, ${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?`,
          [store, e.owner, bucket, e.id, e.at, e.with, e.value, e.expires, ttl]),
        withBare === "" ? undefined
          : db.execute(`INSERT INTO ${ks}.log_by_with (store, owner, with_bare, bucket, ${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?`,
            [store, e.owner, withBare, bucket, e.id, e.at, e.with, e.value, e.expires, ttl]),
      ]));
    },

    query,
    count,

    remove: async (owner, ids) => {
      if (ids.length === 0) return;
      const found: { id: string; bucket: number; withBare: string; expires: number }[] = [];
      for (const bucket of bucketsOfIds(await knownBuckets(owner, ""), ids)) {
        const rows = await db.all(`SELECT id, with_full, expires FROM ${ks}.log WHERE store = ? AND owner = ? AND bucket = ? AND id IN ?`,
          [store, owner, bucket, ids]);
        for (const r of rows) found.push({ id: r.id as string, bucket, withBare: bareOf(r.with_full as string), expires: num(r.expires) });
      }
      await inChunks(found, (e) => Promise.all([
        deleteEntry(owner, e),
        e.expires > 0 ? db.execute(`DELETE FROM ${ks}.log_expiry WHERE store = ? AND day = ? AND expires = ? AND owner = ? AND id = ?`,
          [store, Math.floor(e.expires / DAY), e.expires, owner, e.id]) : undefined,
      ]));
    },

    // Both copies are written whole again with the new value: an UPDATE of a row removed
    // meanwhile would leave a row of one column behind.
    replace: async (owner, id, value) => {
      const t = idTime(id);
      const buckets = t === undefined ? await knownBuckets(owner, "") : [monthOf(t)];
      for (const bucket of buckets) {
        const r = (await db.execute(`SELECT ${COLUMNS} FROM ${ks}.log WHERE store = ? AND owner = ? AND bucket = ? AND id = ?`,
          [store, owner, bucket, id])).first();
        if (!r) continue;
        const e = { ...toEntry(r), value };
        const withBare = bareOf(e.with);
        const ttl = ttlOf(e.expires, Date.now());
        await Promise.all([
          db.execute(`INSERT INTO ${ks}.log (store, owner, bucket, ${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?`,
            [store, owner, bucket, e.id, e.at, e.with, e.value, e.expires, ttl]),
          withBare === "" ? undefined
            : db.execute(`INSERT INTO ${ks}.log_by_with (store, owner, with_bare, bucket, ${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?`,
              [store, owner, withBare, bucket, e.id, e.at, e.with, e.value, e.expires, ttl]),
        ]);
        return true;
      }
      return false;
    },

    clear: (owner) => clearLog(db, store, owner),

    expire: async (now) => {
      let n = 0;
      const days = await db.all(`SELECT day FROM ${ks}.log_expiry_days WHERE store = ? AND day <= ?`, [store, Math.floor(now / DAY)]);
      for (const { day } of days) {
        const ts = await db.timestamp();
        const due = await db.all(`SELECT expires, owner, id, bucket, with_bare FROM ${ks}.log_expiry WHERE store = ? AND day = ? AND expires <= ?`,
          [store, day, now]);
        await inChunks(due, async (r) => {
          const owner = r.owner as string;
          const e = { id: r.id as string, bucket: r.bucket as number, withBare: r.with_bare as string };
          // The entry may be gone already (removed, cleared, purged) or appended again with another expiry.
          const row = (await db.execute(`SELECT expires FROM ${ks}.log WHERE store = ? AND owner = ? AND bucket = ? AND id = ?`,
            [store, owner, e.bucket, e.id])).first();
          if (row && num(row.expires) === num(r.expires)) {
            await deleteEntry(owner, e);
            n++;
          }
          await db.execute(`DELETE FROM ${ks}.log_expiry WHERE store = ? AND day = ? AND expires = ? AND owner = ? AND id = ?`,
            [store, day, r.expires, owner, e.id]);
        });
        // A day that has ended is done; an append into it after `ts` keeps its rows.
        if ((day as number + 1) * DAY <= now) {
          await db.execute(`DELETE FROM ${ks}.log_expiry WHERE store = ? AND day = ?`, [store, day], { timestamp: ts });
          await db.execute(`DELETE FROM ${ks}.log_expiry_days WHERE store = ? AND day = ?`, [store, day], { timestamp: ts });
        }
      }
      return n;
    },
  };
}

/**
 * Deletes every partition the owner has in a log store, as the index lists them, at one write
 * timestamp taken before reading the index: an append that starts after it survives whole.
 * Expiry rows are left to expire(), which finds their entries gone and only drops them.
 */
export async function clearLog(db: CassandraDb, store: string, owner: string, ts?: number): Promise<void> {
  const ks = db.ks;
  const timestamp = ts ?? (await db.timestamp());
  const parts = await db.all(`SELECT bucket, with_bare FROM ${ks}.log_partitions WHERE store = ? AND owner = ?`, [store, owner]);
  await inChunks(parts, (p) => p.with_bare === ""
    ? db.execute(`DELETE FROM ${ks}.log WHERE store = ? AND owner = ? AND bucket = ?`, [store, owner, p.bucket], { timestamp })
    : db.execute(`DELETE FROM ${ks}.log_by_with WHERE store = ? AND owner = ? AND with_bare = ? AND bucket = ?`,
      [store, owner, p.with_bare, p.bucket], { timestamp }));
  await db.execute(`DELETE FROM ${ks}.log_partitions WHERE store = ? AND owner = ?`, [store, owner], { timestamp });
}
