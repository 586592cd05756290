import { describe, expect, it } from "vitest";
import { MemoryStorage } from "./memory.ts";
import { ArchiveQuota } from "./archive-quota.ts";
import type { LogEntry, LogStore } from "./types.ts";

const OWNER = "juliet@example.com";
const entry = (i: number): LogEntry & { owner: string } =>
  ({ owner: OWNER, id: `id${String(i).padStart(6, "0")}`, at: i, with: "romeo@example.com", value: `m${i}`, expires: 0 });
const entries = (from: number, n: number) => Array.from({ length: n }, (_, i) => entry(from + i));

/** A log whose counts in the store are counted. */
function counted(): { log: LogStore; raw: LogStore; counts: () => number } {
  const raw = new MemoryStorage().log("mam");
  let n = 0;
  return { log: { ...raw, count: (owner, q) => (n++, raw.count(owner, q)) }, raw, counts: () => n };
}

/** Tells the quota of `writes` entries written for OWNER, and waits for the counts that starts. */
async function tell(quota: ArchiveQuota, writes = 1): Promise<void> {
  quota.written(Array<string>(writes).fill(OWNER));
  await quota.settled();
}

describe("an archive's quota", () => {
  it("counts an owner's archive at its first write and drops the oldest beyond the quota, in chunks, keeping the newest", async () => {
    const log = new MemoryStorage().log("mam");
    const quota = new ArchiveQuota(log, { entries: 1000 });
    await log.append(entries(0, 1700));
    await tell(quota);
    expect(await log.count(OWNER, {})).toBe(1000);
    const oldest = await log.query(OWNER, { limit: 1 });
    expect(oldest.entries[0]!.value).toBe("m700");
  });

  it("then believes its count: the store is asked again only once the count passes the quota", async () => {
    const { log, raw, counts } = counted();
    const quota = new ArchiveQuota(log, { entries: 1000, recount: 500 });
    await log.append(entries(0, 990));
    await tell(quota);
    expect(counts()).toBe(1);
    await log.append(entries(990, 10));
    await tell(quota, 10); // 1,000: at the quota, not past it
    expect(counts()).toBe(1);
    await log.append(entries(1000, 5));
    await tell(quota, 5);
    expect(counts()).toBe(2);
    expect(await raw.count(OWNER, {})).toBe(1000);
    expect((await raw.query(OWNER, { limit: 1 })).entries[0]!.value).toBe("m5");
  });

  it("asks the store again after `recount` writes, and so finds what others wrote (another node of a cluster)", async () => {
    const { log, raw, counts } = counted();
    const quota = new ArchiveQuota(log, { entries: 1000, recount: 10 });
    await log.append(entries(0, 1));
    await tell(quota);
    await log.append(entries(1, 2000)); // written elsewhere: this process is not told
    await tell(quota, 9);
    expect(counts()).toBe(1);
    expect(await raw.count(OWNER, {})).toBe(2001);
    await tell(quota);
    expect(counts()).toBe(2);
    expect(await raw.count(OWNER, {})).toBe(1000);
  });

  it("writes while a count is on its way do not start another; a forgotten owner is counted again", async () => {
    const { log, counts } = counted();
    const quota = new ArchiveQuota(log, { entries: 100 });
    await log.append(entries(0, 50));
    await tell(quota, 20);
    expect(counts()).toBe(1);
    quota.forget(OWNER);
    await tell(quota);
    expect(counts()).toBe(2);
  });

  it("its recount defaults to 10% of the quota, between 1 and 1,000", async () => {
    const { log, counts } = counted();
    const quota = new ArchiveQuota(log, { entries: 20 });
    await log.append(entries(0, 5));
    await tell(quota);
    await tell(quota); // one write since: not yet
    expect(counts()).toBe(1);
    await tell(quota); // two: 10% of 20
    expect(counts()).toBe(2);
  });

  it("reports a failed count and asks again at the next write", async () => {
    const log = new MemoryStorage().log("mam");
    const errors: unknown[] = [];
    const quota = new ArchiveQuota({ ...log, count: () => Promise.reject(new Error("disk")) }, { entries: 1, onError: (e) => errors.push(e) });
    await tell(quota);
    await tell(quota);
    expect(errors).toHaveLength(2);
  });
});
