// The storage contract: one suite, run against every backend (embedded SQLite, memory; Redis and
// Cassandra join when they land). A backend is correct when it passes this file unchanged.
import { describe, expect, it, beforeEach, afterEach } from "vitest";
import type { StorageProvider } from "../../src/storage/types.ts";

export function storageContract(name: string, open: () => Promise<StorageProvider>, reopen?: (old: StorageProvider) => Promise<StorageProvider>): void {
  describe(`storage contract: ${name}`, () => {
    let s: StorageProvider;
    beforeEach(async () => { s = await open(); });
    afterEach(async () => { await s.close(); });

    it("keeps one value per owner and deletes on undefined", async () => {
      const kv = s.keyval<{ n: number }>("prefs");
      expect(await kv.get("a@x")).toBeUndefined();
      await kv.set("a@x", { n: 1 });
      await kv.set("a@x", { n: 2 });
      expect(await kv.get("a@x")).toEqual({ n: 2 });
      expect(await s.keyval("other").get("a@x")).toBeUndefined();
      await kv.set("a@x", undefined);
      expect(await kv.get("a@x")).toBeUndefined();
    });

    it("adds a value only when there is none, atomically", async () => {
      const kv = s.keyval<number>("accounts");
      const results = await Promise.all([kv.add("a@x", 1), kv.add("a@x", 2), kv.add("a@x", 3)]);
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await kv.get("a@x")).toBe(results.indexOf(true) + 1);
    });

    it("lists the owners of a key-value store in order", async () => {
      const kv = s.keyval<number>("accounts");
      await kv.set("b@x", 1);
      await kv.set("a@x", 2);
      expect(await s.owners("accounts")).toEqual(["a@x", "b@x"]);
    });

    it("keeps many keyed values per owner", async () => {
      const m = s.map<string>("roster");
      await m.set("a@x", "b@x", "one");
      await m.set("a@x", "c@x", "two");
      await m.set("z@x", "b@x", "other owner");
      expect(await m.get("a@x", "c@x")).toBe("two");
      expect([...(await m.getAll("a@x"))].sort()).toEqual([["b@x", "one"], ["c@x", "two"]]);
      await m.set("a@x", "b@x", undefined);
      expect([...(await m.getAll("a@x")).keys()]).toEqual(["c@x"]);
      await m.clear("a@x");
      expect((await m.getAll("a@x")).size).toBe(0);
      expect(await m.get("z@x", "b@x")).toBe("other owner");
    });

    it("purges everything an owner has", async () => {
      await s.keyval("accounts").set("a@x", 1);
      await s.map("roster").set("a@x", "k", 1);
      await s.keyval("accounts").set("b@x", 1);
      await s.purgeOwner("a@x");
      expect(await s.keyval("accounts").get("a@x")).toBeUndefined();
      expect(await s.map("roster").get("a@x", "k")).toBeUndefined();
      expect(await s.keyval("accounts").get("b@x")).toBe(1);
    });

    it("keeps values with any characters intact", async () => {
      const v = { xml: `<vCard xmlns="vcard-temp"><FN>Ju'li"et &amp; ☃ 𝄞</FN></vCard>` };
      await s.keyval<typeof v>("vcard").set("a@x", v);
      expect(await s.keyval("vcard").get("a@x")).toEqual(v);
    });

    if (reopen) {
      it("survives a restart", async () => {
        await s.keyval("accounts").set("a@x", { k: 1 });
        await s.map("roster").set("a@x", "b@x", { sub: "both" });
        s = await reopen(s);
        expect(await s.keyval("accounts").get("a@x")).toEqual({ k: 1 });
        expect(await s.map("roster").get("a@x", "b@x")).toEqual({ sub: "both" });
      });
    }
  });
}
