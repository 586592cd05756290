// Markup outside character data. RFC 6120 §11.1: an XMPP entity "MUST NOT" accept comments,
// processing instructions or DTDs (internal or external subsets); it closes the stream with
// <restricted-xml/>. What remains: tags, CDATA sections inside a stanza (XML 1.0 §2.7) and
// the XML declaration before the root (§2.8), and between stanzas only whitespace (§11.7).
// After the root's end tag the stream is over (RFC 6120 §4.4): whatever follows is ignored.
import { CHARS } from "./chars.ts";
import { PARSE, type ParserState } from "./state.ts";
import { TAGS } from "./tags.ts";

const { ASCII, BANG, CR, LF, LT, QMARK, SLASH, SP, SPACE, TAB } = CHARS;
const { ENDED, NEED, NO_LIMIT, PROLOG, WAIT_PI } = PARSE;
const { endTag, startTag } = TAGS;

const CDATA_OPEN = "<![CDATA[";
const DECL_OPEN = "<?xml";
const S = "[ \\t\\r\\n]";
/** XML 1.0 §2.8 XMLDecl, matched once per stream (never per character). */
const XML_DECL = new RegExp(
  `^<\\?xml${S}+version${S}*=${S}*(?:"1\\.[0-9]+"|'1\\.[0-9]+')` +
  `(?:${S}+encoding${S}*=${S}*(?:"([A-Za-z][A-Za-z0-9._-]*)"|'([A-Za-z][A-Za-z0-9._-]*)'))?` +
  `(?:${S}+standalone${S}*=${S}*(?:"(?:yes|no)"|'(?:yes|no)'))?${S}*\\?>$`,
);

/** Between stanzas and before the root: only whitespace (keepalives) and markup. After the root: anything, unread. */
const outside = (p: ParserState, buf: string, pos: number, len: number): number => {
  if (p.level === ENDED) return len;
  let i = pos;
  while (i < len) {
    const c = buf.charCodeAt(i);
    if (c === SP || c === LF || c === CR || c === TAB) {
      i++;
      continue;
    }
    if (c !== LT) return p.fail("not-well-formed", p.level === PROLOG ? "text before the stream header" : "text outside a stanza");
    if (i > pos) return i;
    if (p.limitEnd === NO_LIMIT) {
      // A top-level element (or the stream header) starts: bound it before reading it.
      p.active = p.limits;
      p.limitEnd = i + p.active.maxStanzaSize;
      if (p.limitEnd < len) len = p.limitEnd;
    }
    return markup(p, buf, i, len);
  }
  return i > pos ? i : NEED;
};

/** The markup at buf[pos] === '<'. */
const markup = (p: ParserState, buf: string, pos: number, len: number): number => {
  if (pos + 1 >= len) return NEED;
  const c = buf.charCodeAt(pos + 1);
  if (c === SLASH) return endTag(p, buf, pos, len);
  if (c === BANG) return bang(p, buf, pos, len);
  if (c === QMARK) return pi(p, buf, pos, len);
  return startTag(p, buf, pos, len);
};

/** "<!": only a CDATA section inside a stanza; comments, DOCTYPE and other declarations are restricted. */
const bang = (p: ParserState, buf: string, pos: number, len: number): number => {
  const n = len - pos < 9 ? len - pos : 9;
  for (let k = 2; k < n; k++) {
    if (buf.charCodeAt(pos + k) !== CDATA_OPEN.charCodeAt(k)) {
      return p.fail("restricted-xml", buf.charCodeAt(pos + 2) === 0x2d
        ? "comments are not allowed" : "DTDs and markup declarations are not allowed");
    }
  }
  if (n < 9) return NEED;
  if (p.level <= 0) return p.fail("not-well-formed", "CDATA outside a stanza");
  p.inCdata = true;
  return pos + 9;
};

/** "<?": only the XML declaration, before the root; any other processing instruction is restricted. */
const pi = (p: ParserState, buf: string, pos: number, len: number): number => {
  const n = len - pos < 5 ? len - pos : 5;
  for (let k = 2; k < n; k++) {
    if (buf.charCodeAt(pos + k) !== DECL_OPEN.charCodeAt(k)) return p.fail("restricted-xml", "processing instructions are not allowed");
  }
  if (len - pos < 6) return NEED;
  const c = buf.charCodeAt(pos + 5);
  if (c >= 128 || (ASCII[c]! & SPACE) === 0) return p.fail("restricted-xml", "processing instructions are not allowed");
  if (p.level !== PROLOG || p.sawDecl) {
    return p.fail("restricted-xml", "an XML declaration is allowed only at the start of a stream");
  }
  const end = buf.indexOf("?>", pos + 6);
  if (end < 0 || end + 2 > len) {
    p.waitKind = WAIT_PI;
    p.waitQuote = buf.charCodeAt(len - 1) === QMARK ? QMARK : 0;
    return NEED;
  }
  const m = XML_DECL.exec(buf.slice(pos, end + 2));
  if (m === null) return p.fail("not-well-formed", "malformed XML declaration");
  const encoding = m[1] ?? m[2];
  if (encoding !== undefined && encoding.toLowerCase() !== "utf-8") {
    return p.fail("unsupported-encoding", `encoding ${encoding} is not supported, only UTF-8`);
  }
  p.sawDecl = true;
  return end + 2;
};

/** This module's functions, for importers to destructure into module-local consts (see state.ts). */
export const MARKUP = { outside, markup };
