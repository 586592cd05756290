// Streaming parser for the XML of XMPP streams: RFC 6120 §11 (restricted XML) on top of
// XML 1.0 (fifth edition) well-formedness and Namespaces in XML 1.0.
//
// §11.1: an XMPP entity "MUST NOT" accept comments, processing instructions, internal or
// external DTD subsets, or entity references other than the predefined ones; it closes the
// stream with <restricted-xml/>. Anything not well-formed closes it with <not-well-formed/>.
//
// This is the server's hot path. One state machine walks each chunk with indexOf/charCodeAt;
// every limit is checked before the work it bounds; the only input ever buffered is the one
// unfinished token (a tag, reference or line end cut by the chunk boundary), and while a tag
// waits for its '>' new chunks are scanned only for that terminator, so input trickled a byte
// at a time costs linear, not quadratic, time. Handlers run after the parser's own state is
// consistent, so a handler may call write(), reset() or setLimits() or throw.
import { TextDecoder } from "node:util";
import { Element } from "./element.ts";

export interface ParserLimits {
  /** Max UTF-16 code units of one top-level element, from its '<' to its end, across chunks. */
  maxStanzaSize: number;
  /** Max element nesting below the stream root (a stanza is depth 1). */
  maxDepth: number;
  /** Max attributes per element. */
  maxAttributes: number;
  /** Max length of an element or attribute name. */
  maxNameLength: number;
}

export type ParserErrorCondition = "not-well-formed" | "restricted-xml" | "policy-violation" | "unsupported-encoding";

export interface ParserHandler {
  /** The root open tag: its name as written (e.g. "stream:stream") and attributes incl. xmlns declarations. */
  streamStart(name: string, attrs: Record<string, string>): void;
  /** Each complete top-level child, detached (parent null) and normalised, see StreamParser. */
  stanza(el: Element): void;
  /** The root close tag. */
  streamEnd(): void;
  /** The first error; the parser then ignores all input until reset(). */
  error(condition: ParserErrorCondition, text: string): void;
}

const XML_NS = "http://www.w3.org/XML/1998/namespace";
const XMLNS_NS = "http://www.w3.org/2000/xmlns/";

/** Scanner results other than a position: wait for more input; the parser has failed. */
const NEED = -1;
const FAIL = -2;
const NO_LIMIT = Number.MAX_SAFE_INTEGER;

/** `level`: PROLOG before the root, 0 between stanzas, n inside a stanza n deep, ENDED after the root. */
const PROLOG = -1;
const ENDED = -2;

/** What an unfinished tag waits for: any '>' outside quotes, any '>', or the '?>' of the XML declaration. */
const WAIT_NONE = 0;
const WAIT_TAG = 1;
const WAIT_GT = 2;
const WAIT_PI = 3;

const EMIT_NONE = 0;
const EMIT_START = 1;
const EMIT_STANZA = 2;
const EMIT_END = 3;
const EMIT_START_END = 4;

/** The longest reference accepted, '&' to ';' ("&#x10FFFF;" is 10; leading zeros beyond this are refused). */
const MAX_REF = 32;

const TAB = 0x09, LF = 0x0a, CR = 0x0d, SP = 0x20, BANG = 0x21, QUOT = 0x22, HASH = 0x23;
const AMP = 0x26, APOS = 0x27, SLASH = 0x2f, COLON = 0x3a, SEMI = 0x3b, LT = 0x3c, EQ = 0x3d;
const GT = 0x3e, QMARK = 0x3f, RSQB = 0x5d;

const CDATA_OPEN = "<![CDATA[";
const DECL_OPEN = "<?xml";
const S = "[ \\t\\r\\n]";
/** XML 1.0 §2.8 XMLDecl, matched once per stream (never per character). */
const XML_DECL = new RegExp(
  `^<\\?xml${S}+version${S}*=${S}*(?:"1\\.[0-9]+"|'1\\.[0-9]+')` +
  `(?:${S}+encoding${S}*=${S}*(?:"([A-Za-z][A-Za-z0-9._-]*)"|'([A-Za-z][A-Za-z0-9._-]*)'))?` +
  `(?:${S}+standalone${S}*=${S}*(?:"(?:yes|no)"|'(?:yes|no)'))?${S}*\\?>$`,
);

// ASCII character classes (XML 1.0 §2.3 NameStartChar / NameChar, restricted to QNames).
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
function nameCharWidth(buf: string, i: number, len: number, start: boolean): number {
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
}

/** XML 1.0 §2.2 Char, for character references. */
function isXmlChar(cp: number): boolean {
  return cp >= 0x20 ? cp <= 0xd7ff || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff)
    : cp === TAB || cp === LF || cp === CR;
}

