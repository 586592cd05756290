import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterAll, describe, expect, it } from "vitest";
import { WAL_CHECKPOINT_PAGES } from "../../src/storage/embedded/batch.ts";
import { SqliteStorage } from "../../src/storage/embedded/sqlite.ts";
import { MemoryStorage } from "../../src/storage/memory.ts";
import { ArchiveQueue } from "../../src/storage/archive-queue.ts";
import { storageContract } from "./contract.ts";

const dir = mkdtempSync(join(tmpdir(), "xmppd-store-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

storageContract("embedded sqlite", async () => new SqliteStorage(join(dir, `db${n++}.sqlite`)), async (old) => {
  const path = join(dir, `db${n - 1}.sqlite`);
  await old.close();
  return new SqliteStorage(path);
});
storageContract("embedded sqlite, inline writes", async () => new SqliteStorage(join(dir, `db${n++}.sqlite`), { writer: "inline" }), async (old) => {
  const path = join(dir, `db${n - 1}.sqlite`);
  await old.close();
  return new SqliteStorage(path, { writer: "inline" });
});
storageContract("memory", async () => new MemoryStorage());

describe("the embedded store's writer thread", () => {
  const entry = (i: number) => ({ owner: "juliet@localhost", id: String(i).padStart(15, "0"), at: i, with: "romeo@localhost", value: `m${i}`, expires: 0 });

  it("commits the writes that queue up while it is busy together (group commit), each resolved once on disk", async () => {
    const path = join(dir, `group${n++}.sqlite`);
    const store = new SqliteStorage(path);
    const log = store.log("offline");
    const writes = Array.from({ length: 2000 }, (_, i) => log.append([entry(i)]));
    await Promise.all(writes);
    const { commits, operations, pending } = store.stats();
    expect(operations).toBe(2000);
    expect(pending).toBe(0);
    expect(commits).toBeLessThan(200); // batched: not one fsync per write
    // Resolved means committed: another connection to the file sees every row.
    const other = new DatabaseSync(path);
    expect((other.prepare("SELECT COUNT(*) AS n FROM log").get() as { n: number }).n).toBe(2000);
    other.close();
    await store.close();
  });

  it(`lets the write-ahead log grow to ${WAL_CHECKPOINT_PAGES} pages before the checkpoint, not SQLite's 1,000`, async () => {
    const path = join(dir, `wal${n++}.sqlite`);
    const store = new SqliteStorage(path);
    const log = store.log("mam");
    const big = "x".repeat(2000);
    // 60 commits of 100 kB: with the default the log would be checkpointed and reused at 4 MB.
    for (let c = 0; c < 60; c++) await log.append(Array.from({ length: 50 }, (_, i) => ({ ...entry(c * 50 + i), value: big })));
    const walBytes = statSync(`${path}-wal`).size;
    expect(walBytes).toBeGreaterThan(6 * 2 ** 20);
    expect(walBytes).toBeLessThan(WAL_CHECKPOINT_PAGES * 4096 * 1.1);
    await store.close();
  });

  it("a read sees the writes made before it, awaited or not", async () => {
    const store = new SqliteStorage(join(dir, `ryw${n++}.sqlite`));
    const kv = store.keyval<number>("counter");
    const map = store.map<string>("roster");
    void kv.set("juliet@localhost", 1);
    void map.set("juliet@localhost", "romeo@localhost", "both");
    expect(await kv.get("juliet@localhost")).toBe(1);
    expect(await map.getAll("juliet@localhost")).toEqual(new Map([["romeo@localhost", "both"]]));
    void kv.set("juliet@localhost", undefined);
    expect(await kv.get("juliet@localhost")).toBeUndefined();
    expect(await kv.add("juliet@localhost", 2)).toBe(true);
    expect(await kv.add("juliet@localhost", 3)).toBe(false);
    await store.close();
  });

  it.each(["thread", "inline"] as const)("a read made again in the same turn is answered from that turn, a write to what it reads is seen at once, and the next turn reads the file (%s writes)", async (writer) => {
    const path = join(dir, `turn${n++}.sqlite`);
    const store = new SqliteStorage(path, { writer });
    const kv = store.keyval<number>("counter");
    const map = store.map<string>("push");
    const log = store.log("archive");
    await kv.set("juliet@localhost", 1);
    await map.set("juliet@localhost", "k", "a");
    await log.append([entry(1), entry(2)]);
    await new Promise((r) => setImmediate(r));
    // Another connection changes the rows behind the store's back (nothing does, but it shows where an answer came from).
    const other = new DatabaseSync(path);
    expect(await kv.get("juliet@localhost")).toBe(1);
    expect(await map.getAll("juliet@localhost")).toEqual(new Map([["k", "a"]]));
    expect((await log.query("juliet@localhost", { limit: 1 })).entries.map((e) => e.value)).toEqual(["m1"]);
    other.exec("UPDATE keyval SET value = '5' WHERE owner = 'juliet@localhost'; DELETE FROM map WHERE owner = 'juliet@localhost'");
    expect(await kv.get("juliet@localhost")).toBe(1); // this turn's answer
    expect(await map.getAll("juliet@localhost")).toEqual(new Map([["k", "a"]]));
    // A kept page is the caller's to change: the same query again gets it whole.
    const again = await log.query("juliet@localhost", { limit: 1 });
    expect(again.entries.map((e) => e.value)).toEqual(["m1"]);
    expect(again.complete).toBe(false);
    // A write through the store to what the read saw drops it: the read after it is the file's.
    void kv.set("juliet@localhost", 9);
    expect(await kv.get("juliet@localhost")).toBe(9);
    // A write to another scope leaves the push map's answer kept (inline, the write took no turn;
    // with the thread, the read behind it waited for the writer, and that turn has ended).
    if (writer === "inline") expect(await map.getAll("juliet@localhost")).toEqual(new Map([["k", "a"]]));
    await new Promise((r) => setImmediate(r));
    expect(await map.getAll("juliet@localhost")).toEqual(new Map()); // a new turn: the file again
    other.close();
    await store.close();
  });

  it("a read waits only for the writes to what it reads: other owners' are not in its way", async () => {
    const store = new SqliteStorage(join(dir, `scope${n++}.sqlite`));
    const kv = store.keyval<number>("counter");
    const map = store.map<string>("roster");
    const log = store.log("archive");
    await kv.set("romeo@localhost", 7);
    const before = store.stats().operations;
    // Juliet's writes are on their way; reads of Romeo's rows run here, not behind them in the writer.
    const writes = [kv.set("juliet@localhost", 1), map.set("juliet@localhost", "nurse@localhost", "to"), log.append([entry(1)])];
    expect(await kv.get("romeo@localhost")).toBe(7);
    expect(await map.getAll("romeo@localhost")).toEqual(new Map());
    expect((await log.query("romeo@localhost", { limit: 10 })).entries).toEqual([]);
    expect(store.stats().pending).toBe(3); // answered while all three writes are still on their way
    // A read of Juliet's rows queues behind her writes and sees them.
    expect(await kv.get("juliet@localhost")).toBe(1);
    expect(await map.get("juliet@localhost", "nurse@localhost")).toBe("to");
    expect((await log.query("juliet@localhost", { limit: 10 })).entries.map((e) => e.value)).toEqual(["m1"]);
    await Promise.all(writes);
    expect(store.stats().operations - before).toBe(4); // the 3 writes and Juliet's first read; Romeo's never went there
    // A purge of an owner is in the way of every read of that owner, in any store.
    const purge = store.purgeOwner("romeo@localhost");
    expect(await kv.get("romeo@localhost")).toBeUndefined();
    await purge;
    await store.close();
  });

  it("a batch of log entries of many owners is one operation; after thousands of owners' writes have landed, their reads run here again", async () => {
    const store = new SqliteStorage(join(dir, `prune${n++}.sqlite`));
    const kv = store.keyval<number>("counter");
    const log = store.log("archive");
    const owners = Array.from({ length: 5000 }, (_, i) => `u${i}@localhost`);
    const sets = Promise.all(owners.map((o, i) => kv.set(o, i)));
    expect(await kv.get(owners[4999]!)).toBe(4999); // behind its write
    await sets;
    const before = store.stats().operations;
    const batch = owners.slice(0, 3).map((owner, i) => ({ ...entry(i + 1), owner }));
    const appended = log.append(batch);
    expect(store.stats().pending).toBe(1);
    // The first owner's read queues behind the batch; each owner sees its own entry.
    for (const [i, o] of owners.slice(0, 3).entries()) expect((await log.query(o, { limit: 10 })).entries.map((e) => e.value)).toEqual([`m${i + 1}`]);
    await appended;
    // Landed writes (some of them remembered past the pruning, some pruned) hold no read up.
    const reads = store.stats().operations;
    for (const o of [owners[0]!, owners[2500]!, owners[4999]!]) expect(await kv.get(o)).toBe(owners.indexOf(o));
    expect(store.stats().operations).toBe(reads);
    expect(reads - before).toBe(2); // the batch and the first owner's read, together; the later reads ran here
    await store.close();
  });

  it("a failing write fails alone; the writes committed with it stand", async () => {
    const path = join(dir, `fail${n++}.sqlite`);
    const store = new SqliteStorage(path);
    // A value with a NUL in it (no XML has one) does not come out as its batch's values: this write must fail.
    const bad = store.log("offline").append([{ ...entry(1), value: "m\u00001" }]);
    const good = store.log("offline").append([entry(2)]);
    const kv = store.keyval<string>("vcard").set("juliet@localhost", "<vCard/>");
    await expect(bad).rejects.toThrow(/1 rows of 8 values came as 9/);
    await good;
    await kv;
    expect((await store.log("offline").query("juliet@localhost", { limit: 10 })).entries.map((e) => e.value)).toEqual(["m2"]);
    expect(await store.keyval<string>("vcard").get("juliet@localhost")).toBe("<vCard/>");
    await store.close();
  });

  it("close waits for the writes on their way; later calls are refused", async () => {
    const path = join(dir, `close${n++}.sqlite`);
    const store = new SqliteStorage(path);
    const log = store.log("mam");
    const writes = Array.from({ length: 100 }, (_, i) => log.append([entry(i)]));
    await store.close();
    await Promise.all(writes);
    await expect(store.keyval("x").set("a", 1)).rejects.toThrow(/stopped/);
    const again = new SqliteStorage(path);
    expect(await again.log("mam").count("juliet@localhost", {})).toBe(100);
    await again.close();
  });

  it("a file from before versions were kept (the log WITHOUT ROWID) is migrated, its entries kept", async () => {
    const path = join(dir, `v0-${n++}.sqlite`);
    const old = new DatabaseSync(path);
    old.exec(`CREATE TABLE log (store TEXT NOT NULL, owner TEXT NOT NULL, id TEXT NOT NULL, at INTEGER NOT NULL,
      with_full TEXT NOT NULL, with_bare TEXT NOT NULL, value TEXT NOT NULL, expires INTEGER NOT NULL,
      PRIMARY KEY (store, owner, id)) WITHOUT ROWID;
      CREATE INDEX log_expires ON log (expires) WHERE expires > 0;
      CREATE INDEX log_owner ON log (owner);
      CREATE INDEX log_with ON log (store, owner, with_bare, id);`);
    const add = old.prepare("INSERT INTO log VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    for (const i of [3, 1, 2]) add.run("mam", "juliet@localhost", String(i).padStart(15, "0"), i, "romeo@localhost/r", "romeo@localhost", `m${i}`, 0);
    old.close();
    const store = new SqliteStorage(path);
    const page = await store.log("mam").query("juliet@localhost", { with: "romeo@localhost", limit: 10 });
    expect(page.entries.map((e) => e.value)).toEqual(["m1", "m2", "m3"]);
    await store.log("mam").append([entry(4)]);
    await store.log("mam").append([entry(4)]); // idempotent under the new unique key too
    expect(await store.log("mam").count("juliet@localhost", {})).toBe(4);
    await store.close();
    const check = new DatabaseSync(path);
    expect((check.prepare("PRAGMA user_version").get() as { user_version: number }).user_version).toBe(2);
    expect(check.prepare("SELECT name FROM sqlite_schema WHERE name LIKE 'log%' ORDER BY name").all().map((r) => r.name)).toEqual(["log", "log_expires", "log_key"]);
    check.close();
  });

  it("a file of version 1 (a second index by contact) is migrated to one key, its entries kept and queries by contact answered from it", async () => {
    const path = join(dir, `v1-${n++}.sqlite`);
    const old = new DatabaseSync(path);
    old.exec(`CREATE TABLE log (store TEXT NOT NULL, owner TEXT NOT NULL, id TEXT NOT NULL, at INTEGER NOT NULL,
      with_full TEXT NOT NULL, with_bare TEXT NOT NULL, value TEXT NOT NULL, expires INTEGER NOT NULL,
      UNIQUE (owner, store, id));
      CREATE INDEX log_expires ON log (expires) WHERE expires > 0;
      CREATE INDEX log_with ON log (owner, store, with_bare, id);
      PRAGMA user_version = 1;`);
    const add = old.prepare("INSERT INTO log VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    for (const i of [1, 2, 3, 4]) add.run("mam", "juliet@localhost", String(i).padStart(15, "0"), i, i % 2 ? "romeo@localhost/r" : "nurse@localhost/n", i % 2 ? "romeo@localhost" : "nurse@localhost", `m${i}`, 0);
    old.close();
    const store = new SqliteStorage(path);
    const page = await store.log("mam").query("juliet@localhost", { with: "nurse@localhost", limit: 10 });
    expect(page.entries.map((e) => e.value)).toEqual(["m2", "m4"]);
    await store.log("mam").append([entry(5), entry(5)]);
    expect(await store.log("mam").count("juliet@localhost", {})).toBe(5);
    await store.close();
    const check = new DatabaseSync(path);
    expect((check.prepare("PRAGMA user_version").get() as { user_version: number }).user_version).toBe(2);
    expect(check.prepare("SELECT name FROM sqlite_schema WHERE name LIKE 'log%' ORDER BY name").all().map((r) => r.name)).toEqual(["log", "log_expires", "log_key"]);
    // A query by contact is answered from the key, without sorting: the rows come in id order.
    const plan = check.prepare("EXPLAIN QUERY PLAN SELECT value FROM log WHERE store = ? AND owner = ? AND with_bare = ? ORDER BY id DESC LIMIT 10")
      .all("mam", "juliet@localhost", "nurse@localhost").map((r) => String(r.detail)).join("; ");
    expect(plan).toMatch(/USING INDEX log_key/);
    expect(plan).not.toMatch(/TEMP B-TREE/);
    check.close();
  });
});

describe("the embedded store's packed batches", () => {
  const values = ["<message>plain</message>", "<message>Grüße, 日本語 and 🙂</message>", `<message>${"long ".repeat(40_000)}</message>`];

  it("hold what an archive queue writes, outside the heap, byte for byte, and give their buffers back", async () => {
    const store = new SqliteStorage(join(dir, `packed${n++}.sqlite`));
    const log = store.log("mam");
    const queue = new ArchiveQueue(log, { bound: 10_000, batch: 700, linger: 0 });
    const owners = ["juliet@localhost", "romeo@localhost", "nurse@localhost"];
    for (let i = 0; i < 3000; i++) {
      queue.push({ owner: owners[i % 3]!, id: String(i).padStart(15, "0"), at: i, with: "benvolio@localhost/tab", value: values[i % 3]!, expires: 0 });
    }
    await queue.flush();
    expect(queue.stats()).toMatchObject({ written: 3000, dropped: 0, batches: 5 });
    for (const [k, owner] of owners.entries()) {
      const page = await log.query(owner, { limit: 2000 });
      expect(page.entries).toHaveLength(1000);
      expect(page.entries.every((e) => e.value === values[k] && e.with === "benvolio@localhost/tab")).toBe(true);
      expect(page.entries.map((e) => e.at)).toEqual(Array.from({ length: 1000 }, (_, j) => 3 * j + k));
      expect(await log.count(owner, { with: "benvolio@localhost" })).toBe(1000); // the bare contact, taken from the packed full JID
    }
    await store.close();
  });

  it("are written again whole after a failed commit, and never twice", async () => {
    const path = join(dir, `packed${n++}.sqlite`);
    const store = new SqliteStorage(path);
    const log = store.log("mam");
    // A trigger refuses every commit that carries id 000000000000042 until the first failure is reported.
    const db = new DatabaseSync(path);
    db.exec("PRAGMA busy_timeout=5000; CREATE TABLE refused (n INTEGER); INSERT INTO refused VALUES (0)");
    db.exec(`CREATE TRIGGER refuse BEFORE INSERT ON log WHEN NEW.id = '000000000000042' AND (SELECT n FROM refused) = 0
      BEGIN SELECT RAISE(ABORT, 'refused'); END`);
    const errors: number[] = [];
    const queue = new ArchiveQueue(log, { bound: 1000, batch: 100, linger: 0, retryMs: 1, onError: (_e, dropped) => {
      errors.push(dropped);
      db.exec("UPDATE refused SET n = 1");
    } });
    for (let i = 0; i < 100; i++) queue.push({ owner: "juliet@localhost", id: String(i).padStart(15, "0"), at: i, with: "romeo@localhost", value: values[i % 2]!, expires: 0 });
    await queue.flush();
    expect(errors).toEqual([0]); // one failure, retried, nothing dropped
    expect(queue.stats()).toMatchObject({ written: 100, failures: 1, dropped: 0 });
    const page = await log.query("juliet@localhost", { limit: 200 });
    expect(page.entries.map((e) => e.at)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    db.close();
    await store.close();
  });
});
