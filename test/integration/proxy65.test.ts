// XEP-0065 SOCKS5 Bytestreams through the server's proxy, over real sockets: Romeo finds
// proxy.localhost in the server's disco#items and asks for its address; he offers it to Juliet,
// who connects with SOCKS5 and says she used it; Romeo connects too and activates the stream;
// then bytes flow both ways. Activation by anyone but Romeo's full JID finds no stream
// (item-not-found), before both are connected it is not-allowed (§6.3.5). The limits: bytes per
// stream, bytes per second per stream, per account and per process, streams per account and
// per process, connections not activated per address and per process, the time to activation,
// the idle time.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { accounts, connect, errorOf, type Im } from "../helpers/im.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { Socks5Client, dstAddr } from "../helpers/socks5.ts";

const BYTESTREAMS = "http://jabber.org/protocol/bytestreams";
const DISCO_INFO = "http://jabber.org/protocol/disco#info";
const DISCO_ITEMS = "http://jabber.org/protocol/disco#items";
const PROXY = "proxy.localhost";

let sids = 0;
const newSid = () => `s5b-${++sids}-${Date.now().toString(36)}`;

/** The proxy's <streamhost/>, as a client asks for it (§4). */
async function streamhost(c: Im): Promise<Record<string, string | undefined>> {
  const r = await c.ask(xml("iq", { type: "get", to: PROXY }, xml("query", { xmlns: BYTESTREAMS })));
  expect(r.attrs.type, r.toString()).toBe("result");
  return r.getChild("query", BYTESTREAMS)!.getChild("streamhost")!.attrs;
}

/** The proxy's port as a client learns it. */
async function proxyPort(t: TestServer): Promise<number> {
  const [u] = await accounts(t, "probe");
  const c = await connect(t, u!);
  const port = Number((await streamhost(c)).port);
  await c.stop();
  return port;
}

const activation = (sid: string | undefined, target: string | undefined) =>
  xml("iq", { type: "set", to: PROXY }, xml("query", { xmlns: BYTESTREAMS, sid }, target === undefined ? undefined : xml("activate", null, target)));

/** Sends the activation and returns the error condition, or "result". */
async function activate(c: Im, sid: string, target: string): Promise<string | undefined> {
  const r = await c.ask(activation(sid, target));
  return r.attrs.type === "result" ? "result" : errorOf(r);
}

/**
 * §6.3.1–6.3.4: the Requester offers the proxy to the Target, the Target connects and says so,
 * then the Requester connects. Returns both connections, not activated yet.
 */
async function negotiate(requester: Im, target: Im, sid: string, port: number): Promise<{ r: Socks5Client; t: Socks5Client }> {
  requester.send(xml("iq", { type: "set", id: sid, to: target.jid }, xml("query", { xmlns: BYTESTREAMS, sid }, xml("streamhost", { jid: PROXY, host: "127.0.0.1", port: String(port) }))));
  const offer = await target.next((s) => s.name === "iq" && s.attrs.id === sid, "the offer");
  const hash = dstAddr(sid, offer.attrs.from!, target.jid);
  const t = await Socks5Client.open(port, hash);
  target.send(xml("iq", { type: "result", id: sid, to: offer.attrs.from }, xml("query", { xmlns: BYTESTREAMS, sid }, xml("streamhost-used", { jid: PROXY }))));
  // (The Target's library answers the offer on its own first, with an error: that is not the answer looked for.)
  const used = await requester.next((s) => s.name === "iq" && s.attrs.id === sid && s.attrs.type === "result", "streamhost-used");
  expect(used.getChild("query", BYTESTREAMS)!.getChild("streamhost-used")!.attrs.jid).toBe(PROXY);
  const r = await Socks5Client.open(port, dstAddr(sid, requester.jid, target.jid));
  return { r, t };
}

/** An activated stream from `requester` to `target`. */
async function stream(requester: Im, target: Im, port: number): Promise<{ r: Socks5Client; t: Socks5Client; sid: string }> {
  const sid = newSid();
  const { r, t } = await negotiate(requester, target, sid, port);
  expect(await activate(requester, sid, target.jid)).toBe("result");
  return { r, t, sid };
}

const bytes = (n: number, seed = 1) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));

/** Sends `n` bytes from one side and times their arrival on the other. */
async function timed(from: Socks5Client, to: Socks5Client, n: number): Promise<number> {
  const started = Date.now();
  from.write(bytes(n));
  expect((await to.take(n, 15_000)).equals(bytes(n))).toBe(true);
  return (Date.now() - started) / 1000;
}

