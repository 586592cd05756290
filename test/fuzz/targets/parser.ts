// Fuzz target: the stream parser (src/xml/parser/). Whatever the bytes and wherever they are cut,
// the parser reports through error() alone, at most once, with an RFC 6120 condition, nothing
// after it, keeps its limits on what it reports, and a well-formed stream gives the same events
// however it is cut.
import { HOSTILE_TOKENS, OPEN } from "../xml.ts";
import type { Element } from "../../../src/xml/element.ts";
import { StreamParser, type ParserLimits } from "../../../src/xml/parser.ts";

const LIMITS: ParserLimits = { maxStanzaSize: 512, maxDepth: 6, maxAttributes: 6, maxNameLength: 24 };
const CONDITIONS = ["not-well-formed", "restricted-xml", "policy-violation", "unsupported-encoding"];

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(what);
}

function depth(el: Element): number {
  let d = 0;
  for (const c of el.children) if (typeof c !== "string") d = Math.max(d, depth(c));
  return d + 1;
}

function parse(chunks: Buffer[]): { events: string[]; errors: string[] } {
  const events: string[] = [];
  const errors: string[] = [];
  const parser = new StreamParser({
    streamStart: (name, attrs) => {
      check(errors.length === 0, "an event after the error");
      events.push(`start ${name} ${JSON.stringify(attrs)}`);
    },
    stanza: (el) => {
      check(errors.length === 0, "an event after the error");
      check(depth(el) <= LIMITS.maxDepth, "a stanza deeper than maxDepth");
      check(el.toString().length > 0, "an empty stanza");
      events.push(`stanza ${el.toString()}`);
    },
    streamEnd: () => {
      check(errors.length === 0, "an event after the error");
      events.push("end");
    },
    error: (condition) => {
      check(CONDITIONS.includes(condition), `condition ${condition}`);
      check(errors.length === 0, "a second error");
      errors.push(condition);
    },
  }, LIMITS);
  for (const c of chunks) parser.write(c);
  return { events, errors };
}

export function fuzz(data: Buffer): void {
  // The first byte says where to cut and whether a stream header goes first.
  const cut = data.length === 0 ? 0 : 1 + ((data[0]! >> 1) % Math.max(1, data.length - 1));
  const body = data.length === 0 ? data : data.subarray(1);
  const input = data.length > 0 && (data[0]! & 1) === 1 ? Buffer.concat([Buffer.from(OPEN()), body]) : body;
  const at = Math.min(cut + (input.length - body.length), input.length);
  const whole = parse([input]);
  const cutUp = parse([input.subarray(0, at), input.subarray(at)]);
  const bytes = parse(Array.from(input, (x) => Buffer.from([x])));
  if (whole.errors.length === 0 && cutUp.errors.length === 0) {
    check(JSON.stringify(whole.events) === JSON.stringify(cutUp.events), "a cut changed the events");
    check(JSON.stringify(whole.events) === JSON.stringify(bytes.events), "byte-at-a-time changed the events");
  }
}

export const seeds = [
  "\x01<message to='a@b' id='1'><body>hi &amp; &#x1F600; <![CDATA[x]]></body></message><presence/></stream:stream>",
  "\x01<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>  <r xmlns='urn:xmpp:sm:3'/>",
  "\x00<?xml version='1.0' encoding='UTF-8'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>",
  "\x01<message xmlns:p='urn:p' p:a='1'><p:x xml:lang='en'>\r\n</p:x></message>",
];
export const dictionary = [...HOSTILE_TOKENS, "<a>", "</a>", "<![CDATA[", "xmlns='", "'/>"];
