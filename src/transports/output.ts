// The server's output split into what transports without a byte stream frame one by one: XMPP over
// WebSocket (RFC 7395) sends each top-level element as a message, BOSH (XEP-0206) gathers them in
// <body/> wrappers. Both take the stream header and its end apart from the elements, and both need
// each element to stand alone, with the namespaces it inherited from the stream declared on it
// (RFC 7395 §3.3.3; XEP-0206 §2: stanzas "qualified by the 'jabber:client' namespace").
import { NS } from "../xml/ns.ts";

/** What the split finds in the server's output, in order. */
export interface OutputSink {
  /** Our stream header, `<stream:stream ...>` as written. */
  header(tag: string): void;
  /** `</stream:stream>`: the stream is over. */
  end(): void;
  /** One top-level element, standing alone. */
  element(text: string): void;
}

const ATTR = /([^\s=/<>]+)\s*=\s*(?:'([^']*)'|"([^"]*)")/g;

/** The attributes of an opening tag's text, as written (still escaped). */
export function tagAttributes(tag: string): [string, string][] {
  const out: [string, string][] = [];
  for (const m of tag.matchAll(ATTR)) out.push([m[1]!, m[3] ?? m[2]!]);
  return out;
}

/** Index of the '>' that ends the tag opened at `lt`, past quoted attribute values; -1 if not there yet. */
function tagEnd(text: string, lt: number): number {
  let quote = 0;
  for (let i = lt + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (quote !== 0) {
      if (c === quote) quote = 0;
    } else if (c === 0x27 || c === 0x22) quote = c;
    else if (c === 0x3e) return i;
  }
  return -1;
}

/**
 * Splits the server's output (whole elements, several per write at times) and hands each piece to
 * `sink`. Returns whatever trailing text is not a whole element yet, for the next call.
 */
export function splitOutput(text: string, sink: OutputSink): string {
  let depth = 0;
  let start = 0;
  let i = 0;
  while (i < text.length) {
    const lt = text.indexOf("<", i);
    if (lt < 0) break;
    if (text.startsWith("<?", lt)) {
      const end = text.indexOf("?>", lt);
      if (end < 0) return text.slice(lt);
      i = end + 2;
      continue;
    }
    const gt = tagEnd(text, lt);
    if (gt < 0) return text.slice(depth > 0 ? start : lt);
    i = gt + 1;
    if (text.charCodeAt(lt + 1) === 0x2f /* / */) {
      if (depth === 0) {
        if (text.startsWith("</stream:stream", lt)) sink.end();
      } else if (--depth === 0) sink.element(declare(text.slice(start, gt + 1)));
      continue;
    }
    const selfClosing = text.charCodeAt(gt - 1) === 0x2f;
    if (depth > 0) {
      if (!selfClosing) depth++;
      continue;
    }
    if (text.startsWith("<stream:stream", lt)) {
      sink.header(text.slice(lt, gt + 1));
      continue;
    }
    if (selfClosing) sink.element(declare(text.slice(lt, gt + 1)));
    else {
      start = lt;
      depth = 1;
    }
  }
  return depth > 0 ? text.slice(start) : "";
}

/** A top-level element with the namespaces the stream gave it declared on itself. */
function declare(element: string): string {
  const nameEnd = element.search(/[\s/>]/);
  const name = element.slice(1, nameEnd);
  const tag = element.slice(0, tagEnd(element, 0));
  if (name.startsWith("stream:")) return `<${name} xmlns:stream='${NS.stream}'${element.slice(nameEnd)}`;
  if ((name === "message" || name === "presence" || name === "iq") && !/\sxmlns\s*=/.test(tag)) {
    return `<${name} xmlns='${NS.client}'${element.slice(nameEnd)}`;
  }
  return element;
}
