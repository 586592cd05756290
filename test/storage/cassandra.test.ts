// The storage contract on Cassandra (scripts/services/cassandra.sh): one fresh keyspace for the
// run, emptied before each test and dropped at the end. Skipped when no Cassandra answers,
// except in CI (test/helpers/services.ts).
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import cassandra from "cassandra-driver";
import { IdGenerator } from "../../src/storage/ids.ts";
import { CassandraStorage } from "../../src/storage/cassandra/index.ts";
import { serviceUp, services } from "../helpers/services.ts";
import { storageContract } from "./contract.ts";

const up = await serviceUp("cassandra");
const { host, port, localDataCenter } = services.cassandra;
const keyspace = `xmppd_test_${process.pid}_${Date.now().toString(36)}`;
const options = {
  contactPoints: [`${host}:${port}`], localDataCenter, keyspace,
  replication: { class: "SimpleStrategy", replication_factor: 1 },
};

/** A client of our own for the test's housekeeping: emptying and dropping the keyspace. */
let admin: InstanceType<typeof cassandra.Client> | undefined;
async function adminClient() {
  admin ??= new cassandra.Client({ contactPoints: options.contactPoints, localDataCenter });
  await admin.connect();
  return admin;
}

afterAll(async () => {
  if (!admin) return;
  await admin.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
  await admin.shutdown();
}, 60_000);

describe.skipIf(!up)("cassandra", () => {
  storageContract("cassandra", async () => {
    const s = new CassandraStorage(options);
    await s.ready();
    const c = await adminClient();
    const tables = await c.execute("SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?", [keyspace], { prepare: true });
    for (const { table_name } of tables.rows) await c.execute(`TRUNCATE ${keyspace}.${table_name}`);
    return s;
  }, async (old) => {
    await old.close();
    const s = new CassandraStorage(options);
    await s.ready();
    return s;
  });
});

// What the contract cannot see: its entries all fall in January 1970. Here they span months and
// days, as a real archive does.
describe.skipIf(!up)("cassandra: month buckets, the expiry index, the TTL backstop", () => {
  let s: CassandraStorage;
  beforeEach(async () => {
    s = new CassandraStorage(options);
    await s.ready();
  });
  afterEach(() => s.close());

  const idAt = (at: number) => new IdGenerator(0, () => at).next();
  const ids = (p: { entries: { id: string }[] }) => p.entries.map((e) => e.id);
  const rows = async (cql: string, params: unknown[]) => (await (await adminClient()).execute(cql, params, { prepare: true })).rows;

  it("walks the months in order forward and backward, with the 'with', time and ids filters", async () => {
    const owner = "months@x";
    // Three entries in each of January, February and March 2025, alternating correspondents.
    const entries = [0, 1, 2].flatMap((m) => [3, 10, 20].map((d, i) => {
      const at = Date.UTC(2025, m, d);
      return { owner, id: idAt(at), at, with: i === 1 ? "c@x" : `b@x/r${m}`, value: `m${m}d${d}`, expires: 0 };
    }));
    const all = entries.map((e) => e.id);
    const log = s.log("archive");
    await log.append([...entries].reverse());
    expect((await rows(`SELECT bucket FROM ${keyspace}.log_partitions WHERE store = 'archive' AND owner = ? AND with_bare = '' ALLOW FILTERING`, [owner]))
      .map((r) => r.bucket)).toEqual([660, 661, 662]);

    const first = await log.query(owner, { limit: 4 });
    expect(ids(first)).toEqual(all.slice(0, 4));
    expect(first.complete).toBe(false);
    expect(ids(await log.query(owner, { limit: 4, after: all[3] }))).toEqual(all.slice(4, 8));
    expect(await log.query(owner, { limit: 4, after: all[7] })).toMatchObject({ complete: true });
    const back = await log.query(owner, { limit: 4, fromEnd: true });
    expect(ids(back)).toEqual(all.slice(5));
    expect(ids(await log.query(owner, { limit: 4, fromEnd: true, before: all[5] }))).toEqual(all.slice(1, 5));
    expect(await log.query(owner, { limit: 5, fromEnd: true, before: all[5] })).toMatchObject({ complete: true });

    expect(ids(await log.query(owner, { limit: 9, with: "c@x" }))).toEqual([all[1], all[4], all[7]]);
    expect(ids(await log.query(owner, { limit: 2, with: "b@x", fromEnd: true }))).toEqual([all[6], all[8]]);
    expect(ids(await log.query(owner, { limit: 9, with: "b@x/r1" }))).toEqual([all[3], all[5]]);
    expect(ids(await log.query(owner, { limit: 9, start: Date.UTC(2025, 0, 15), end: Date.UTC(2025, 1, 15) }))).toEqual(all.slice(2, 5));
    expect(await log.count(owner, {})).toBe(9);
    expect(await log.count(owner, { with: "b@x", start: Date.UTC(2025, 1, 1) })).toBe(4);
    expect(ids(await log.query(owner, { limit: 9, ids: [all[8]!, all[0]!, idAt(Date.UTC(2025, 5, 1))] }))).toEqual([all[0], all[8]]);

    await log.remove(owner, [all[4]!, all[7]!]);
    expect(await log.count(owner, {})).toBe(7);
    expect(await log.count(owner, { with: "c@x" })).toBe(1);

    await s.purgeOwner(owner);
    expect(await log.count(owner, {})).toBe(0);
    expect(await rows(`SELECT id FROM ${keyspace}.log_by_with WHERE store = 'archive' AND owner = ? AND with_bare = 'b@x' AND bucket = 660`, [owner])).toEqual([]);
  });

  it("expires day by day, counts only entries still there, forgets past days, and sets a TTL of the expiry plus a margin", async () => {
    const owner = "expiring@x";
    const day = 86_400_000;
    const now = Date.now();
    const entry = (n: number, expires: number) => ({ owner, id: idAt(now - 10 * day + n), at: now - 10 * day + n, with: "b@x", value: `v${n}`, expires });
    const log = s.log("expiring");
    const [a, b, gone, later, kept] = [entry(1, now - 3 * day), entry(2, now - day), entry(3, now - day), entry(4, now + day), entry(5, 0)];
    await log.append([a, b, gone, later, kept]);
    await log.remove(owner, [gone.id]);
    const days = async () => (await rows(`SELECT day FROM ${keyspace}.log_expiry_days WHERE store = 'expiring'`, [])).map((r) => r.day as number);
    expect(await days()).toEqual([...new Set([a, b, later].map((e) => Math.floor(e.expires / day)))].sort());

    expect(await log.expire(now)).toBe(2);
    expect(ids(await log.query(owner, { limit: 9 }))).toEqual([later.id, kept.id]);
    expect(await log.count(owner, { with: "b@x" })).toBe(2);
    // The days that have ended are forgotten; the one still to come stays.
    expect(await days()).toEqual([Math.floor(later.expires / day)]);
    expect(await log.expire(now)).toBe(0);

    const ttl = async (id: string) => (await rows(`SELECT TTL(value) AS t FROM ${keyspace}.log WHERE store = 'expiring' AND owner = ? AND bucket = ? AND id = ?`,
      [owner, (new Date(now - 10 * day).getUTCFullYear() - 1970) * 12 + new Date(now - 10 * day).getUTCMonth(), id]))[0]?.t as number | null;
    const margin = 2 * 86_400;
    expect(await ttl(later.id)).toBeGreaterThan(86_400 + margin - 60);
    expect(await ttl(later.id)).toBeLessThanOrEqual(86_400 + margin);
    expect(await ttl(kept.id)).toBeNull();
    await log.clear(owner);
  });
});
