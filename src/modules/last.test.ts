import { describe, expect, it } from "vitest";
import { xml } from "../xml/element.ts";
import { parseJid } from "../xml/jid.ts";
import { lastQuery, MAX_STATUS, mayQuery, secondsSince, statusOf } from "./last.ts";

describe("XEP-0012 helpers", () => {
  it("counts whole seconds, never negative", () => {
    expect(secondsSince(1_000, 4_999)).toBe(3);
    expect(secondsSince(5_000, 4_000)).toBe(0);
  });
  it("writes the query with an optional status", () => {
    expect(lastQuery(903, "Heading Home").toString()).toBe(`<query xmlns="jabber:iq:last" seconds="903">Heading Home</query>`);
    expect(lastQuery(0).toString()).toBe(`<query xmlns="jabber:iq:last" seconds="0"/>`);
  });
  const juliet = parseJid("juliet@capulet.com");
  it.each<[string, "none" | "to" | "from" | "both" | undefined, boolean]>([
    ["romeo@montague.net/orchard", "from", true],
    ["romeo@montague.net/orchard", "both", true],
    ["romeo@montague.net/orchard", "to", false],
    ["romeo@montague.net/orchard", "none", false],
    ["romeo@montague.net/orchard", undefined, false],
    ["juliet@capulet.com/balcony", undefined, true],
  ])("%s with %s may ask: %s", (requester, sub, ok) => {
    expect(mayQuery(parseJid(requester), juliet, sub)).toBe(ok);
  });
  it("keeps a bounded status", () => {
    expect(statusOf(xml("presence", { type: "unavailable" }, xml("status", null, "x".repeat(MAX_STATUS + 5))))).toHaveLength(MAX_STATUS);
    expect(statusOf(xml("presence", { type: "unavailable" }))).toBeUndefined();
  });
});