function skipSpace(buf: string, i: number, len: number): number {
  while (i < len) {
    const c = buf.charCodeAt(i);
    if (c !== SP && c !== LF && c !== CR && c !== TAB) break;
    i++;
  }
  return i;
}

/** The URI bound to `prefix` in a flat [prefix, uri, ...] list of declarations. */
function lookup(decls: string[] | null | undefined, prefix: string): string | undefined {
  if (decls) for (let k = 0; k < decls.length; k += 2) if (decls[k] === prefix) return decls[k + 1];
  return undefined;
}

const STREAM_DECODE = { stream: true };

// Names repeat endlessly (to, from, id, type, xmlns, body ...). Reusing one string per name
// instead of slicing a new one spares an allocation and, for attribute names, the string-table
// lookup V8 does when a fresh string becomes a property key. Slots fill on first use with short
// names only: a slice of 13+ characters would pin its whole chunk in memory.
const NAME_SLOTS = 1024;
const NAME_CACHE: (string | undefined)[] = new Array<string | undefined>(NAME_SLOTS).fill(undefined);

function nameSlot(buf: string, start: number, end: number): number {
  const n = end - start;
  return (n * 7 + buf.charCodeAt(start) * 31 + buf.charCodeAt(end - 1) * 131 + buf.charCodeAt(start + (n >> 1))) & (NAME_SLOTS - 1);
}

function nameAt(buf: string, start: number, end: number): string {
  const h = nameSlot(buf, start, end);
  const known = NAME_CACHE[h];
  if (known !== undefined && known.length === end - start && buf.startsWith(known, start)) return known;
  const name = buf.slice(start, end);
  if (known === undefined && name.length < 13) NAME_CACHE[h] = name;
  return name;
}

for (const name of [
  "to", "from", "id", "type", "xmlns", "xml:lang", "version", "xmlns:stream", "stream:stream",
  "message", "presence", "iq", "body", "subject", "thread", "show", "status", "priority", "error",
  "text", "query", "item", "jid", "name", "subscription", "ask", "ver", "node", "hash", "c", "x",
  "stream:features", "stream:error", "active", "composing", "paused", "request", "received",
  "origin-id", "stanza-id", "by", "delay", "stamp", "ping", "bind", "resource", "r", "a", "h",
  "enable", "enabled", "resume", "resumed", "previd", "result", "forwarded", "sent", "var", "value",
]) NAME_CACHE[nameSlot(name, 0, name.length)] ??= name;

/**
 * Parses one XMPP stream into ltx elements. Each top-level element reaches `stanza()` detached
 * and normalised so it can be re-serialised anywhere: an `xmlns` equal to the root's default
 * namespace is dropped (absent means "the stream's content namespace"), and every prefix its
 * subtree uses that only the root binds (`stream:`, `db:`) is declared on it.
 */
export class StreamParser {
  private handler: ParserHandler;
  private limits: ParserLimits;
  /** The limits of the top-level element (or stream header) being parsed; setLimits waits for the next. */
  private active: ParserLimits;
  private decoder: TextDecoder | null = null;
  private gen = 0;
  /** Nothing written yet in this stream: a string may open with a byte order mark, as bytes may. */
  private fresh = true;
  private busy = false;
  private failed = false;

  /** Unconsumed input; `pos` is only non-zero while a handler runs. */
  private buf = "";
  private pos = 0;
  /** Index in `buf` the current top-level element (or stream header) may not reach. */
  private limitEnd = NO_LIMIT;
  private waitKind = WAIT_NONE;
  private waitQuote = 0;
  /** Chunks that arrived while a tag waits for its terminator; joined once it comes. */
  private parts: string[] = [];
  private partsLen = 0;

  private level = PROLOG;
  private sawDecl = false;
  private inCdata = false;
  /** Text of the innermost open element not yet added as a child. */
  private text = "";
  private stack: (Element | undefined)[] = [];
  /** Per open stanza element, its prefix declarations as [prefix, uri, ...], or null. */
  private scopes: (string[] | null)[] = [];
  private rootName = "";
  private rootAttrs: Record<string, string> | null = null;
  private rootDecls: string[] | null = null;
  private rootDefault = "";

  private emitKind = EMIT_NONE;
  private emitEl: Element | null = null;
  // Scanner outputs, kept in fields so the hot path allocates no result objects.
  private colon = -1;
  private value = "";
  private refText = "";
  // The start tag being read: its attribute names so far (for the duplicate check), its
  // prefix declarations as [prefix, uri, ...], default namespace, prefixed attribute count.
  private names: string[] = [];
  private stored = 0;
  private decls: string[] | null = null;
  private defaultNs: string | undefined = undefined;
  private prefixed = 0;
  private selfClose = false;

