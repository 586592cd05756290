// Elements kept in storage (vCards, private XML, later archived stanzas): serialised detached
// from their stanza, and read back through the same strict parser that reads streams.
import { clone, type Element } from "./element.ts";
import { StreamParser } from "./parser.ts";

/**
 * The element serialised on its own: prefixes bound on its ancestors (the query, the iq) are
 * declared on the copy, so the stored text parses without them.
 */
export function serializeDetached(el: Element): string {
  if (!el.parent) return el.toString(); // a stanza: nothing above it binds a prefix (a copy per archived message was a tenth of their garbage)
  const copy = clone(el);
  for (let up: Element | null = el.parent; up; up = up.parent) {
    for (const [k, v] of Object.entries(up.attrs)) {
      if (k.startsWith("xmlns:") && copy.attrs[k] === undefined) copy.attrs[k] = v;
    }
  }
  return copy.toString();
}

/** Reads back what serializeDetached stored (trusted text, so limits are generous); undefined if unreadable. */
export function parseStored(text: string): Element | undefined {
  let out: Element | undefined;
  const parser = new StreamParser({
    streamStart() {},
    streamEnd() {},
    error() {},
    stanza(el) {
      out ??= el;
    },
  }, { maxStanzaSize: text.length + 16, maxDepth: 1000, maxAttributes: 1000, maxNameLength: 1024 });
  parser.write("<stored>");
  parser.write(text);
  parser.write("</stored>");
  return out;
}

