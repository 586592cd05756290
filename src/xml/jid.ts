// JIDs: RFC 7622 (XMPP address format) over PRECIS, RFC 8264 / RFC 8265.
//
// localpart    PRECIS UsernameCaseMapped (RFC 8265 §3.3), plus RFC 7622 §3.3.1's ban on " & ' / : < > @
// domainpart   IDNA2008 by way of UTS-46 (node:url domainToASCII/domainToUnicode), RFC 7622 §3.2
// resourcepart PRECIS OpaqueString (RFC 8265 §4.2), RFC 7622 §3.4
// Each part is 1..1023 octets of UTF-8 after normalisation (RFC 7622 §3.2-§3.4).
//
// Canonical domain form: U-labels, lower case, no trailing dot (RFC 7622 §3.2.1: "each A-label MUST
// be converted to a U-label"), so "xn--mnchen-3ya.de" and "MÜNCHEN.de" both become "münchen.de".
// IP literals: dotted-decimal IPv4 without leading zeros, and [IPv6] in RFC 5952 form.
//
// Approximations (JavaScript exposes General_Category, Script and a few binary properties, but
// neither Bidi_Class, Canonical_Combining_Class nor Joining_Type):
// - PRECIS derived properties are computed from \p{...} classes compiled once: LetterDigits,
//   OtherLetterDigits, Spaces, Symbols, Punctuation from General_Category; PrecisIgnorableProperties
//   from Default_Ignorable_Code_Point and Noncharacter_Code_Point; OldHangulJamo as the conjoining
//   jamo blocks; HasCompat as "NFKC(cp) !== cp"; Unassigned as whatever Node's ICU leaves as Cn.
// - CONTEXTJ (ZWJ, ZWNJ) would need Virama and Joining_Type: they are always rejected.
// - CONTEXTO rules of RFC 5892 Appendix A (middle dot, keraia, geresh/gershayim, katakana middle
//   dot, Arabic-Indic digits) are implemented exactly; they apply to localpart and resourcepart.
// - The Bidi Rule (RFC 5893 §2) applies to localparts holding R, AL or AN characters. Bidi_Class is
//   approximated: R/AL = non-mark, non-digit code points of right-to-left scripts; AN = the
//   Arabic-script digits and number signs; EN = ASCII and Extended Arabic-Indic digits;
//   NSM = \p{Mn}|\p{Me}; L = other letters, Mc and other digits; everything else is neutral.
// - Domain labels must be LDH after UTS-46 (STD3 rules; no underscores), at most 63 octets, no
//   "--" in positions 3-4 unless an A-label, and A-labels must round-trip through their U-label.
import { isIPv6 } from "node:net";
import { domainToASCII, domainToUnicode } from "node:url";
import { detach } from "./detach.ts";

const MAX_PART_BYTES = 1023;
/** Raw input bound per part, checked before any work (mappings rarely shrink a part, never 3× legitimately). */
const MAX_RAW_PART = 3 * MAX_PART_BYTES;
const CACHE_SIZE = 10_000;
/** Longer JIDs are parsed every time, so the cache holds at most ~10 MB whatever peers send. */
const MAX_CACHED_LENGTH = 256;
const MAX_STABILITY_PASSES = 4; // RFC 8264 §7: reapply up to three more times, then reject

export class JidError extends Error {
  override readonly name = "JidError";
}

const INTERNAL = Symbol("jid");

/** An immutable, normalised address. Build one with parseJid, tryParseJid or jid(). */
export class JID {
  readonly local: string;
  readonly domain: string;
  readonly resource: string;
  #bare: JID | undefined;
  #str: string | undefined;

  /** Not for callers: the parts must already be normalised. */
  constructor(token: typeof INTERNAL, local: string, domain: string, resource: string) {
    if (token !== INTERNAL) throw new TypeError("JIDs are built with parseJid() or jid()");
    this.local = local;
    this.domain = domain;
    this.resource = resource;
  }

