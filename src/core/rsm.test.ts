import { describe, expect, it } from "vitest";
import { xml } from "../xml/element.ts";
import { NS } from "../xml/ns.ts";
import { StanzaError } from "./errors.ts";
import { parseRsm, rsmPage, rsmSet, SortedKeys } from "./rsm.ts";

const query = (...set: ReturnType<typeof xml>[]) => xml("query", { xmlns: NS.discoItems }, set.length ? xml("set", { xmlns: NS.rsm }, ...set) : undefined);
const keys = Array.from({ length: 10 }, (_, i) => `k${i}`);

describe("XEP-0059 requests", () => {
  it("without <set/>, the first page of the cap (§2.6)", () => {
    expect(parseRsm(query(), 50)).toEqual({ max: 50 });
  });

  it("max, after, before and index are read; a max above the cap is brought down to it", () => {
    expect(parseRsm(query(xml("max", null, "5"), xml("after", null, "k3")), 50)).toMatchObject({ max: 5, after: "k3" });
    expect(parseRsm(query(xml("max", null, "500")), 50).max).toBe(50);
    expect(parseRsm(query(xml("before")), 50).before).toBe("");
    expect(parseRsm(query(xml("index", null, "7")), 50).index).toBe(7);
  });

  it("a malformed max or index, or an empty after, is bad-request", () => {
    for (const bad of [xml("max", null, "-1"), xml("max", null, "ten"), xml("index", null, "x"), xml("after")]) {
      expect(() => parseRsm(query(bad), 50)).toThrow(StanzaError);
    }
  });
});

describe("XEP-0059 pages over sorted keys", () => {
  it("pages forwards by after (§2.2) and backwards by before (§2.5)", () => {
    expect(rsmPage(keys, { max: 3 })).toEqual({ keys: ["k0", "k1", "k2"], index: 0, count: 10 });
    expect(rsmPage(keys, { max: 3, after: "k2" })).toEqual({ keys: ["k3", "k4", "k5"], index: 3, count: 10 });
    expect(rsmPage(keys, { max: 3, before: "" })).toEqual({ keys: ["k7", "k8", "k9"], index: 7, count: 10 });
    expect(rsmPage(keys, { max: 3, before: "k7" })).toEqual({ keys: ["k4", "k5", "k6"], index: 4, count: 10 });
    expect(rsmPage(keys, { max: 3, after: "k8" }).keys).toEqual(["k9"]);
  });

  it("jumps to an index (§2.4); max 0 gives the count only (§2.7)", () => {
    expect(rsmPage(keys, { max: 2, index: 5 }).keys).toEqual(["k5", "k6"]);
    expect(rsmPage(keys, { max: 0 })).toEqual({ keys: [], index: 0, count: 10 });
  });

  it("an after or before naming no item is item-not-found", () => {
    expect(() => rsmPage(keys, { max: 3, after: "nope" })).toThrow(/item-not-found/);
    expect(() => rsmPage(keys, { max: 3, before: "k55" })).toThrow(/item-not-found/);
  });

  it("the answer's <set/> has first with its index, last, and count; an empty page the count only", () => {
    const set = rsmSet(rsmPage(keys, { max: 2, after: "k0" }));
    expect(set.getChild("first")!.attrs.index).toBe("1");
    expect(set.getChildText("first")).toBe("k1");
    expect(set.getChildText("last")).toBe("k2");
    expect(set.getChildText("count")).toBe("10");
    const empty = rsmSet(rsmPage(keys, { max: 0 }));
    expect(empty.getChild("first")).toBeUndefined();
    expect(empty.getChildText("count")).toBe("10");
  });
});

describe("SortedKeys", () => {
  it("keeps keys in order without duplicates; adds and deletes by binary search", () => {
    const s = new SortedKeys();
    for (const k of ["m", "c", "x", "c", "a"]) s.add(k);
    expect(s.list).toEqual(["a", "c", "m", "x"]);
    s.delete("m");
    s.delete("zz");
    expect(s.list).toEqual(["a", "c", "x"]);
    expect(s.has("c")).toBe(true);
    expect(s.has("m")).toBe(false);
    expect(s.size).toBe(3);
  });
});