  constructor(handler: ParserHandler, limits: ParserLimits) {
    this.handler = handler;
    this.limits = limits;
    this.active = limits;
  }

  setLimits(limits: ParserLimits): void {
    this.limits = limits;
  }

  /**
   * Stream restart (RFC 6120 §4.3.3 after STARTTLS and SASL): a new optional XML declaration
   * and root are expected. Input already buffered is discarded, including the rest of a chunk
   * whose handler called reset(): bytes a peer sent before the restart must not be read as the
   * new stream (the STARTTLS command-injection class of bug).
   */
  reset(): void {
    this.gen++;
    this.busy = false;
    this.failed = false;
    this.decoder = null;
    this.fresh = true;
    this.active = this.limits;
    this.buf = "";
    this.pos = 0;
    this.limitEnd = NO_LIMIT;
    this.waitKind = WAIT_NONE;
    this.parts = [];
    this.partsLen = 0;
    this.level = PROLOG;
    this.sawDecl = false;
    this.inCdata = false;
    this.text = "";
    this.stack = [];
    this.scopes = [];
    this.rootName = "";
    this.rootAttrs = null;
    this.rootDecls = null;
    this.rootDefault = "";
    this.emitKind = EMIT_NONE;
    this.emitEl = null;
  }

  write(chunk: Buffer | string): void {
    if (this.failed) return;
    let s: string;
    if (typeof chunk === "string") s = this.fresh && chunk.charCodeAt(0) === 0xfeff ? chunk.slice(1) : chunk;
    else {
      this.decoder ??= new TextDecoder("utf-8", { fatal: true });
      try {
        s = this.decoder.decode(chunk, STREAM_DECODE);
      } catch {
        this.fail("not-well-formed", "invalid UTF-8");
        return;
      }
    }
    this.fresh = false;
    if (s.length === 0) return;
    if (this.busy) {
      this.buf += s; // written from a handler: the running loop picks it up
      return;
    }
    if (this.waitKind !== WAIT_NONE) {
      this.parts.push(s);
      this.partsLen += s.length;
      if (!this.resume(s) && this.buf.length + this.partsLen < this.limitEnd) return;
      this.waitKind = WAIT_NONE;
      s = this.parts.length === 1 ? s : this.parts.join("");
      this.parts = [];
      this.partsLen = 0;
    }
    this.buf = this.buf.length === 0 ? s : this.buf + s;
    this.busy = true;
    try {
      this.loop();
    } finally {
      this.busy = false;
      if (this.pos !== 0) this.compact();
    }
  }

  private loop(): void {
    const gen = this.gen;
    let buf = this.buf;
    let pos = this.pos;
    for (;;) {
      const len = this.limitEnd < buf.length ? this.limitEnd : buf.length;
      let r: number;
      if (pos >= len) r = NEED;
      else if (this.inCdata) r = this.cdata(buf, pos, len);
      else if (this.level > 0) r = buf.charCodeAt(pos) === LT ? this.markup(buf, pos, len) : this.content(buf, pos, len);
      else r = this.outside(buf, pos, len);
      if (r < 0) {
        if (r === FAIL) return;
        if (this.limitEnd <= buf.length) {
          this.fail("policy-violation", this.level === PROLOG ? "stream header too large" : "stanza too large");
          return;
        }
        this.buf = buf;
        this.pos = pos;
        return;
      }
      pos = r;
      if (this.emitKind !== EMIT_NONE) {
        this.buf = buf;
        this.pos = pos;
        this.emit();
        if (this.gen !== gen || this.failed) return;
        buf = this.buf; // a handler may have written more
      }
    }
  }

  private compact(): void {
    const pos = this.pos;
    this.buf = pos >= this.buf.length ? "" : this.buf.slice(pos);
    this.pos = 0;
    if (this.limitEnd !== NO_LIMIT) this.limitEnd -= pos;
  }

  private emit(): void {
    const kind = this.emitKind;
    this.emitKind = EMIT_NONE;
    if (kind === EMIT_STANZA) {
      const el = this.emitEl as Element;
      this.emitEl = null;
      this.handler.stanza(el);
      return;
    }
    if (kind !== EMIT_END) {
      const attrs = this.rootAttrs ?? {};
      this.rootAttrs = null;
      const gen = this.gen;
      this.handler.streamStart(this.rootName, attrs);
      if (kind === EMIT_START || this.gen !== gen || this.failed) return;
    }
    this.handler.streamEnd();
  }

