// RFC 7622 JIDs: the §3.5 examples, PRECIS mappings, IDNA domains, limits and the parse cache.
import { describe, expect, it } from "vitest";
import {
  JID, JidError, jid, normalizeDomain, normalizeLocal, normalizeResource, parseJid, tryParseJid,
} from "./jid.ts";

const str = (s: string) => parseJid(s).toString();

describe("RFC 7622 §3.5 examples", () => {
  it.each([
    ["juliet@example.com", "juliet@example.com"],
    ["juliet@example.com/foo", "juliet@example.com/foo"],
    ["juliet@example.com/foo bar", "juliet@example.com/foo bar"],
    ["juliet@example.com/foo@bar", "juliet@example.com/foo@bar"],
    ["foo\\20bar@example.com", "foo\\20bar@example.com"],
    ["fussball@example.com", "fussball@example.com"],
    ["fußball@example.com", "fußball@example.com"],
    ["π@example.com", "π@example.com"],
    ["Σ@example.com/foo", "σ@example.com/foo"],
    ["σ@example.com/foo", "σ@example.com/foo"],
    ["ς@example.com/foo", "ς@example.com/foo"],
    ["king@example.com/♚", "king@example.com/♚"],
    ["example.com", "example.com"],
    ["example.com/foobar", "example.com/foobar"],
    ["a.example.com/b@example.net", "a.example.com/b@example.net"],
  ])("accepts %s", (input, canonical) => {
    expect(str(input)).toBe(canonical);
  });

  it.each([
    "\"juliet\"@example.com", // quotation marks are excluded from localparts
    "foo bar@example.com",    // space is not in IdentifierClass
    "juliet@example.com/",    // empty resourcepart
    "@example.com/",          // empty localpart
    "henryⅣ@example.com",     // U+2163 ROMAN NUMERAL FOUR has a compatibility decomposition
    "♚@example.com",          // symbols are not in IdentifierClass
    "juliet@",                // empty domainpart
    "/foobar",                // empty domainpart
  ])("rejects %s", (input) => {
    expect(() => parseJid(input)).toThrow(JidError);
    expect(tryParseJid(input)).toBeUndefined();
  });
});

describe("splitting (RFC 7622 §3.1)", () => {
  it("takes the resource after the first slash, the localpart before the first @ ahead of it", () => {
    const j = parseJid("a@b.example/c@d/e");
    expect([j.local, j.domain, j.resource]).toEqual(["a", "b.example", "c@d/e"]);
    const k = parseJid("b.example/c@d");
    expect([k.local, k.domain, k.resource]).toEqual(["", "b.example", "c@d"]);
  });

  it.each(["", "@", "/", "@d", "u@", "d/", "u@d/", "u@/r", "a@b@c.example"])("rejects %j", (input) => {
    expect(tryParseJid(input)).toBeUndefined();
  });
});

