import { describe, expect, it } from "vitest";
import { MemoryStorage } from "./memory.ts";
import type { LogStore } from "./types.ts";
import { ArchiveQueue, type QueuedEntry } from "./archive-queue.ts";
import { StorageFullError } from "./errors.ts";

const entry = (i: number, owner = "juliet@capulet.lit"): QueuedEntry =>
  ({ owner, id: `id${String(i).padStart(6, "0")}`, at: i, with: "romeo@montague.lit", value: `<message>${i}</message>`, expires: 0 });
const tick = () => new Promise((r) => setImmediate(r));

/** A store whose appends wait until the test opens the gate. */
function gated(): { store: LogStore; calls: number[]; open(): void; fail: { next: number } } {
  const inner = new MemoryStorage().log("mam");
  let release: () => void = () => {};
  let gate = new Promise<void>((r) => (release = r));
  const calls: number[] = [];
  const fail = { next: 0 };
  return {
    calls,
    fail,
    open: () => {
      release();
      gate = Promise.resolve();
    },
    store: {
      ...inner,
      append: async (entries) => {
        calls.push(entries.length);
        await gate;
        if (fail.next > 0) {
          fail.next--;
          throw new Error("store down");
        }
        return inner.append(entries);
      },
    },
  };
}

describe("the archive write queue", () => {
  it("writes what arrives in one tick as one batch, without making the pusher wait", async () => {
    const g = gated();
    g.open();
    const q = new ArchiveQueue(g.store, { bound: 100, batch: 50 });
    for (let i = 0; i < 10; i++) expect(q.push(entry(i))).toBeUndefined();
    await q.settled();
    expect(g.calls).toEqual([10]);
    expect(q.stats()).toMatchObject({ depth: 0, queued: 10, written: 10, batches: 1, waits: 0, maxDepth: 10 });
    expect((await g.store.query("juliet@capulet.lit", { limit: 100 })).entries).toHaveLength(10);
  });

  it("splits into batches of the configured size, `parallel` on their way at once, and gathers what arrives during a write", async () => {
    const g = gated();
    const q = new ArchiveQueue(g.store, { bound: 100, batch: 4, parallel: 2 });
    for (let i = 0; i < 10; i++) q.push(entry(i));
    await tick();
    expect(g.calls).toEqual([4, 4]); // two batches are being written, slowly
    for (let i = 10; i < 13; i++) q.push(entry(i));
    g.open();
    await q.settled();
    expect(g.calls).toEqual([4, 4, 4, 1]);
    expect(q.stats()).toMatchObject({ written: 13, batches: 4, waits: 0 });
  });

  it("lets a batch that is not full linger for more entries when none is on its way; an ack waits with it", async () => {
    const g = gated();
    g.open();
    const q = new ArchiveQueue(g.store, { bound: 100, batch: 50, linger: 40 });
    const t0 = performance.now();
    q.push(entry(1));
    await tick();
    q.push(entry(2));
    let acked = 0;
    const ack = q.pendingFor("juliet@capulet.lit")!.then(() => (acked = performance.now() - t0));
    await tick();
    expect(g.calls).toEqual([]); // pushed in two ticks, neither written yet
    await ack;
    expect(g.calls).toEqual([2]);
    expect(acked).toBeGreaterThanOrEqual(35);
    // A full batch does not linger.
    for (let i = 3; i < 53; i++) q.push(entry(i));
    await tick();
    expect(g.calls).toEqual([2, 50]);
  });

  it("a query does not wait for the linger: what its owner has queued goes at once", async () => {
    const g = gated();
    g.open();
    const q = new ArchiveQueue(g.store, { bound: 100, batch: 50, linger: 60_000 });
    q.push(entry(1));
    q.push(entry(2, "romeo@montague.lit"));
    await q.settled("juliet@capulet.lit");
    expect(g.calls).toEqual([2]);
    expect(q.depth).toBe(0);
  });

  it("batches that land out of order: a wait for written entries ends once every batch before them has landed too", async () => {
    const inner = new MemoryStorage().log("mam");
    const releases: (() => void)[] = [];
    const store: LogStore = { ...inner, append: async (entries) => {
      await new Promise<void>((r) => releases.push(r));
      return inner.append(entries);
    } };
    const q = new ArchiveQueue(store, { bound: 100, batch: 2 });
    for (let i = 0; i < 4; i++) q.push(entry(i, i < 2 ? "juliet@capulet.lit" : "romeo@montague.lit"));
    await tick();
    expect(releases).toHaveLength(2);
    let all = false;
    let romeo = false;
    const done = q.settled().then(() => (all = true));
    const romeos = q.settled("romeo@montague.lit").then(() => (romeo = true));
    releases[1]!(); // the second batch (Romeo's) lands first
    await tick();
    await tick();
    // Written is a watermark over the order of arrival: Juliet's batch is still on its way.
    expect([all, romeo, q.depth]).toEqual([false, false, 2]);
    releases[0]!();
    await Promise.all([done, romeos]);
    expect(q.stats()).toMatchObject({ depth: 0, written: 4, batches: 2 });
  });

  it("makes pushers wait only once the bound is reached (their entries queued all the same), and releases them in order as room frees", async () => {
    const g = gated();
    const q = new ArchiveQueue(g.store, { bound: 5, batch: 2 });
    for (let i = 0; i < 5; i++) expect(q.push(entry(i))).toBeUndefined();
    expect(q.stats().waits).toBe(0);
    const order: number[] = [];
    const sixth = q.push(entry(5))!.then(() => order.push(5));
    const seventh = q.push(entry(6))!.then(() => order.push(6));
    expect(q.stats()).toMatchObject({ waits: 2, depth: 7 });
    await tick();
    expect(order).toEqual([]);
    g.open();
    await Promise.all([sixth, seventh]);
    expect(order).toEqual([5, 6]);
    await q.flush();
    expect(q.stats()).toMatchObject({ written: 7, maxDepth: 7 });
    expect((await g.store.query("juliet@capulet.lit", { limit: 10 })).entries.map((e) => e.at)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it("flushes everything, pushes that wait for room included", async () => {
    const g = gated();
    const q = new ArchiveQueue(g.store, { bound: 2, batch: 1 });
    for (let i = 0; i < 6; i++) void q.push(entry(i));
    const flushed = q.flush();
    g.open();
    await flushed;
    expect(q.stats()).toMatchObject({ depth: 0, written: 6, waits: 4 });
  });

  it("lets a query wait for its owner's writes only", async () => {
    const g = gated();
    const q = new ArchiveQueue(g.store, { bound: 10, batch: 10 });
    q.push(entry(1, "juliet@capulet.lit"));
    let settled = false;
    const juliet = q.settled("juliet@capulet.lit").then(() => (settled = true));
    await expect(q.settled("romeo@montague.lit")).resolves.toBeUndefined();
    await tick();
    expect(settled).toBe(false);
    g.open();
    await juliet;
    expect(settled).toBe(true);
  });

  it("retries a failed batch and counts it; gives up after the attempts, and says so", async () => {
    const g = gated();
    g.open();
    const errors: number[] = [];
    const q = new ArchiveQueue(g.store, { bound: 10, batch: 10, attempts: 2, retryMs: 1, onError: (_e, dropped) => errors.push(dropped) });
    g.fail.next = 1;
    q.push(entry(1));
    await q.settled();
    expect(q.stats()).toMatchObject({ written: 1, failures: 1, dropped: 0 });
    g.fail.next = 2;
    q.push(entry(2));
    await q.settled();
    expect(q.stats()).toMatchObject({ written: 1, failures: 3, dropped: 1 });
    expect(errors).toEqual([0, 0, 1]);
  });

  it("deletes a deleted owner's archive with what is queued for it, pushes waiting for room included", async () => {
    const g = gated();
    const q = new ArchiveQueue(g.store, { bound: 2, batch: 1 });
    q.push(entry(1, "romeo@montague.lit"));
    await tick(); // entry 1 is being written
    q.push(entry(2, "juliet@capulet.lit"));
    const waiting = q.push(entry(3, "juliet@capulet.lit"))!;
    const done = q.discard("juliet@capulet.lit");
    g.open();
    await Promise.all([waiting, done]);
    await q.settled();
    expect((await g.store.query("juliet@capulet.lit", { limit: 10 })).entries).toEqual([]);
    expect((await g.store.query("romeo@montague.lit", { limit: 10 })).entries).toHaveLength(1);
  });
});

describe("the archive write queue with the store out of space", () => {
  it("never drops a batch refused for lack of space, and lets readers read what is stored meanwhile", async () => {
    const inner = new MemoryStorage().log("mam");
    let full = true;
    const store: LogStore = {
      ...inner,
      append: async (entries) => {
        if (full) throw new StorageFullError("database or disk is full");
        return inner.append(entries);
      },
    };
    const errors: number[] = [];
    const q = new ArchiveQueue(store, { bound: 100, batch: 50, linger: 0, attempts: 2, retryMs: 5, onError: (_e, dropped) => errors.push(dropped) });
    q.push(entry(1));
    let written = false;
    void q.settled("juliet@capulet.lit").then(() => (written = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(written).toBe(false);
    expect(q.stats().dropped).toBe(0);
    expect(errors).toEqual([0]); // the first refusal is reported, the retries say nothing new
    await q.readable("juliet@capulet.lit"); // at once while the store is full
    full = false;
    await q.settled("juliet@capulet.lit");
    expect(q.stats()).toMatchObject({ written: 1, dropped: 0 });
    expect((await inner.query("juliet@capulet.lit", { limit: 10 })).entries).toHaveLength(1);
  });
});