  private fail(condition: ParserErrorCondition, text: string): number {
    if (!this.failed) {
      this.failed = true;
      this.buf = "";
      this.pos = 0;
      this.parts = [];
      this.text = "";
      this.stack = [];
      this.emitEl = null;
      this.handler.error(condition, text);
    }
    return FAIL;
  }

  /** Scans a chunk that arrived while a tag waits; true once the tag's terminator is in it. */
  private resume(s: string): boolean {
    if (this.waitKind === WAIT_GT) return s.indexOf(">") >= 0;
    if (this.waitKind === WAIT_PI) {
      if (this.waitQuote === QMARK && s.charCodeAt(0) === GT) return true;
      if (s.indexOf("?>") >= 0) return true;
      this.waitQuote = s.charCodeAt(s.length - 1) === QMARK ? QMARK : 0;
      return false;
    }
    let q = this.waitQuote;
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
    this.waitQuote = q;
    return false;
  }

  /** Between stanzas, before and after the root: only whitespace (keepalives) and markup. */
  private outside(buf: string, pos: number, len: number): number {
    let i = pos;
    while (i < len) {
      const c = buf.charCodeAt(i);
      if (c === SP || c === LF || c === CR || c === TAB) {
        i++;
        continue;
      }
      if (c !== LT || this.level === ENDED) {
        return this.fail("not-well-formed", this.level === ENDED ? "content after the end of the stream"
          : this.level === PROLOG ? "text before the stream header" : "text outside a stanza");
      }
      if (i > pos) return i;
      if (this.limitEnd === NO_LIMIT) {
        // A top-level element (or the stream header) starts: bound it before reading it.
        this.active = this.limits;
        this.limitEnd = i + this.active.maxStanzaSize;
        if (this.limitEnd < len) len = this.limitEnd;
      }
      return this.markup(buf, i, len);
    }
    return i > pos ? i : NEED;
  }

  private markup(buf: string, pos: number, len: number): number {
    if (pos + 1 >= len) return NEED;
    const c = buf.charCodeAt(pos + 1);
    if (c === SLASH) return this.endTag(buf, pos, len);
    if (c === BANG) return this.bang(buf, pos, len);
    if (c === QMARK) return this.pi(buf, pos, len);
    return this.startTag(buf, pos, len);
  }

  private waitTag(r: number, quote: number): number {
    if (r === NEED) {
      this.waitKind = WAIT_TAG;
      this.waitQuote = quote;
    }
    return r;
  }

  private startTag(buf: string, pos: number, len: number): number {
    const level = this.level;
    const lim = this.active;
    if (level >= lim.maxDepth) return this.fail("policy-violation", "elements nested too deep");
    let i = this.name(buf, pos + 1, len, lim.maxNameLength);
    if (i < 0) return this.waitTag(i, 0);
    const name = nameAt(buf, pos + 1, i);
    const colon = this.colon;
    const attrs: Record<string, string> = {};
    i = this.attributes(buf, i, len, attrs);
    if (i < 0) return i;
    const decls = this.decls;
    if (colon > 0) {
      const prefix = name.slice(0, colon);
      if (prefix === "xmlns") return this.fail("not-well-formed", "the xmlns prefix is reserved");
      if (this.resolve(prefix, decls, attrs) === undefined) return this.fail("not-well-formed", `unbound prefix in <${name}>`);
    }
    if (this.prefixed > 0 && this.resolveAttrs(attrs, decls, this.prefixed) === FAIL) return FAIL;
    if (level === PROLOG) return this.openRoot(name, attrs, decls, this.defaultNs, this.selfClose, i);
    return this.open(name, attrs, decls, this.selfClose, i);
  }

  /** The attributes of a start tag, up to and including its '>' or '/>'; sets the tag's fields. */
  private attributes(buf: string, i: number, len: number, attrs: Record<string, string>): number {
    const max = this.active.maxAttributes;
    let count = 0;
    this.decls = null;
    this.defaultNs = undefined;
    this.prefixed = 0;
    this.stored = 0;
    for (;;) {
      if (i >= len) return this.waitTag(NEED, 0);
      let c = buf.charCodeAt(i);
      const spaced = c === SP || c === LF || c === CR || c === TAB;
      if (spaced) {
        i = skipSpace(buf, i + 1, len);
        if (i >= len) return this.waitTag(NEED, 0);
        c = buf.charCodeAt(i);
      }
      if (c === GT) {
        this.selfClose = false;
        return i + 1;
      }
      if (c === SLASH) {
        if (i + 1 >= len) return this.waitTag(NEED, 0);
        if (buf.charCodeAt(i + 1) !== GT) return this.fail("not-well-formed", "expected '>' after '/'");
        this.selfClose = true;
        return i + 2;
      }
      if (!spaced) return this.fail("not-well-formed", "expected whitespace, '>' or '/>' in a tag");
      if (++count > max) return this.fail("policy-violation", "too many attributes");
      i = this.attribute(buf, i, len, attrs);
      if (i < 0) return i;
    }
  }

