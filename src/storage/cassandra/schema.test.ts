import { describe, expect, it } from "vitest";
import { IdGenerator } from "../ids.ts";
import { bucketOf, bucketsToRead, monthOf } from "./buckets.ts";
import { schemaStatements } from "./schema.ts";

describe("cassandra log buckets", () => {
  it("numbers months from January 1970, UTC", () => {
    expect(monthOf(0)).toBe(0);
    expect(monthOf(Date.UTC(1970, 11, 31, 23, 59, 59, 999))).toBe(11);
    expect(monthOf(Date.UTC(2025, 11, 1))).toBe(671);
  });

  it("takes the month from one of our ids, so a retry with another `at` lands in the same partition", () => {
    const id = new IdGenerator(0, () => Date.UTC(2025, 11, 31, 23, 59)).next();
    expect(bucketOf({ id, at: Date.UTC(2026, 0, 1) })).toBe(671);
    expect(bucketOf({ id: "imported-1", at: Date.UTC(2026, 0, 1) })).toBe(672);
  });

  it("reads only the buckets the bounds allow, newest first when paging backwards", () => {
    const known = [672, 600, 671, 650];
    expect(bucketsToRead(known, {})).toEqual([600, 650, 671, 672]);
    expect(bucketsToRead(known, {}, true)).toEqual([672, 671, 650, 600]);
    expect(bucketsToRead(known, { start: Date.UTC(2024, 0, 1), end: Date.UTC(2025, 11, 5) })).toEqual([650, 671]);
    const after = new IdGenerator(0, () => Date.UTC(2025, 11, 9)).next();
    expect(bucketsToRead(known, { after }, true)).toEqual([672, 671]);
    // An id not made by us says nothing about its month: every bucket stays.
    expect(bucketsToRead(known, { before: "007" })).toEqual([600, 650, 671, 672]);
  });
});

describe("cassandra schema", () => {
  it("creates the keyspace with the configured replication, then every table", () => {
    const cql = schemaStatements({ keyspace: "xmppd", replication: { class: "NetworkTopologyStrategy", dc1: 3, "dc'2": 2 } });
    expect(cql[0]).toBe("CREATE KEYSPACE IF NOT EXISTS xmppd WITH replication = " +
      "{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc''2': 2} AND durable_writes = true");
    expect(cql.slice(1).map((s) => /TABLE IF NOT EXISTS xmppd\.(\w+)/.exec(s)?.[1])).toEqual(
      ["keyval", "keyval_owners", "map", "log", "log_by_with", "log_partitions", "log_expiry", "log_expiry_days", "owner_stores"]);
  });

  it("refuses a keyspace name CQL would not take unquoted, and a replication without a class", () => {
    expect(() => schemaStatements({ keyspace: "x; DROP", replication: { class: "SimpleStrategy" } })).toThrow(RangeError);
    expect(() => schemaStatements({ keyspace: "xmppd", replication: { dc1: 3 } })).toThrow(/class/);
  });
});
