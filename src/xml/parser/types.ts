// The public surface of the XMPP stream parser (RFC 6120 §11 restricted XML): its limits, the
// handler it reports to and the stream error conditions it reports.
import type { Element } from "../element.ts";

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
