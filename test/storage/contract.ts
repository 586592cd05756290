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

    describe("logs", () => {
      const entry = (id: string, at: number, w = "b@x/r", expires = 0) => ({ owner: "a@x", id, at, with: w, value: `<m id='${id}'/>`, expires });
      const ids = (p: { entries: { id: string }[] }) => p.entries.map((e) => e.id);

      it("appends in id order whatever the arrival order, and a retry does not duplicate", async () => {
        const log = s.log("archive");
        await log.append([entry("003", 3), entry("001", 1)]);
        await log.append([entry("002", 2), entry("001", 1)]);
        await log.append([{ ...entry("001", 1), owner: "z@x" }]);
        const page = await log.query("a@x", { limit: 10 });
        expect(ids(page)).toEqual(["001", "002", "003"]);
        expect(page.complete).toBe(true);
        expect(page.entries[0]).toEqual({ id: "001", at: 1, with: "b@x/r", value: "<m id='001'/>", expires: 0 });
        expect(await log.count("a@x", {})).toBe(3);
        expect(await s.log("offline").count("a@x", {})).toBe(0);
      });

      it("pages forward and backward with exclusive id bounds", async () => {
        const log = s.log("archive");
        await log.append(Array.from({ length: 10 }, (_, i) => entry(`00${i}`, i)));
        const first = await log.query("a@x", { limit: 4 });
        expect(ids(first)).toEqual(["000", "001", "002", "003"]);
        expect(first.complete).toBe(false);
        const next = await log.query("a@x", { limit: 4, after: "003" });
        expect(ids(next)).toEqual(["004", "005", "006", "007"]);
        const last = await log.query("a@x", { limit: 4, after: "007" });
        expect(ids(last)).toEqual(["008", "009"]);
        expect(last.complete).toBe(true);
        const back = await log.query("a@x", { limit: 3, fromEnd: true });
        expect(ids(back)).toEqual(["007", "008", "009"]);
        expect(back.complete).toBe(false);
        const before = await log.query("a@x", { limit: 3, fromEnd: true, before: "002" });
        expect(ids(before)).toEqual(["000", "001"]);
        expect(before.complete).toBe(true);
        expect(ids(await log.query("a@x", { limit: 10, after: "002", before: "005" }))).toEqual(["003", "004"]);
      });

      it("filters by time, by bare or full JID, and by ids", async () => {
        const log = s.log("archive");
        await log.append([entry("1", 100, "b@x/phone"), entry("2", 200, "b@x/pc"), entry("3", 300, "c@x"), entry("4", 400, "x")]);
        expect(ids(await log.query("a@x", { limit: 9, with: "b@x" }))).toEqual(["1", "2"]);
        expect(ids(await log.query("a@x", { limit: 9, with: "b@x/pc" }))).toEqual(["2"]);
        expect(ids(await log.query("a@x", { limit: 9, with: "x" }))).toEqual(["4"]);
        expect(ids(await log.query("a@x", { limit: 9, start: 200, end: 300 }))).toEqual(["2", "3"]);
        expect(ids(await log.query("a@x", { limit: 9, ids: ["4", "1", "nope"] }))).toEqual(["1", "4"]);
        expect(await log.count("a@x", { with: "b@x", start: 150 })).toBe(1);
      });

      it("replaces an entry's payload, keeping its place, time, correspondent and expiry", async () => {
        const log = s.log("archive");
        await log.append([entry("1", 100, "b@x/phone"), entry("2", 200, "c@x", 5000), entry("3", 300, "b@x/pc")]);
        expect(await log.replace("a@x", "2", "<tombstone/>")).toBe(true);
        expect(await log.replace("a@x", "9", "<nothing/>")).toBe(false);
        expect(await log.replace("z@x", "1", "<nothing/>")).toBe(false);
        const page = await log.query("a@x", { limit: 9 });
        expect(page.entries.map((e) => [e.id, e.value])).toEqual([["1", "<m id='1'/>"], ["2", "<tombstone/>"], ["3", "<m id='3'/>"]]);
        expect(page.entries[1]).toMatchObject({ at: 200, with: "c@x", expires: 5000 });
        // Found by its correspondent as before, with the new payload.
        expect((await log.query("a@x", { limit: 9, with: "c@x" })).entries.map((e) => e.value)).toEqual(["<tombstone/>"]);
        expect(await log.count("a@x", {})).toBe(3);
        // Expiry still applies to it; a removed entry is not brought back.
        expect(await log.expire(5000)).toBe(1);
        expect(await log.replace("a@x", "2", "<again/>")).toBe(false);
        await log.remove("a@x", ["1"]);
        expect(await log.replace("a@x", "1", "<again/>")).toBe(false);
        expect(ids(await log.query("a@x", { limit: 9 }))).toEqual(["3"]);
      });

      it("removes, clears and expires entries", async () => {
        const log = s.log("offline");
        await log.append([entry("1", 1, "b@x", 1000), entry("2", 2, "b@x", 0), entry("3", 3, "b@x", 5000), { ...entry("9", 9), owner: "z@x" }]);
        await log.remove("a@x", ["2"]);
        expect(ids(await log.query("a@x", { limit: 9 }))).toEqual(["1", "3"]);
        expect(await log.expire(1000)).toBe(1);
        expect(ids(await log.query("a@x", { limit: 9 }))).toEqual(["3"]);
        await log.clear("a@x");
        expect(await log.count("a@x", {})).toBe(0);
        expect(await log.count("z@x", {})).toBe(1);
        await s.purgeOwner("z@x");
        expect(await log.count("z@x", {})).toBe(0);
      });
    });

    if (reopen) {
      it("survives a restart", async () => {
        await s.keyval("accounts").set("a@x", { k: 1 });
        await s.map("roster").set("a@x", "b@x", { sub: "both" });
        await s.log("offline").append([{ owner: "a@x", id: "1", at: 1, with: "b@x", value: "v", expires: 0 }]);
        s = await reopen(s);
        expect((await s.log("offline").query("a@x", { limit: 1 })).entries[0]?.value).toBe("v");
        expect(await s.keyval("accounts").get("a@x")).toEqual({ k: 1 });
        expect(await s.map("roster").get("a@x", "b@x")).toEqual({ sub: "both" });
      });
    }
  });
}
