// Property tests of XEP-0059 Result Set Management: any <set/> is read into a request whose max
// is within the cap, or refused with bad-request; any request over any sorted list gives a page
// that is a run of the list, no longer than max, or item-not-found (§2.3) for a key that is not
// there; and paging by <after/> (§2.2) or <before/> (§2.5) visits every item exactly once.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { runs } from "../../test/fuzz/runs.ts";
import { xmlText } from "../../test/fuzz/xml.ts";
import { xml } from "../xml/element.ts";
import { NS } from "../xml/ns.ts";
import { StanzaError } from "./errors.ts";
import { parseRsm, rsmPage, rsmSet, type RsmRequest } from "./rsm.ts";

const number = fc.oneof(fc.nat().map(String), fc.constantFrom("", " 5 ", "-1", "1e3", "0x10", "٣", "9999999999", "00", "\u00A01"), xmlText(6));
const setChild = fc.oneof(
  fc.tuple(fc.constantFrom("max", "index"), number),
  fc.tuple(fc.constantFrom("after", "before", "first", "last", "count"), fc.oneof(xmlText(6), fc.constantFrom("k1", "k5", ""))),
).map(([n, t]) => xml(n, null, t));

const keysArb = fc.uniqueArray(fc.string({ unit: fc.constantFrom(..."abck019"), maxLength: 4 }), { maxLength: 30 }).map((k) => k.sort());

/** Calls f: its result, or the condition of the StanzaError it threw; anything else thrown fails. */
function attempt<T>(f: () => T): T | { condition: string } {
  try {
    return f();
  } catch (e) {
    if (e instanceof StanzaError) return { condition: e.condition };
    throw e;
  }
}

describe("XEP-0059 requests and pages", () => {
  it("read any <set/> into a capped request, or refuse it with bad-request", () => {
    fc.assert(fc.property(fc.array(setChild, { maxLength: 5 }), fc.boolean(), fc.integer({ min: 1, max: 200 }), (kids, withSet, cap) => {
      const query = xml("query", { xmlns: NS.discoItems }, withSet ? xml("set", { xmlns: NS.rsm }, kids) : undefined);
      const r = attempt(() => parseRsm(query, cap));
      if ("condition" in r) {
        expect(r.condition).toBe("bad-request");
        return;
      }
      expect(Number.isInteger(r.max) && r.max >= 0 && r.max <= cap).toBe(true);
      if (r.index !== undefined) expect(Number.isInteger(r.index) && r.index >= 0).toBe(true);
    }), runs(3000));
  });

  it("give a run of the list no longer than max, or item-not-found", () => {
    const request = fc.record({
      max: fc.nat(40), after: fc.option(fc.string({ maxLength: 3 }), { nil: undefined }),
      before: fc.option(fc.string({ maxLength: 3 }), { nil: undefined }), index: fc.option(fc.nat(50), { nil: undefined }),
    }, { requiredKeys: ["max"] }) as fc.Arbitrary<RsmRequest>;
    fc.assert(fc.property(keysArb, request, (keys, r) => {
      const page = attempt(() => rsmPage(keys, r));
      if ("condition" in page) {
        expect(page.condition).toBe("item-not-found");
        return;
      }
      expect(page.keys.length).toBeLessThanOrEqual(r.max);
      expect(page.count).toBe(keys.length);
      expect(page.keys).toEqual(keys.slice(page.index, page.index + page.keys.length));
      expect(page.index).toBeGreaterThanOrEqual(0);
      expect(page.index).toBeLessThanOrEqual(keys.length);
      rsmSet(page).toString();
    }), runs(3000));
  });

  it("visit every item once, forwards by after and backwards by before", () => {
    fc.assert(fc.property(keysArb, fc.integer({ min: 1, max: 7 }), (keys, max) => {
      const forwards: string[] = [];
      let after: string | undefined;
      for (let n = 0; n <= keys.length; n++) {
        const page = rsmPage(keys, { max, after });
        forwards.push(...page.keys);
        if (page.keys.length < max) break;
        after = page.keys.at(-1);
      }
      expect(forwards).toEqual(keys);
      const backwards: string[] = [];
      let before = "";
      for (let n = 0; n <= keys.length; n++) {
        const page = rsmPage(keys, { max, before });
        backwards.unshift(...page.keys);
        if (page.index === 0) break;
        before = page.keys[0]!;
      }
      expect(backwards).toEqual(keys);
    }), runs(1000));
  });
});
