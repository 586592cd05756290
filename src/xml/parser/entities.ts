// References: XML 1.0 §4.1 character references and the five predefined entities of §4.6.
// RFC 6120 §11.1 forbids declaring entities, so any other entity reference is undefined and
// the stream is not well-formed.
import { CHARS } from "./chars.ts";
import { PARSE, type ParserState } from "./state.ts";

const { ASCII, HASH, REF_CHAR, SEMI, isXmlChar } = CHARS;
const { NEED } = PARSE;

/** The longest reference accepted, '&' to ';' ("&#x10FFFF;" is 10; leading zeros beyond this are refused). */
const MAX_REF = 32;

/** The reference at buf[i] === '&'; its text goes to `refText`. */
const reference = (p: ParserState, buf: string, i: number, len: number): number => {
  const max = i + MAX_REF < len ? i + MAX_REF : len;
  let j = i + 1;
  for (; j < max; j++) {
    const c = buf.charCodeAt(j);
    if (c === SEMI) break;
    if (c >= 128 || (ASCII[c]! & REF_CHAR) === 0) return p.fail("not-well-formed", "malformed reference or bare '&'");
  }
  if (j === max) return max < i + MAX_REF ? NEED : p.fail("not-well-formed", "unterminated reference");
  if (buf.charCodeAt(i + 1) === HASH) return charReference(p, buf, i + 2, j);
  const n = j - i - 1;
  let t: string | undefined;
  if (n === 2 && buf.charCodeAt(i + 2) === 0x74) { // lt, gt
    t = buf.charCodeAt(i + 1) === 0x6c ? "<" : buf.charCodeAt(i + 1) === 0x67 ? ">" : undefined;
  } else if (n === 3 && buf.startsWith("amp", i + 1)) t = "&";
  else if (n === 4 && buf.startsWith("quot", i + 1)) t = "\"";
  else if (n === 4 && buf.startsWith("apos", i + 1)) t = "'";
  if (t === undefined) return p.fail("not-well-formed", `undefined entity &${buf.slice(i + 1, j)};`);
  p.refText = t;
  return j + 1;
};

/** The digits of "&#...;" or "&#x...;" in buf[k, end), end being the ';'. */
const charReference = (p: ParserState, buf: string, k: number, end: number): number => {
  const hex = buf.charCodeAt(k) === 0x78;
  if (hex) k++;
  if (k >= end) return p.fail("not-well-formed", "empty character reference");
  let cp = 0;
  for (; k < end; k++) {
    const c = buf.charCodeAt(k);
    const l = c | 0x20;
    let d: number;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (hex && l >= 0x61 && l <= 0x66) d = l - 0x57;
    else return p.fail("not-well-formed", "malformed character reference");
    cp = cp * (hex ? 16 : 10) + d;
    if (cp > 0x10ffff) return p.fail("not-well-formed", "character reference out of range");
  }
  if (!isXmlChar(cp)) return p.fail("not-well-formed", "character reference to an illegal character");
  p.refText = String.fromCodePoint(cp);
  return end + 1;
};

/** This module's functions, for importers to destructure into module-local consts (see state.ts). */
export const ENTITIES = { reference };