  get bare(): JID {
    if (this.resource === "") return this;
    return (this.#bare ??= new JID(INTERNAL, this.local, this.domain, ""));
  }

  isBare(): boolean {
    return this.resource === "";
  }

  equals(other: JID): boolean {
    return this === other ||
      (this.domain === other.domain && this.local === other.local && this.resource === other.resource);
  }

  toString(): string {
    if (this.#str === undefined) {
      const base = this.local === "" ? this.domain : `${this.local}@${this.domain}`;
      this.#str = this.resource === "" ? base : `${base}/${this.resource}`;
    }
    return this.#str;
  }

  /** This JID with another resource; "" gives the bare JID. Throws JidError. */
  withResource(resource: string): JID {
    if (resource === "") return this.bare;
    const r = normalizeResource(resource);
    if (r === this.resource) return this;
    const full = new JID(INTERNAL, this.local, this.domain, r);
    full.#bare = this.bare; // shared, not made again: a session keeps its account and full JID
    return full;
  }
}

// ---- parsing and the cache ------------------------------------------------------------------

// A two-generation cache, a cheap LRU: new entries and hits from the old generation go to the
// young one; when the young one is full it becomes the old one and the old one is dropped. An
// entry so survives at least CACHE_SIZE / 2 misses after its last use and at most CACHE_SIZE.
// (A single Map evicting its first key is quadratic in V8: deleted slots stay until a rehash.)
let young = new Map<string, JID>();
let old = new Map<string, JID>();

function lookup(key: string): JID | undefined {
  const hit = young.get(key);
  if (hit !== undefined) return hit;
  const aged = old.get(key);
  if (aged !== undefined) remember(key, aged);
  return aged;
}

function remember(key: string, value: JID): void {
  if (key.length > MAX_CACHED_LENGTH) return;
  if (young.size >= CACHE_SIZE / 2) {
    const dropped = old;
    dropped.clear();
    old = young;
    young = dropped;
  }
  young.set(key, value);
}

/** Splits and normalises per RFC 7622 §3.1. Throws JidError. Results are cached (bounded, near-LRU). */
export function parseJid(s: string): JID {
  const hit = lookup(s);
  if (hit !== undefined) return hit;
  if (s.length > 3 * MAX_RAW_PART + 2) throw new JidError("JID too long");
  // Kept in the cache and by whoever holds the JID: not a view into the stanza's input chunk
  // (one such key per cached JID kept 900 whole messages alive in the one-to-one benchmark).
  s = detach(s);
  const slash = s.indexOf("/");
  const head = slash < 0 ? s : s.slice(0, slash);
  const at = head.indexOf("@");
  const local = at < 0 ? "" : head.slice(0, at);
  if (at === 0) throw new JidError("empty localpart");
  if (slash >= 0 && slash === s.length - 1) throw new JidError("empty resourcepart");
  const result = new JID(INTERNAL,
    at < 0 ? "" : normalizeLocal(local),
    normalizeDomain(at < 0 ? head : head.slice(at + 1)),
    slash < 0 ? "" : normalizeResource(s.slice(slash + 1)));
  remember(s, result);
  const canonical = result.toString();
  if (canonical !== s && !young.has(canonical)) remember(canonical, result);
  return result;
}

/** parseJid that answers undefined instead of throwing on a malformed JID. */
export function tryParseJid(s: string): JID | undefined {
  try {
    return parseJid(s);
  } catch (e) {
    if (e instanceof JidError) return undefined;
    throw e;
  }
}

/** A JID from its parts, each normalised; "" (or no resource) means the part is absent. */
export function jid(local: string, domain: string, resource?: string): JID {
  return new JID(INTERNAL,
    local === "" ? "" : normalizeLocal(local),
    normalizeDomain(domain),
    resource === undefined || resource === "" ? "" : normalizeResource(resource));
}

// ---- character classes, compiled once --------------------------------------------------------

/** Shared by both PRECIS classes: ignorables, noncharacters, old Hangul jamo, RFC 5892 §2.6 DISALLOWED. */
const ALWAYS_DISALLOWED = String.raw`\p{Default_Ignorable_Code_Point}\p{Noncharacter_Code_Point}` +
  String.raw`\u1100-\u11FF\uA960-\uA97F\uD7B0-\uD7FF\u0640\u07FA\u302E\u302F\u3031-\u3035\u303B`;
/** RFC 5892 §2.6 exceptions that are PVALID or CONTEXTO though their category is not LetterDigits. */
const ID_EXCEPTIONS = "\u00B7\u0375\u05F3\u05F4\u30FB\u06FD\u06FE\u0F0B\u3007";
/** IdentifierClass (RFC 8264 §9.1): ASCII7 and LetterDigits; HasCompat is checked separately. */
const ID_INVALID = new RegExp(String.raw`[^\x21-\x7E\p{Ll}\p{Lu}\p{Lo}\p{Lm}\p{Nd}\p{Mn}\p{Mc}${ID_EXCEPTIONS}]|[${ALWAYS_DISALLOWED}]`, "u");
/** FreeformClass (RFC 8264 §9.2): adds spaces, symbols, punctuation, HasCompat, OtherLetterDigits. */
const FREE_INVALID = new RegExp(String.raw`[^\x20-\x7E\p{L}\p{M}\p{N}\p{P}\p{S}\p{Zs}]|[${ALWAYS_DISALLOWED}]`, "u");
const NON_ASCII = /[^\x00-\x7F]/gu;
/** Characters with a <wide> or <narrow> decomposition (RFC 8265 §3.3.2 width mapping). */
const WIDE_NARROW = /[\u3000\uFF01-\uFFEE]/gu;
const NON_ASCII_SPACE = /[\p{Zs}--\x20]/gv;
const CONTEXT_O = /[\u00B7\u0375\u05F3\u05F4\u30FB\u0660-\u0669\u06F0-\u06F9]/u;
const LOCAL_FORBIDDEN = /["&'/:<>@]/;
const ASCII_LOCAL = /^[\x21-\x7E]+$/;
const ASCII_RESOURCE = /^[\x20-\x7E]+$/;

// ---- localpart: UsernameCaseMapped ----------------------------------------------------------

function mapUsername(s: string): string {
  return s.replace(WIDE_NARROW, (c) => c.normalize("NFKC")).toLowerCase().normalize("NFC");
}

export function normalizeLocal(s: string): string {
  if (ASCII_LOCAL.test(s)) {
    // ASCII7 is PVALID, already NFC, and has no bidi: only the XMPP exclusions and length remain.
    if (s.length > MAX_PART_BYTES) throw new JidError("localpart longer than 1023 octets");
    if (LOCAL_FORBIDDEN.test(s)) throw new JidError("localpart contains a forbidden character");
    return s.toLowerCase();
  }
  const out = stabilise(s, mapUsername, "localpart");
  if (LOCAL_FORBIDDEN.test(out)) throw new JidError("localpart contains a forbidden character");
  if (ID_INVALID.test(out)) throw new JidError("localpart contains a disallowed character");
  for (const [c] of out.matchAll(NON_ASCII)) {
    if (c.normalize("NFKC") !== c && !ID_EXCEPTIONS.includes(c)) {
      throw new JidError("localpart contains a compatibility character");
    }
  }
  checkContextO(out, "localpart");
  checkBidi(out);
  return out;
}

// ---- resourcepart: OpaqueString -------------------------------------------------------------

function mapOpaque(s: string): string {
  return s.replace(NON_ASCII_SPACE, " ").normalize("NFC");
}

/** Spaces anywhere, case and width are kept: OpaqueString maps only non-ASCII spaces and applies NFC. */
export function normalizeResource(s: string): string {
  if (ASCII_RESOURCE.test(s)) {
    if (s.length > MAX_PART_BYTES) throw new JidError("resourcepart longer than 1023 octets");
    return s;
  }
  const out = stabilise(s, mapOpaque, "resourcepart");
  if (FREE_INVALID.test(out)) throw new JidError("resourcepart contains a disallowed character");
  checkContextO(out, "resourcepart");
  return out;
}

/** Applies a PRECIS mapping until it is stable (RFC 8264 §7), then checks emptiness and length. */
function stabilise(s: string, map: (s: string) => string, part: string): string {
  if (s.length > MAX_RAW_PART) throw new JidError(`${part} too long`);
  if (!s.isWellFormed()) throw new JidError(`${part} contains a lone surrogate`);
  let out = map(s);
  for (let pass = 1; ; pass++) {
    const again = map(out);
    if (again === out) break;
    if (pass === MAX_STABILITY_PASSES - 1) throw new JidError(`${part} does not stabilise`);
    out = again;
  }
  if (out === "") throw new JidError(`empty ${part}`);
  if (Buffer.byteLength(out, "utf8") > MAX_PART_BYTES) throw new JidError(`${part} longer than 1023 octets`);
  return out;
}

const GREEK = /\p{Script=Greek}/u;
const HEBREW = /\p{Script=Hebrew}/u;
const KANA_HAN = /[\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Han}]/u;

/** RFC 5892 Appendix A.3-A.9. */
function checkContextO(s: string, part: string): void {
  if (!CONTEXT_O.test(s)) return;
  const cps = Array.from(s);
  const hasArabicIndic = /[\u0660-\u0669]/.test(s);
  const hasExtended = /[\u06F0-\u06F9]/.test(s);
  for (let i = 0; i < cps.length; i++) {
    const c = cps[i]!, before = cps[i - 1] ?? "", after = cps[i + 1] ?? "";
    let ok = true;
    if (c === "\u00B7") ok = before === "l" && after === "l";
    else if (c === "\u0375") ok = GREEK.test(after);
    else if (c === "\u05F3" || c === "\u05F4") ok = HEBREW.test(before);
    else if (c === "\u30FB") ok = KANA_HAN.test(s);
    else if (c >= "\u0660" && c <= "\u0669") ok = !hasExtended;
    else if (c >= "\u06F0" && c <= "\u06F9") ok = !hasArabicIndic;
    if (!ok) throw new JidError(`${part}: U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")} out of context`);
  }
}

// ---- the Bidi Rule (RFC 5893 §2), with Bidi_Class approximated --------------------------------

const RTL_SCRIPTS = ["Hebrew", "Arabic", "Syriac", "Thaana", "Nko", "Samaritan", "Mandaic", "Adlam",
  "Hanifi_Rohingya", "Mende_Kikakui", "Imperial_Aramaic", "Phoenician", "Kharoshthi", "Old_South_Arabian",
  "Old_North_Arabian", "Avestan", "Inscriptional_Parthian", "Inscriptional_Pahlavi", "Psalter_Pahlavi",
  "Old_Turkic", "Lydian", "Cypriot", "Old_Hungarian", "Sogdian", "Old_Sogdian", "Elymaic", "Chorasmian",
  "Yezidi", "Nabataean", "Palmyrene", "Hatran", "Manichaean", "Meroitic_Cursive", "Meroitic_Hieroglyphs"];
const RTL = new RegExp(`[${RTL_SCRIPTS.map((s) => String.raw`\p{Script=${s}}`).join("")}]`, "u");
const AN = /[\u0600-\u0605\u0660-\u0669\u066B\u066C\u06DD\u0890\u0891\u08E2\u{10D30}-\u{10D39}\u{10E60}-\u{10E7E}]/u;
const EN = /[0-9\u06F0-\u06F9]/u;
const NSM = /[\p{Mn}\p{Me}]/u;
const STRONG_L = /[\p{L}\p{Mc}\p{Nd}\p{Nl}]/u;

type Bidi = "L" | "R" | "AN" | "EN" | "NSM" | "ON";

function bidiClass(c: string): Bidi {
  if (NSM.test(c)) return "NSM";
  if (AN.test(c)) return "AN";
  if (EN.test(c)) return "EN";
  if (RTL.test(c)) return "R";
  if (STRONG_L.test(c)) return "L";
  return "ON";
}

function checkBidi(s: string): void {
  if (!RTL.test(s) && !AN.test(s)) return;
  // A string holding R, AL or AN fails rule 5 if it starts with L, so it must be an RTL label:
  // starts with R/AL (rule 1), has no L (rule 2), ends R/AL/EN/AN then NSMs (rule 3), not EN and AN (rule 4).
  const classes = Array.from(s, bidiClass);
  let last: Bidi = "NSM";
  let hasEN = false, hasAN = false;
  for (const k of classes) {
    if (k === "L") throw new JidError("localpart violates the Bidi Rule (mixed directions)");
    if (k === "EN") hasEN = true;
    if (k === "AN") hasAN = true;
    if (k !== "NSM") last = k;
  }
  if (classes[0] !== "R") throw new JidError("localpart violates the Bidi Rule (must start right-to-left)");
  if (last === "ON" || last === "NSM") throw new JidError("localpart violates the Bidi Rule (ending)");
  if (hasEN && hasAN) throw new JidError("localpart violates the Bidi Rule (mixed digits)");
}

// ---- domainpart -----------------------------------------------------------------------------

const ASCII_ONLY = /^[\x00-\x7F]*$/;
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
/** A last label WHATWG's host parser would read as a number (so as an IPv4 address). */
const NUMERIC_LABEL = /^(?:\d+|0x[0-9a-f]*)$/;

/** Lower-cased U-labels without a trailing dot, or an IP literal. Throws JidError. */
export function normalizeDomain(s: string): string {
  if (s.length === 0) throw new JidError("empty domainpart");
  if (s.length > MAX_RAW_PART) throw new JidError("domainpart too long");
  if (s.startsWith("[")) return ipv6Literal(s);
  let ascii: string;
  if (ASCII_ONLY.test(s)) {
    ascii = stripDot(s.toLowerCase());
    if (IPV4.test(ascii)) return ascii;
  } else {
    // UTS-46 mapping (case, width, label separators like U+3002) and Punycode, by node:url.
    ascii = stripDot(domainToASCII(s));
    if (ascii === "") throw new JidError("invalid domainpart");
  }
  if (ascii.length > MAX_PART_BYTES) throw new JidError("domainpart longer than 1023 octets");
  if (!checkLabels(ascii)) return ascii;
  const unicode = domainToUnicode(ascii);
  // A bad A-label comes back undecoded; a non-canonical one does not re-encode to itself.
  if (/(?:^|\.)xn--/.test(unicode) || domainToASCII(unicode) !== ascii) {
    throw new JidError("invalid A-label in domainpart");
  }
  if (Buffer.byteLength(unicode, "utf8") > MAX_PART_BYTES) throw new JidError("domainpart longer than 1023 octets");
  return unicode;
}

/**
 * Each label LDH (STD3), 1..63 octets, no hyphen at either end, "--" in positions 3-4 only in an
 * A-label; the last label not numeric. A hot path, hence a loop rather than split and a regex.
 * Returns whether there is an A-label.
 */
function checkLabels(ascii: string): boolean {
  let start = 0, idn = false;
  for (let i = 0; i <= ascii.length; i++) {
    const c = i < ascii.length ? ascii.charCodeAt(i) : 46;
    if (c === 46) { // "."
      const len = i - start;
      if (len === 0 || len > 63) throw new JidError("empty or over-long domainpart label");
      if (ascii.charCodeAt(start) === 45 || ascii.charCodeAt(i - 1) === 45) throw new JidError("hyphen at the end of a domainpart label");
      if (len >= 4 && ascii.charCodeAt(start + 2) === 45 && ascii.charCodeAt(start + 3) === 45) {
        if (!ascii.startsWith("xn--", start)) throw new JidError("reserved domainpart label");
        idn = true;
      }
      start = i + 1;
    } else if (!((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45)) {
      throw new JidError("domainpart label is not letters, digits and hyphens");
    }
  }
  const lastDot = ascii.lastIndexOf(".");
  if (NUMERIC_LABEL.test(lastDot < 0 ? ascii : ascii.slice(lastDot + 1))) throw new JidError("numeric top-level label");
  return idn;
}

function stripDot(s: string): string {
  // RFC 7622 §3.2: a final label separator MUST be stripped.
  return s.endsWith(".") ? s.slice(0, -1) : s;
}

function ipv6Literal(s: string): string {
  if (!s.endsWith("]") || !isIPv6(s.slice(1, -1))) throw new JidError("invalid IPv6 literal");
  const canonical = domainToASCII(s); // RFC 5952 text form; "" for what WHATWG refuses (zone ids)
  if (canonical === "") throw new JidError("invalid IPv6 literal");
  return canonical;
}
