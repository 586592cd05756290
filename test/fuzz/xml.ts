// Generators of XML for the fuzz tests: element trees that are well-formed by construction
// (XML 1.0 §2.2 Char, §2.3 Name, Namespaces in XML 1.0 §3 QName), the stream header of RFC 6120
// §4.7, and ways of cutting bytes into chunks. The trees are built with the server's own xml()
// and serialised with its serializer, so that a parser's result can be compared with its input.
import fc from "fast-check";
import { type Element, xml } from "../../src/xml/element.ts";

export const STREAM_NS = "http://etherx.jabber.org/streams";

/** A client's stream header (RFC 6120 §4.7) for `domain`. */
export const OPEN = (domain = "localhost") =>
  `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='${STREAM_NS}' to='${domain}' version='1.0'>`;

/** Namespaces XMPP stanzas carry, and a few that nothing serves. */
export const NAMESPACES = [
  "jabber:client", "jabber:iq:roster", "urn:xmpp:ping", "http://jabber.org/protocol/disco#info",
  "http://jabber.org/protocol/disco#items", "urn:xmpp:sm:3", "urn:xmpp:mam:2", "jabber:x:data",
  "http://jabber.org/protocol/rsm", "http://jabber.org/protocol/pubsub", "vcard-temp", "urn:xmpp:carbons:2",
  "urn:xmpp:blocking", "http://jabber.org/protocol/muc", "urn:xmpp:csi:0", "jabber:iq:private",
  "urn:example:unknown", "", "jabber:server", "http://etherx.jabber.org/streams",
];

const NAME_START = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_";
const NAME_CHARS = NAME_START + "0123456789-.";

/** An XML Name without ':' (an NCName), ASCII or with a letter beyond it. */
export const ncName = (maxLength = 12): fc.Arbitrary<string> => fc.tuple(
  fc.constantFrom(...NAME_START, "é", "ж", "中"),
  fc.string({ unit: fc.constantFrom(...NAME_CHARS, "ß", "·"), maxLength: maxLength - 1 }),
).map(([a, b]) => a + b);

/** Element names stanzas use, and others. */
export const elementName = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom("message", "presence", "iq", "body", "query", "item", "x", "field", "value",
    "set", "max", "after", "before", "enable", "r", "a", "ping", "pubsub", "publish", "error", "thread") },
  { weight: 1, arbitrary: ncName() },
);

/**
 * Text made of characters XML allows (§2.2), without CR (line ends are normalised, §2.11):
 * ASCII, markup characters the serializer escapes, Latin and CJK letters, astral characters
 * (surrogate pairs) and U+FFFD.
 */
export const xmlText = (maxLength = 40): fc.Arbitrary<string> => fc.string({
  unit: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz 0123456789") },
    { weight: 2, arbitrary: fc.constantFrom("<", ">", "&", "'", "\"", "]", "\n", "\t", ";", "#", "=") },
    { weight: 1, arbitrary: fc.constantFrom("é", "ж", "中", "😀", "𝄞", "\uFFFD", "\u00A0", "\u2028") },
  ),
  maxLength,
});

/** Attribute values: like text, without the whitespace attribute-value normalisation turns into spaces (§3.3.3). */
export const attrValue = (maxLength = 20): fc.Arbitrary<string> =>
  xmlText(maxLength).map((s) => s.replace(/[\n\t]/g, " "));

export interface TreeOptions {
  depth?: number;
  children?: number;
  attributes?: number;
}

/** A well-formed element tree; `xmlns` on some elements, never a prefixed name (their scoping is the parser tests'). */
export const elementTree = (o: TreeOptions = {}): fc.Arbitrary<Element> => {
  const { depth = 4, children = 4, attributes = 4 } = o;
  const tree = fc.letrec<{ node: Element }>((tie) => ({
    node: fc.tuple(
      elementName,
      fc.dictionary(fc.oneof(fc.constantFrom("to", "from", "id", "type", "xml:lang", "var", "node", "jid", "h"),
        ncName(8).filter((n) => !n.startsWith("xmlns"))), attrValue(), { maxKeys: attributes }),
      fc.option(fc.constantFrom(...NAMESPACES.filter((n) => n !== "" && n !== "jabber:client")), { nil: undefined }),
      fc.array(fc.oneof({ maxDepth: depth, depthIdentifier: "tree" }, xmlText(), tie("node"), tie("node")), { maxLength: children }),
    ).map(([name, attrs, ns, kids]) => {
      const a: Record<string, string> = { ...attrs };
      if (ns !== undefined) a.xmlns = ns;
      const el = xml(name, a);
      // Adjacent strings are one text node once parsed: join them as the parser will.
      for (const k of kids) {
        const last = el.children[el.children.length - 1];
        if (typeof k === "string") {
          if (k === "") continue;
          if (typeof last === "string") el.children[el.children.length - 1] = last + k;
          else el.children.push(k);
        } else {
          el.append(k as Element);
        }
      }
      return el;
    }),
  }));
  return tree.node;
};

