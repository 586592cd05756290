// Attributes of a start tag: XML 1.0 §3.1 (S Name Eq AttValue, unique names), §3.3.3
// attribute-value normalisation and the §2.4 ban on '<' in values; bounded by maxAttributes
// and maxNameLength before the work they bound.
import { CHARS } from "./chars.ts";
import { ENTITIES } from "./entities.ts";
import { NAMES } from "./names.ts";
import { NAMESPACES } from "./namespaces.ts";
import { PARSE, type ParserState } from "./state.ts";
import { TEXT } from "./text.ts";

const { AMP, APOS, CR, EQ, GT, LF, LT, QUOT, SLASH, SP, TAB, skipSpace } = CHARS;
const { reference } = ENTITIES;
const { nameAt, scanName } = NAMES;
const { badDeclaration } = NAMESPACES;
const { NEED, WAIT_TAG } = PARSE;
const { wide } = TEXT;

/** A tag cut by the end of input waits for its '>' (outside quotes, `quote` being the one open). */
const waitTag = (p: ParserState, r: number, quote: number): number => {
  if (r === NEED) {
    p.waitKind = WAIT_TAG;
    p.waitQuote = quote;
  }
  return r;
};

/**
 * The names of the tag being scanned so far, for the duplicate check: one array for every
 * parser, since a tag is scanned in one synchronous pass (a tag cut by a chunk boundary is
 * scanned again from its '<'), so no connection keeps one of its own.
 */
const seen: string[] = [];

/** The attributes of a start tag, up to and including its '>' or '/>'; sets the tag's fields. */
const attributes = (p: ParserState, buf: string, i: number, len: number, attrs: Record<string, string>): number => {
  const max = p.active.maxAttributes;
  let count = 0;
  p.decls = null;
  p.defaultNs = undefined;
  p.prefixed = 0;
  p.stored = 0;
  for (;;) {
    if (i >= len) return waitTag(p, NEED, 0);
    let c = buf.charCodeAt(i);
    const spaced = c === SP || c === LF || c === CR || c === TAB;
    if (spaced) {
      i = skipSpace(buf, i + 1, len);
      if (i >= len) return waitTag(p, NEED, 0);
      c = buf.charCodeAt(i);
    }
    if (c === GT) {
      p.selfClose = false;
      return i + 1;
    }
    if (c === SLASH) {
      if (i + 1 >= len) return waitTag(p, NEED, 0);
      if (buf.charCodeAt(i + 1) !== GT) return p.fail("not-well-formed", "expected '>' after '/'");
      p.selfClose = true;
      return i + 2;
    }
    if (!spaced) return p.fail("not-well-formed", "expected whitespace, '>' or '/>' in a tag");
    if (++count > max) return p.fail("policy-violation", "too many attributes");
    i = attribute(p, buf, i, len, attrs);
    if (i < 0) return i;
  }
};

/**
 * One name='value' pair: checked, stored in attrs unless its name repeats (XML 1.0 §3.1), its
 * namespace declaration noted (see namespaces.ts). One function on purpose, see scanName().
 */
const attribute = (p: ParserState, buf: string, i: number, len: number, attrs: Record<string, string>): number => {
  const start = i;
  i = scanName(p, buf, i, len, p.active.maxNameLength);
  if (i < 0) return waitTag(p, i, 0);
  const name = nameAt(buf, start, i);
  const colon = p.colon;
  i = skipSpace(buf, i, len);
  if (i >= len) return waitTag(p, NEED, 0);
  if (buf.charCodeAt(i) !== EQ) return p.fail("not-well-formed", `attribute ${name} has no '='`);
  i = skipSpace(buf, i + 1, len);
  if (i >= len) return waitTag(p, NEED, 0);
  const q = buf.charCodeAt(i);
  if (q !== QUOT && q !== APOS) return p.fail("not-well-formed", `attribute ${name} is not quoted`);
  i = attrValue(p, buf, i + 1, len, q);
  if (i < 0) return waitTag(p, i, q);
  const value = p.value;
  if (colon === 5 && name.startsWith("xmlns")) {
    const problem = badDeclaration(name.slice(6), value);
    if (problem !== undefined) return p.fail("not-well-formed", problem);
    (p.decls ??= []).push(name.slice(6), value);
  } else if (colon > 0) {
    p.prefixed++;
  } else if (name === "xmlns") {
    if (p.defaultNs !== undefined) return p.fail("not-well-formed", "duplicate attribute xmlns");
    p.defaultNs = value;
    if (p.level === 0 && value === p.rootDefault) return i; // normalisation: the stream's namespace
  }
  for (let k = 0; k < p.stored; k++) {
    if (seen[k] === name) return p.fail("not-well-formed", `duplicate attribute ${name}`);
  }
  seen[p.stored++] = name;
  if (name === "__proto__") Object.defineProperty(attrs, name, { value, enumerable: true, writable: true, configurable: true });
  else attrs[name] = value;
  return i;
};

/** An attribute value after its opening quote q; sets `value` (references expanded, whitespace normalised). */
const attrValue = (p: ParserState, buf: string, i: number, len: number, q: number): number => {
  const start = i;
  let out = "";
  let seg = i;
  let slow = false;
  while (i < len) {
    const c = buf.charCodeAt(i);
    if (c > GT) {
      if (c < 0xd800) {
        i++;
        continue;
      }
      const w = wide(p, buf, i, len, c);
      if (w < 0) return w;
      i += w;
    } else if (c >= SP) {
      if (c === q) {
        p.value = slow ? out + buf.slice(seg, i) : buf.slice(start, i);
        return i + 1;
      }
      if (c === LT) return p.fail("not-well-formed", "'<' in an attribute value");
      if (c === AMP) {
        const r = reference(p, buf, i, len);
        if (r < 0) return r;
        out += buf.slice(seg, i) + p.refText;
        slow = true;
        i = seg = r;
        continue;
      }
      i++;
    } else if (c === TAB || c === LF || c === CR) {
      // §3.3.3 attribute-value normalisation (after §2.11 line-end handling: CR LF is one space).
      if (c === CR && i + 1 >= len) return NEED;
      out += buf.slice(seg, i) + " ";
      slow = true;
      i += c === CR && buf.charCodeAt(i + 1) === LF ? 2 : 1;
      seg = i;
    } else {
      return p.fail("not-well-formed", "illegal character in an attribute value");
    }
  }
  return NEED;
};

/** This module's functions, for importers to destructure into module-local consts (see state.ts). */
export const ATTRIBUTES = { waitTag, attributes };