  /** One name='value' pair: checked, stored in attrs, namespace declarations noted. */
  private attribute(buf: string, i: number, len: number, attrs: Record<string, string>): number {
    const start = i;
    i = this.name(buf, i, len, this.active.maxNameLength);
    if (i < 0) return this.waitTag(i, 0);
    const name = nameAt(buf, start, i);
    const colon = this.colon;
    i = skipSpace(buf, i, len);
    if (i >= len) return this.waitTag(NEED, 0);
    if (buf.charCodeAt(i) !== EQ) return this.fail("not-well-formed", `attribute ${name} has no '='`);
    i = skipSpace(buf, i + 1, len);
    if (i >= len) return this.waitTag(NEED, 0);
    const q = buf.charCodeAt(i);
    if (q !== QUOT && q !== APOS) return this.fail("not-well-formed", `attribute ${name} is not quoted`);
    i = this.attrValue(buf, i + 1, len, q);
    if (i < 0) return this.waitTag(i, q);
    const value = this.value;
    if (colon === 5 && name.startsWith("xmlns")) {
      const problem = badDeclaration(name.slice(6), value);
      if (problem !== undefined) return this.fail("not-well-formed", problem);
      (this.decls ??= []).push(name.slice(6), value);
    } else if (colon > 0) {
      this.prefixed++;
    } else if (name === "xmlns") {
      if (this.defaultNs !== undefined) return this.fail("not-well-formed", "duplicate attribute xmlns");
      this.defaultNs = value;
      if (this.level === 0 && value === this.rootDefault) return i; // normalisation: the stream's namespace
    }
    const names = this.names;
    for (let k = 0; k < this.stored; k++) {
      if (names[k] === name) return this.fail("not-well-formed", `duplicate attribute ${name}`);
    }
    names[this.stored++] = name;
    if (name === "__proto__") Object.defineProperty(attrs, name, { value, enumerable: true, writable: true, configurable: true });
    else attrs[name] = value;
    return i;
  }

  private openRoot(name: string, attrs: Record<string, string>, decls: string[] | null,
    defaultNs: string | undefined, selfClose: boolean, end: number): number {
    this.rootName = name;
    this.rootAttrs = attrs;
    this.rootDecls = decls;
    this.rootDefault = defaultNs ?? "";
    this.level = selfClose ? ENDED : 0;
    this.limitEnd = NO_LIMIT;
    this.emitKind = selfClose ? EMIT_START_END : EMIT_START;
    return end;
  }

  private open(name: string, attrs: Record<string, string>, decls: string[] | null, selfClose: boolean, end: number): number {
    const level = this.level;
    const el = new Element(name);
    el.attrs = attrs;
    if (level > 0) {
      const parent = this.stack[level - 1] as Element;
      if (this.text !== "") {
        parent.children.push(this.text);
        this.text = "";
      }
      parent.children.push(el);
      el.parent = parent;
    }
    if (selfClose) {
      if (level === 0) this.ready(el);
      return end;
    }
    this.stack[level] = el;
    this.scopes[level] = decls;
    this.level = level + 1;
    return end;
  }

  private ready(el: Element): void {
    this.emitKind = EMIT_STANZA;
    this.emitEl = el;
    this.limitEnd = NO_LIMIT;
  }

  /** The namespace bound to `prefix`; a prefix only the root binds is declared on the stanza. */
  private resolve(prefix: string, decls: string[] | null, own: Record<string, string>): string | undefined {
    if (prefix === "xml") return XML_NS;
    let uri = lookup(decls, prefix);
    if (uri !== undefined) return uri;
    for (let k = this.level - 1; k >= 0; k--) {
      uri = lookup(this.scopes[k], prefix);
      if (uri !== undefined) return uri;
    }
    uri = lookup(this.rootDecls, prefix);
    if (uri !== undefined && this.level >= 0) {
      const top = this.level === 0 ? own : (this.stack[0] as Element).attrs;
      const key = "xmlns:" + prefix;
      if (top[key] === undefined) top[key] = uri;
    }
    return uri;
  }

