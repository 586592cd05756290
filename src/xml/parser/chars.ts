// Character classes of XML 1.0 (fifth edition): §2.3 NameStartChar / NameChar restricted to
// QNames (Namespaces in XML 1.0 §3), §2.2 Char and §2.3 S, tested with charCodeAt, never a
// regular expression per character. Exported as one object, CHARS, for the reason in state.ts.
import { PARSE } from "./state.ts";

const { NEED } = PARSE;

const TAB = 0x09, LF = 0x0a, CR = 0x0d, SP = 0x20, HASH = 0x23, COLON = 0x3a;

// ASCII character classes, as bits of ASCII[c].
const NAME_START = 1;
const NAME_CHAR = 2;
const NAME_COLON = 4;
const SPACE = 8;
const REF_CHAR = 16;
const ASCII = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const letter = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
  const digit = c >= 0x30 && c <= 0x39;
  let k = 0;
  if (letter || c === 0x5f) k |= NAME_START | NAME_CHAR;
  if (digit || c === 0x2d || c === 0x2e) k |= NAME_CHAR;
  if (c === COLON) k |= NAME_COLON;
  if (c === SP || c === TAB || c === LF || c === CR) k |= SPACE;
  if (letter || digit || c === HASH) k |= REF_CHAR;
  ASCII[c] = k;
}

/** Width (1, or 2 for a surrogate pair) of the non-ASCII name character at i; 0 if it is none; NEED if cut. */
const nameCharWidth = (buf: string, i: number, len: number, start: boolean): number => {
  const c = buf.charCodeAt(i);
  if (c >= 0xd800 && c <= 0xdbff) {
    if (i + 1 >= len) return NEED;
    const d = buf.charCodeAt(i + 1);
    return d >= 0xdc00 && d <= 0xdfff && c <= 0xdb7f ? 2 : 0; // U+10000..U+EFFFF
  }
  if ((c >= 0xc0 && c <= 0xd6) || (c >= 0xd8 && c <= 0xf6) || (c >= 0xf8 && c <= 0x2ff) ||
    (c >= 0x370 && c <= 0x37d) || (c >= 0x37f && c <= 0x1fff) || c === 0x200c || c === 0x200d ||
    (c >= 0x2070 && c <= 0x218f) || (c >= 0x2c00 && c <= 0x2fef) || (c >= 0x3001 && c <= 0xd7ff) ||
    (c >= 0xf900 && c <= 0xfdcf) || (c >= 0xfdf0 && c <= 0xfffd)) return 1;
  if (start) return 0;
  return c === 0xb7 || (c >= 0x300 && c <= 0x36f) || c === 0x203f || c === 0x2040 ? 1 : 0;
};

/** XML 1.0 §2.2 Char, for character references. */
const isXmlChar = (cp: number): boolean =>
  cp >= 0x20 ? cp <= 0xd7ff || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff)
    : cp === TAB || cp === LF || cp === CR;

/** The index of the first non-S character (XML 1.0 §2.3) at or after i, or len. */
const skipSpace = (buf: string, i: number, len: number): number => {
  while (i < len) {
    const c = buf.charCodeAt(i);
    if (c !== SP && c !== LF && c !== CR && c !== TAB) break;
    i++;
  }
  return i;
};

export const CHARS = {
  // Character codes.
  TAB, LF, CR, SP, BANG: 0x21, QUOT: 0x22, HASH, AMP: 0x26, APOS: 0x27, SLASH: 0x2f, COLON,
  SEMI: 0x3b, LT: 0x3c, EQ: 0x3d, GT: 0x3e, QMARK: 0x3f, RSQB: 0x5d,
  // ASCII[c]: the class bits of the ASCII character c.
  ASCII, NAME_START, NAME_CHAR, NAME_COLON, SPACE, REF_CHAR,
  nameCharWidth, isXmlChar, skipSpace,
};