describe("localpart: UsernameCaseMapped", () => {
  it("folds case but keeps the resource's case", () => {
    const j = parseJid("Juliet@Example.COM/Balcony");
    expect(j.toString()).toBe("juliet@example.com/Balcony");
    expect(j.equals(parseJid("juliet@example.com/Balcony"))).toBe(true);
    expect(j.equals(parseJid("juliet@example.com/balcony"))).toBe(false);
  });

  it("maps fullwidth and halfwidth forms to their narrow equivalents", () => {
    expect(normalizeLocal("ＪＵＬＩＥＴ")).toBe("juliet");
    expect(normalizeLocal("ｶ")).toBe("カ"); // halfwidth katakana
    expect(() => normalizeLocal("a＠b")).toThrow(JidError); // fullwidth @ becomes a forbidden @
  });

  it("applies Unicode case mapping and NFC", () => {
    expect(normalizeLocal("ΟΔΟΣ")).toBe("οδος");
    expect(normalizeLocal("E\u0301")).toBe("\u00E9");
  });

  it.each(["\"", "&", "'", "/", ":", "<", ">", "@"])("forbids %s", (c) => {
    expect(() => normalizeLocal(`a${c}b`)).toThrow(JidError);
  });

  it.each([
    ["space", "a b"], ["control", "a\u0001b"], ["zero-width joiner", "a\u200Db"], ["symbol", "a☃"],
    ["compatibility character", "ﬁ"], ["old Hangul jamo", "\u1113\u1161"], ["tatweel", "\u0628\u0640\u0628"],
    ["unassigned", "a\u0378"], ["lone surrogate", "a\uD800"], ["empty", ""],
  ])("rejects a %s", (_, s) => {
    expect(() => normalizeLocal(s)).toThrow(JidError);
  });

  it("applies the CONTEXTO rules", () => {
    expect(normalizeLocal("l·l")).toBe("l·l");
    expect(() => normalizeLocal("a·b")).toThrow(JidError);
    expect(normalizeLocal("\u05D0\u05F3")).toBe("\u05D0\u05F3");
    expect(() => normalizeLocal("a\u05F3")).toThrow(JidError);
    expect(() => normalizeLocal("\u0628\u0661\u06F1")).toThrow(JidError); // both Arabic digit sets
  });

  it("applies the Bidi Rule to right-to-left localparts", () => {
    expect(normalizeLocal("\u05D0\u05D1")).toBe("\u05D0\u05D1");
    expect(normalizeLocal("\u05D0\u05D11")).toBe("\u05D0\u05D11");
    expect(normalizeLocal("\u0628\u0661")).toBe("\u0628\u0661");
    expect(() => normalizeLocal("a\u05D0")).toThrow(JidError); // mixed directions
    expect(() => normalizeLocal("1\u05D0")).toThrow(JidError); // starts with a digit
    expect(() => normalizeLocal("\u05D0-")).toThrow(JidError); // ends with a neutral
  });
});

describe("resourcepart: OpaqueString", () => {
  it("keeps case, width and spaces, maps other spaces to U+0020, applies NFC", () => {
    expect(normalizeResource(" Balcony ")).toBe(" Balcony ");
    expect(normalizeResource("ＦＵＬＬ")).toBe("ＦＵＬＬ");
    expect(normalizeResource("a\u00A0b\u3000c")).toBe("a b c");
    expect(normalizeResource("E\u0301")).toBe("\u00C9");
    expect(normalizeResource("ⅳ ♚ ﬁ")).toBe("ⅳ ♚ ﬁ"); // symbols and compatibility characters are fine
  });

  it.each([["control", "a\nb"], ["zero-width space", "a\u200Bb"], ["private use", "\uE000"], ["empty", ""]])(
    "rejects a %s", (_, s) => {
      expect(() => normalizeResource(s)).toThrow(JidError);
    });
});

describe("domainpart", () => {
  it("stores IDNs as lower-case U-labels, whichever form they arrive in", () => {
    expect(normalizeDomain("münchen.de")).toBe("münchen.de");
    expect(normalizeDomain("MÜNCHEN.DE")).toBe("münchen.de");
    expect(normalizeDomain("xn--mnchen-3ya.de")).toBe("münchen.de");
    expect(normalizeDomain("XN--MNCHEN-3YA.de")).toBe("münchen.de");
    expect(parseJid("user@münchen.de").equals(parseJid("User@xn--mnchen-3ya.de"))).toBe(true);
    expect(normalizeDomain("ｅｘａｍｐｌｅ。com")).toBe("example.com");
  });

  it("strips one trailing dot", () => {
    expect(normalizeDomain("example.com.")).toBe("example.com");
    expect(normalizeDomain("münchen.de。")).toBe("münchen.de");
    expect(() => normalizeDomain("example.com..")).toThrow(JidError);
    expect(() => normalizeDomain(".")).toThrow(JidError);
  });

  it("accepts IP literals", () => {
    expect(normalizeDomain("192.0.2.1")).toBe("192.0.2.1");
    expect(normalizeDomain("[::1]")).toBe("[::1]");
    expect(normalizeDomain("[2001:DB8:0:0::1]")).toBe("[2001:db8::1]");
    expect(str("juliet@[2001:db8::1]/balcony")).toBe("juliet@[2001:db8::1]/balcony");
  });

  it.each([
    "a_b.example", "-a.example", "a-.example", "a..example", "a b.example", "example.com:5222",
    "ab--cd.example", "xn--zz.example", "127.1", "0x7f.0.0.1", "1.2.3.04", "256.1.1.1",
    "[::1", "[fe80::1%eth0]", "[1.2.3.4]", "[]",
  ])("rejects %s", (d) => {
    expect(() => normalizeDomain(d)).toThrow(JidError);
  });
});

