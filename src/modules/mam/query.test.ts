import { describe, expect, it } from "vitest";
import { xml, type Element } from "../../xml/element.ts";
import { condition } from "../../../test/helpers/errors.ts";
import { dateTime, parseDateTime, parseMamQuery, queryForm } from "./query.ts";

const MAM = "urn:xmpp:mam:2";
const field = (v: string, ...values: string[]) => xml("field", { var: v }, values.map((x) => xml("value", null, x)));
const form = (...fields: Element[]) => xml("x", { xmlns: "jabber:x:data", type: "submit" }, field("FORM_TYPE", MAM), ...fields);
const rsm = (...children: Element[]) => xml("set", { xmlns: "http://jabber.org/protocol/rsm" }, ...children);
const query = (...children: Element[]) => xml("query", { xmlns: MAM, queryid: "f27" }, ...children);

describe("XEP-0082 DateTime", () => {
  it.each<[string, number | undefined]>([
    ["2010-07-10T23:08:25Z", Date.UTC(2010, 6, 10, 23, 8, 25)],
    ["2010-07-10T23:08:25.123456Z", Date.UTC(2010, 6, 10, 23, 8, 25, 123)],
    ["2010-07-10T23:08:25.5Z", Date.UTC(2010, 6, 10, 23, 8, 25, 500)],
    ["2010-07-10T23:08:25+02:00", Date.UTC(2010, 6, 10, 21, 8, 25)],
    ["2010-07-10T23:08:25-05:30", Date.UTC(2010, 6, 11, 4, 38, 25)],
    ["2010-07-10", undefined],
    ["2010-07-10T23:08:25", undefined],
    ["2010-02-30T00:00:00Z", undefined],
    ["2010-13-01T00:00:00Z", undefined],
    ["2010-07-10T24:00:00Z", undefined],
    ["yesterday", undefined],
  ])("%s", (text, ms) => {
    expect(parseDateTime(text)).toBe(ms);
  });
  it("writes UTC with milliseconds, and reads it back", () => {
    const at = Date.UTC(2024, 0, 2, 3, 4, 5, 6);
    expect(dateTime(at)).toBe("2024-01-02T03:04:05.006Z");
    expect(parseDateTime(dateTime(at))).toBe(at);
  });
});

describe("the archive query (XEP-0313 §4)", () => {
  it("with no form or set: everything, one full page", () => {
    expect(parseMamQuery(query(), 250)).toEqual({ queryid: "f27", max: 250, flip: false });
  });
  it("reads the filters of the form", () => {
    const q = parseMamQuery(query(form(field("with", "Romeo@Montague.lit"), field("start", "2010-06-07T00:00:00Z"),
      field("end", "2010-07-07T13:23:54Z"), field("after-id", "a"), field("before-id", "b"), field("ids", "x", "y"))), 250);
    expect(q).toMatchObject({ with: "romeo@montague.lit", start: Date.UTC(2010, 5, 7), end: Date.UTC(2010, 6, 7, 13, 23, 54), afterId: "a", beforeId: "b", ids: ["x", "y"] });
  });
  it("takes an empty field as absent", () => {
    expect(parseMamQuery(query(form(xml("field", { var: "with" }), field("start", ""))), 250)).toEqual({ queryid: "f27", max: 250, flip: false });
  });
  it("reads the page request; a max above the limit is brought down to it", () => {
    expect(parseMamQuery(query(rsm(xml("max", null, "10"), xml("after", null, "09af3"))), 250)).toMatchObject({ max: 10, after: "09af3" });
    expect(parseMamQuery(query(rsm(xml("max", null, "100000"))), 250).max).toBe(250);
    expect(parseMamQuery(query(rsm(xml("max", null, "0"))), 250).max).toBe(0);
    expect(parseMamQuery(query(rsm(xml("before"))), 250).before).toBe("");
    expect(parseMamQuery(query(rsm(xml("before", null, "x"))), 250).before).toBe("x");
    expect(parseMamQuery(query(xml("flip-page")), 250).flip).toBe(true);
  });
  it.each<[string, Element, string]>([
    ["a FORM_TYPE of another protocol", query(xml("x", { xmlns: "jabber:x:data", type: "submit" }, field("FORM_TYPE", "urn:xmpp:mam:1"))), "bad-request"],
    ["a date that is not XEP-0082", query(form(field("start", "last tuesday"))), "bad-request"],
    ["a 'with' that is not a JID", query(form(field("with", "a@b@c"))), "bad-request"],
    ["two values for 'with'", query(form(field("with", "a@b", "c@d"))), "bad-request"],
    ["an unknown field (§4.1.5)", query(form(field("{urn:example}full-text", "x"))), "feature-not-implemented"],
    ["a negative max", query(rsm(xml("max", null, "-1"))), "bad-request"],
    ["a max that is not a number", query(rsm(xml("max", null, "ten"))), "bad-request"],
    ["an empty after", query(rsm(xml("after"))), "bad-request"],
    ["a page by index", query(rsm(xml("index", null, "3"))), "feature-not-implemented"],
    ["an id longer than ours can be", query(form(field("after-id", "x".repeat(200)))), "item-not-found"],
  ])("refuses %s", (_what, q, cond) => {
    expect(condition(() => parseMamQuery(q, 250))).toBe(cond);
  });
  it("offers the form with every field it takes, ids open to any value (§4.1.5)", () => {
    const x = queryForm().getChild("x", "jabber:x:data")!;
    expect(x.attrs.type).toBe("form");
    expect(x.getChildren("field").map((f) => f.attrs.var)).toEqual(["FORM_TYPE", "with", "start", "end", "before-id", "after-id", "ids"]);
    expect(x.getChildren("field").some((f) => f.getChild("required"))).toBe(false);
    expect(x.getChildren("field")[6]!.getChild("validate", "http://jabber.org/protocol/xdata-validate")?.getChild("open")).toBeDefined();
  });
});