/** A top-level element of a client stream: message, presence or iq with a tree under it. */
export const stanza = (o: TreeOptions = {}): fc.Arbitrary<Element> => fc.tuple(
  fc.constantFrom("message", "presence", "iq"),
  fc.record({ id: ncName(10), type: fc.constantFrom("chat", "get", "set", "result", "error", "normal", "unavailable") }, { requiredKeys: [] }),
  fc.array(elementTree(o), { maxLength: 3 }),
).map(([name, attrs, kids]) => xml(name, attrs, kids));

/** Cut points for `length` units: sorted, distinct, inside (0, length). */
export const cuts = (length: number): fc.Arbitrary<number[]> =>
  fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, length - 1) }), { maxLength: Math.min(length, 40) })
    .map((a) => a.filter((n) => n < length).sort((x, y) => x - y));

/** `data` cut at `at` (positions as cuts() gives them). */
export function chunked<T extends { subarray?: unknown; slice(a: number, b?: number): T; length: number }>(data: T, at: number[]): T[] {
  const out: T[] = [];
  let from = 0;
  for (const c of at) {
    out.push(data.slice(from, c));
    from = c;
  }
  out.push(data.slice(from));
  return out;
}

/** The depth of an element tree (the element itself is 1). */
export function depthOf(el: Element): number {
  let d = 0;
  for (const c of el.children) if (typeof c !== "string") d = Math.max(d, depthOf(c));
  return d + 1;
}

/** Every element of a tree, itself first. */
export function* walk(el: Element): Generator<Element> {
  yield el;
  for (const c of el.children) if (typeof c !== "string") yield* walk(c);
}

/** Pieces that matter to an XML parser, and byte sequences that are not UTF-8 (RFC 3629 §3, §10). */
export const HOSTILE_TOKENS: readonly Buffer[] = [
  "<", ">", "/", "/>", "</", "&", ";", "&amp;", "&lt;", "&#0;", "&#x110000;", "&#xD800;", "&#65;", "&foo;", "&#",
  "<!--", "-->", "<?xml version='1.0'?>", "<?php ?>", "<!DOCTYPE x [<!ENTITY e 'x'>]>", "<!ENTITY", "<![CDATA[", "]]>",
  "'", "\"", "=", ":", "a:b", "xmlns:", " xmlns='urn:x'", " xmlns:p='urn:p'", " xmlns:xml='urn:x'", " xmlns:p=''",
  " a='1' a='2'", " p:a='1'", "<p:x>", "</p:x>", "\u0000", "\u0001", "\uFFFE", "\uFFFF", "\uD800", "\uDC00",
  "</stream:stream>", OPEN(), "<stream:stream>", "<stream:features/>", " ", "\r", "\r\n", "\t", "\u00A0", "\u2028", "😀",
  "<message>", "</message>", "<iq type='get' id='x'>", "</iq>", "<body>", "</body>",
  "<r xmlns='urn:xmpp:sm:3'/>", "<a xmlns='urn:xmpp:sm:3' h='4294967296'/>", "<enable xmlns='urn:xmpp:sm:3'/>",
].map((s) => Buffer.from(s, "utf8")).concat([
  [0xff], [0xfe, 0xff], [0xef, 0xbb, 0xbf], [0xc0, 0x80], [0xc1, 0xbf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80],
  [0xf5, 0x80, 0x80, 0x80], [0xe2, 0x82], [0x80], [0xbf, 0xbf], [0xf0, 0x9f, 0x98],
].map((b) => Buffer.from(b)));

export type Mutation =
  | { kind: "insert"; at: number; token: Buffer }
  | { kind: "replace"; at: number; token: Buffer }
  | { kind: "delete"; at: number; length: number }
  | { kind: "repeat"; at: number; length: number; times: number }
  | { kind: "byte"; at: number; value: number };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), token: fc.constantFrom(...HOSTILE_TOKENS) }),
  fc.record({ kind: fc.constant("replace" as const), at: fc.nat(), token: fc.constantFrom(...HOSTILE_TOKENS) }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ kind: fc.constant("repeat" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 24 }), times: fc.integer({ min: 2, max: 64 }) }),
  fc.record({ kind: fc.constant("byte" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
);

/** `data` with the mutations applied in turn, each at its position modulo the length then. */
export function mutate(data: Buffer, mutations: readonly Mutation[]): Buffer {
  let b = data;
  for (const m of mutations) {
    const at = b.length === 0 ? 0 : m.at % (b.length + 1);
    switch (m.kind) {
      case "insert":
        b = Buffer.concat([b.subarray(0, at), m.token, b.subarray(at)]);
        break;
      case "replace":
        b = Buffer.concat([b.subarray(0, at), m.token, b.subarray(at + m.token.length)]);
        break;
      case "delete":
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.length)]);
        break;
      case "repeat": {
        const piece = b.subarray(at, at + m.length);
        b = Buffer.concat([b.subarray(0, at), ...Array.from({ length: m.times }, () => piece), b.subarray(at + m.length)]);
        break;
      }
      case "byte":
        if (at < b.length) {
          b = Buffer.from(b);
          b[at] = m.value;
        }
        break;
    }
  }
  return b;
}
