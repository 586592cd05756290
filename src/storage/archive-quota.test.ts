import { describe, expect, it } from "vitest";
import { MemoryStorage } from "./memory.ts";
import { ArchiveQuota } from "./archive-quota.ts";
import type { LogEntry } from "./types.ts";

const entry = (i: number): LogEntry & { owner: string } =>
  ({ owner: "juliet@example.com", id: `id${String(i).padStart(6, "0")}`, at: i, with: "romeo@example.com", value: `m${i}`, expires: 0 });

describe("an archive's quota", () => {
  it("drops the oldest entries beyond it once `slack` entries were written, in chunks, and keeps the newest", async () => {
    const log = new MemoryStorage().log("mam");
    const quota = new ArchiveQuota(log, { entries: 1000, slack: 10 });
    const all = Array.from({ length: 1700 }, (_, i) => entry(i));
    await log.append(all);
    quota.written(Array(9).fill("juliet@example.com"));
    await quota.settled();
    expect(await log.count("juliet@example.com", {})).toBe(1700); // not checked yet
    quota.written(["juliet@example.com"]);
    await quota.settled();
    expect(await log.count("juliet@example.com", {})).toBe(1000);
    const oldest = await log.query("juliet@example.com", { limit: 1 });
    expect(oldest.entries[0]!.value).toBe("m700");
  });

  it("its slack defaults to 1% of the quota, between 1 and 100", async () => {
    const log = new MemoryStorage().log("mam");
    await log.append(Array.from({ length: 30 }, (_, i) => entry(i)));
    const small = new ArchiveQuota(log, { entries: 20 });
    small.written(["juliet@example.com"]);
    await small.settled();
    expect(await log.count("juliet@example.com", {})).toBe(20);
  });

  it("reports a failed trim and goes on", async () => {
    const log = new MemoryStorage().log("mam");
    const errors: unknown[] = [];
    const quota = new ArchiveQuota({ ...log, count: () => Promise.reject(new Error("disk")) }, { entries: 1, slack: 1, onError: (e) => errors.push(e) });
    quota.written(["juliet@example.com"]);
    await quota.settled();
    expect(errors).toHaveLength(1);
  });
});