  /** Resolves prefixed attribute names; two may not share an expanded name (Namespaces §6.3). */
  private resolveAttrs(attrs: Record<string, string>, decls: string[] | null, count: number): number {
    let seen: string[] | null = null;
    for (const key in attrs) {
      const c = key.indexOf(":");
      if (c <= 0) continue;
      const prefix = key.slice(0, c);
      if (prefix === "xmlns") continue;
      const uri = this.resolve(prefix, decls, attrs);
      if (uri === undefined) return this.fail("not-well-formed", `unbound prefix in attribute ${key}`);
      if (count < 2) continue;
      const expanded = uri + "\u0000" + key.slice(c + 1);
      if (seen === null) seen = [];
      else if (seen.includes(expanded)) return this.fail("not-well-formed", `duplicate attribute ${key}`);
      seen.push(expanded);
    }
    return 0;
  }

  private endTag(buf: string, pos: number, len: number): number {
    const level = this.level;
    if (level === PROLOG) return this.fail("not-well-formed", "end tag before the stream header");
    const el = level > 0 ? this.stack[level - 1] : undefined;
    const name = el === undefined ? this.rootName : el.name;
    const start = pos + 2;
    const n = name.length;
    if (len - start < n) {
      for (let k = start; k < len; k++) {
        if (buf.charCodeAt(k) !== name.charCodeAt(k - start)) return this.mismatch(name);
      }
      this.waitKind = WAIT_GT;
      return NEED;
    }
    if (!buf.startsWith(name, start)) return this.mismatch(name);
    let i = skipSpace(buf, start + n, len);
    if (i >= len) {
      this.waitKind = WAIT_GT;
      return NEED;
    }
    if (buf.charCodeAt(i) !== GT) return this.mismatch(name);
    i++;
    if (el === undefined) {
      this.level = ENDED;
      this.limitEnd = NO_LIMIT;
      this.emitKind = EMIT_END;
      return i;
    }
    if (this.text !== "") {
      el.children.push(this.text);
      this.text = "";
    }
    this.stack[level - 1] = undefined;
    this.scopes[level - 1] = null;
    this.level = level - 1;
    if (level === 1) this.ready(el);
    return i;
  }

  private mismatch(name: string): number {
    return this.fail("not-well-formed", `mismatched end tag, expected </${name}>`);
  }

  /** "<!": only a CDATA section inside a stanza; comments, DOCTYPE and other declarations are restricted. */
  private bang(buf: string, pos: number, len: number): number {
    const n = len - pos < 9 ? len - pos : 9;
    for (let k = 2; k < n; k++) {
      if (buf.charCodeAt(pos + k) !== CDATA_OPEN.charCodeAt(k)) {
        return this.fail("restricted-xml", buf.charCodeAt(pos + 2) === 0x2d
          ? "comments are not allowed" : "DTDs and markup declarations are not allowed");
      }
    }
    if (n < 9) return NEED;
    if (this.level <= 0) return this.fail("not-well-formed", "CDATA outside a stanza");
    this.inCdata = true;
    return pos + 9;
  }

  /** "<?": only the XML declaration, before the root; any other processing instruction is restricted. */
  private pi(buf: string, pos: number, len: number): number {
    const n = len - pos < 5 ? len - pos : 5;
    for (let k = 2; k < n; k++) {
      if (buf.charCodeAt(pos + k) !== DECL_OPEN.charCodeAt(k)) return this.fail("restricted-xml", "processing instructions are not allowed");
    }
    if (len - pos < 6) return NEED;
    const c = buf.charCodeAt(pos + 5);
    if (c >= 128 || (ASCII[c]! & SPACE) === 0) return this.fail("restricted-xml", "processing instructions are not allowed");
    if (this.level !== PROLOG || this.sawDecl) {
      return this.fail("restricted-xml", "an XML declaration is allowed only at the start of a stream");
    }
    const end = buf.indexOf("?>", pos + 6);
    if (end < 0 || end + 2 > len) {
      this.waitKind = WAIT_PI;
      this.waitQuote = buf.charCodeAt(len - 1) === QMARK ? QMARK : 0;
      return NEED;
    }
    const m = XML_DECL.exec(buf.slice(pos, end + 2));
    if (m === null) return this.fail("not-well-formed", "malformed XML declaration");
    const encoding = m[1] ?? m[2];
    if (encoding !== undefined && encoding.toLowerCase() !== "utf-8") {
      return this.fail("unsupported-encoding", `encoding ${encoding} is not supported, only UTF-8`);
    }
    this.sawDecl = true;
    return end + 2;
  }

