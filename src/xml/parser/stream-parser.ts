// The XMPP stream parser's public face: RFC 6120 §4 streams read under §11 restricted XML.
import { ChunkDecoder } from "./decoder.ts";
import { PARSE, ParserState } from "./state.ts";
import { TOKENIZER } from "./tokenizer.ts";
import type { ParserHandler, ParserLimits } from "./types.ts";

const { feed } = TOKENIZER;
const { ENDED } = PARSE;

/**
 * Parses one XMPP stream into ltx elements. Each top-level element reaches `stanza()` detached
 * and normalised so it can be re-serialised anywhere: an `xmlns` equal to the root's default
 * namespace is dropped (absent means "the stream's content namespace"), and every prefix its
 * subtree uses that only the root binds (`stream:`, `db:`) is declared on it.
 */
export class StreamParser {
  private readonly state: ParserState;
  private readonly decoder = new ChunkDecoder();

  constructor(handler: ParserHandler, limits: ParserLimits) {
    this.state = new ParserState(handler, limits);
  }

  /** Limits for the next top-level element on (the one being parsed keeps its own). */
  setLimits(limits: ParserLimits): void {
    this.state.limits = limits;
  }

  /**
   * Stream restart (RFC 6120 §4.3.3 after STARTTLS and SASL): a new optional XML declaration
   * and root are expected. Input already buffered is discarded, including the rest of a chunk
   * whose handler called reset(): bytes a peer sent before the restart must not be read as the
   * new stream (the STARTTLS command-injection class of bug).
   */
  reset(): void {
    this.decoder.reset();
    this.state.reset();
  }

  /** Parses the next chunk of the stream, bytes (UTF-8) or text; a chunk may end anywhere. */
  write(chunk: Buffer | string): void {
    const p = this.state;
    if (p.failed || p.level === ENDED) return; // after the root's end tag nothing is read (RFC 6120 §4.4)
    const s = this.decoder.decode(chunk);
    // RFC 6120 §4.9.3.22: a stream that violates "the rules of the [UTF-8] encoding" is
    // unsupported-encoding, the condition named for it, rather than the generic not-well-formed.
    if (s === null) p.fail("unsupported-encoding", "invalid UTF-8");
    else feed(p, s);
  }
}
