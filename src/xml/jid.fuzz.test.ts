// Property tests of JIDs (RFC 7622): any string either parses or is refused with a JidError;
// what parses is in canonical form (each part normalised again is itself, RFC 8264 §7 idempotence),
// and its string form, split again by the rules of §3.1, gives back the same parts.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { runs } from "../../test/fuzz/runs.ts";
import { JidError, jid, normalizeDomain, normalizeLocal, normalizeResource, parseJid, tryParseJid } from "./jid.ts";

/** Characters that matter to JIDs: separators, RFC 7622's forbidden ones, PRECIS classes, IDNA mappings. */
const JID_CHARS = [
  ..."abcxyzABCXYZ0189-._", "@", "/", "\"", "&", "'", ":", "<", ">", " ", "\t", "\u0000", "\\",
  "ß", "ς", "Σ", "İ", "ǅ", "Ⅳ", "ｆ", "Ａ", "\u3000", "\u3002", "\uFF0E", "\u00A0", "\u2028", "\u200D", "\u200C",
  "\u00B7", "\u0375", "\u05F3", "\u30FB", "\u0660", "\u06F0", "\u0627", "\u05D0", "\u0301", "\u1100", "\uFFFD",
  "\uD800", "\uDC00", "😀", "♚", "中", "xn--", "[", "]", "::1", "127.0.0.1", "%",
];

const jidish = fc.oneof(
  fc.string({ unit: fc.constantFrom(...JID_CHARS), maxLength: 24 }),
  fc.string({ unit: "binary", maxLength: 24 }),
  fc.string({ unit: "grapheme", maxLength: 12 }),
  fc.tuple(fc.string({ unit: fc.constantFrom(...JID_CHARS), maxLength: 8 }), fc.domain(), fc.string({ unit: "grapheme", maxLength: 8 }))
    .map(([l, d, r]) => `${l}@${d}/${r}`),
  fc.tuple(fc.webSegment(), fc.constantFrom("example.com", "xn--mnchen-3ya.de", "MÜNCHEN.de", "[::1]", "127.0.0.1", "a.b."), fc.option(fc.webSegment()))
    .map(([l, d, r]) => `${l}@${d}${r === null ? "" : `/${r}`}`),
);

/** RFC 7622 §3.1 read independently of parseJid: resource after the first '/', local before the first '@' ahead of it. */
function split(s: string): [string, string, string] {
  const slash = s.indexOf("/");
  const head = slash < 0 ? s : s.slice(0, slash);
  const at = head.indexOf("@");
  return [at < 0 ? "" : head.slice(0, at), at < 0 ? head : head.slice(at + 1), slash < 0 ? "" : s.slice(slash + 1)];
}

/** Runs f; its result, or the JidError it threw as "refused"; anything else thrown fails the test. */
function attempt<T>(f: () => T): T | "refused" {
  try {
    return f();
  } catch (e) {
    if (e instanceof JidError) return "refused";
    throw e;
  }
}

describe("JIDs (RFC 7622) under arbitrary input", () => {
  it("parse or throw JidError, nothing else; tryParseJid never throws", () => {
    fc.assert(fc.property(jidish, (s) => {
      attempt(() => parseJid(s));
      tryParseJid(s);
    }), runs(5000));
  });

  it("are canonical once parsed: split again, each part normalises to itself", () => {
    fc.assert(fc.property(jidish, (s) => {
      const j = tryParseJid(s);
      if (j === undefined) return;
      const text = j.toString();
      const [local, domain, resource] = split(text);
      expect([local, domain, resource]).toEqual([j.local, j.domain, j.resource]);
      if (local !== "") expect(normalizeLocal(local)).toBe(local);
      expect(normalizeDomain(domain)).toBe(domain);
      if (resource !== "") expect(normalizeResource(resource)).toBe(resource);
      // Built from its parts without the parse cache, it is the same JID.
      expect(jid(local, domain, resource).equals(j)).toBe(true);
      expect(j.bare.toString()).toBe(local === "" ? domain : `${local}@${domain}`);
    }), runs(5000));
  });

  it("normalise each part idempotently (RFC 8264 §7), or refuse it both times", () => {
    const part = fc.oneof(fc.string({ unit: fc.constantFrom(...JID_CHARS), maxLength: 16 }), fc.string({ unit: "grapheme", maxLength: 8 }));
    fc.assert(fc.property(part, fc.constantFrom(normalizeLocal, normalizeResource, normalizeDomain), (s, normalize) => {
      const once = attempt(() => normalize(s));
      if (once === "refused") return;
      expect(attempt(() => normalize(once))).toBe(once);
    }), runs(5000));
  });

  it("refuse a part past 1023 octets, whatever its characters (RFC 7622 §3.2-§3.4)", () => {
    fc.assert(fc.property(fc.constantFrom("a", "é", "中", "😀"), fc.integer({ min: 1, max: 4000 }), (c, n) => {
      const s = c.repeat(n);
      const bytes = Buffer.byteLength(s, "utf8");
      const local = attempt(() => normalizeLocal(s));
      const resource = attempt(() => normalizeResource(s));
      if (bytes > 1023) {
        expect(local).toBe("refused");
        expect(resource).toBe("refused");
      } else {
        expect(resource).toBe(s);
      }
    }), runs(300));
  });
});
