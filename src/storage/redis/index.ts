// The storage shapes (src/storage/types.ts) on one Redis server, with ioredis. Not a backend the
// configuration offers yet: Redis is meant for what is live and can be rebuilt (sessions,
// presence, the route bus), and keeps data only as well as its persistence is configured (AOF
// with appendfsync always for "nothing acked is lost"). It passes the storage contract, so that
// small live stores (last activity, CSI state, push registrations) can move onto it.
//
// Keys, under a prefix, each part URI-encoded so that no store or owner can forge another's key:
//   kv:<store>                  hash owner → JSON   (add() is HSETNX: atomic; owners() is HKEYS)
//   map:<store>:<owner>         hash key → JSON
//   log:<store>:<owner>         sorted set of ids, all at score 0: ZRANGEBYLEX pages in id order
//   logv:<store>:<owner>        hash id → entry JSON (HSETNX: a retried append leaves it as it is)
//   exp:<store>                 sorted set of [owner, id] by expiry, walked by expire(now)
//   owner:<owner>               set of "kind store" the owner has data in, for purgeOwner()
import { Redis, type RedisOptions } from "ioredis";
import { bareOf, logFilter } from "../log-filter.ts";
import type { KeyValueStore, LogEntry, LogPage, LogQuery, LogStore, MapStore, StorageProvider } from "../types.ts";

/** Ids read per round trip while a query filters its way to a full page. */
const CHUNK = 200;

type Filter = Omit<LogQuery, "limit" | "fromEnd">;

export interface RedisStorageOptions {
  host: string;
  port: number;
  /** Every key starts with it: several servers (or test runs) can share one Redis. */
  prefix?: string;
}

export class RedisStorage implements StorageProvider {
  private readonly redis: Redis;
  private readonly prefix: string;

  constructor(opts: RedisStorageOptions & Pick<RedisOptions, "password" | "db">) {
    this.prefix = opts.prefix ?? "xmppd:";
    this.redis = new Redis({ host: opts.host, port: opts.port, password: opts.password, db: opts.db, lazyConnect: true });
  }

  private key(...parts: string[]): string {
    return this.prefix + parts.map(encodeURIComponent).join(":");
  }

  keyval<T>(name: string): KeyValueStore<T> {
    const k = this.key("kv", name);
    const mark = (owner: string) => this.redis.sadd(this.key("owner", owner), `kv ${name}`);
    return {
      get: async (owner) => {
        const v = await this.redis.hget(k, owner);
        return v === null ? undefined : (JSON.parse(v) as T);
      },
      set: async (owner, value) => {
        if (value === undefined) await this.redis.hdel(k, owner);
        else await this.redis.multi().sadd(this.key("owner", owner), `kv ${name}`).hset(k, owner, JSON.stringify(value)).exec();
      },
      add: async (owner, value) => {
        await mark(owner);
        return (await this.redis.hsetnx(k, owner, JSON.stringify(value))) === 1;
      },
    };
  }

  map<T>(name: string): MapStore<T> {
    const k = (owner: string) => this.key("map", name, owner);
    return {
      get: async (owner, key) => {
        const v = await this.redis.hget(k(owner), key);
        return v === null ? undefined : (JSON.parse(v) as T);
      },
      set: async (owner, key, value) => {
        if (value === undefined) await this.redis.hdel(k(owner), key);
        else await this.redis.multi().sadd(this.key("owner", owner), `map ${name}`).hset(k(owner), key, JSON.stringify(value)).exec();
      },
      getAll: async (owner) => new Map(Object.entries(await this.redis.hgetall(k(owner))).map(([key, v]) => [key, JSON.parse(v) as T])),
      clear: async (owner) => {
        await this.redis.del(k(owner));
      },
    };
  }

