import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { FRAMING, WebSocketTransport, toFrames } from "./websocket.ts";

describe("toFrames (RFC 7395 §3.3)", () => {
  it("turns the header into <open/>, keeps one element per message and declares what the stream declared", () => {
    const { frames, rest } = toFrames("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' " +
      "id='x1' from='localhost' version='1.0' xml:lang='en'><stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>");
    expect(frames).toEqual([
      `<open xmlns='${FRAMING}' id='x1' from='localhost' version='1.0' xml:lang='en'/>`,
      "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>",
    ]);
    expect(rest).toBe("");
  });

  it("gives stanzas jabber:client, leaves nonzas and nested elements of the same name alone, and skips '>' in attribute values", () => {
    const { frames } = toFrames("<message to='a' id='x>y'><body>1 &gt; 0</body><message xmlns='urn:example'/></message><a xmlns='urn:xmpp:sm:3' h='1'/><iq xmlns=\"jabber:client\" type='result'/>");
    expect(frames).toEqual([
      "<message xmlns='jabber:client' to='a' id='x>y'><body>1 &gt; 0</body><message xmlns='urn:example'/></message>",
      "<a xmlns='urn:xmpp:sm:3' h='1'/>",
      "<iq xmlns=\"jabber:client\" type='result'/>",
    ]);
  });

  it("ends with <close/>, after a stream error", () => {
    const { frames } = toFrames("<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>");
    expect(frames).toEqual([
      "<stream:error xmlns:stream='http://etherx.jabber.org/streams'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
      `<close xmlns='${FRAMING}'/>`,
    ]);
  });

  it("keeps an element that is not whole yet for the next write", () => {
    const first = toFrames("<presence/><message to='b'><body>half");
    expect(first.frames).toEqual(["<presence xmlns='jabber:client'/>"]);
    expect(first.rest).toBe("<message to='b'><body>half");
    expect(toFrames(`${first.rest}</body></message>`).frames).toEqual(["<message xmlns='jabber:client' to='b'><body>half</body></message>"]);
  });
});

describe("WebSocketTransport: a client's messages", () => {
  it("reads a short <open/> as the stream header; a long one goes to the parser as it is, for the stream's limits to refuse", () => {
    const ws = Object.assign(new EventEmitter(), { readyState: 1, OPEN: 1, bufferedAmount: 0, send() {}, close() {}, pause() {}, resume() {} });
    const transport = new WebSocketTransport(ws as never, { socket: { remoteAddress: "127.0.0.1" } } as never, false);
    const got: string[] = [];
    transport.attach({ data: (b) => got.push(b.toString("utf8")), close: () => {} });
    ws.emit("message", Buffer.from(`<open xmlns='${FRAMING}' to='localhost' version='1.0'/>`), false);
    const long = `<open xmlns='${FRAMING}' to='localhost' version='1.0'${Array.from({ length: 500 }, (_, i) => ` a${i}='xxxx'`).join("")}/>`;
    ws.emit("message", Buffer.from(long), false);
    expect(got[0]).toMatch(/^<stream:stream xmlns='jabber:client' xmlns:stream='http:\/\/etherx.jabber.org\/streams' to='localhost' version='1.0'>$/);
    expect(got[1]).toBe(long);
  });
});
