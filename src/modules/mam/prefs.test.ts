import { describe, expect, it } from "vitest";
import { xml } from "../../xml/element.ts";
import { parseJid } from "../../xml/jid.ts";
import { condition } from "../../../test/helpers/errors.ts";
import { AccountPrefs, allows, listed, parsePrefs, PrefsCache, prefsElement, type Prefs } from "./prefs.ts";
import { MemoryStorage } from "../../storage/memory.ts";

const MAM = "urn:xmpp:mam:2";
const jids = (...j: string[]) => j.map((x) => xml("jid", null, x));

describe("archiving preferences (XEP-0441)", () => {
  it("reads default and both lists, normalising JIDs and dropping repeats", () => {
    const p = parsePrefs(xml("prefs", { xmlns: MAM, default: "roster" },
      xml("always", null, jids("Romeo@Montague.lit", "romeo@montague.lit")), xml("never", null, jids("tybalt@capulet.lit/sword"))));
    expect(p).toEqual({ default: "roster", always: ["romeo@montague.lit"], never: ["tybalt@capulet.lit/sword"] });
  });
  it("takes missing lists as empty", () => {
    expect(parsePrefs(xml("prefs", { xmlns: MAM, default: "never" }))).toEqual({ default: "never", always: [], never: [] });
  });
  it("refuses a missing or unknown default and a JID that is not one (bad-request)", () => {
    expect(condition(() => parsePrefs(xml("prefs", { xmlns: MAM })))).toBe("bad-request");
    expect(condition(() => parsePrefs(xml("prefs", { xmlns: MAM, default: "sometimes" })))).toBe("bad-request");
    expect(condition(() => parsePrefs(xml("prefs", { xmlns: MAM, default: "always" }, xml("always", null, jids("a@b@c")))))).toBe("bad-request");
  });
  it("answers with both lists even when empty", () => {
    expect(prefsElement({ default: "always", always: [], never: [] }).toString())
      .toBe(`<prefs xmlns="urn:xmpp:mam:2" default="always"><always/><never/></prefs>`);
  });
  it("matches a listed bare JID against any resource, a listed full JID only itself (§2.3.1)", () => {
    expect(listed(["romeo@montague.lit"], parseJid("romeo@montague.lit/orchard"))).toBe(true);
    expect(listed(["romeo@montague.lit/orchard"], parseJid("romeo@montague.lit/garden"))).toBe(false);
    expect(listed(["romeo@montague.lit/orchard"], parseJid("romeo@montague.lit/orchard"))).toBe(true);
    expect(listed(["montague.lit"], parseJid("romeo@montague.lit"))).toBe(false);
  });
  it("never wins over always; otherwise the default, asking the roster only for 'roster'", async () => {
    const romeo = parseJid("romeo@montague.lit/orchard");
    let asked = 0;
    const inRoster = (answer: boolean) => async () => (asked++, answer);
    const p = (d: Prefs["default"], always: string[] = [], never: string[] = []): Prefs => ({ default: d, always, never });
    expect(await allows(p("always", ["romeo@montague.lit"], ["romeo@montague.lit"]), romeo, inRoster(true))).toBe(false);
    expect(await allows(p("never", ["romeo@montague.lit"]), romeo, inRoster(false))).toBe(true);
    expect(await allows(p("always"), romeo, inRoster(false))).toBe(true);
    expect(await allows(p("never"), romeo, inRoster(true))).toBe(false);
    expect(asked).toBe(0);
    expect(await allows(p("roster"), romeo, inRoster(true))).toBe(true);
    expect(await allows(p("roster"), romeo, inRoster(false))).toBe(false);
    expect(asked).toBe(2);
  });
  it("caches for a while, within a bound", () => {
    const c = new PrefsCache(2, 1000);
    const p: Prefs = { default: "never", always: [], never: [] };
    c.set("a", p, 0);
    expect(c.get("a", 999)).toBe(p);
    expect(c.get("a", 1001)).toBeUndefined();
    c.set("a", p, 0);
    c.set("b", p, 0);
    c.set("c", p, 0);
    expect(c.get("a", 1)).toBeUndefined();
    expect(c.get("c", 1)).toBe(p);
  });
  it("per account: the server's default until set, synchronous while cached and list-free", async () => {
    const store = new MemoryStorage().keyval<Prefs>("mam-prefs");
    const asked: string[] = [];
    const prefs = new AccountPrefs(store, "always", async (_owner, contact) => (asked.push(contact), contact === "romeo@montague.lit"));
    const juliet = parseJid("juliet@capulet.lit");
    const romeo = parseJid("romeo@montague.lit/orchard");
    expect(await prefs.wanted(juliet, romeo)).toBe(true); // first: read from the store
    expect(prefs.wanted(juliet, romeo)).toBe(true); // then: at hand
    await prefs.set("juliet@capulet.lit", { default: "roster", always: [], never: [] });
    expect(await store.get("juliet@capulet.lit")).toEqual({ default: "roster", always: [], never: [] });
    expect(await prefs.wanted(juliet, romeo)).toBe(true);
    expect(await prefs.wanted(juliet, parseJid("tybalt@capulet.lit"))).toBe(false);
    expect(asked).toEqual(["romeo@montague.lit", "tybalt@capulet.lit"]);
  });
});
