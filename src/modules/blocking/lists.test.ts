import { describe, expect, it } from "vitest";
import { MemoryStorage } from "../../storage/memory.ts";
import { Blocklists } from "./lists.ts";

describe("Blocklists", () => {
  it("keeps the cache in step with the store through add and remove", async () => {
    const storage = new MemoryStorage();
    const lists = new Blocklists(storage.map<number>("blocklist"));
    expect([...(await lists.get("juliet@x"))]).toEqual([]);
    expect(await lists.add("juliet@x", ["romeo@x", "tybalt@x"], 10)).toEqual(["romeo@x", "tybalt@x"]);
    expect(await lists.add("juliet@x", ["romeo@x", "paris@x"], 10)).toEqual(["paris@x"]);
    expect([...(await lists.get("juliet@x"))].sort()).toEqual(["paris@x", "romeo@x", "tybalt@x"]);
    expect(await lists.items("juliet@x")).toHaveLength(3);
    expect(await lists.remove("juliet@x", ["romeo@x", "nobody@x"])).toEqual(["romeo@x"]);
    expect([...(await lists.get("juliet@x"))].sort()).toEqual(["paris@x", "tybalt@x"]);
    // A fresh instance (another process) reads the same from the store.
    const again = new Blocklists(storage.map<number>("blocklist"));
    expect([...(await again.get("juliet@x"))].sort()).toEqual(["paris@x", "tybalt@x"]);
    expect((await lists.remove("juliet@x", undefined)).sort()).toEqual(["paris@x", "tybalt@x"]);
    expect((await lists.get("juliet@x")).size).toBe(0);
    expect((await storage.map<number>("blocklist").getAll("juliet@x")).size).toBe(0);
  });

  it("refuses to grow past the limit, writing nothing", async () => {
    const lists = new Blocklists(new MemoryStorage().map<number>("blocklist"));
    await lists.add("juliet@x", ["a@x", "b@x"], 3);
    expect(await lists.add("juliet@x", ["c@x", "d@x"], 3)).toBe("full");
    expect((await lists.get("juliet@x")).size).toBe(2);
    expect(await lists.add("juliet@x", ["a@x", "c@x"], 3)).toEqual(["c@x"]);
  });
});
