// The state machine that walks the input. One loop dispatches on the parser's state (between
// stanzas, in character data, at markup, in a CDATA section) to scanners that use only
// indexOf/charCodeAt; every limit is checked before the work it bounds. The only input ever
// buffered is the one unfinished token (a tag, reference or line end cut by the chunk boundary),
// and while a tag waits for its '>' new chunks are scanned only for that terminator, so input
// trickled a byte at a time costs linear, not quadratic, time. Handlers run after the parser's
// own state is consistent, so a handler may call write(), reset() or setLimits() or throw.
import type { Element } from "../element.ts";
import { CHARS } from "./chars.ts";
import { MARKUP } from "./markup.ts";
import { PARSE, type ParserState } from "./state.ts";
import { TEXT } from "./text.ts";

const { APOS, GT, LT, QMARK, QUOT } = CHARS;
const { markup, outside } = MARKUP;
const { EMIT_END, EMIT_NONE, EMIT_STANZA, EMIT_START, ENDED, FAIL, NEED, NO_LIMIT, PROLOG, WAIT_GT, WAIT_NONE, WAIT_PI } = PARSE;
const { cdata, content } = TEXT;

/** Parses the decoded text `s` as far as it goes. */
const feed = (p: ParserState, s: string): void => {
  if (s.length === 0 || p.level === ENDED) return; // the stream is over (RFC 6120 §4.4)
  if (p.busy) {
    p.buf += s; // written from a handler: the running loop picks it up
    return;
  }
  if (p.waitKind !== WAIT_NONE) {
    p.parts.push(s);
    p.partsLen += s.length;
    if (!resume(p, s) && p.buf.length + p.partsLen < p.limitEnd) return;
    p.waitKind = WAIT_NONE;
    s = p.parts.length === 1 ? s : p.parts.join("");
    p.parts = [];
    p.partsLen = 0;
  }
  p.buf = p.buf.length === 0 ? s : p.buf + s;
  p.busy = true;
  try {
    loop(p);
  } finally {
    p.busy = false;
    if (p.pos !== 0) compact(p);
    if (p.level <= 0) idle(p);
  }
};

/**
 * Between stanzas: let go of what only an open stanza needs, since a connection may now stay idle
 * for hours. The element stack's backing stores (about 300 bytes, grown on the first stanza)
 * are reallocated by the next stanza, and the last attribute value scanned is a slice that
 * would pin its whole input chunk.
 */
const idle = (p: ParserState): void => {
  if (p.stack.length !== 0) {
    p.stack = [];
    p.scopes = [];
  }
  p.value = "";
};

/** Runs the scanners over `buf` until one needs more input or fails, telling the handler what ends. */
const loop = (p: ParserState): void => {
  const gen = p.gen;
  let buf = p.buf;
  let pos = p.pos;
  for (;;) {
    const len = p.limitEnd < buf.length ? p.limitEnd : buf.length;
    let r: number;
    if (pos >= len) r = NEED;
    else if (p.inCdata) r = cdata(p, buf, pos, len);
    else if (p.level > 0) r = buf.charCodeAt(pos) === LT ? markup(p, buf, pos, len) : content(p, buf, pos, len);
    else r = outside(p, buf, pos, len);
    if (r < 0) {
      if (r === FAIL) return;
      if (p.limitEnd <= buf.length) {
        p.fail("policy-violation", p.level === PROLOG ? "stream header too large" : "stanza too large");
        return;
      }
      p.buf = buf;
      p.pos = pos;
      return;
    }
    pos = r;
    if (p.emitKind !== EMIT_NONE) {
      p.buf = buf;
      p.pos = pos;
      emit(p);
      if (p.gen !== gen || p.failed) return;
      buf = p.buf; // a handler may have written more
    }
  }
};

/** Drops the consumed input after a handler ran mid-buffer. */
const compact = (p: ParserState): void => {
  const pos = p.pos;
  p.buf = pos >= p.buf.length ? "" : p.buf.slice(pos);
  p.pos = 0;
  if (p.limitEnd !== NO_LIMIT) p.limitEnd -= pos;
};

/** Calls the handler for what `emitKind` says is complete; a handler may reset or fail the parser. */
const emit = (p: ParserState): void => {
  const kind = p.emitKind;
  p.emitKind = EMIT_NONE;
  if (kind === EMIT_STANZA) {
    const el = p.emitEl as Element;
    p.emitEl = null;
    p.handler.stanza(el);
    return;
  }
  if (kind !== EMIT_END) {
    const attrs = p.rootAttrs ?? {};
    p.rootAttrs = null;
    const gen = p.gen;
    p.handler.streamStart(p.rootName, attrs);
    if (kind === EMIT_START || p.gen !== gen || p.failed) return;
  }
  p.handler.streamEnd();
};

/** Scans a chunk that arrived while a tag waits; true once the tag's terminator is in it. */
const resume = (p: ParserState, s: string): boolean => {
  if (p.waitKind === WAIT_GT) return s.indexOf(">") >= 0;
  if (p.waitKind === WAIT_PI) {
    if (p.waitQuote === QMARK && s.charCodeAt(0) === GT) return true;
    if (s.indexOf("?>") >= 0) return true;
    p.waitQuote = s.charCodeAt(s.length - 1) === QMARK ? QMARK : 0;
    return false;
  }
  let q = p.waitQuote;
  for (let i = 0; i < s.length;) {
    if (q !== 0) {
      const j = s.indexOf(q === QUOT ? "\"" : "'", i);
      if (j < 0) break;
      q = 0;
      i = j + 1;
      continue;
    }
    const c = s.charCodeAt(i++);
    if (c === GT) return true;
    if (c === QUOT || c === APOS) q = c;
  }
  p.waitQuote = q;
  return false;
};

/** This module's functions, for importers to destructure into module-local consts (see state.ts). */
export const TOKENIZER = { feed };