  /** A QName at i; sets `colon` (offset of its ':' or -1). Bounded by maxNameLength before scanning on. */
  private name(buf: string, i: number, len: number, max: number): number {
    const start = i;
    if (i >= len) return NEED;
    const c0 = buf.charCodeAt(i);
    if (c0 < 128) {
      if ((ASCII[c0]! & NAME_START) === 0) return this.fail("not-well-formed", "invalid name");
      i++;
    } else {
      const w = nameCharWidth(buf, i, len, true);
      if (w <= 0) return w === NEED ? NEED : this.fail("not-well-formed", "invalid name");
      i += w;
    }
    const stop = start + max < len ? start + max + 1 : len;
    let colon = -1;
    while (i < stop) {
      const c = buf.charCodeAt(i);
      if (c < 128) {
        const k = ASCII[c]!;
        if ((k & NAME_CHAR) !== 0) {
          i++;
          continue;
        }
        if ((k & NAME_COLON) === 0) break;
        if (colon >= 0) return this.fail("not-well-formed", "a name has more than one ':'");
        colon = i++;
        continue;
      }
      const w = nameCharWidth(buf, i, len, false);
      if (w === 0) break;
      if (w === NEED) return NEED;
      i += w;
    }
    if (i - start > max) return this.fail("policy-violation", "name too long");
    if (i >= len) return NEED;
    if (colon >= 0) {
      const d = buf.charCodeAt(colon + 1);
      if (d < 128 ? (ASCII[d]! & NAME_START) === 0 : nameCharWidth(buf, colon + 1, len, true) <= 0) {
        return this.fail("not-well-formed", "invalid prefixed name");
      }
      colon -= start;
    }
    this.colon = colon;
    return i;
  }

