// XMPP over WebSocket (RFC 7395) and its discovery (XEP-0156) over real sockets. @xmpp/client, a
// client library that browsers run, logs in over wss:// and chats with a TCP client; a raw
// WebSocket checks the framing itself: <open/> and <close/>, one element per message with its
// namespaces declared, the "xmpp" subprotocol required, text only. Plain ws:// counts as secure
// only behind a TLS-ending proxy (http.secureProxy). A session enabled over WebSocket resumes over
// TCP (XEP-0198), and host-meta names the endpoint.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { parse } from "ltx";
import { xml, type Element } from "../../src/xml/element.ts";
import { NS } from "../../src/xml/ns.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { Im, accounts } from "../helpers/im.ts";
import { SmClient } from "../helpers/sm.ts";

const FRAMING = "urn:ietf:params:xml:ns:xmpp-framing";

/** A raw WebSocket client that keeps every message as text, in order. */
class Raw {
  readonly frames: string[] = [];
  private waiters: (() => void)[] = [];
  closed: { code: number } | undefined;
  readonly ws: WebSocket;
  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on("message", (data: Buffer) => {
      this.frames.push(data.toString("utf8"));
      for (const w of this.waiters.splice(0)) w();
    });
    ws.on("close", (code: number) => {
      this.closed = { code };
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static open(url: string, protocols: string[] = ["xmpp"]): Promise<Raw> {
    const ws = new WebSocket(url, protocols, { rejectUnauthorized: false });
    return new Promise((resolve, reject) => {
      ws.once("open", () => resolve(new Raw(ws)));
      ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once("error", reject);
    });
  }

  send(text: string): void {
    this.ws.send(text);
  }

  /** The next message that parses to a matching element (each message must parse on its own). */
  async next(match: (el: Element) => boolean, what: string, ms = 5000): Promise<Element> {
    const deadline = Date.now() + ms;
    for (;;) {
      while (this.frames.length) {
        const el = parse(this.frames.shift()!) as Element;
        if (match(el)) return el;
      }
      if (this.closed) throw new Error(`closed (${this.closed.code}) before ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what}`);
      await new Promise<void>((r) => {
        const timer = setTimeout(r, left);
        this.waiters.push(() => (clearTimeout(timer), r()));
      });
    }
  }

  async closedWith(ms = 5000): Promise<number> {
    for (let t = 0; !this.closed && t < ms / 10; t++) await new Promise((r) => setTimeout(r, 10));
    return this.closed?.code ?? -1;
  }

  /** Opens the stream, authenticates with PLAIN, opens again and binds. */
  async login(user: string, resource: string): Promise<void> {
    this.send(`<open xmlns='${FRAMING}' to='localhost' version='1.0'/>`);
    await this.next((e) => e.name === "stream:features", "features");
    this.send(`<auth xmlns='${NS.sasl}' mechanism='PLAIN'>${Buffer.from(`\0${user}\0pw`).toString("base64")}</auth>`);
    expect((await this.next((e) => e.attrs.xmlns === NS.sasl, "the SASL outcome")).name).toBe("success");
    this.send(`<open xmlns='${FRAMING}' to='localhost' version='1.0'/>`);
    await this.next((e) => e.name === "stream:features", "features after authentication");
    this.send(`<iq type='set' id='b' xmlns='jabber:client'><bind xmlns='${NS.bind}'><resource>${resource}</resource></bind></iq>`);
    expect((await this.next((e) => e.name === "iq", "the bind result")).attrs.type).toBe("result");
  }
}

let t: TestServer;
let wss: string;
let ws: string;
beforeAll(async () => {
  t = await startServer();
  wss = `wss://localhost:${t.server.ports.https}/xmpp-websocket`;
  ws = `ws://127.0.0.1:${t.server.ports.http}/xmpp-websocket`;
});
afterAll(() => t.stop());

describe("XMPP over WebSocket (RFC 7395)", () => {
  it("a client library logs in over wss:// (SCRAM) and chats with a client on TCP", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    const r = await Im.login(0, romeo!, "browser", { service: wss });
    const j = await Im.login(t.port, juliet!, "desk");
    r.send(xml("message", { to: j.jid, type: "chat", id: "m1" }, xml("body", null, "over a websocket")));
    const got = await j.next((el) => el.name === "message", "Romeo's message");
    expect(got.attrs.from).toBe(r.jid);
    expect(got.getChildText("body")).toBe("over a websocket");
    j.send(xml("message", { to: r.jid, type: "chat" }, xml("body", null, "back over TCP")));
    expect((await r.next((el) => el.name === "message", "Juliet's answer")).getChildText("body")).toBe("back over TCP");
    const pong = await r.ask(xml("iq", { type: "get", to: "localhost" }, xml("ping", { xmlns: "urn:xmpp:ping" })));
    expect(pong.attrs.type).toBe("result");
    await Promise.all([r.stop(), j.stop()]);
  });

  it("frames the stream: <open/> answered by <open/>, one element per message with its namespaces, <close/> answered by <close/>", async () => {
    const [user] = await accounts(t, "framing");
    const c = await Raw.open(wss);
    c.send(`<open xmlns='${FRAMING}' to='localhost' version='1.0'/>`);
    const open = await c.next(() => true, "the server's open");
    expect(open.name).toBe("open");
    expect(open.attrs).toMatchObject({ xmlns: FRAMING, from: "localhost", version: "1.0" });
    expect(open.attrs.id).toMatch(/.+/);
    // Each message parsed on its own above; the features name their prefix's namespace themselves.
    const features = await c.next(() => true, "the features");
    expect(features.name).toBe("stream:features");
    expect(features.attrs["xmlns:stream"]).toBe(NS.stream);
    const mechanisms = features.getChild("mechanisms", NS.sasl)!.getChildren("mechanism").map((m) => m.getText());
    expect(mechanisms).toContain("SCRAM-SHA-256-PLUS"); // wss: channel binding to the TLS connection
    expect(features.getChild("starttls")).toBeUndefined();
    c.send(`<auth xmlns='${NS.sasl}' mechanism='PLAIN'>${Buffer.from(`\0${user}\0pw`).toString("base64")}</auth>`);
    expect((await c.next(() => true, "success")).name).toBe("success");
    c.send(`<open xmlns='${FRAMING}' to='localhost' version='1.0'/>`);
    expect((await c.next(() => true, "a new open")).name).toBe("open");
    await c.next((e) => e.name === "stream:features", "features");
    c.send(`<iq type='set' id='b' xmlns='jabber:client'><bind xmlns='${NS.bind}'/></iq>`);
    const bound = await c.next(() => true, "the bind result");
    expect(bound.attrs).toMatchObject({ xmlns: "jabber:client", type: "result", id: "b" });
    // Several stanzas written in one turn still come one per message.
    for (const id of ["p1", "p2", "p3"]) c.send(`<iq type='get' id='${id}' to='localhost' xmlns='jabber:client'><ping xmlns='urn:xmpp:ping'/></iq>`);
    for (const id of ["p1", "p2", "p3"]) expect((await c.next(() => true, id)).attrs).toMatchObject({ xmlns: "jabber:client", id, type: "result" });
    c.send(`<close xmlns='${FRAMING}'/>`);
    expect((await c.next(() => true, "the server's close")).attrs.xmlns).toBe(FRAMING);
    expect(await c.closedWith()).toBe(1000);
  });

  it("refuses an upgrade without the xmpp subprotocol, and paths other than /xmpp-websocket", async () => {
    await expect(Raw.open(wss, [])).rejects.toThrow("HTTP 400");
    await expect(Raw.open(wss.replace("/xmpp-websocket", "/other"))).rejects.toThrow("HTTP 404");
  });

  it("bad input: a binary message closes with 1003, XML that is not well-formed gets <not-well-formed/>, a wrong framing namespace <invalid-namespace/>", async () => {
    const binary = await Raw.open(wss);
    binary.ws.send(Buffer.from("<open/>"), { binary: true });
    expect(await binary.closedWith()).toBe(1003);

    const broken = await Raw.open(wss);
    broken.send(`<open xmlns='${FRAMING}' to='localhost' version='1.0'/>`);
    await broken.next((e) => e.name === "stream:features", "features");
    broken.send("<iq type='get'><ping></iq>");
    const err = await broken.next((e) => e.name === "stream:error", "the stream error");
    expect(err.getChild("not-well-formed", NS.streams)).toBeDefined();
    expect((await broken.next(() => true, "close")).name).toBe("close");
    expect(await broken.closedWith()).toBe(1000);

    const wrong = await Raw.open(wss);
    wrong.send("<open xmlns='urn:example:other' to='localhost' version='1.0'/>");
    const err2 = await wrong.next((e) => e.name === "stream:error", "the stream error");
    expect(err2.getChild("invalid-namespace", NS.streams)).toBeDefined();
  });

  it("plain ws:// offers no way to authenticate while TLS is required", async () => {
    const c = await Raw.open(ws);
    c.send(`<open xmlns='${FRAMING}' to='localhost' version='1.0'/>`);
    const features = await c.next((e) => e.name === "stream:features", "features");
    expect(features.getChild("mechanisms", NS.sasl)).toBeUndefined();
    c.send(`<auth xmlns='${NS.sasl}' mechanism='PLAIN'>${Buffer.from("\0framing\0pw").toString("base64")}</auth>`);
    const failure = await c.next((e) => e.attrs.xmlns === NS.sasl, "the failure");
    expect(failure.getChild("encryption-required")).toBeDefined();
    c.ws.close();
  });

  it("a session enabled over WebSocket resumes over TCP with what it had not acknowledged", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    const c = await Raw.open(wss);
    await c.login(juliet!, "browser");
    c.send(`<enable xmlns='${NS.sm}' resume='true'/>`);
    const enabled = await c.next((e) => e.name === "enabled", "enabled");
    const r = await Im.login(t.port, romeo!, "desk");
    r.send(xml("message", { to: `${juliet}@localhost/browser`, type: "chat" }, xml("body", null, "while the tab sleeps")));
    await c.next((e) => e.name === "message", "the message, over the websocket");
    c.ws.terminate(); // the tab is gone without a word, the message never acknowledged
    const { c: tcp, reply } = await SmClient.resume(t.port, juliet!, enabled.attrs.id!, 0);
    expect(reply.name).toBe("resumed");
    const replayed = await tcp.next((e) => e.name === "message", "the unacknowledged message, replayed");
    expect(replayed.getChildText("body")).toBe("while the tab sleeps");
    tcp.cut();
    await r.stop();
  });
});

