import { describe, expect, it } from "vitest";
import { condition } from "../../../test/helpers/errors.ts";
import { xml } from "../../xml/element.ts";
import { parseClientPresence, parsePriority, presenceType } from "./parse.ts";

const presence = (attrs: Record<string, string> = {}, ...children: ReturnType<typeof xml>[]) => xml("presence", attrs, ...children);
const prio = (text: string) => presence({}, xml("priority", null, text));


describe("presenceType", () => {
  it.each([
    [undefined, "available"], ["unavailable", "unavailable"], ["probe", "probe"], ["error", "error"],
    ["subscribe", "subscribe"], ["subscribed", "subscribed"], ["unsubscribe", "unsubscribe"], ["unsubscribed", "unsubscribed"],
    ["available", undefined], ["invisible", undefined], ["", undefined], ["Subscribe", undefined],
  ])("type=%s is %s", (t, expected) => {
    expect(presenceType(presence(t === undefined ? {} : { type: t }))).toBe(expected);
  });
});

describe("parsePriority", () => {
  it.each([["0", 0], ["5", 5], ["-1", -1], ["127", 127], ["-128", -128], ["+3", 3], [" 7 ", 7]])("%s is %d", (text, n) => {
    expect(parsePriority(prio(text))).toBe(n);
  });
  it("is 0 when absent", () => expect(parsePriority(presence())).toBe(0));
  it.each(["128", "-129", "1.5", "abc", "", "1e2", "99999"])("%s is bad-request", (text) => {
    expect(condition(() => parsePriority(prio(text)))).toBe("bad-request");
  });
  it("refuses two priorities", () => {
    expect(condition(() => parsePriority(presence({}, xml("priority", null, "1"), xml("priority", null, "2"))))).toBe("bad-request");
  });
});

describe("parseClientPresence", () => {
  it("reads availability and priority", () => {
    expect(parseClientPresence(presence({}, xml("show", null, "away"), xml("priority", null, "-5")))).toEqual({ type: "available", priority: -5 });
    // go-xmpp's initial presence: <show></show><status></status>
    expect(parseClientPresence(presence({}, xml("show"), xml("status")))).toEqual({ type: "available", priority: 0 });
  });
  it("ignores priority on other types", () => {
    expect(parseClientPresence(presence({ type: "unavailable" }, xml("priority", null, "x")))).toEqual({ type: "unavailable", priority: 0 });
  });
  it.each([
    ["an unknown type", presence({ type: "bogus" })],
    ["an unknown show", presence({}, xml("show", null, "sleeping"))],
    ["two shows", presence({}, xml("show", null, "away"), xml("show", null, "xa"))],
    ["a bad priority", prio("300")],
  ])("refuses %s", (_what, el) => {
    expect(condition(() => parseClientPresence(el))).toBe("bad-request");
  });
});
