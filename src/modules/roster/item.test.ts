import { describe, expect, it } from "vitest";
import { condition } from "../../../test/helpers/errors.ts";
import { xml, type Element } from "../../xml/element.ts";
import { parseJid } from "../../xml/jid.ts";
import { NS } from "../../xml/ns.ts";
import { itemElement, parseRosterSet, removedElement, sameItem, updatedItem, type RosterItem } from "./item.ts";

const owner = parseJid("juliet@example.com/balcony");
const limits = { maxName: 20, maxGroup: 10, maxGroups: 3 };
const query = (...items: Element[]) => xml("query", { xmlns: NS.roster }, ...items);
const item = (attrs: Record<string, string>, ...groups: string[]) => xml("item", attrs, groups.map((g) => xml("group", null, g)));


describe("parseRosterSet", () => {
  it("reads an update with name and groups", () => {
    const set = parseRosterSet(query(item({ jid: "Nurse@Example.com", name: "Nurse" }, "Servants", "Family")), owner, limits);
    expect(set.kind).toBe("update");
    if (set.kind !== "update") return;
    expect(set.jid.toString()).toBe("nurse@example.com");
    expect(set.name).toBe("Nurse");
    expect(set.groups).toEqual(["Servants", "Family"]);
  });
  it("treats an empty name as none", () => {
    const set = parseRosterSet(query(item({ jid: "a@b.c", name: "" })), owner, limits);
    expect(set.kind === "update" && set.name).toBeUndefined();
  });
  it("reads a removal", () => {
    expect(parseRosterSet(query(item({ jid: "a@b.c", subscription: "remove" })), owner, limits).kind).toBe("remove");
  });
  it.each(["none", "to", "from", "both"])("ignores subscription='%s' (RFC 6121 §2.1.2.5)", (sub) => {
    expect(parseRosterSet(query(item({ jid: "a@b.c", subscription: sub })), owner, limits).kind).toBe("update");
  });
  it("accepts a domain JID (a gateway)", () => {
    expect(parseRosterSet(query(item({ jid: "icq.example.com" })), owner, limits).jid.toString()).toBe("icq.example.com");
  });
  it.each<[string, Element, string]>([
    ["no item", query(), "bad-request"],
    ["two items", query(item({ jid: "a@b.c" }), item({ jid: "d@b.c" })), "bad-request"],
    ["no jid", query(item({ name: "x" })), "bad-request"],
    ["an unknown subscription", query(item({ jid: "a@b.c", subscription: "bogus" })), "bad-request"],
    ["a duplicate group", query(item({ jid: "a@b.c" }, "G", "G")), "bad-request"],
    ["a malformed jid", query(item({ jid: "a@b@c" })), "jid-malformed"],
    ["a full jid", query(item({ jid: "a@b.c/r" })), "jid-malformed"],
    ["the owner's own jid", query(item({ jid: "juliet@example.com" })), "not-allowed"],
    ["a long name", query(item({ jid: "a@b.c", name: "x".repeat(21) })), "not-acceptable"],
    ["a long name in octets", query(item({ jid: "a@b.c", name: "é".repeat(11) })), "not-acceptable"],
    ["an empty group", query(item({ jid: "a@b.c" }, "")), "not-acceptable"],
    ["a long group", query(item({ jid: "a@b.c" }, "x".repeat(11))), "not-acceptable"],
    ["too many groups", query(item({ jid: "a@b.c" }, "a", "b", "c", "d")), "not-acceptable"],
  ])("refuses %s", (_what, q, cond) => {
    expect(condition(() => parseRosterSet(q, owner, limits))).toBe(cond);
  });
});

describe("itemElement", () => {
  it("writes every field", () => {
    const el = itemElement({ jid: "a@b.c", name: "A", groups: ["G1", "G2"], subscription: "none", ask: "subscribe", approved: true });
    expect(el.toString()).toBe(`<item jid="a@b.c" name="A" subscription="none" ask="subscribe" approved="true"><group>G1</group><group>G2</group></item>`);
  });
  it("leaves out what is absent", () => {
    expect(itemElement({ jid: "a@b.c", groups: [], subscription: "both" }).toString()).toBe(`<item jid="a@b.c" subscription="both"/>`);
  });
  it("writes removals", () => {
    expect(removedElement("a@b.c").toString()).toBe(`<item jid="a@b.c" subscription="remove"/>`);
  });
});

describe("updatedItem and sameItem", () => {
  const existing: RosterItem = { jid: "a@b.c", name: "Old", groups: ["X"], subscription: "to", ask: "subscribe" };
  it("keeps the subscription state, replaces name and groups", () => {
    expect(updatedItem(existing, "a@b.c", undefined, ["Y"])).toEqual({ jid: "a@b.c", groups: ["Y"], subscription: "to", ask: "subscribe" });
  });
  it("creates a new item at none", () => {
    expect(updatedItem(undefined, "a@b.c", "N", [])).toEqual({ jid: "a@b.c", name: "N", groups: [], subscription: "none" });
  });
  it("compares what a client sees", () => {
    expect(sameItem(existing, { ...existing, groups: ["X"] })).toBe(true);
    expect(sameItem(existing, { ...existing, groups: ["Y"] })).toBe(false);
    expect(sameItem(existing, { ...existing, ask: undefined })).toBe(false);
    expect(sameItem(undefined, undefined)).toBe(true);
    expect(sameItem(existing, undefined)).toBe(false);
  });
});
