import { describe, expect, it } from "vitest";
import { xml } from "../../xml/element.ts";
import { parseJid } from "../../xml/jid.ts";
import { StanzaError } from "../../core/errors.ts";
import { blocks, covers, parseItems } from "./match.ts";

const list = (...jids: string[]) => new Set(jids.map((j) => parseJid(j).toString()));
const j = parseJid;

describe("XEP-0191 §6 JID matching", () => {
  it("a full JID blocks that resource only", () => {
    const l = list("romeo@montague.lit/orchard");
    expect(blocks(l, j("romeo@montague.lit/orchard"))).toBe(true);
    expect(blocks(l, j("romeo@montague.lit/garden"))).toBe(false);
    expect(blocks(l, j("romeo@montague.lit"))).toBe(false);
  });

  it("a bare JID blocks every resource of it", () => {
    const l = list("romeo@montague.lit");
    expect(blocks(l, j("romeo@montague.lit"))).toBe(true);
    expect(blocks(l, j("romeo@montague.lit/any"))).toBe(true);
    expect(blocks(l, j("mercutio@montague.lit/any"))).toBe(false);
    expect(blocks(l, j("montague.lit"))).toBe(false);
  });

  it("domain/resource blocks that resource of the domain only", () => {
    const l = list("montague.lit/bot");
    expect(blocks(l, j("montague.lit/bot"))).toBe(true);
    expect(blocks(l, j("romeo@montague.lit/bot"))).toBe(false);
    expect(blocks(l, j("montague.lit"))).toBe(false);
  });

  it("a domain blocks the domain, its users and its resources, not subdomains", () => {
    const l = list("montague.lit");
    for (const who of ["montague.lit", "montague.lit/bot", "romeo@montague.lit", "romeo@montague.lit/orchard"]) expect(blocks(l, j(who)), who).toBe(true);
    expect(blocks(l, j("conference.montague.lit"))).toBe(false);
    expect(blocks(l, j("romeo@capulet.lit"))).toBe(false);
  });

  it("matches normalised forms", () => {
    expect(blocks(list("Romeo@Montague.LIT"), j("romeo@montague.lit/x"))).toBe(true);
  });

  it("covers: which roster contacts an item reaches", () => {
    expect(covers(j("montague.lit"), j("romeo@montague.lit"))).toBe(true);
    expect(covers(j("romeo@montague.lit"), j("romeo@montague.lit"))).toBe(true);
    expect(covers(j("romeo@montague.lit/orchard"), j("romeo@montague.lit"))).toBe(false);
  });
});

describe("parseItems", () => {
  const block = (...jids: (string | undefined)[]) => xml("block", { xmlns: "urn:xmpp:blocking" }, jids.map((jid) => xml("item", { jid })));

  it("normalises and merges duplicates", () => {
    const items = parseItems(block("Romeo@Montague.lit", "romeo@montague.lit", "capulet.lit"), 10);
    expect(Array.isArray(items) && items.map(String)).toEqual(["romeo@montague.lit", "capulet.lit"]);
  });

  it("names the error: jid-malformed, bad-request for a missing jid, resource-constraint past the limit", () => {
    const cond = (r: unknown) => (r instanceof StanzaError ? r.condition : "ok");
    expect(cond(parseItems(block("@bad"), 10))).toBe("jid-malformed");
    expect(cond(parseItems(block(undefined), 10))).toBe("bad-request");
    expect(cond(parseItems(block("a@x", "b@x", "c@x"), 2))).toBe("resource-constraint");
    expect(parseItems(block(), 10)).toEqual([]);
  });
});