describe("plain ws:// behind a TLS-ending proxy (http.secureProxy)", () => {
  let p: TestServer;
  beforeAll(async () => {
    p = await startServer({ config: { http: { host: "127.0.0.1", secureProxy: true, publicUrl: "wss://chat.example.org/xmpp-websocket" } } });
  });
  afterAll(() => p.stop());

  it("authenticates over ws:// and host-meta names the public URL (XEP-0156)", async () => {
    const [u] = await accounts(p, "proxied");
    const c = await Im.login(0, u!, "r", { service: `ws://127.0.0.1:${p.server.ports.http}/xmpp-websocket` });
    await c.stop();
    const base = `http://127.0.0.1:${p.server.ports.http}`;
    const xrd = await fetch(`${base}/.well-known/host-meta`);
    expect(xrd.headers.get("access-control-allow-origin")).toBe("*");
    // BOSH (XEP-0206) is on the same public host, at its own path.
    const links = [
      { rel: "urn:xmpp:alt-connections:websocket", href: "wss://chat.example.org/xmpp-websocket" },
      { rel: "urn:xmpp:alt-connections:xbosh", href: "https://chat.example.org/http-bind" },
    ];
    expect((parse(await xrd.text()) as Element).getChildren("Link").map((l) => l.attrs)).toEqual(links);
    const json = (await (await fetch(`${base}/.well-known/host-meta.json`)).json()) as { links: { rel: string; href: string }[] };
    expect(json.links).toEqual(links);
    expect((await fetch(`${base}/xmpp-websocket`)).status).toBe(426);
  });
});

describe("host-meta without a configured URL", () => {
  it("names the endpoint by the request's host and the listener's scheme", async () => {
    const res = await fetch(`https://localhost:${t.server.ports.https}/.well-known/host-meta.json`);
    const json = (await res.json()) as { links: { href: string }[] };
    expect(json.links[0]!.href).toBe(`wss://localhost:${t.server.ports.https}/xmpp-websocket`);
  });
});
