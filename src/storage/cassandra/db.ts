// The connection to Cassandra shared by the stores of one CassandraStorage: one driver Client,
// opened on first use (so `xmppd check` and a server that never starts connect to nothing), the
// schema created or brought up to date right after connecting (schema.ts: CREATE ... IF NOT
// EXISTS, the keyspace with the configured replication), every statement prepared, at one
// configured consistency (LOCAL_QUORUM by default: a write acked by a majority of the local
// data centre's replicas is read by any later LOCAL_QUORUM read there). Lightweight
// transactions run their Paxos round at LOCAL_SERIAL (SERIAL when the consistency is not a
// LOCAL_ one).
//
// The driver is loaded by the first connection, not at import: a server on the embedded backend
// (and every CLI command) starts without it.
import type cassandra from "cassandra-driver";
import { StorageUnavailableError } from "../errors.ts";
import { nativePort, type CassandraOptions, type Consistency } from "./options.ts";
import { schemaStatements } from "./schema.ts";

type Client = cassandra.Client;
type ResultSet = cassandra.types.ResultSet;
type QueryOptions = cassandra.QueryOptions;
type TimestampGenerator = cassandra.policies.timestampGeneration.TimestampGenerator;
export type Row = cassandra.types.Row;

/** The native protocol's consistency codes (the driver's types.consistencies). */
const LEVEL: Record<Consistency, number> = {
  ONE: 0x01, TWO: 0x02, THREE: 0x03, QUORUM: 0x04, ALL: 0x05, LOCAL_QUORUM: 0x06, EACH_QUORUM: 0x07, LOCAL_ONE: 0x0a,
};
const SERIAL = 0x08;
const LOCAL_SERIAL = 0x09;

export class CassandraDb {
  readonly ks: string;
  private readonly opts: CassandraOptions;
  private clock: TimestampGenerator | undefined;
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
    const { Client, policies } = (await import("cassandra-driver")).default;
    const consistency = this.opts.consistency ?? "LOCAL_QUORUM";
    this.clock ??= new policies.timestampGeneration.MonotonicTimestampGenerator(1000, 1000);
    const port = nativePort(this.opts.contactPoints);
    const client = new Client({
      contactPoints: this.opts.contactPoints,
      // The nodes it discovers are reached at this port too (not 9042), so that a stopped contact
      // point leaves the others serving.
      ...(port === undefined ? {} : { protocolOptions: { port } }),
      localDataCenter: this.opts.localDataCenter,
      policies: { timestampGeneration: this.clock },
      queryOptions: {
        consistency: LEVEL[consistency],
        serialConsistency: consistency.startsWith("LOCAL_") ? LOCAL_SERIAL : SERIAL,
        prepare: true,
      },
    });
    try {
      await client.connect();
    } catch (e) {
      await client.shutdown().catch(() => undefined);
      // NoHostAvailableError: one error per node tried, in innerErrors.
      const inner = (e as { innerErrors?: Record<string, Error> }).innerErrors;
      const why = inner && Object.keys(inner).length > 0
        ? Object.entries(inner).map(([host, err]) => `${host}: ${err.message}`).join("; ")
        : (e as Error).message;
      throw new StorageUnavailableError(`cassandra at ${this.opts.contactPoints.join(", ")}: ${why.replace(/\s+/g, " ")}`, { cause: e });
    }
    try {
      // DDL one statement at a time: each waits for schema agreement before the next refers to it.
      for (const cql of schemaStatements(this.opts)) await client.execute(cql, [], { prepare: false });
    } catch (e) {
      await client.shutdown().catch(() => undefined);
      throw e;
    }
    return client;
  }

  /**
   * A statement other than a lightweight transaction: written with the client's timestamp, so
   * running it twice does what running it once does (idempotent, for the driver), and one whose
   * coordinator fails in the middle (a node stopped, its socket closed, a timeout) is tried again
   * on the next node instead of failing.
   */
  async execute(cql: string, params: unknown[], opts?: QueryOptions): Promise<ResultSet> {
    const c = await this.client();
    return c.execute(cql, params, { prepare: true, isIdempotent: true, ...opts });
  }

  /** Every row of a query, page after page. */
  async all(cql: string, params: unknown[], opts?: QueryOptions): Promise<Row[]> {
    const rows: Row[] = [];
    for await (const row of await this.execute(cql, params, opts)) rows.push(row);
    return rows;
  }

  /** A lightweight transaction: whether its condition held and it was applied. */
  async applied(cql: string, params: unknown[]): Promise<boolean> {
    // Not tried again by the driver: a second run of one that was applied would say it was not.
    return (await this.execute(cql, params, { isIdempotent: false })).wasApplied();
  }

  /**
   * A write timestamp from the same monotonic clock as every write of this client: a delete
   * made with it removes what was written before it and none of what is written after, which
   * lets clear() and purgeOwner() delete what they read without erasing a concurrent append.
   */
  async timestamp(): Promise<number> {
    const c = await this.client();
    const t = this.clock!.next(c);
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
