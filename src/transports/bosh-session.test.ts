import { afterEach, describe, expect, it } from "vitest";
import { parseBody, type RequestBody } from "./bosh-body.ts";
import { BoshSession, type Exchange } from "./bosh-session.ts";
import type { BoshLimits } from "./bosh-terms.ts";

const LIMITS: BoshLimits = { maxWait: 60, maxInactivity: 60, maxHold: 2, maxPause: 0, requestsPerSecond: 0 };
const HEADER = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='abc' from='localhost' version='1.0' xml:lang='en'>";
const FEATURES = "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>";

const body = (attrs: string, payload = ""): RequestBody =>
  parseBody(Buffer.from(`<body xmlns='http://jabber.org/protocol/httpbind' ${attrs}>${payload}</body>`), { maxStanzaSize: 1e5, maxDepth: 8, maxAttributes: 64, maxNameLength: 256 }) as RequestBody;

/** A request whose answer the test reads. */
class Req implements Exchange {
  answers: { body: string; type: string }[] = [];
  dropped = false;
  answer(b: string, type: string): void {
    this.answers.push({ body: b, type });
  }
  drop(): void {
    this.dropped = true;
  }
  get text(): string | undefined {
    return this.answers[0]?.body;
  }
}

const turn = () => new Promise<void>((r) => setImmediate(r));
const sessions: BoshSession[] = [];

/** A session as the manager makes it, with the stream's input kept as text. */
function open(attrs = "rid='10' to='localhost' wait='30' hold='1' ver='1.6'", limits = LIMITS) {
  const input: string[] = [];
  const closed: string[] = [];
  const first = body(attrs);
  const s = new BoshSession("sid1", first, { remoteAddress: "127.0.0.1", secure: true, tls: undefined, limits, gone: () => {} });
  s.attach({ data: (b) => void input.push(b.toString()), close: (r) => void closed.push(r) });
  const creation = new Req();
  s.start(first, creation);
  sessions.push(s);
  return { s, input, closed, creation };
}

afterEach(() => {
  for (const s of sessions.splice(0)) s.end();
});

