// The state of one stream parser, shared by the scanners of this folder. Each scanner is a plain
// function of (state, buffer, position, end) returning the position after what it consumed, or
// NEED (wait for more input) or FAIL (the parser has failed); results other than a position go
// to fields here, so the hot path allocates no result objects.
//
// This folder's convention, for speed: functions are module-local `const` arrow functions, and
// each module exports one object of its constants and functions (PARSE, CHARS, TEXT, ...) that
// importers destructure into module-local consts. V8 folds a module's own consts into optimised
// code, while a function declaration (a mutable binding) or an imported binding is loaded and
// checked at every use; on these per-character and per-token paths that costs 5-20%
// (node test/bench/parser.ts).
import type { Element } from "../element.ts";
import type { ParserErrorCondition, ParserHandler, ParserLimits } from "./types.ts";

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

/** What the handler is told once the parser's own state is consistent. */
const EMIT_NONE = 0;
const EMIT_START = 1;
const EMIT_STANZA = 2;
const EMIT_END = 3;
const EMIT_START_END = 4;

/** For importers to destructure into module-local consts (see above). */
export const PARSE = {
  NEED, FAIL, NO_LIMIT, PROLOG, ENDED, WAIT_NONE, WAIT_TAG, WAIT_GT, WAIT_PI,
  EMIT_NONE, EMIT_START, EMIT_STANZA, EMIT_END, EMIT_START_END,
};

/** Everything one StreamParser knows, read and written by the scanners directly. */
export class ParserState {
  handler: ParserHandler;
  limits: ParserLimits;
  /** The limits of the top-level element (or stream header) being parsed; setLimits waits for the next. */
  active: ParserLimits;
  gen = 0;
  busy = false;
  failed = false;

  /** Unconsumed input; `pos` is only non-zero while a handler runs. */
  buf = "";
  pos = 0;
  /** Index in `buf` the current top-level element (or stream header) may not reach. */
  limitEnd = NO_LIMIT;
  waitKind = WAIT_NONE;
  waitQuote = 0;
  /** Chunks that arrived while a tag waits for its terminator; joined once it comes. */
  parts: string[] = [];
  partsLen = 0;

  level = PROLOG;
  sawDecl = false;
  inCdata = false;
  /** Text of the innermost open element not yet added as a child. */
  text = "";
  stack: (Element | undefined)[] = [];
  /** Per open stanza element, its prefix declarations as [prefix, uri, ...], or null. */
  scopes: (string[] | null)[] = [];
  rootName = "";
  rootAttrs: Record<string, string> | null = null;
  rootDecls: string[] | null = null;
  rootDefault = "";

  emitKind = EMIT_NONE;
  emitEl: Element | null = null;
  // Scanner outputs: the offset of a QName's ':' (or -1), an attribute value, a reference's text.
  colon = -1;
  value = "";
  refText = "";
  // The start tag being read: how many attribute names it has (see attributes.ts), its
  // prefix declarations as [prefix, uri, ...], default namespace, prefixed attribute count.
  stored = 0;
  decls: string[] | null = null;
  defaultNs: string | undefined = undefined;
  prefixed = 0;
  selfClose = false;

  constructor(handler: ParserHandler, limits: ParserLimits) {
    this.handler = handler;
    this.limits = limits;
    this.active = limits;
  }

  /** Back to the start of a stream; `gen` changes so a loop running a handler stops. */
  reset(): void {
    this.gen++;
    this.busy = false;
    this.failed = false;
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

  /** Reports the first error and drops all state; returns FAIL for the scanner to return. */
  fail(condition: ParserErrorCondition, text: string): number {
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
}
