import { beforeAll, describe, expect, it } from "vitest";
import { xml } from "../../xml/element.ts";
import { MemoryStorage } from "../../storage/memory.ts";
import type { LogStore } from "../../storage/types.ts";
import { finElement, metadata, readPage, resultMessage } from "./archive.ts";
import { parseMamQuery } from "./query.ts";

const OWNER = "juliet@capulet.lit";
const id = (i: number) => `id${String(i).padStart(4, "0")}`;
let log: LogStore;

/** 20 entries: even ones with Romeo, odd ones with the Nurse; entry i archived at second i. */
beforeAll(async () => {
  log = new MemoryStorage().log("mam");
  await log.append(Array.from({ length: 20 }, (_, i) => ({
    owner: OWNER, id: id(i), at: i * 1000, with: i % 2 ? "nurse@capulet.lit/kitchen" : "romeo@montague.lit/orchard",
    value: `<message from="x@y" to="z@w"><body>${i}</body></message>`, expires: 0,
  })));
});

const field = (v: string, value: string) => xml("field", { var: v }, xml("value", null, value));
const page = (fields: [string, string][], set: Record<string, string | undefined>) => readPage(log, OWNER, parseMamQuery(
  xml("query", { xmlns: "urn:xmpp:mam:2" },
    xml("x", { xmlns: "jabber:x:data", type: "submit" }, fields.map(([k, v]) => field(k, v))),
    xml("set", { xmlns: "http://jabber.org/protocol/rsm" }, Object.entries(set).map(([k, v]) => xml(k, null, v)))), 250));
const ids = (p: { entries: { id: string }[] }) => p.entries.map((e) => e.id);

describe("reading a page of the archive", () => {
  it("pages forward with max and after, with count and index", async () => {
    const p1 = await page([], { max: "5" });
    expect(ids(p1)).toEqual([0, 1, 2, 3, 4].map(id));
    expect(p1).toMatchObject({ complete: false, count: 20, index: 0 });
    const p2 = await page([], { max: "5", after: id(4) });
    expect(ids(p2)).toEqual([5, 6, 7, 8, 9].map(id));
    expect(p2.index).toBe(5);
    const last = await page([], { max: "5", after: id(14) });
    expect(last).toMatchObject({ complete: true, index: 15 });
  });
  it("pages backward from the end (empty before) and from an id", async () => {
    const end = await page([], { max: "3", before: undefined });
    expect(ids(end)).toEqual([17, 18, 19].map(id));
    expect(end).toMatchObject({ complete: false, index: 17 });
    const back = await page([], { max: "3", before: id(2) });
    expect(ids(back)).toEqual([0, 1].map(id));
    expect(back).toMatchObject({ complete: true, index: 0 });
  });
  it("filters with a bare JID matching every resource, and counts within the filter", async () => {
    const p = await page([["with", "nurse@capulet.lit"]], { max: "2", after: id(4) });
    expect(ids(p)).toEqual([5, 7].map(id));
    expect(p).toMatchObject({ count: 10, index: 2 });
    expect((await page([["with", "nurse@capulet.lit/garden"]], {})).count).toBe(0);
  });
  it("filters by time, both ends inclusive, and by ids", async () => {
    const p = await page([["start", "1970-01-01T00:00:03Z"], ["end", "1970-01-01T00:00:05Z"]], {});
    expect(ids(p)).toEqual([3, 4, 5].map(id));
    expect((await page([["ids", id(7)]], {})).entries.map((e) => e.id)).toEqual([id(7)]);
    expect(ids(await page([["after-id", id(16)], ["before-id", id(19)]], {}))).toEqual([17, 18].map(id));
  });
  it("refuses ids that are not in the archive with item-not-found", async () => {
    const cases: [[string, string][], Record<string, string>][] = [[[], { after: "nope" }], [[], { before: "nope" }], [[["after-id", "nope"]], {}], [[["ids", "nope"]], {}]];
    for (const [fields, set] of cases) await expect(page(fields, set)).rejects.toMatchObject({ condition: "item-not-found" });
  });
  it("max 0 gives the count alone", async () => {
    const p = await page([], { max: "0" });
    expect(p.entries).toEqual([]);
    expect(finElement(p).toString()).toBe(`<fin xmlns="urn:xmpp:mam:2"><set xmlns="http://jabber.org/protocol/rsm"><count>20</count></set></fin>`);
  });
  it("an empty result is complete, with a count of 0 and no first or last", async () => {
    const p = await page([["with", "tybalt@capulet.lit"]], {});
    expect(finElement(p).toString()).toBe(`<fin xmlns="urn:xmpp:mam:2" complete="true"><set xmlns="http://jabber.org/protocol/rsm"><count>0</count></set></fin>`);
  });
  it("forwards the stored message in jabber:client with its time", async () => {
    const [e] = (await log.query(OWNER, { limit: 1 })).entries;
    const m = resultMessage(e!, "juliet@capulet.lit/balcony", OWNER, "f27", "r1")!;
    expect(m.toString()).toBe(`<message to="juliet@capulet.lit/balcony" from="juliet@capulet.lit" id="r1">` +
      `<result xmlns="urn:xmpp:mam:2" queryid="f27" id="${id(0)}"><forwarded xmlns="urn:xmpp:forward:0">` +
      `<delay xmlns="urn:xmpp:delay" stamp="1970-01-01T00:00:00.000Z"/>` +
      `<message from="x@y" to="z@w" xmlns="jabber:client"><body>0</body></message></forwarded></result></message>`);
  });
  it("gives the archive's first and last entries as metadata, and an empty element for an empty one", async () => {
    expect((await metadata(log, OWNER)).toString()).toBe(`<metadata xmlns="urn:xmpp:mam:2">` +
      `<start id="${id(0)}" timestamp="1970-01-01T00:00:00.000Z"/><end id="${id(19)}" timestamp="1970-01-01T00:00:19.000Z"/></metadata>`);
    expect((await metadata(log, "nobody@capulet.lit")).toString()).toBe(`<metadata xmlns="urn:xmpp:mam:2"/>`);
  });
});