describe("length limits", () => {
  const label = "a".repeat(63);
  it("allows 1023 octets per part and no more", () => {
    expect(normalizeLocal("a".repeat(1023))).toHaveLength(1023);
    expect(() => normalizeLocal("a".repeat(1024))).toThrow(JidError);
    expect(normalizeResource("r".repeat(1023))).toHaveLength(1023);
    expect(() => normalizeResource("r".repeat(1024))).toThrow(JidError);
    // 511 × "é" is 1022 octets, 512 × is 1024: the limit counts UTF-8 octets, not characters.
    expect(normalizeLocal("é".repeat(511))).toHaveLength(511);
    expect(() => normalizeLocal("é".repeat(512))).toThrow(JidError);
    expect(() => normalizeResource("é".repeat(512))).toThrow(JidError);
    const domain = Array(16).fill(label).join("."); // 16 × 64 - 1 = 1023
    expect(normalizeDomain(domain)).toBe(domain);
    expect(() => normalizeDomain(`a${domain}`)).toThrow(JidError);
  });

  it("limits domain labels to 63 octets", () => {
    expect(normalizeDomain(`${label}.example`)).toBe(`${label}.example`);
    expect(() => normalizeDomain(`a${label}.example`)).toThrow(JidError);
  });

  it("refuses huge inputs before normalising them", () => {
    expect(tryParseJid(`u@example.com/${"x".repeat(100_000)}`)).toBeUndefined();
  });
});

describe("JID values", () => {
  it("has a bare form, cached", () => {
    const full = parseJid("romeo@montague.example/orchard");
    expect(full.isBare()).toBe(false);
    expect(full.bare.toString()).toBe("romeo@montague.example");
    expect(full.bare).toBe(full.bare);
    expect(full.bare.isBare()).toBe(true);
    expect(full.bare.bare).toBe(full.bare);
  });

  it("builds from parts and swaps resources, normalising each", () => {
    const j = jid("Romeo", "Montague.Example", "Orchard\u00A0Wall");
    expect(j.toString()).toBe("romeo@montague.example/Orchard Wall");
    expect(jid("", "example.com").toString()).toBe("example.com");
    expect(j.withResource("Balcony").toString()).toBe("romeo@montague.example/Balcony");
    expect(j.withResource("").equals(j.bare)).toBe(true);
    expect(() => j.withResource("a\u0000")).toThrow(JidError);
    expect(() => jid("a@b", "example.com")).toThrow(JidError);
  });

  it("cannot be constructed from unnormalised parts", () => {
    const Ctor = JID as unknown as new (...a: unknown[]) => JID;
    expect(() => new Ctor(Symbol("jid"), "A", "B", "")).toThrow(TypeError);
  });

  it("caches parses: the same value comes back, also for the canonical spelling", () => {
    const a = parseJid("Cache@Example.COM/r");
    expect(parseJid("Cache@Example.COM/r")).toBe(a);
    expect(parseJid("cache@example.com/r")).toBe(a);
    expect(parseJid("CACHE@example.com/r").equals(a)).toBe(true);
  });

  it("bounds the cache, keeping what is used and dropping what is not", () => {
    const first = parseJid("first@lru.example");
    const kept = parseJid("kept@lru.example");
    let n = 0;
    const churn = (count: number) => { for (let i = 0; i < count; i++) parseJid(`u${n++}@lru.example`); };
    churn(4_000);
    expect(parseJid("kept@lru.example")).toBe(kept);
    churn(4_000);
    expect(parseJid("kept@lru.example")).toBe(kept); // used 4 000 misses ago: still there
    churn(10_001);
    const again = parseJid("first@lru.example");
    expect(again).not.toBe(first);
    expect(again.equals(first)).toBe(true);
  });

  it("does not cache very long JIDs", () => {
    const long = `u@example.com/${"r".repeat(300)}`;
    expect(parseJid(long)).not.toBe(parseJid(long));
    expect(parseJid(long).equals(parseJid(long))).toBe(true);
  });

  it("tryParseJid answers undefined for what parseJid refuses", () => {
    expect(tryParseJid("ok@example.com")?.local).toBe("ok");
    expect(tryParseJid("\uD800@example.com")).toBeUndefined();
  });
});
