import { describe, expect, it } from "vitest";
import { CassandraDb } from "./db.ts";

/** The options each statement was run with, on a client that answers every statement "applied". */
function recorded(): { db: CassandraDb; runs: { cql: string; opts: Record<string, unknown> }[] } {
  const runs: { cql: string; opts: Record<string, unknown> }[] = [];
  const db = new CassandraDb({ contactPoints: ["127.0.0.1"], localDataCenter: "dc1", keyspace: "ks", replication: { class: "SimpleStrategy", replication_factor: 1 } });
  const client = {
    execute: (cql: string, _params: unknown[], opts: Record<string, unknown>) => {
      runs.push({ cql, opts });
      return Promise.resolve({ wasApplied: () => true });
    },
  };
  (db as unknown as { client(): Promise<unknown> }).client = () => Promise.resolve(client);
  return { db, runs };
}

describe("statements on Cassandra", () => {
  // A node stopped while it coordinates a write: the driver tries the next node only for
  // statements marked idempotent; without it the write failed and its message bounced.
  it("are tried again on another node when their coordinator fails, except lightweight transactions", async () => {
    const { db, runs } = recorded();
    await db.execute("INSERT INTO ks.log (store) VALUES (?)", ["offline"]);
    await db.execute("DELETE FROM ks.log WHERE store = ?", ["offline"], { timestamp: 1 });
    await db.applied("INSERT INTO ks.keyval (store) VALUES (?) IF NOT EXISTS", ["roster"]);
    expect(runs.map((r) => [r.opts.isIdempotent, r.opts.prepare])).toEqual([[true, true], [true, true], [false, true]]);
    expect(runs[1]!.opts.timestamp).toBe(1);
  });
});