describe("XEP-0065 proxy: discovery, negotiation, activation, relay", () => {
  let t: TestServer;
  let port: number;
  beforeAll(async () => {
    t = await startServer({
      config: {
        modules: {
          proxy65: { advertise: "127.0.0.1", maxStreamBytes: 300_000, maxStreamsPerAccount: 2, maxStreams: 3, maxPending: 6, maxPendingPerAddress: 4, streamRate: 0, accountRate: 0 },
        },
      },
    });
    port = await proxyPort(t);
  });
  afterAll(() => t.stop());

  it("is found in the server's disco#items as proxy/bytestreams, and gives its address (§4)", async () => {
    const [romeo] = await accounts(t, "romeo");
    const c = await connect(t, romeo!, "orchard");
    const items = await c.ask(xml("iq", { type: "get", to: "localhost" }, xml("query", { xmlns: DISCO_ITEMS })));
    expect(items.getChild("query")!.getChildren("item").map((i) => i.attrs.jid)).toContain(PROXY);
    const info = (await c.ask(xml("iq", { type: "get", to: PROXY }, xml("query", { xmlns: DISCO_INFO })))).getChild("query")!;
    expect(info.getChild("identity")!.attrs).toMatchObject({ category: "proxy", type: "bytestreams" });
    expect(info.getChildren("feature").map((f) => f.attrs.var)).toContain(BYTESTREAMS);
    // Its own port, not the client port.
    expect(await streamhost(c)).toEqual({ jid: PROXY, host: "127.0.0.1", port: String(port) });
    expect(port).not.toBe(t.port);
    await c.stop();
  });

  it("relays both ways once Romeo activates; only his full JID can, and only with both connected (§6.3.5)", async () => {
    const [romeo, juliet, mallory] = await accounts(t, "romeo", "juliet", "mallory");
    const r = await connect(t, romeo!, "orchard");
    const j = await connect(t, juliet!, "balcony");
    const m = await connect(t, mallory!, "street");
    const sid = newSid();
    r.send(xml("iq", { type: "set", id: "offer", to: j.jid }, xml("query", { xmlns: BYTESTREAMS, sid }, xml("streamhost", { jid: PROXY, host: "127.0.0.1", port: String(port) }))));
    const offer = await j.next((s) => s.name === "iq" && s.attrs.id === "offer");
    expect(offer.attrs.from).toBe(r.jid);
    const hash = dstAddr(sid, r.jid, j.jid);
    const jSocket = await Socks5Client.open(port, hash);
    j.send(xml("iq", { type: "result", id: "offer", to: r.jid }, xml("query", { xmlns: BYTESTREAMS, sid }, xml("streamhost-used", { jid: PROXY }))));
    await r.next((s) => s.name === "iq" && s.attrs.id === "offer" && s.attrs.type === "result");

    // Only Juliet is connected: not-allowed.
    expect(await activate(r, sid, j.jid)).toBe("not-allowed");
    const rSocket = await Socks5Client.open(port, hash);
    // Bytes before activation are dropped (§10.1: "ignore any bytes sent before the bytestream is activated").
    jSocket.write("too early");
    await new Promise((res) => setTimeout(res, 100));

    // Juliet, Mallory, and Romeo from another resource are not the Requester's full JID: their
    // hash of SID + their JID + target matches no stream.
    expect(await activate(j, sid, j.jid)).toBe("item-not-found");
    expect(await activate(m, sid, j.jid)).toBe("item-not-found");
    const r2 = await connect(t, romeo!, "elsewhere");
    expect(await activate(r2, sid, j.jid)).toBe("item-not-found");
    // Romeo himself, naming another target (a bare JID instead of the full one he hashed).
    expect(await activate(r, sid, `${juliet}@localhost`)).toBe("item-not-found");
    expect(await activate(r, "other-sid", j.jid)).toBe("item-not-found");
    expect(rSocket.buffered).toBe(0);

    expect(await activate(r, sid, j.jid)).toBe("result");
    rSocket.write("Wherefore art thou Romeo?");
    expect((await jSocket.take(25)).toString()).toBe("Wherefore art thou Romeo?");
    jSocket.write("Call me but love");
    expect((await rSocket.take(16)).toString()).toBe("Call me but love");
    const file = bytes(200_000, 7);
    rSocket.write(file);
    expect((await jSocket.take(file.length)).equals(file)).toBe(true);
    // An activated stream is activated once.
    expect(await activate(r, sid, j.jid)).toBe("item-not-found");

    // Romeo is done sending: Juliet reads to the end, her direction stays open until she ends too.
    rSocket.end();
    expect((await jSocket.rest()).length).toBe(0);
    jSocket.write("parting");
    expect((await rSocket.take(7)).toString()).toBe("parting");
    jSocket.end();
    await Promise.all([rSocket.closedByServer(), jSocket.closedByServer()]);
    for (const c of [r, r2, j, m]) await c.stop();
  });

  it("refuses malformed activations with bad-request and jid-malformed", async () => {
    const [romeo] = await accounts(t, "romeo");
    const r = await connect(t, romeo!, "orchard");
    expect(errorOf(await r.ask(activation(undefined, "juliet@localhost/balcony")))).toBe("bad-request");
    expect(errorOf(await r.ask(activation("x", undefined)))).toBe("bad-request");
    expect(errorOf(await r.ask(activation("x", "@@")))).toBe("jid-malformed");
    expect(errorOf(await r.ask(xml("iq", { type: "get", to: PROXY }, xml("query", { xmlns: "urn:example:nothing" }))))).toBe("service-unavailable");
    await r.stop();
  });

  it("takes only a stream's hash, once per party: a third connection is refused", async () => {
    const refusal = (e: unknown) => (e as { code?: number }).code;
    expect(refusal(await Socks5Client.open(port, "example.org").catch((e: unknown) => e))).toBe(4); // host unreachable
    const hash = dstAddr("third", "a@localhost/x", "b@localhost/y");
    const one = await Socks5Client.open(port, hash);
    const two = await Socks5Client.open(port, hash.toUpperCase()); // hex in either case is the same hash
    expect(refusal(await Socks5Client.open(port, hash).catch((e: unknown) => e))).toBe(2); // not allowed
    one.destroy();
    two.destroy();
  });

  it("drops what a party sends before activation, up to 64 KiB; more closes its connection", async () => {
    const hash = dstAddr("chatty", "a@localhost/x", "b@localhost/y");
    const quiet = await Socks5Client.open(port, hash);
    const chatty = await Socks5Client.open(port, hash);
    chatty.write(bytes(60_000));
    await new Promise((res) => setTimeout(res, 100));
    expect(chatty.ended).toBe(false);
    chatty.write(bytes(10_000));
    await chatty.closedByServer();
    expect(quiet.buffered).toBe(0);
    quiet.destroy();
  });

  it("cuts a stream at maxStreamBytes (both ways together), after relaying exactly that many", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    const r = await connect(t, romeo!, "orchard");
    const j = await connect(t, juliet!, "balcony");
    const s = await stream(r, j, port);
    s.t.write(bytes(100_000, 3));
    expect((await s.r.take(100_000)).equals(bytes(100_000, 3))).toBe(true);
    s.r.write(bytes(250_000, 5));
    const got = await s.t.rest();
    expect(got.equals(bytes(200_000, 5))).toBe(true);
    await Promise.all([s.r.closedByServer(), s.t.closedByServer()]);
    await r.stop();
    await j.stop();
  });

  it("limits streams per account and per process (resource-constraint), and frees them when they end", async () => {
    const [romeo, juliet, mallory] = await accounts(t, "romeo", "juliet", "mallory");
    const r = await connect(t, romeo!, "orchard");
    const j = await connect(t, juliet!, "balcony");
    const m = await connect(t, mallory!, "street");
    const first = await stream(r, j, port);
    const second = await stream(r, j, port);
    // Romeo's third: over maxStreamsPerAccount (2).
    const sid = newSid();
    const third = await negotiate(r, j, sid, port);
    const refused = await r.ask(activation(sid, j.jid));
    expect(errorOf(refused)).toBe("resource-constraint");
    expect(refused.getChild("error")!.attrs.type).toBe("wait");
    // Juliet's own stream is another account's: allowed, and the process is full (maxStreams 3).
    const julietsOwn = await stream(j, r, port);
    const sid4 = newSid();
    const fourth = await negotiate(m, j, sid4, port);
    expect(await activate(m, sid4, j.jid)).toBe("resource-constraint");
    // A stream ends: Romeo may activate his waiting one.
    first.r.end();
    first.t.end();
    await first.r.closedByServer();
    await first.t.closedByServer();
    await expect.poll(() => activate(r, sid, j.jid)).toBe("result");
    third.r.write("again");
    expect((await third.t.take(5)).toString()).toBe("again");
    for (const s of [second, third, julietsOwn, fourth]) {
      s.r.destroy();
      s.t.destroy();
    }
    for (const c of [r, j, m]) await c.stop();
  });

  it("limits connections not activated yet, per client address and per process", async () => {
    // Wait for the connections of the tests before to be gone.
    await new Promise((res) => setTimeout(res, 200));
    const fromOne = await Promise.all([1, 2, 3, 4].map(() => Socks5Client.tcp(port, "127.0.0.1")));
    const fifth = await Socks5Client.tcp(port, "127.0.0.1");
    await fifth.closedByServer(); // maxPendingPerAddress 4
    const fromTwo = await Promise.all([1, 2].map(() => Socks5Client.tcp(port, "127.0.0.2")));
    const seventh = await Socks5Client.tcp(port, "127.0.0.3");
    await seventh.closedByServer(); // maxPending 6
    // One goes: there is room for one more from another address.
    fromOne[0]!.destroy();
    await expect.poll(async () => {
      const c = await Socks5Client.tcp(port, "127.0.0.3");
      await new Promise((res) => setTimeout(res, 50));
      c.destroy();
      return c.ended;
    }).toBe(false);
    for (const c of [...fromOne, ...fromTwo]) c.destroy();
  });
});

