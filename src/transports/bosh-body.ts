// The <body/> wrapper of BOSH (XEP-0124 §6): a client's request read with the stream parser (RFC
// 6120 §11 restricted XML, limits checked before work), and ours. The payloads come out as text,
// each element standing alone (the parser declares on it what the wrapper declared), ready for
// the stream's own parser.
import { escapeXML } from "../xml/element.ts";
import { StreamParser, type ParserLimits } from "../xml/parser.ts";

export const HTTPBIND = "http://jabber.org/protocol/httpbind";
/** XEP-0206's attributes on the wrapper: xmpp:version, xmpp:restart, xmpp:restartlogic. */
export const XBOSH = "urn:xmpp:xbosh";

/** XEP-0124 §14.1: request ids never exceed 2^53 - 1. */
const RID = /^[0-9]{1,16}$/;

export interface RequestBody {
  /** The wrapper's attributes as written, namespace declarations included. */
  readonly attrs: Record<string, string>;
  /** The request id; undefined when missing or not an integer in range. */
  readonly rid: number | undefined;
  /** The payloads, each element's text standing alone, in order. */
  readonly payloads: string[];
}

/** The value of a wrapper attribute in the urn:xmpp:xbosh namespace, whatever prefix the client bound to it. */
export function xbosh(body: RequestBody, local: string): string | undefined {
  for (const [k, v] of Object.entries(body.attrs)) {
    if (v === XBOSH && k.startsWith("xmlns:")) return body.attrs[`${k.slice(6)}:${local}`];
  }
  return undefined;
}

/** A request id from its attribute text, or undefined. */
export function parseRid(text: string | undefined): number | undefined {
  if (text === undefined || !RID.test(text)) return undefined;
  const rid = Number(text);
  return rid <= Number.MAX_SAFE_INTEGER ? rid : undefined;
}

/** A non-negative integer attribute (wait, hold, pause); undefined when absent, NaN when malformed. */
export function intAttr(body: RequestBody, name: string): number | undefined {
  const v = body.attrs[name];
  if (v === undefined) return undefined;
  return /^[0-9]{1,9}$/.test(v) ? Number(v) : NaN;
}

/**
 * Reads a request's text: one <body xmlns='http://jabber.org/protocol/httpbind'/> with complete
 * elements in it. Returns the body, or why it is a bad request.
 */
export function parseBody(text: Buffer, limits: ParserLimits): RequestBody | string {
  let attrs: Record<string, string> | undefined;
  const payloads: string[] = [];
  let problem: string | undefined;
  let closed = false;
  const parser = new StreamParser({
    streamStart(name, a) {
      const colon = name.indexOf(":");
      const ns = colon < 0 ? a.xmlns : a[`xmlns:${name.slice(0, colon)}`];
      if (name.slice(colon + 1) !== "body" || ns !== HTTPBIND) problem = `the root must be {${HTTPBIND}}body`;
      attrs = a;
    },
    stanza(el) {
      payloads.push(el.toString());
    },
    streamEnd() {
      closed = true;
    },
    error(condition, message) {
      problem ??= `${condition}: ${message}`;
    },
  }, limits);
  parser.write(text);
  if (problem !== undefined) return problem;
  if (attrs === undefined || !closed) return "not a whole <body/>";
  return { attrs, rid: parseRid(attrs.rid), payloads };
}

/** A <body/> of ours: `attrs` as ` name='value'` text (already escaped), then the payloads. */
export function responseBody(attrs: string, content: string): string {
  return content === "" ? `<body xmlns='${HTTPBIND}'${attrs}/>` : `<body xmlns='${HTTPBIND}'${attrs}>${content}</body>`;
}

/** XEP-0124 §17.2: a terminal binding condition (none for a clean end), the session is over. */
export function terminateBody(condition?: string, content = "", attrs = ""): string {
  return responseBody(` type='terminate'${condition ? ` condition='${condition}'` : ""}${attrs}`, content);
}

/** ` name='value'` with the value escaped, for responseBody's attributes. */
export function attr(name: string, value: string | number): string {
  return ` ${name}='${typeof value === "number" ? value : escapeXML(value)}'`;
}
