// The connection to Cassandra shared by the stores of one CassandraStorage: one driver Client,
// opened on first use (so `xmppd check` and a server that never starts connect to nothing), the
// schema created or brought up to date right after connecting (schema.ts: CREATE ... IF NOT
// EXISTS, the keyspace with the configured replication), every statement prepared, at one
// configured consistency (LOCAL_QUORUM by default: a write acked by a majority of the local
// data centre's replicas is read by any later LOCAL_QUORUM read there). Lightweight
// transactions run their Paxos round at LOCAL_SERIAL (SERIAL when the consistency is not a
// LOCAL_ one).
import cassandra from "cassandra-driver";
import { schemaStatements } from "./schema.ts";

const { Client, policies, types } = cassandra;
type Client = InstanceType<typeof Client>;
type ResultSet = cassandra.types.ResultSet;
type QueryOptions = cassandra.QueryOptions;
export type Row = cassandra.types.Row;

export const CONSISTENCIES = ["LOCAL_QUORUM", "QUORUM", "EACH_QUORUM", "LOCAL_ONE", "ONE", "TWO", "THREE", "ALL"] as const;
export type Consistency = (typeof CONSISTENCIES)[number];

export interface CassandraOptions {
  /** "host" or "host:port" of one or more nodes; the driver finds the rest of the cluster. */
  contactPoints: string[];
  /** The data centre whose nodes serve this server (LOCAL_* consistencies count in it). */
  localDataCenter: string;
  keyspace: string;
  /** The keyspace's replication map, e.g. { class: "NetworkTopologyStrategy", dc1: 3 }. */
  replication: Record<string, string | number>;
  consistency?: Consistency;
}

const LEVEL: Record<Consistency, number> = {
  LOCAL_QUORUM: types.consistencies.localQuorum, QUORUM: types.consistencies.quorum,
  EACH_QUORUM: types.consistencies.eachQuorum, LOCAL_ONE: types.consistencies.localOne,
  ONE: types.consistencies.one, TWO: types.consistencies.two, THREE: types.consistencies.three,
  ALL: types.consistencies.all,
};

export class CassandraDb {
  readonly ks: string;
  private readonly opts: CassandraOptions;
  private readonly clock = new policies.timestampGeneration.MonotonicTimestampGenerator(1000, 1000);
  private opening: Promise<Client> | undefined;
  private closed = false;

  constructor(opts: CassandraOptions) {
    // Validates the keyspace name and the replication before anything connects.
    schemaStatements(opts);
    this.opts = opts;
    this.ks = opts.keyspace;
  }

  /** Connects and creates the schema, once; a failed attempt is retried by the next call. */
  client(): Promise<Client> {
    if (this.closed) return Promise.reject(new Error("cassandra storage is closed"));
    this.opening ??= this.open().catch((e: unknown) => {
      this.opening = undefined;
      throw e;
    });
    return this.opening;
  }

  private async open(): Promise<Client> {
    const consistency = this.opts.consistency ?? "LOCAL_QUORUM";
    const client = new Client({
      contactPoints: this.opts.contactPoints,
      localDataCenter: this.opts.localDataCenter,
      policies: { timestampGeneration: this.clock },
      queryOptions: {
        consistency: LEVEL[consistency],
        serialConsistency: consistency.startsWith("LOCAL_") ? types.consistencies.localSerial : types.consistencies.serial,
        prepare: true,
      },
    });
    try {
      await client.connect();
      // DDL one statement at a time: each waits for schema agreement before the next refers to it.
      for (const cql of schemaStatements(this.opts)) await client.execute(cql, [], { prepare: false });
    } catch (e) {
      await client.shutdown().catch(() => undefined);
      throw e;
    }
    return client;
  }

  async execute(cql: string, params: unknown[], opts?: QueryOptions): Promise<ResultSet> {
    const c = await this.client();
    return c.execute(cql, params, opts ? { prepare: true, ...opts } : { prepare: true });
  }

  /** Every row of a query, page after page. */
  async all(cql: string, params: unknown[], opts?: QueryOptions): Promise<Row[]> {
    const rows: Row[] = [];
    for await (const row of await this.execute(cql, params, opts)) rows.push(row);
    return rows;
  }

  /** A lightweight transaction: whether its condition held and it was applied. */
  async applied(cql: string, params: unknown[]): Promise<boolean> {
    return (await this.execute(cql, params)).wasApplied();
  }

  /**
   * A write timestamp from the same monotonic clock as every write of this client: a delete
   * made with it removes what was written before it and none of what is written after, which
   * lets clear() and purgeOwner() delete what they read without erasing a concurrent append.
   */
  async timestamp(): Promise<number> {
    const c = await this.client();
    const t = this.clock.next(c);
    return typeof t === "number" ? t : t.toNumber();
  }

  async close(): Promise<void> {
    this.closed = true;
    const opening = this.opening;
    this.opening = undefined;
    if (!opening) return;
    const c = await opening.catch(() => undefined);
    await c?.shutdown();
  }
}

/** A bigint column as a number (ms since the epoch fit in 53 bits). */
export function num(v: unknown): number {
  if (typeof v === "number") return v;
  if (v === null || v === undefined) return 0;
  return (v as cassandra.types.Long).toNumber();
}
