// The judge of the socket fuzz tests: the server's own parser, run on the bytes a case sent (what
// the server must have made of them) and on what the server answered.
import type { Element } from "../../src/xml/element.ts";
import { StreamParser, type ParserLimits } from "../../src/xml/parser.ts";

export interface Reference {
  /** The top-level elements read. */
  stanzas: Element[];
  /** The condition the parser refused the input with. */
  error: string | undefined;
  /** The root's end tag was read. */
  ended: boolean;
}

/** What a parser with `limits` reads from the chunks, in order. */
export function reference(limits: ParserLimits, ...chunks: (Buffer | string)[]): Reference {
  const r: Reference = { stanzas: [], error: undefined, ended: false };
  const parser = new StreamParser({
    streamStart: () => {},
    stanza: (el) => { r.stanzas.push(el); },
    streamEnd: () => { r.ended = true; },
    error: (c) => { r.error = c; },
  }, limits);
  for (const c of chunks) parser.write(c);
  return r;
}

/**
 * The server's elements in `text`, its output from some point of a stream on (a stream header in
 * it is skipped); `content` is the stream's namespace.
 */
export function served(text: string, content = "jabber:client"): { elements: Element[]; closed: boolean } {
  const out = { elements: [] as Element[], closed: false };
  new StreamParser({
    streamStart: () => {},
    stanza: (el) => { out.elements.push(el); },
    streamEnd: () => { out.closed = true; },
    error: () => {},
  }, { maxStanzaSize: 1 << 24, maxDepth: 64, maxAttributes: 256, maxNameLength: 1024 }).write(
    `<stream:stream xmlns='${content}' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback'>` +
    text.replace(/^[\s\S]*?<stream:stream[^>]*>/, ""));
  return out;
}
