// Character data: XML 1.0 §2.4 (no '<', '&' only as a reference, no "]]>"), §2.7 CDATA
// sections, §2.2 Char (no C0 controls but TAB/LF/CR, no U+FFFE/U+FFFF, no unpaired surrogate)
// and §2.11 line-end handling. Text accumulates in `text` until the next child or end tag.
import { CHARS } from "./chars.ts";
import { ENTITIES } from "./entities.ts";
import { PARSE, type ParserState } from "./state.ts";

const { AMP, CR, GT, LF, LT, RSQB, SP, TAB } = CHARS;
const { reference } = ENTITIES;
const { FAIL, NEED } = PARSE;

/** Width of a character ≥ U+D800: 2 for a surrogate pair, 1 for other legal ones, NEED if cut. */
const wide = (p: ParserState, buf: string, i: number, len: number, c: number): number => {
  if (c >= 0xe000) return c < 0xfffe ? 1 : p.fail("not-well-formed", "illegal character U+FFFE/U+FFFF");
  if (c < 0xdc00) {
    if (i + 1 >= len) return NEED;
    const d = buf.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return 2;
  }
  return p.fail("not-well-formed", "unpaired surrogate");
};

/** Character data inside a stanza, up to the next '<'. Consumes what it can; holds back a cut token. */
const content = (p: ParserState, buf: string, pos: number, len: number): number => {
  let i = pos;
  let seg = pos;
  while (i < len) {
    const c = buf.charCodeAt(i);
    if (c > GT) {
      if (c < 0xd800) {
        i++;
        continue;
      }
      const w = wide(p, buf, i, len, c);
      if (w === FAIL) return FAIL;
      if (w === NEED) return textTo(p, buf, pos, seg, i);
      i += w;
    } else if (c >= SP) {
      if (c === LT) return textTo(p, buf, pos, seg, i);
      if (c === AMP) {
        const r = reference(p, buf, i, len);
        if (r === FAIL) return FAIL;
        if (r === NEED) return textTo(p, buf, pos, seg, i);
        if (i > seg) p.text += buf.slice(seg, i);
        p.text += p.refText;
        i = seg = r;
        continue;
      }
      if (c === GT && closesCdata(buf, pos, i)) return p.fail("not-well-formed", "']]>' in character data");
      i++;
    } else if (c === LF || c === TAB) {
      i++;
    } else if (c === CR) {
      // §2.11 line ends: CR LF and lone CR become LF.
      if (i + 1 >= len) return textTo(p, buf, pos, seg, i);
      if (i > seg) p.text += buf.slice(seg, i);
      if (buf.charCodeAt(i + 1) === LF) {
        seg = i + 1;
        i += 2;
      } else {
        p.text += "\n";
        seg = ++i;
      }
    } else {
      return p.fail("not-well-formed", "illegal character");
    }
  }
  return textTo(p, buf, pos, seg, holdBack(buf, seg, len));
};

/** Whether the '>' at i ends a "]]>" within buf[pos, i]. */
const closesCdata = (buf: string, pos: number, i: number): boolean =>
  i - pos >= 2 && buf.charCodeAt(i - 1) === RSQB && buf.charCodeAt(i - 2) === RSQB;

/** Where text cut at len stops: before a trailing "]" or "]]", which the next chunk may make a forbidden "]]>". */
const holdBack = (buf: string, seg: number, len: number): number => {
  let stop = len;
  while (stop > seg && stop > len - 2 && buf.charCodeAt(stop - 1) === RSQB) stop--;
  return stop;
};

/** Adds buf[seg, stop) to the text; what content() returns for a scan that stops at `stop`. */
const textTo = (p: ParserState, buf: string, pos: number, seg: number, stop: number): number => {
  if (stop > seg) p.text += buf.slice(seg, stop);
  return stop > pos ? stop : NEED;
};

/** Inside <![CDATA[ ... ]]>: the content becomes text; a cut "]]>", CR or surrogate pair waits. */
const cdata = (p: ParserState, buf: string, pos: number, len: number): number => {
  const end = buf.indexOf("]]>", pos);
  if (end >= 0 && end + 3 <= len) {
    if (checkedText(p, buf, pos, end) === FAIL) return FAIL;
    p.inCdata = false;
    return end + 3;
  }
  let stop = len - 2;
  if (stop > pos) {
    const c = buf.charCodeAt(stop - 1);
    if (c === CR || (c >= 0xd800 && c <= 0xdbff)) stop--;
  }
  if (stop <= pos) return NEED;
  return checkedText(p, buf, pos, stop);
};

/** Appends buf[from, to) to the text after checking its characters and normalising line ends. */
const checkedText = (p: ParserState, buf: string, from: number, to: number): number => {
  let seg = from;
  for (let i = from; i < to;) {
    const c = buf.charCodeAt(i);
    if ((c >= SP && c < 0xd800) || c === LF || c === TAB) {
      i++;
    } else if (c === CR) {
      p.text += buf.slice(seg, i) + "\n";
      i += buf.charCodeAt(i + 1) === LF ? 2 : 1;
      seg = i;
    } else if (c < SP) {
      return p.fail("not-well-formed", "illegal character");
    } else {
      const w = wide(p, buf, i, buf.length, c);
      if (w < 0) return w === NEED ? p.fail("not-well-formed", "unpaired surrogate") : FAIL;
      i += w;
    }
  }
  if (to > seg) p.text += buf.slice(seg, to);
  return to;
};

/** This module's functions, for importers to destructure into module-local consts (see state.ts). */
export const TEXT = { wide, content, cdata };
