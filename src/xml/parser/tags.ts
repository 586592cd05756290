// Start and end tags: XML 1.0 §3.1 (the end tag matches the start tag, §3 Element Type Match),
// element nesting bounded by maxDepth before a start tag is read, and the tree of ltx elements
// each top-level element becomes (RFC 6120 §4.1: the stream root's children are the stanzas).
import { detach } from "../detach.ts";
import { type Element, FastElement } from "../element.ts";
import { ATTRIBUTES } from "./attributes.ts";
import { CHARS } from "./chars.ts";
import { NAMES } from "./names.ts";
import { NAMESPACES } from "./namespaces.ts";
import { PARSE, type ParserState } from "./state.ts";

const { attributes, waitTag } = ATTRIBUTES;
const { GT, skipSpace } = CHARS;
const { nameAt, scanName } = NAMES;
const { resolve, resolveAttrs } = NAMESPACES;
const { EMIT_END, EMIT_STANZA, EMIT_START, EMIT_START_END, ENDED, FAIL, NEED, NO_LIMIT, PROLOG, WAIT_GT } = PARSE;

/** The start tag at buf[pos] === '<': the stream header, or an element of a stanza. */
const startTag = (p: ParserState, buf: string, pos: number, len: number): number => {
  const level = p.level;
  const lim = p.active;
  if (level >= lim.maxDepth) return p.fail("policy-violation", "elements nested too deep");
  let i = scanName(p, buf, pos + 1, len, lim.maxNameLength);
  if (i < 0) return waitTag(p, i, 0);
  const name = nameAt(buf, pos + 1, i);
  const colon = p.colon;
  const attrs: Record<string, string> = {};
  i = attributes(p, buf, i, len, attrs);
  if (i < 0) return i;
  const decls = p.decls;
  if (colon > 0) {
    const prefix = name.slice(0, colon);
    if (prefix === "xmlns") return p.fail("not-well-formed", "the xmlns prefix is reserved");
    if (resolve(p, prefix, decls, attrs) === undefined) return p.fail("not-well-formed", `unbound prefix in <${name}>`);
  }
  if (p.prefixed > 0 && resolveAttrs(p, attrs, decls, p.prefixed) === FAIL) return FAIL;
  if (level === PROLOG) return openRoot(p, name, attrs, decls, p.defaultNs, p.selfClose, i);
  return open(p, name, attrs, decls, p.selfClose, i);
};

/** The namespaces stream headers declare, as constants: a header's own copy is then not kept. */
const COMMON = new Map(["jabber:client", "jabber:server", "jabber:component:accept", "http://etherx.jabber.org/streams",
  "jabber:server:dialback", "stream"].map((s) => [s, s]));

/** `s` without ties to the string it was sliced from. */
const own = (s: string): string => COMMON.get(s) ?? detach(s);

/** The stream header: its name and namespaces are kept for the stanzas, its attributes reported. */
const openRoot = (p: ParserState, name: string, attrs: Record<string, string>, decls: string[] | null,
  defaultNs: string | undefined, selfClose: boolean, end: number): number => {
  p.rootName = name;
  p.rootAttrs = attrs;
  // Kept for the whole stream: copies, not slices of the input that would pin its chunk.
  p.rootDecls = decls === null ? null : decls.map(own);
  p.rootDefault = defaultNs === undefined ? "" : own(defaultNs);
  p.level = selfClose ? ENDED : 0;
  p.limitEnd = NO_LIMIT;
  p.emitKind = selfClose ? EMIT_START_END : EMIT_START;
  return end;
};

/** An element of a stanza (or the stanza itself at level 0), added to its parent. */
const open = (p: ParserState, name: string, attrs: Record<string, string>, decls: string[] | null,
  selfClose: boolean, end: number): number => {
  const level = p.level;
  const el = new FastElement(name);
  el.attrs = attrs;
  if (level > 0) {
    const parent = p.stack[level - 1] as Element;
    if (p.text !== "") {
      parent.children.push(p.text);
      p.text = "";
    }
    parent.children.push(el);
    el.parent = parent;
  }
  if (selfClose) {
    if (level === 0) ready(p, el);
    return end;
  }
  p.stack[level] = el;
  p.scopes[level] = decls;
  p.level = level + 1;
  return end;
};

/** A top-level element is complete: hand it over, and bound the next one afresh. */
const ready = (p: ParserState, el: Element): void => {
  p.emitKind = EMIT_STANZA;
  p.emitEl = el;
  p.limitEnd = NO_LIMIT;
};

/** The end tag at buf[pos] === '<' (followed by '/'): of the open element, or of the root. */
const endTag = (p: ParserState, buf: string, pos: number, len: number): number => {
  const level = p.level;
  if (level === PROLOG) return p.fail("not-well-formed", "end tag before the stream header");
  const el = level > 0 ? p.stack[level - 1] : undefined;
  const i = endName(p, buf, pos + 2, len, el === undefined ? p.rootName : el.name);
  if (i < 0) return i;
  if (el === undefined) {
    p.level = ENDED;
    p.limitEnd = NO_LIMIT;
    p.emitKind = EMIT_END;
    return i;
  }
  if (p.text !== "") {
    el.children.push(p.text);
    p.text = "";
  }
  p.stack[level - 1] = undefined;
  p.scopes[level - 1] = null;
  p.level = level - 1;
  if (level === 1) ready(p, el);
  return i;
};

/** The position after "name S? >" at start: the end tag of the open element `name`. */
const endName = (p: ParserState, buf: string, start: number, len: number, name: string): number => {
  const n = name.length;
  if (len - start < n) {
    for (let k = start; k < len; k++) {
      if (buf.charCodeAt(k) !== name.charCodeAt(k - start)) return mismatch(p, name);
    }
    p.waitKind = WAIT_GT;
    return NEED;
  }
  if (!buf.startsWith(name, start)) return mismatch(p, name);
  const i = skipSpace(buf, start + n, len);
  if (i >= len) {
    p.waitKind = WAIT_GT;
    return NEED;
  }
  if (buf.charCodeAt(i) !== GT) return mismatch(p, name);
  return i + 1;
};

/** XML 1.0 §3 Element Type Match: an end tag names the element it closes. */
const mismatch = (p: ParserState, name: string): number => {
  return p.fail("not-well-formed", `mismatched end tag, expected </${name}>`);
};

/** This module's functions, for importers to destructure into module-local consts (see state.ts). */
export const TAGS = { startTag, endTag };