  /** An attribute value after its opening quote q; sets `value` (references expanded, whitespace normalised). */
  private attrValue(buf: string, i: number, len: number, q: number): number {
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
        const w = this.wide(buf, i, len, c);
        if (w < 0) return w;
        i += w;
      } else if (c >= SP) {
        if (c === q) {
          this.value = slow ? out + buf.slice(seg, i) : buf.slice(start, i);
          return i + 1;
        }
        if (c === LT) return this.fail("not-well-formed", "'<' in an attribute value");
        if (c === AMP) {
          const r = this.ref(buf, i, len);
          if (r < 0) return r;
          out += buf.slice(seg, i) + this.refText;
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
        return this.fail("not-well-formed", "illegal character in an attribute value");
      }
    }
    return NEED;
  }

  /** Width of a character ≥ U+D800: 2 for a surrogate pair, 1 for other legal ones, NEED if cut. */
  private wide(buf: string, i: number, len: number, c: number): number {
    if (c >= 0xe000) return c < 0xfffe ? 1 : this.fail("not-well-formed", "illegal character U+FFFE/U+FFFF");
    if (c < 0xdc00) {
      if (i + 1 >= len) return NEED;
      const d = buf.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) return 2;
    }
    return this.fail("not-well-formed", "unpaired surrogate");
  }

  /** The reference at buf[i] === '&'; its text goes to `refText`. */
  private ref(buf: string, i: number, len: number): number {
    const max = i + MAX_REF < len ? i + MAX_REF : len;
    let j = i + 1;
    for (; j < max; j++) {
      const c = buf.charCodeAt(j);
      if (c === SEMI) break;
      if (c >= 128 || (ASCII[c]! & REF_CHAR) === 0) return this.fail("not-well-formed", "malformed reference or bare '&'");
    }
    if (j === max) return max < i + MAX_REF ? NEED : this.fail("not-well-formed", "unterminated reference");
    if (buf.charCodeAt(i + 1) === HASH) return this.charRef(buf, i + 2, j);
    const n = j - i - 1;
    let t: string | undefined;
    if (n === 2 && buf.charCodeAt(i + 2) === 0x74) { // lt, gt
      t = buf.charCodeAt(i + 1) === 0x6c ? "<" : buf.charCodeAt(i + 1) === 0x67 ? ">" : undefined;
    } else if (n === 3 && buf.startsWith("amp", i + 1)) t = "&";
    else if (n === 4 && buf.startsWith("quot", i + 1)) t = "\"";
    else if (n === 4 && buf.startsWith("apos", i + 1)) t = "'";
    // RFC 6120 §11.1 forbids declaring entities, so any other name is undefined: not well-formed.
    if (t === undefined) return this.fail("not-well-formed", `undefined entity &${buf.slice(i + 1, j)};`);
    this.refText = t;
    return j + 1;
  }

  private charRef(buf: string, k: number, end: number): number {
    const hex = buf.charCodeAt(k) === 0x78;
    if (hex) k++;
    if (k >= end) return this.fail("not-well-formed", "empty character reference");
    let cp = 0;
    for (; k < end; k++) {
      const c = buf.charCodeAt(k);
      const l = c | 0x20;
      let d: number;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (hex && l >= 0x61 && l <= 0x66) d = l - 0x57;
      else return this.fail("not-well-formed", "malformed character reference");
      cp = cp * (hex ? 16 : 10) + d;
      if (cp > 0x10ffff) return this.fail("not-well-formed", "character reference out of range");
    }
    if (!isXmlChar(cp)) return this.fail("not-well-formed", "character reference to an illegal character");
    this.refText = String.fromCodePoint(cp);
    return end + 1;
  }

  /** Character data inside a stanza, up to the next '<'. Consumes what it can; holds back a cut token. */
  private content(buf: string, pos: number, len: number): number {
    let i = pos;
    let seg = pos;
    while (i < len) {
      const c = buf.charCodeAt(i);
      if (c > GT) {
        if (c < 0xd800) {
          i++;
          continue;
        }
        const w = this.wide(buf, i, len, c);
        if (w === FAIL) return FAIL;
        if (w === NEED) return this.textTo(buf, pos, seg, i);
        i += w;
      } else if (c >= SP) {
        if (c === LT) return this.textTo(buf, pos, seg, i);
        if (c === AMP) {
          const r = this.ref(buf, i, len);
          if (r === FAIL) return FAIL;
          if (r === NEED) return this.textTo(buf, pos, seg, i);
          if (i > seg) this.text += buf.slice(seg, i);
          this.text += this.refText;
          i = seg = r;
          continue;
        }
        if (c === GT && i - pos >= 2 && buf.charCodeAt(i - 1) === RSQB && buf.charCodeAt(i - 2) === RSQB) {
          return this.fail("not-well-formed", "']]>' in character data");
        }
        i++;
      } else if (c === LF || c === TAB) {
        i++;
      } else if (c === CR) {
        // §2.11 line ends: CR LF and lone CR become LF.
        if (i + 1 >= len) return this.textTo(buf, pos, seg, i);
        if (i > seg) this.text += buf.slice(seg, i);
        if (buf.charCodeAt(i + 1) === LF) {
          seg = i + 1;
          i += 2;
        } else {
          this.text += "\n";
          seg = ++i;
        }
      } else {
        return this.fail("not-well-formed", "illegal character");
      }
    }
    // Hold back a trailing "]" or "]]": with the next chunk it may make a forbidden "]]>".
    let stop = len;
    while (stop > seg && stop > len - 2 && buf.charCodeAt(stop - 1) === RSQB) stop--;
    return this.textTo(buf, pos, seg, stop);
  }

  private textTo(buf: string, pos: number, seg: number, stop: number): number {
    if (stop > seg) this.text += buf.slice(seg, stop);
    return stop > pos ? stop : NEED;
  }

  /** Inside <![CDATA[ ... ]]>: the content becomes text; a cut "]]>", CR or surrogate pair waits. */
  private cdata(buf: string, pos: number, len: number): number {
    const end = buf.indexOf("]]>", pos);
    if (end >= 0 && end + 3 <= len) {
      if (this.checkedText(buf, pos, end) === FAIL) return FAIL;
      this.inCdata = false;
      return end + 3;
    }
    let stop = len - 2;
    if (stop > pos) {
      const c = buf.charCodeAt(stop - 1);
      if (c === CR || (c >= 0xd800 && c <= 0xdbff)) stop--;
    }
    if (stop <= pos) return NEED;
    return this.checkedText(buf, pos, stop);
  }

  /** Appends buf[from, to) to the text after checking its characters and normalising line ends. */
  private checkedText(buf: string, from: number, to: number): number {
    let seg = from;
    for (let i = from; i < to;) {
      const c = buf.charCodeAt(i);
      if ((c >= SP && c < 0xd800) || c === LF || c === TAB) {
        i++;
      } else if (c === CR) {
        this.text += buf.slice(seg, i) + "\n";
        i += buf.charCodeAt(i + 1) === LF ? 2 : 1;
        seg = i;
      } else if (c < SP) {
        return this.fail("not-well-formed", "illegal character");
      } else {
        const w = this.wide(buf, i, buf.length, c);
        if (w < 0) return w === NEED ? this.fail("not-well-formed", "unpaired surrogate") : FAIL;
        i += w;
      }
    }
    if (to > seg) this.text += buf.slice(seg, to);
    return to;
  }
}

/** Namespaces in XML 1.0 §3 constraints on an xmlns:prefix declaration; a message if it breaks one. */
function badDeclaration(prefix: string, uri: string): string | undefined {
  if (prefix === "xmlns") return "the xmlns prefix must not be declared";
  if (prefix === "xml") return uri === XML_NS ? undefined : "the xml prefix must not be rebound";
  if (uri === "") return `prefix ${prefix} cannot be undeclared in XML 1.0`;
  if (uri === XML_NS || uri === XMLNS_NS) return `prefix ${prefix} cannot be bound to a reserved namespace`;
  return undefined;
}
