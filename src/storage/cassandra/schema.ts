// The Cassandra schema of the StorageProvider shapes (src/storage/types.ts), created or brought
// up to date at start. Tables follow the queries, one table per access path:
//   keyval        ((store, owner))                 get / set; add() is INSERT ... IF NOT EXISTS
//   keyval_owners ((store), owner)                 owners() in order (one partition per store)
//   map           ((store, owner), key)            get / getAll / clear = one partition
//   log           ((store, owner, bucket), id)     pages in id order, a month per partition
//   log_by_with   ((store, owner, with_bare, bucket), id)   the XEP-0313 'with' filter on a bare
//                 JID: a second copy of the entry, so the filter reads only matching rows. A
//                 secondary index would fan out over nodes, and filtering would read the whole
//                 archive for a rare correspondent. Full JIDs and time bounds are filtered within
//                 the partitions read (single-partition ALLOW FILTERING reads at most one month).
//   log_partitions ((store, owner), bucket, with_bare)  every log partition an owner has ('' is
//                 `log` itself): queries walk buckets from it; clear / purgeOwner delete by it
//   log_expiry    ((store, day), expires, owner, id)   expire(now) walks the days up to now
//   log_expiry_days ((store), day)                 the days log_expiry has rows for: expire(now)
//                 reads them instead of every day since 1970, and deletes a day once it is past
//   owner_stores  ((owner), kind, store)           purgeOwner finds every store holding the owner
export interface CassandraSchemaOptions {
  keyspace: string;
  /** The keyspace's replication map, e.g. { class: "NetworkTopologyStrategy", datacenter1: 3 }. */
  replication: Record<string, string | number>;
}

/** A keyspace name CQL takes unquoted, within Cassandra's 48 characters. */
export const KEYSPACE_NAME = /^[a-z][a-z0-9_]{0,47}$/;

export function schemaStatements(o: CassandraSchemaOptions): string[] {
  if (!KEYSPACE_NAME.test(o.keyspace)) throw new RangeError(`keyspace ${JSON.stringify(o.keyspace)}: lower-case letters, digits, _ (48 at most)`);
  const ks = o.keyspace;
  const entry = "id text, at bigint, with_full text, value text, expires bigint";
  return [
    `CREATE KEYSPACE IF NOT EXISTS ${ks} WITH replication = ${replicationMap(o.replication)} AND durable_writes = true`,
    `CREATE TABLE IF NOT EXISTS ${ks}.keyval (store text, owner text, value text, PRIMARY KEY ((store, owner)))`,
    `CREATE TABLE IF NOT EXISTS ${ks}.keyval_owners (store text, owner text, PRIMARY KEY ((store), owner))`,
    `CREATE TABLE IF NOT EXISTS ${ks}.map (store text, owner text, key text, value text, PRIMARY KEY ((store, owner), key))`,
    `CREATE TABLE IF NOT EXISTS ${ks}.log (store text, owner text, bucket int, ${entry}, PRIMARY KEY ((store, owner, bucket), id))`,
    `CREATE TABLE IF NOT EXISTS ${ks}.log_by_with (store text, owner text, with_bare text, bucket int, ${entry}, PRIMARY KEY ((store, owner, with_bare, bucket), id))`,
    `CREATE TABLE IF NOT EXISTS ${ks}.log_partitions (store text, owner text, bucket int, with_bare text, PRIMARY KEY ((store, owner), bucket, with_bare))`,
    `CREATE TABLE IF NOT EXISTS ${ks}.log_expiry (store text, day int, expires bigint, owner text, id text, bucket int, with_bare text, PRIMARY KEY ((store, day), expires, owner, id))`,
    `CREATE TABLE IF NOT EXISTS ${ks}.log_expiry_days (store text, day int, PRIMARY KEY ((store), day))`,
    `CREATE TABLE IF NOT EXISTS ${ks}.owner_stores (owner text, kind text, store text, PRIMARY KEY ((owner), kind, store))`,
  ];
}

/** A CQL map literal; keys and values are quoted strings, numbers stay as they are. */
function replicationMap(r: Record<string, string | number>): string {
  if (typeof r.class !== "string") throw new RangeError("replication needs a class (SimpleStrategy or NetworkTopologyStrategy)");
  const quote = (s: string): string => `'${s.replace(/'/g, "''")}'`;
  return `{${Object.entries(r).map(([k, v]) => `${quote(k)}: ${typeof v === "number" ? v : quote(v)}`).join(", ")}}`;
}