describe("XEP-0065 proxy: time limits and rates", () => {
  let t: TestServer;
  let port: number;
  beforeAll(async () => {
    t = await startServer({
      config: {
        modules: {
          proxy65: { advertise: "127.0.0.1", activationTimeout: 1, idleTimeout: 1, streamRate: 100_000, accountRate: 150_000, processRate: 200_000, maxStreamBytes: 0 },
        },
      },
    });
    port = await proxyPort(t);
  });
  afterAll(() => t.stop());

  it("closes a connection not activated within activationTimeout, and one that never sends its request", async () => {
    const waiting = await Socks5Client.open(port, dstAddr("late", "a@localhost/x", "b@localhost/y"));
    const silent = await Socks5Client.tcp(port);
    const started = Date.now();
    await Promise.all([waiting.closedByServer(3000), silent.closedByServer(3000)]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(700);
  });

  it("closes a stream after idleTimeout without a byte, not while bytes flow", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    const r = await connect(t, romeo!, "orchard");
    const j = await connect(t, juliet!, "balcony");
    const s = await stream(r, j, port);
    // Activated within the activation timeout, it is not closed by that timer either.
    for (let i = 0; i < 6; i++) {
      await new Promise((res) => setTimeout(res, 300));
      s.r.write("tick");
      expect((await s.t.take(4)).toString()).toBe("tick");
    }
    const quiet = Date.now();
    await Promise.all([s.r.closedByServer(3000), s.t.closedByServer(3000)]);
    expect(Date.now() - quiet).toBeGreaterThanOrEqual(700);
    await r.stop();
    await j.stop();
  });

  it("holds a stream to streamRate bytes per second", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    const r = await connect(t, romeo!, "orchard");
    const j = await connect(t, juliet!, "balcony");
    const s = await stream(r, j, port);
    // 250 kB at 100 kB/s after a burst of 100 kB: 1.5 s at least.
    expect(await timed(s.r, s.t, 250_000)).toBeGreaterThanOrEqual(1.4);
    s.r.destroy();
    s.t.destroy();
    await r.stop();
    await j.stop();
  });

  it("holds the streams of one account to accountRate together", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    const r = await connect(t, romeo!, "orchard");
    const j = await connect(t, juliet!, "balcony");
    const a = await stream(r, j, port);
    const b = await stream(r, j, port);
    // Each alone at 100 kB/s would take 1 s for 200 kB; together at 150 kB/s, 400 kB after a
    // burst of 150 kB take 1.67 s at least.
    const [ta, tb] = await Promise.all([timed(a.r, a.t, 200_000), timed(b.r, b.t, 200_000)]);
    expect(Math.max(ta, tb)).toBeGreaterThanOrEqual(1.55);
    for (const s of [a, b]) {
      s.r.destroy();
      s.t.destroy();
    }
    await r.stop();
    await j.stop();
  });

  it("holds all streams to processRate together", async () => {
    const users = await accounts(t, "a", "b", "c", "d");
    const ims = await Promise.all(users.map((u) => connect(t, u, "r")));
    const streams = await Promise.all([0, 1, 2].map((i) => stream(ims[i]!, ims[3]!, port)));
    // Three accounts, 150 kB each: alone 0.5 s at the stream's rate; 450 kB at 200 kB/s after a
    // burst of 200 kB take 1.25 s at least.
    const times = await Promise.all(streams.map((s) => timed(s.r, s.t, 150_000)));
    expect(Math.max(...times)).toBeGreaterThanOrEqual(1.15);
    for (const s of streams) {
      s.r.destroy();
      s.t.destroy();
    }
    for (const c of ims) await c.stop();
  });
});
