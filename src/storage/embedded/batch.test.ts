import { describe, expect, it } from "vitest";
import { DatabaseSync } from "node:sqlite";
import { BatchRunner, PAUSE_EVERY, PAUSE_ROWS_MAX, joinRows, migrate, type Operation } from "./batch.ts";

const put = (key: string, bytes: number): Operation => [["run", "INSERT INTO keyval (store, owner, value) VALUES ('t', ?, ?)", [key, "x".repeat(bytes)]]];

describe("a batch when the database is full (SQLITE_FULL)", () => {
  it("fails every operation as full, keeps nothing of it, and leaves the connection usable for the next batch", () => {
    const db = new DatabaseSync(":memory:");
    migrate(db);
    const runner = new BatchRunner(db);
    expect(runner.runBatch([put("small", 10)])).toEqual([{ ok: 1 }]);
    // The database may not grow: what needs a new page finds no room, as on a full disk.
    const pages = Number((db.prepare("PRAGMA page_count").get() as { page_count: number }).page_count);
    db.exec(`PRAGMA max_page_count = ${pages}`);
    const outcomes = runner.runBatch([put("a", 10), put("big", 200_000), put("b", 10)]);
    expect(outcomes.every((o) => "full" in o && o.full)).toBe(true);
    expect(db.isTransaction).toBe(false);
    expect(db.prepare("SELECT owner FROM keyval ORDER BY owner").all().map((r) => r.owner)).toEqual(["small"]);
    // Space is back.
    db.exec("PRAGMA max_page_count = 1073741823");
    expect(runner.runBatch([put("big", 200_000), put("c", 10)])).toEqual([{ ok: 1 }, { ok: 1 }]);
    db.close();
  });

  it("another failure still fails alone", () => {
    const db = new DatabaseSync(":memory:");
    migrate(db);
    const runner = new BatchRunner(db);
    const outcomes = runner.runBatch([put("a", 1), [["run", "INSERT INTO nowhere VALUES (1)", []]], put("b", 1)]);
    expect(outcomes[0]).toEqual({ ok: 1 });
    expect("error" in outcomes[1]! && !("full" in outcomes[1]!)).toBe(true);
    expect(outcomes[2]).toEqual({ ok: 1 });
    db.close();
  });
});

describe("a batch of rows joined into one string (each)", () => {
  const sql = "INSERT INTO keyval (store, owner, value) VALUES (?, ?, ?)";

  it("runs the statement once per row, numbers stored as numbers by the column's affinity", () => {
    const db = new DatabaseSync(":memory:");
    migrate(db);
    const runner = new BatchRunner(db);
    expect(runner.runBatch([[["each", sql, joinRows(["t", "a", "<x/>", "t", "b", "<y a='1'/>"]), 2, 3]]])).toEqual([{ ok: 2 }]);
    expect(db.prepare("SELECT owner, value FROM keyval ORDER BY owner").all().map((r) => [r.owner, r.value])).toEqual([["a", "<x/>"], ["b", "<y a='1'/>"]]);
    db.exec("CREATE TABLE n (v INTEGER)");
    runner.runBatch([[["each", "INSERT INTO n VALUES (?)", joinRows([1733570000123]), 1, 1]]]);
    expect(db.prepare("SELECT typeof(v) AS t, v FROM n").get()).toEqual({ t: "integer", v: 1733570000123 });
    db.close();
  });

  it("fails the whole batch, writing nothing, when a value held the separator", () => {
    const db = new DatabaseSync(":memory:");
    migrate(db);
    const runner = new BatchRunner(db);
    const [outcome] = runner.runBatch([[["each", sql, joinRows(["t", "a", "bad\0value", "t", "b", "ok"]), 2, 3]]]);
    expect(outcome).toMatchObject({ error: expect.stringMatching(/2 rows of 3 values came as 7/) });
    expect(db.prepare("SELECT COUNT(*) AS n FROM keyval").get()).toEqual({ n: 0 });
    db.close();
  });
});

describe("the writer's pauses between rows", () => {
  it(`come every ${PAUSE_EVERY} rows of a statement of few rows, inside its transaction, and never in one of more than ${PAUSE_ROWS_MAX}`, () => {
    const db = new DatabaseSync(":memory:");
    db.exec("CREATE TABLE n (v INTEGER)");
    const seen: number[] = [];
    const runner = new BatchRunner(db, () => seen.push(Number((db.prepare("SELECT COUNT(*) AS c FROM n").get() as { c: number }).c)));
    const rows = (k: number) => joinRows(Array.from({ length: k }, (_, i) => i));
    expect(runner.runBatch([[["each", "INSERT INTO n VALUES (?)", rows(20), 20, 1]]])).toEqual([{ ok: 20 }]);
    // Rows written so far at each pause, seen from within the open transaction.
    expect(seen).toEqual([PAUSE_EVERY, 2 * PAUSE_EVERY]);
    seen.length = 0;
    expect(runner.runBatch([[["each", "INSERT INTO n VALUES (?)", rows(PAUSE_ROWS_MAX + 1), PAUSE_ROWS_MAX + 1, 1]]])).toEqual([{ ok: PAUSE_ROWS_MAX + 1 }]);
    expect(seen).toEqual([]);
    db.close();
  });
});
