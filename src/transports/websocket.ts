// XMPP over WebSocket (RFC 7395), the transport of browser clients (Converse.js), on the HTTP
// listener (http.ts).
//
// The framing differs from TCP in three ways, and this transport translates both directions so
// that the stream state machine and its parser see a TCP stream:
//   - each WebSocket message is one whole element, with its namespaces declared in it;
//   - <open xmlns='urn:ietf:params:xml:ns:xmpp-framing'/> opens (and restarts) the stream in
//     place of <stream:stream>, and <close/> ends it in place of </stream:stream>;
//   - there is no STARTTLS: the connection is secure when it came over TLS (wss), or when the
//     operator says a reverse proxy in front of the plain port ends TLS (http.secureProxy).
import type { IncomingMessage } from "node:http";
import { TLSSocket } from "node:tls";
import type { RawData, WebSocket } from "ws";
import { escapeXML } from "../xml/element.ts";
import { NS } from "../xml/ns.ts";
import { parseStored } from "../xml/stored.ts";
import { splitOutput, tagAttributes } from "./output.ts";
import { tlsChannelBinding } from "./tls.ts";
import type { ChannelBinding, Transport, TransportEvents } from "./transport.ts";

export const FRAMING = "urn:ietf:params:xml:ns:xmpp-framing";

/** The frame that ends the stream, in place of </stream:stream>. */
const CLOSE_FRAME = `<close xmlns='${FRAMING}'/>`;

/**
 * The server's output (whole elements, several per write at times) as RFC 7395 messages: the
 * stream header becomes <open/>, its end <close/>, each top-level element a message of its own
 * with the namespaces it inherited from the stream declared on it. Returns the messages and
 * whatever trailing text is not a whole element yet.
 */
export function toFrames(text: string): { frames: string[]; rest: string } {
  const frames: string[] = [];
  const rest = splitOutput(text, {
    header: (tag) => frames.push(openOf(tag)),
    end: () => frames.push(CLOSE_FRAME),
    element: (el) => frames.push(el),
  });
  return { frames, rest };
}

/** Our stream header as <open/>, with its from, id, version and language. */
function openOf(header: string): string {
  let attrs = "";
  for (const [k, v] of tagAttributes(header)) if (!k.startsWith("xmlns")) attrs += ` ${k}='${v}'`;
  return `<open xmlns='${FRAMING}'${attrs}/>`;
}

/** A client's <open/> as the stream header the parser expects; a wrong namespace stays wrong, for the stream to refuse. */
function headerOf(open: string): string {
  const el = parseStored(open);
  if (!el || el.name !== "open") return open; // not well-formed: the parser says so
  const streamNs = el.attrs.xmlns === FRAMING ? NS.stream : (el.attrs.xmlns ?? "");
  let attrs = "";
  for (const [k, v] of Object.entries(el.attrs)) if (k !== "xmlns" && !k.startsWith("xmlns:")) attrs += ` ${k}='${escapeXML(v)}'`;
  return `<stream:stream xmlns='${NS.client}' xmlns:stream='${escapeXML(streamNs)}'${attrs}>`;
}

/** The first byte that is not XML white space, or -1. */
function firstMark(data: Buffer): number {
  for (let i = 0; i < data.length; i++) {
    const c = data[i]!;
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
  }
  return -1;
}

const OPEN = Buffer.from("<open");
/**
 * An <open/> is a few hundred bytes. A longer message is not read here (that would be a parse
 * without the stream's limits, of up to a whole message, before authentication): it goes to the
 * stream's parser as it is, which refuses it under its limits.
 */
const MAX_OPEN = 4096;
const CLOSE = Buffer.from("<close");
const STREAM_END = Buffer.from("</stream:stream>");

function isTag(data: Buffer, at: number, tag: Buffer): boolean {
  if (data.length < at + tag.length + 1 || !data.subarray(at, at + tag.length).equals(tag)) return false;
  const next = data[at + tag.length]!;
  return next === 0x20 || next === 0x2f || next === 0x3e || next === 0x0a || next === 0x0d || next === 0x09;
}

export class WebSocketTransport implements Transport {
  private events: TransportEvents | undefined;
  private closed = false;
  private rest = "";
  readonly remoteAddress: string;
  readonly secure: boolean;
  readonly canStartTls = false;
  private readonly ws: WebSocket;
  private readonly tlsSocket: TLSSocket | undefined;

  constructor(ws: WebSocket, req: IncomingMessage, secure: boolean) {
    this.ws = ws;
    this.tlsSocket = req.socket instanceof TLSSocket ? req.socket : undefined;
    this.secure = secure || this.tlsSocket !== undefined;
    this.remoteAddress = req.socket.remoteAddress ?? "unknown";
  }

  attach(events: TransportEvents): void {
    this.events = events;
    this.ws.on("message", (data: RawData, binary: boolean) => this.received(data as Buffer, binary));
    this.ws.on("close", () => this.lost("connection closed"));
    this.ws.on("error", (e: Error) => this.lost(e.message));
  }

  private received(data: Buffer, binary: boolean): void {
    if (binary) {
      // RFC 7395 §3.2: XMPP goes in text messages only.
      this.ws.close(1003, "text messages only");
      return;
    }
    const at = firstMark(data);
    if (at >= 0 && data.length <= MAX_OPEN && isTag(data, at, OPEN)) this.events!.data(Buffer.from(headerOf(data.toString("utf8"))));
    else if (at >= 0 && isTag(data, at, CLOSE)) this.events!.data(STREAM_END);
    else this.events!.data(data);
  }

  private lost(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.events?.close(reason);
  }

  get buffered(): number {
    return this.ws.bufferedAmount + this.rest.length;
  }

  write(data: string): void {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return;
    const { frames, rest } = toFrames(this.rest + data);
    this.rest = rest;
    for (const f of frames) this.ws.send(f);
  }

  startTls(): Promise<void> {
    return Promise.reject(new Error("no STARTTLS over WebSocket"));
  }

  channelBinding(): ChannelBinding | undefined {
    return this.tlsSocket ? tlsChannelBinding(this.tlsSocket) : undefined;
  }

  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }

  end(): void {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return;
    // A client that never answers the closing handshake loses its connection (the server's closeTimeout, http.ts).
    this.ws.close(1000);
  }
}