describe("BoshSession", () => {
  it("opens the stream with a header of its own, and answers creation with the terms, the stream's id and its features", async () => {
    const { s, input, creation } = open("rid='10' to='localhost' wait='30' hold='5' ver='1.10' xml:lang='fr' content='text/xml; charset=utf-8'");
    expect(input).toEqual(["<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0' xml:lang='fr'>"]);
    s.write(HEADER);
    await turn();
    expect(creation.text).toBeUndefined(); // the header alone is nothing to send
    s.write(FEATURES);
    await turn();
    expect(creation.text).toBe("<body xmlns='http://jabber.org/protocol/httpbind' sid='sid1' wait='30' inactivity='60' polling='5' requests='3' hold='2' ver='1.10'" +
      " from='localhost' authid='abc' xmlns:xmpp='urn:xmpp:xbosh' xmpp:version='1.0' xmpp:restartlogic='true' xmlns:stream='http://etherx.jabber.org/streams'>" +
      `<stream:features xmlns:stream='http://etherx.jabber.org/streams'>${FEATURES.slice("<stream:features>".length)}</body>`);
    expect(creation.answers[0]!.type).toBe("text/xml; charset=utf-8");
  });

  it("speaks the lower version, and answers with the content type asked for unless it is no content type", async () => {
    for (const [ver, expected] of [["1.6", "1.6"], ["2.0", "1.11"], ["x", "1.11"]] as const) {
      const { s, creation } = open(`rid='1' to='localhost' ver='${ver}' content='text/html; charset=utf-8'`);
      s.write(HEADER + FEATURES);
      await turn();
      expect(creation.text).toContain(` ver='${expected}'`);
      expect(creation.answers[0]!.type).toBe("text/html; charset=utf-8");
    }
    const { s, creation } = open("rid='1' to='localhost' content='text/xml\r\nx-injected: 1'");
    s.write(HEADER + FEATURES);
    await turn();
    expect(creation.answers[0]!.type).toBe("text/xml; charset=utf-8");
  });

  it("feeds payloads in request-id order, whatever order the requests come in, and a restart as a new header", async () => {
    const { s, input } = open();
    s.write(HEADER + FEATURES);
    await turn();
    input.length = 0;
    s.request(body("sid='sid1' rid='12'", "<iq id='b'/>"), new Req());
    expect(input).toEqual([]);
    s.request(body("sid='sid1' rid='11' xmlns:xmpp='urn:xmpp:xbosh' xmpp:restart='true'", "<iq id='a'/>"), new Req());
    expect(input).toEqual([
      "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0' xml:lang='en'>",
      "<iq id=\"a\"/>", "<iq id=\"b\"/>",
    ]);
  });

  it("holds at most 'hold' requests: the oldest is answered with what waits, and answers keep request-id order", async () => {
    const { s, creation } = open();
    s.write(HEADER + FEATURES);
    await turn();
    expect(creation.answers).toHaveLength(1);
    const r11 = new Req();
    const r12 = new Req();
    s.request(body("sid='sid1' rid='11'"), r11);
    expect(r11.text).toBeUndefined();
    s.request(body("sid='sid1' rid='12'", "<message/>"), r12);
    expect(r11.text).toBe("<body xmlns='http://jabber.org/protocol/httpbind'/>");
    // What the stream writes in one turn goes in one answer, even split across writes.
    s.write("<message xmlns='jabber:client'><body>one</bo");
    s.write("dy></message><presence/>");
    await turn();
    expect(r12.text).toBe("<body xmlns='http://jabber.org/protocol/httpbind'><message xmlns='jabber:client'><body>one</body></message><presence xmlns='jabber:client'/></body>");
    // Sent again, a request gets the same answer.
    const again = new Req();
    s.request(body("sid='sid1' rid='12'"), again);
    expect(again.text).toBe(r12.text);
  });

  it("keeps payloads back while reading is paused, and ends with type='terminate' carrying the stream error", async () => {
    const { s, input, creation } = open();
    s.write(HEADER + FEATURES);
    await turn();
    expect(creation.answers).toHaveLength(1);
    input.length = 0;
    s.pause();
    const r11 = new Req();
    s.request(body("sid='sid1' rid='11'", "<iq id='a'/>"), r11);
    expect(input).toEqual([]);
    s.resume();
    expect(input).toEqual(["<iq id=\"a\"/>"]);
    s.write("<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>");
    s.end();
    await turn();
    expect(r11.text).toBe("<body xmlns='http://jabber.org/protocol/httpbind' type='terminate' condition='remote-stream-error' xmlns:stream='http://etherx.jabber.org/streams'>" +
      "<stream:error xmlns:stream='http://etherx.jabber.org/streams'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></body>");
  });

  it("with no request held when the stream ends, gives the end to the next request", async () => {
    const { s, creation } = open();
    s.write(HEADER + FEATURES);
    await turn();
    expect(creation.answers).toHaveLength(1);
    s.write("<stream:error><system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>");
    await turn();
    const next = new Req();
    s.request(body("sid='sid1' rid='11'"), next);
    expect(next.text).toMatch(/^<body [^>]*type='terminate' condition='remote-stream-error'[^>]*><stream:error[^>]*><system-shutdown /);
  });

  it("ends the session with item-not-found for a request id out of the window, and the stream sees its transport close", async () => {
    const { s, closed } = open();
    s.write(HEADER + FEATURES);
    await turn();
    const far = new Req();
    s.request(body("sid='sid1' rid='13'"), far);
    expect(far.text).toBe("<body xmlns='http://jabber.org/protocol/httpbind' type='terminate' condition='item-not-found'/>");
    expect(closed).toEqual(["item-not-found"]);
  });
});