  log(name: string): LogStore {
    const ids = (owner: string) => this.key("log", name, owner);
    const values = (owner: string) => this.key("logv", name, owner);
    const expiry = this.key("exp", name);
    const r = this.redis;

    const matches = (q: Filter) => {
      const f = logFilter(q);
      return (e: LogEntry) => (f.withFull === undefined || e.with === f.withFull) && (f.withBare === undefined || bareOf(e.with) === f.withBare) &&
        (q.start === undefined || e.at >= q.start) && (q.end === undefined || e.at <= q.end) &&
        (q.after === undefined || e.id > q.after) && (q.before === undefined || e.id < q.before);
    };
    const read = async (owner: string, list: string[]): Promise<LogEntry[]> => {
      if (list.length === 0) return [];
      const raw = await r.hmget(values(owner), ...list);
      // An id whose value is gone was removed between the two reads.
      return raw.flatMap((v) => (v === null ? [] : [JSON.parse(v) as LogEntry]));
    };

    /** Walks the ids in order from one end, CHUNK at a time, until `want` entries matched. */
    const walk = async (owner: string, q: Filter, fromEnd: boolean, want: number): Promise<LogEntry[]> => {
      const ok = matches(q);
      if (q.ids) {
        const found = (await read(owner, [...new Set(q.ids)])).filter(ok).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
        return (fromEnd ? found.reverse() : found).slice(0, want);
      }
      let low = q.after === undefined ? "-" : `(${q.after}`;
      let high = q.before === undefined ? "+" : `(${q.before}`;
      const out: LogEntry[] = [];
      while (out.length < want) {
        const chunk = fromEnd ? await r.zrevrangebylex(ids(owner), high, low, "LIMIT", 0, CHUNK) : await r.zrangebylex(ids(owner), low, high, "LIMIT", 0, CHUNK);
        for (const e of await read(owner, chunk)) if (out.length < want && ok(e)) out.push(e);
        if (chunk.length < CHUNK) break;
        if (fromEnd) high = `(${chunk[chunk.length - 1]}`;
        else low = `(${chunk[chunk.length - 1]}`;
      }
      return out;
    };

    return {
      append: async (entries) => {
        const m = r.multi();
        for (const { owner, ...e } of entries) {
          m.sadd(this.key("owner", owner), `log ${name}`).zadd(ids(owner), 0, e.id).hsetnx(values(owner), e.id, JSON.stringify(e));
          if (e.expires > 0) m.zadd(expiry, e.expires, JSON.stringify([owner, e.id]));
        }
        await m.exec();
      },
      query: async (owner, q): Promise<LogPage> => {
        const rows = await walk(owner, q, q.fromEnd ?? false, q.limit + 1);
        const complete = rows.length <= q.limit;
        const entries = rows.slice(0, q.limit);
        return { entries: q.fromEnd ? entries.reverse() : entries, complete };
      },
      count: async (owner, q) => {
        const f = logFilter(q);
        if (!q.ids && f.withBare === undefined && f.withFull === undefined && q.start === undefined && q.end === undefined) {
          return r.zlexcount(ids(owner), q.after === undefined ? "-" : `(${q.after}`, q.before === undefined ? "+" : `(${q.before}`);
        }
        return (await walk(owner, q, false, Infinity)).length;
      },
      remove: async (owner, list) => {
        if (list.length === 0) return;
        const gone = await read(owner, [...list]);
        const m = r.multi().zrem(ids(owner), ...list).hdel(values(owner), ...list);
        for (const e of gone) if (e.expires > 0) m.zrem(expiry, JSON.stringify([owner, e.id]));
        await m.exec();
      },
      replace: async (owner, id, value) => {
        const v = await r.hget(values(owner), id);
        if (v === null) return false;
        // Written only if the entry is still there (HSETNX after a removal would bring it back).
        const e = { ...(JSON.parse(v) as LogEntry), value };
        const script = "if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return 1 end return 0";
        return (await r.eval(script, 1, values(owner), id, JSON.stringify(e))) === 1;
      },
      clear: async (owner) => {
        // Their expiry members stay until expire() finds the entries gone.
        await r.del(ids(owner), values(owner));
      },
      expire: async (now) => {
        let n = 0;
        for (;;) {
          const due = await r.zrangebyscore(expiry, "-inf", now, "WITHSCORES", "LIMIT", 0, CHUNK);
          if (due.length === 0) return n;
          for (let i = 0; i < due.length; i += 2) {
            const member = due[i]!;
            const [owner, id] = JSON.parse(member) as [string, string];
            const v = await r.hget(values(owner), id);
            // Gone already, or appended again with another expiry: only the index member goes.
            const m = r.multi().zrem(expiry, member);
            if (v !== null && (JSON.parse(v) as LogEntry).expires === Number(due[i + 1])) {
              m.zrem(ids(owner), id).hdel(values(owner), id);
              n++;
            }
            await m.exec();
          }
        }
      },
    };
  }

  async owners(name: string): Promise<string[]> {
    return (await this.redis.hkeys(this.key("kv", name))).sort();
  }

  async purgeOwner(owner: string): Promise<void> {
    const held = await this.redis.smembers(this.key("owner", owner));
    const m = this.redis.multi();
    for (const h of held) {
      const [kind, name] = [h.slice(0, h.indexOf(" ")), h.slice(h.indexOf(" ") + 1)];
      if (kind === "kv") m.hdel(this.key("kv", name), owner);
      else if (kind === "map") m.del(this.key("map", name, owner));
      else if (kind === "log") m.del(this.key("log", name, owner), this.key("logv", name, owner));
    }
    m.del(this.key("owner", owner));
    await m.exec();
  }

  async close(): Promise<void> {
    if (this.redis.status === "wait" || this.redis.status === "end") this.redis.disconnect();
    else await this.redis.quit();
  }
}
