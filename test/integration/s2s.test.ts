// Federation between two instances of this server (a.test and b.test) over real loopback
// sockets, each with its self-signed certificate, so that they authenticate by Server Dialback
// (XEP-0220) over TLS. Static routes (s2s.routes) stand in for DNS. Users of each reach the
// other's as local ones: messages both ways, the subscription handshake ending in "both" on both
// rosters, presence, offline storage and the archive on the receiving side, iqs to the remote
// server; bad peers are refused with the stream errors RFC 6120 names; a peer that goes away
// bounces what was sent to it, and the next message reconnects.
import { connect as netConnect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { dialbackKey } from "../../src/stream/s2s/dialback.ts";
import { Im, ROSTER, errorOf } from "../helpers/im.ts";
import { capsHash } from "../../src/modules/disco.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";

let a: TestServer;
let b: TestServer;
const SECRET_A = "a-secret-for-dialback-keys-of-a";

function s2sConfig(domain: string, secret?: string) {
  return { domain, s2s: { enabled: true, host: "127.0.0.1", routes: {}, connectTimeout: 5, ...(secret ? { dialbackSecret: secret } : {}) } };
}

/** Points each server's static route for the other at its S2S listener. */
function link(x: TestServer, y: TestServer): void {
  for (const d of [y.domain, `conference.${y.domain}`, `pubsub.${y.domain}`]) x.server.config.s2s.routes[d] = `127.0.0.1:${y.server.ports.s2s}`;
}

const login = (t: TestServer, user: string, resource = "r") => Im.login(t.port, user, resource, { domain: t.domain, timeoutMs: 10_000 });
const chat = (to: string, body: string, id = `m${Math.random().toString(36).slice(2)}`) =>
  xml("message", { to, type: "chat", id }, xml("body", null, body), xml("request", { xmlns: "urn:xmpp:receipts" }));
const isChat = (body: string) => (el: Element) => el.name === "message" && el.getChildText("body") === body;

beforeAll(async () => {
  a = await startServer({ config: s2sConfig("a.test", SECRET_A), users: { romeo: "pw", mercutio: "pw", benvolio: "pw", paris: "pw" } });
  b = await startServer({ config: s2sConfig("b.test"), users: { juliet: "pw", nurse: "pw", tybalt: "pw", capulet: "pw" } });
  link(a, b);
  link(b, a);
});

afterAll(async () => {
  await a?.stop();
  await b?.stop();
});

describe("two servers federate by dialback", () => {
  it("delivers chat both ways, with receipts", async () => {
    const romeo = await login(a, "romeo");
    const juliet = await login(b, "juliet");
    romeo.send(xml("presence"));
    juliet.send(xml("presence"));
    romeo.send(chat("juliet@b.test", "wherefore art thou"));
    const got = await juliet.next(isChat("wherefore art thou"), "romeo's message", 15_000);
    expect(got.attrs.from).toBe("romeo@a.test/r");
    juliet.send(xml("message", { to: got.attrs.from!, id: "rcpt1" }, xml("received", { xmlns: "urn:xmpp:receipts", id: got.attrs.id })));
    const receipt = await romeo.next((el) => el.name === "message" && el.getChild("received", "urn:xmpp:receipts") !== undefined, "the receipt");
    expect(receipt.attrs.from).toBe("juliet@b.test/r");
    juliet.send(chat("romeo@a.test", "by a name I know not"));
    expect((await romeo.next(isChat("by a name I know not"), "juliet's answer")).attrs.from).toBe("juliet@b.test/r");
    // Both directions authenticated: the routes say so, and the figures count the streams and stanzas.
    expect(a.server.federation!.describe()).toContainEqual(expect.objectContaining({ local: "a.test", remote: "b.test", state: expect.stringMatching(/^ready/) }));
    const stats = (await a.server.stats()).s2s as { open: { in: number; out: number }; stanzasOut: number; stanzasIn: number };
    expect(stats.open.out).toBeGreaterThan(0);
    expect(stats.open.in).toBeGreaterThan(0);
    expect(stats.stanzasOut).toBeGreaterThan(0);
    expect(stats.stanzasIn).toBeGreaterThan(0);
    await romeo.stop();
    await juliet.stop();
  });

  it("ends a subscription handshake in 'both' on both rosters, and presence flows", async () => {
    const romeo = await login(a, "mercutio");
    const nurse = await login(b, "nurse");
    romeo.send(xml("presence"));
    nurse.send(xml("presence"));
    romeo.send(xml("presence", { to: "nurse@b.test", type: "subscribe" }));
    await nurse.next((el) => el.name === "presence" && el.attrs.type === "subscribe" && el.attrs.from === "mercutio@a.test", "the request");
    nurse.send(xml("presence", { to: "mercutio@a.test", type: "subscribed" }));
    nurse.send(xml("presence", { to: "mercutio@a.test", type: "subscribe" }));
    await romeo.next((el) => el.name === "presence" && el.attrs.type === "subscribe" && el.attrs.from === "nurse@b.test", "the request back");
    romeo.send(xml("presence", { to: "nurse@b.test", type: "subscribed" }));
    // Each side sees the other available.
    await romeo.next((el) => el.name === "presence" && el.attrs.from === "nurse@b.test/r" && el.attrs.type === undefined, "nurse's presence");
    await nurse.next((el) => el.name === "presence" && el.attrs.from === "mercutio@a.test/r" && el.attrs.type === undefined, "mercutio's presence");
    const rosterOf = async (c: Im) => (await c.ask(xml("iq", { type: "get" }, xml("query", { xmlns: ROSTER })))).getChild("query", ROSTER)!.getChildren("item").map((i) => [i.attrs.jid, i.attrs.subscription]);
    expect(await rosterOf(romeo)).toEqual([["nurse@b.test", "both"]]);
    expect(await rosterOf(nurse)).toEqual([["mercutio@a.test", "both"]]);
    // Unavailable reaches the contact.
    await nurse.stop();
    await romeo.next((el) => el.name === "presence" && el.attrs.from === "nurse@b.test/r" && el.attrs.type === "unavailable", "nurse's unavailable");
    await romeo.stop();
  });

  it("stores a message for an offline remote user, delivers it at login and archives it", async () => {
    const romeo = await login(a, "romeo");
    romeo.send(chat("juliet@b.test", "meet me at the balcony"));
    // The message is stored before the ping behind it is answered (the peer handles a stream in order).
    const pong = await romeo.ask(xml("iq", { type: "get", to: "b.test" }, xml("ping", { xmlns: "urn:xmpp:ping" })));
    expect(pong.attrs.type).toBe("result");
    const juliet = await login(b, "juliet", "later");
    juliet.send(xml("presence"));
    expect((await juliet.next(isChat("meet me at the balcony"), "the offline message")).attrs.from).toBe("romeo@a.test/r");
    const mam = await juliet.ask(xml("iq", { type: "set" }, xml("query", { xmlns: "urn:xmpp:mam:2", queryid: "q1" })));
    expect(mam.attrs.type).toBe("result");
    const archived = juliet.inbox.filter((el) => el.getChild("result", "urn:xmpp:mam:2")?.attrs.queryid === "q1")
      .map((el) => el.getChild("result", "urn:xmpp:mam:2")!.getChild("forwarded")!.getChild("message")!.getChildText("body"));
    expect(archived).toContain("meet me at the balcony");
    await juliet.stop();
    await romeo.stop();
  });

  it("answers iqs to the remote server and its users (version, disco)", async () => {
    const romeo = await login(a, "romeo");
    const version = await romeo.ask(xml("iq", { type: "get", to: "b.test" }, xml("query", { xmlns: "jabber:iq:version" })));
    expect(version.attrs.type).toBe("result");
    expect(version.attrs.from).toBe("b.test");
    const info = await romeo.ask(xml("iq", { type: "get", to: "b.test" }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" })));
    expect(info.getChild("query")!.getChildren("feature").map((f) => f.attrs.var)).toContain("urn:xmpp:ping");
    const noOne = await romeo.ask(xml("iq", { type: "get", to: "nobody@b.test" }, xml("query", { xmlns: "jabber:iq:version" })));
    expect(errorOf(noOne)).toBe("service-unavailable");
    await romeo.stop();
  });
});

const MUC = "http://jabber.org/protocol/muc";
const MUC_USER = "http://jabber.org/protocol/muc#user";
const MUC_OWNER = "http://jabber.org/protocol/muc#owner";
const MUC_ADMIN = "http://jabber.org/protocol/muc#admin";
const selfPresence = (room: string, nick: string) => (el: Element) =>
  el.name === "presence" && el.attrs.from === `${room}/${nick}` && (el.getChild("x", MUC_USER)?.getChildren("status").some((st) => st.attrs.code === "110") ?? false);

describe("group chats across servers", () => {
  it("a remote user joins a local members-only room, and a local user a room on the other server", async () => {
    const tybalt = await login(b, "tybalt");
    const benvolio = await login(a, "benvolio");
    // Tybalt makes a members-only room on b and lets benvolio@a.test in.
    const room = "square@conference.b.test";
    tybalt.send(xml("presence", { to: `${room}/tybalt` }, xml("x", { xmlns: MUC })));
    await tybalt.next(selfPresence(room, "tybalt"), "tybalt in the room");
    const form = xml("x", { xmlns: "jabber:x:data", type: "submit" }, xml("field", { var: "muc#roomconfig_membersonly" }, xml("value", null, "1")));
    expect((await tybalt.ask(xml("iq", { type: "set", to: room }, xml("query", { xmlns: MUC_OWNER }, form)))).attrs.type).toBe("result");
    tybalt.send(xml("message", { to: room, type: "groupchat", id: "g0" }, xml("body", null, "who goes there")));
    // Not a member yet: refused.
    benvolio.send(xml("presence", { to: `${room}/benvolio` }, xml("x", { xmlns: MUC })));
    const refused = await benvolio.next((el) => el.name === "presence" && el.attrs.type === "error" && el.attrs.from === `${room}/benvolio`, "the refusal", 15_000);
    expect(errorOf(refused)).toBe("registration-required");
    expect((await tybalt.ask(xml("iq", { type: "set", to: room }, xml("query", { xmlns: MUC_ADMIN }, xml("item", { jid: "benvolio@a.test", affiliation: "member" }))))).attrs.type).toBe("result");
    benvolio.send(xml("presence", { to: `${room}/benvolio` }, xml("x", { xmlns: MUC })));
    await benvolio.next((el) => el.name === "presence" && el.attrs.from === `${room}/tybalt`, "tybalt in the occupant list");
    await benvolio.next(selfPresence(room, "benvolio"), "benvolio's own presence");
    // History, then live messages both ways.
    expect((await benvolio.next((el) => el.name === "message" && el.getChildText("body") === "who goes there", "the history")).getChild("delay", "urn:xmpp:delay")).toBeDefined();
    await tybalt.next((el) => el.name === "presence" && el.attrs.from === `${room}/benvolio`, "benvolio's arrival");
    benvolio.send(xml("message", { to: room, type: "groupchat", id: "g1" }, xml("body", null, "a friend")));
    expect((await tybalt.next((el) => el.name === "message" && el.getChildText("body") === "a friend", "benvolio's message")).attrs.from).toBe(`${room}/benvolio`);
    await benvolio.next((el) => el.name === "message" && el.getChildText("body") === "a friend", "its reflection");
    tybalt.send(xml("message", { to: room, type: "groupchat", id: "g2" }, xml("body", null, "then draw")));
    await benvolio.next((el) => el.name === "message" && el.getChildText("body") === "then draw", "tybalt's message");

    // The other way: a room on a, joined from b.
    const hall = "hall@conference.a.test";
    benvolio.send(xml("presence", { to: `${hall}/benvolio` }, xml("x", { xmlns: MUC })));
    await benvolio.next(selfPresence(hall, "benvolio"), "benvolio in his hall");
    // Unlocked by its owner (XEP-0045 §10.1.2), with the defaults.
    expect((await benvolio.ask(xml("iq", { type: "set", to: hall }, xml("query", { xmlns: MUC_OWNER }, xml("x", { xmlns: "jabber:x:data", type: "submit" }))))).attrs.type).toBe("result");
    tybalt.send(xml("presence", { to: `${hall}/tybalt` }, xml("x", { xmlns: MUC })));
    await tybalt.next(selfPresence(hall, "tybalt"), "tybalt in the hall on a", 15_000);
    await benvolio.next((el) => el.name === "presence" && el.attrs.from === `${hall}/tybalt`, "tybalt's arrival");
    tybalt.send(xml("message", { to: hall, type: "groupchat", id: "g3" }, xml("body", null, "peace? I hate the word")));
    await benvolio.next((el) => el.name === "message" && el.attrs.from === `${hall}/tybalt` && el.getChildText("body") === "peace? I hate the word", "tybalt's message in the hall");
    await tybalt.stop();
    await benvolio.stop();
  });
});

const PUBSUB = "http://jabber.org/protocol/pubsub";
const DISCO_INFO = "http://jabber.org/protocol/disco#info";
const DEVICES = "eu.siacs.conversations.axolotl.devicelist";

/** An available client whose caps (XEP-0115) ask for notifications of `notify`, answering disco#info about them. */
async function capsLogin(t: TestServer, user: string, notify: string[]): Promise<Im> {
  const c = await login(t, user);
  const identities = [{ category: "client", type: "pc", name: "Test client" }];
  const features = [DISCO_INFO, ...notify.map((n) => `${n}+notify`)];
  c.xmpp.on("stanza", (iq: Element) => {
    const q = iq.getChild("query", DISCO_INFO);
    if (iq.name !== "iq" || iq.attrs.type !== "get" || !q) return;
    c.send(xml("iq", { type: "result", id: iq.attrs.id, to: iq.attrs.from },
      xml("query", { xmlns: DISCO_INFO, node: q.attrs.node }, identities.map((i) => xml("identity", i)), features.map((f) => xml("feature", { var: f })))));
  });
  c.send(xml("presence", {}, xml("c", { xmlns: "http://jabber.org/protocol/caps", hash: "sha-1", node: "https://xmppd.test/client", ver: capsHash(identities, features) })));
  return c;
}

describe("PEP, OMEMO keys and vCards across servers", () => {
  it("notifies a remote contact that asked for it in its caps, and serves the device list, a bundle and the vCard to it", async () => {
    await a.server.storage.map("roster").set("paris@a.test", "capulet@b.test", { jid: "capulet@b.test", groups: [], subscription: "both" });
    await b.server.storage.map("roster").set("capulet@b.test", "paris@a.test", { jid: "paris@a.test", groups: [], subscription: "both" });
    const capulet = await login(b, "capulet");
    capulet.send(xml("presence"));
    const paris = await capsLogin(a, "paris", [DEVICES]);
    // Capulet's server learns paris's caps (a disco#info across) when paris's presence reaches it.
    await capulet.next((el) => el.name === "presence" && el.attrs.from === "paris@a.test/r", "paris's presence", 15_000);
    await paris.next((el) => el.name === "iq" && el.attrs.from === "b.test" && el.getChild("query", DISCO_INFO) !== undefined, "b's question about its caps");
    // The answer went to b before this ping, on the same stream: b has it when the ping returns.
    await paris.ask(xml("iq", { type: "get", to: "b.test" }, xml("ping", { xmlns: "urn:xmpp:ping" })));
    const open = xml("publish-options", null, xml("x", { xmlns: "jabber:x:data", type: "submit" },
      xml("field", { var: "FORM_TYPE", type: "hidden" }, xml("value", null, "http://jabber.org/protocol/pubsub#publish-options")),
      xml("field", { var: "pubsub#access_model" }, xml("value", null, "open"))));
    const devices = xml("list", { xmlns: "eu.siacs.conversations.axolotl" }, xml("device", { id: "4223" }));
    const published = await capulet.ask(xml("iq", { type: "set" }, xml("pubsub", { xmlns: PUBSUB }, xml("publish", { node: DEVICES }, xml("item", { id: "current" }, devices)), open)));
    expect(published.attrs.type).toBe("result");
    const event = await paris.next((el) => el.name === "message" && el.attrs.from === "capulet@b.test" && el.getChild("event", `${PUBSUB}#event`) !== undefined, "the notification", 15_000);
    expect(event.getChild("event", `${PUBSUB}#event`)!.toString()).toContain("4223");
    // A bundle, fetched from the other server by a user who is not even a contact.
    const bundleNode = "eu.siacs.conversations.axolotl.bundles:4223";
    const bundle = xml("bundle", { xmlns: "eu.siacs.conversations.axolotl" }, xml("signedPreKeyPublic", { signedPreKeyId: "1" }, "BQ=="));
    expect((await capulet.ask(xml("iq", { type: "set" }, xml("pubsub", { xmlns: PUBSUB }, xml("publish", { node: bundleNode }, xml("item", { id: "current" }, bundle)), open)))).attrs.type).toBe("result");
    const romeo = await login(a, "romeo", "keys");
    const fetched = await romeo.ask(xml("iq", { type: "get", to: "capulet@b.test" }, xml("pubsub", { xmlns: PUBSUB }, xml("items", { node: bundleNode }))));
    expect(fetched.attrs.type).toBe("result");
    expect(fetched.toString()).toContain("signedPreKeyPublic");
    // The vCard.
    expect((await capulet.ask(xml("iq", { type: "set" }, xml("vCard", { xmlns: "vcard-temp" }, xml("FN", null, "Lord Capulet"))))).attrs.type).toBe("result");
    const card = await romeo.ask(xml("iq", { type: "get", to: "capulet@b.test" }, xml("vCard", { xmlns: "vcard-temp" })));
    expect(card.getChild("vCard", "vcard-temp")?.getChildText("FN")).toBe("Lord Capulet");
    await romeo.stop();
    await paris.stop();
    await capulet.stop();
  });
});

/** A raw S2S connection to `t`'s listener, as a peer that says it is `from`. */
class RawPeer {
  private buf = "";
  readonly socket: Socket;
  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => (this.buf += d));
  }
  static async open(t: TestServer): Promise<RawPeer> {
    const socket = netConnect(t.server.ports.s2s!, "127.0.0.1");
    await new Promise((r) => socket.once("connect", r));
    return new RawPeer(socket);
  }
  send(s: string): void {
    this.socket.write(s);
  }
  /** Everything read so far. */
  get received(): string {
    return this.buf;
  }
  async until(re: RegExp, ms = 5000): Promise<RegExpExecArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = re.exec(this.buf);
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`no ${re} in ${this.buf}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

const header = (from: string, to: string) =>
  `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='${from}' to='${to}' version='1.0'>`;

describe("bad peers", () => {
  it("refuses a plain stream's stanzas before TLS and authentication", async () => {
    const p = await RawPeer.open(b);
    p.send(header("evil.test", "b.test"));
    await p.until(/<starttls[^>]*><required\/><\/starttls>/);
    p.send("<message from='x@evil.test' to='juliet@b.test'><body>hi</body></message>");
    await p.until(/<not-authorized xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']\/>/);
    p.socket.destroy();
  });

  it("refuses a header for a domain it does not host (host-unknown)", async () => {
    const p = await RawPeer.open(b);
    p.send(header("a.test", "c.test"));
    await p.until(/<host-unknown xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']\/>/);
    p.socket.destroy();
  });

  it("refuses a wrong dialback key (b asks a, which says invalid)", async () => {
    const peer = await securePeer(b, "a.test");
    peer.write(`<db:result from='a.test' to='b.test'>${dialbackKey("not the secret", "b.test", "a.test", peer.id)}</db:result>`);
    await peer.until(/<db:result [^>]*type='invalid'/);
    await peer.until(/<not-authorized xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']\/>/);
    peer.destroy();
  });

  for (const [what, stanza, condition] of [
    ["a stanza from a domain the stream did not authenticate", "<message from='eve@c.test' to='juliet@b.test'><body>spoofed</body></message>", "invalid-from"],
    ["a stanza without a 'to'", "<message from='romeo@a.test'><body>to whom</body></message>", "improper-addressing"],
    ["a stanza to a domain b does not host", "<message from='romeo@a.test' to='paris@elsewhere.test'><body>relay me</body></message>", "host-unknown"],
  ] as const) {
    it(`ends a stream authenticated for a.test that sends ${what} (${condition}), delivering nothing`, async () => {
      const peer = await authenticatedPeer(b, "a.test", SECRET_A);
      peer.write(stanza);
      await peer.until(new RegExp(`<${condition} xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']/>`));
      peer.destroy();
    });
  }
});

/** A raw peer on `t`'s S2S port that says it is `domain`, over STARTTLS, its features read: the stream id our header gave. */
async function securePeer(t: TestServer, domain: string) {
  const q = await RawPeer.open(t);
  q.send(header(domain, t.domain));
  await q.until(/<\/stream:features>/);
  q.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
  await q.until(/<proceed/);
  const { connect: tlsConnect } = await import("node:tls");
  const secure = tlsConnect({ socket: q.socket, rejectUnauthorized: false, servername: t.domain });
  await new Promise((r) => secure.once("secureConnect", r));
  let buf = "";
  secure.setEncoding("utf8");
  secure.on("data", (d: string) => (buf += d));
  secure.on("error", () => {});
  const until = async (re: RegExp) => {
    const deadline = Date.now() + 10_000;
    while (!re.test(buf)) {
      if (Date.now() > deadline) throw new Error(`no ${re} in ${buf}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return re.exec(buf)!;
  };
  secure.write(header(domain, t.domain));
  const id = (await until(/<stream:stream [^>]*id='([^']+)'/))[1]!;
  await until(/<\/stream:features>/);
  return { id, write: (x: string) => secure.write(x), until, destroy: () => secure.destroy() };
}

/** The same, authenticated for `domain` by a dialback key made with its secret. */
async function authenticatedPeer(t: TestServer, domain: string, secret: string) {
  const peer = await securePeer(t, domain);
  peer.write(`<db:result from='${domain}' to='${t.domain}'>${dialbackKey(secret, t.domain, domain, peer.id)}</db:result>`);
  await peer.until(/<db:result [^>]*type='valid'/);
  return peer;
}

describe("a peer that goes away", () => {
  it("closes a stream the peer ends with a stream error (a shutdown) without an error of its own", async () => {
    const p = await RawPeer.open(b);
    let closed = false;
    p.socket.on("close", () => (closed = true));
    p.send(header("a.test", "b.test"));
    await p.until(/<\/stream:features>/);
    p.send("<stream:error><system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>");
    await p.until(/<\/stream:features>[\s\S]*<\/stream:stream>/);
    expect(p.received).not.toMatch(/<stream:error>/);
    const deadline = Date.now() + 5000;
    while (!closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(closed).toBe(true);
  });

  it("bounces what was sent to an unreachable peer (presence excepted)", async () => {
    const romeo = await login(a, "romeo", "bounce");
    // c.test routes to a port where nothing listens.
    a.server.config.s2s.routes["c.test"] = "127.0.0.1:1";
    romeo.send(chat("tybalt@c.test", "are you there", "lost1"));
    const bounced = await romeo.next((el) => el.name === "message" && el.attrs.id === "lost1" && el.attrs.type === "error", "the bounce", 10_000);
    expect(errorOf(bounced)).toBe("remote-server-not-found");
    expect(bounced.attrs.from).toBe("tybalt@c.test");
    // A presence to it does not bounce (RFC 6120 §8.3.1).
    romeo.send(xml("presence", { to: "tybalt@c.test" }));
    await romeo.nothing((el) => el.name === "presence" && el.attrs.type === "error", 500);
    await romeo.stop();
  });
});

/** A fake peer server on loopback: plain streams, any dialback key taken as valid, answers on the same stream (XEP-0288), what it reads kept. */
class FakePeer {
  readonly received: string[] = [];
  readonly connections: Socket[] = [];
  private server!: import("node:net").Server;
  /** Whether it answers the pings that confirm what it was sent. */
  answerPings = false;
  get port(): number {
    return (this.server.address() as { port: number }).port;
  }
  static async start(domain: string): Promise<FakePeer> {
    const { createServer } = await import("node:net");
    const p = new FakePeer();
    p.server = createServer((s) => {
      p.connections.push(s);
      let buf = "";
      s.setEncoding("utf8");
      s.on("error", () => {});
      s.on("data", (d: string) => {
        buf += d;
        if (/<stream:stream[^>]*>/.test(buf) && !buf.includes("\u0000opened")) {
          buf = buf.replace(/<\?xml[^>]*\?>/, "").replace(/<stream:stream[^>]*>/, "\u0000opened");
          s.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' id='fake${p.connections.length}' from='${domain}' version='1.0'>` +
            "<stream:features><dialback xmlns='urn:xmpp:features:dialback'/><bidi xmlns='urn:xmpp:features:bidi'/></stream:features>");
        }
        for (let m; (m = /<db:result [^>]*from='([^']+)'[^>]*>[^<]*<\/db:result>/.exec(buf)); ) {
          buf = buf.replace(m[0], "");
          s.write(`<db:result from='${domain}' to='${m[1]}' type='valid'/>`);
        }
        for (let m; (m = /<(message|iq)[\s\S]*?<\/\1>/.exec(buf)); ) {
          buf = buf.replace(m[0], "");
          p.received.push(m[0]);
          const ping = /^<iq[^>]*id="([^"]+)"[^>]*from="([^"]+)"[^>]*to="([^"]+)"[\s\S]*urn:xmpp:ping/.exec(m[0]) ?? /^<iq[^>]*id="([^"]+)"/.exec(m[0]);
          if (ping && p.answerPings && m[0].includes("urn:xmpp:ping")) s.write(`<iq type='result' id='${ping[1]}' from='${domain}' to='${/from="([^"]+)"/.exec(m[0])![1]}'/>`);
        }
      });
    });
    await new Promise<void>((r) => p.server.listen(0, "127.0.0.1", r));
    return p;
  }
  stop(): void {
    for (const s of this.connections) s.destroy();
    this.server.close();
  }
}

describe("what waits for other servers", () => {
  it("is bounded per local account whatever the domains (s2s.maxQueuePerAccount); another account is not concerned", async () => {
    const { createServer } = await import("node:net");
    const silent = createServer((sock) => sock.on("error", () => {}));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as { port: number }).port;
    const q = await startServer({
      config: { domain: "q.test", s2s: { enabled: true, host: "127.0.0.1", routes: {}, connectTimeout: 2, maxQueuePerAccount: 3 } },
      users: { friar: "pw", laurence: "pw" },
    });
    try {
      for (let i = 0; i < 6; i++) q.server.config.s2s.routes[`silent${i}.test`] = `127.0.0.1:${port}`;
      const friar = await Im.login(q.port, "friar", "r", { domain: "q.test", timeoutMs: 10_000 });
      for (let i = 0; i < 5; i++) friar.send(chat(`x@silent${i}.test`, "a letter", `w${i}`));
      // Two over the bound: refused at once; the three that wait bounce when the setup times out.
      for (const id of ["w3", "w4"]) expect(errorOf(await friar.next((el) => el.attrs.id === id && el.attrs.type === "error", `refusal of ${id}`))).toBe("resource-constraint");
      const laurence = await Im.login(q.port, "laurence", "r", { domain: "q.test", timeoutMs: 10_000 });
      laurence.send(chat("x@silent5.test", "another letter", "l0"));
      for (const id of ["w0", "w1", "w2"]) expect(errorOf(await friar.next((el) => el.attrs.id === id && el.attrs.type === "error", `bounce of ${id}`))).toBe("remote-server-timeout");
      expect(errorOf(await laurence.next((el) => el.attrs.id === "l0" && el.attrs.type === "error", "laurence's bounce"))).toBe("remote-server-timeout");
      // Given back: the account may queue again.
      friar.send(chat("x@silent0.test", "again", "w5"));
      expect(errorOf(await friar.next((el) => el.attrs.id === "w5" && el.attrs.type === "error", "the next bounce"))).toBe("remote-server-timeout");
      await friar.stop();
      await laurence.stop();
    } finally {
      silent.close();
      await q.stop();
    }
  });
});

describe("idle connections", () => {
  it("close after s2s.idleTimeout without traffic, and the next message opens a new one", async () => {
    const idle = { enabled: true, host: "127.0.0.1", routes: {}, connectTimeout: 5, idleTimeout: 1 };
    const g = await startServer({ config: { domain: "g.test", s2s: idle }, users: { gregory: "pw" } });
    const h = await startServer({ config: { domain: "h.test", s2s: idle }, users: { sampson: "pw" } });
    link(g, h);
    link(h, g);
    try {
      const gregory = await Im.login(g.port, "gregory", "r", { domain: "g.test", timeoutMs: 10_000 });
      const sampson = await Im.login(h.port, "sampson", "r", { domain: "h.test", timeoutMs: 10_000 });
      sampson.send(xml("presence"));
      const open = async () => ((await g.server.stats()).s2s as { open: { in: number; out: number } }).open;
      gregory.send(chat("sampson@h.test", "do you bite your thumb", "i1"));
      await sampson.next(isChat("do you bite your thumb"), "the first message");
      expect((await open()).out).toBeGreaterThan(0);
      const deadline = Date.now() + 5000;
      while ((await open()).out + (await open()).in > 0) {
        if (Date.now() > deadline) throw new Error(`still open: ${JSON.stringify(await open())}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      gregory.send(chat("sampson@h.test", "I do bite my thumb, sir", "i2"));
      await sampson.next(isChat("I do bite my thumb, sir"), "the message after");
      await gregory.stop();
      await sampson.stop();
    } finally {
      await g.stop();
      await h.stop();
    }
  });
});

describe("a connection that drops before the peer confirmed what it was sent", () => {
  it("writes the unconfirmed stanzas again on a new connection, and a peer that stays away gets them bounced", async () => {
    const e = await startServer({ config: { domain: "e.test", s2s: { enabled: true, host: "127.0.0.1", requireTls: false, routes: {}, connectTimeout: 3 } }, users: { benvolio: "pw" } });
    const peer = await FakePeer.start("f.test");
    e.server.config.s2s.routes["f.test"] = `127.0.0.1:${peer.port}`;
    try {
      const benvolio = await Im.login(e.port, "benvolio", "r", { domain: "e.test", timeoutMs: 10_000 });
      benvolio.send(chat("friar@f.test", "the letter", "letter1"));
      const deadline = Date.now() + 5000;
      while (!peer.received.some((r) => r.includes("the letter"))) {
        if (Date.now() > deadline) throw new Error(`not received: ${peer.received.join("\n")}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      // The peer read it, never confirmed it (no answer to the ping), and its connection drops.
      peer.connections[0]!.destroy();
      peer.answerPings = true;
      while (peer.received.filter((r) => r.includes("the letter")).length < 2) {
        if (Date.now() > deadline + 5000) throw new Error(`not written again: ${peer.received.join("\n")}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(peer.connections.length).toBe(2);
      await benvolio.nothing((el) => el.attrs.id === "letter1" && el.attrs.type === "error", 300);

      // Now it goes away for good with a message unconfirmed: that one bounces, after one more try.
      peer.answerPings = false;
      benvolio.send(chat("friar@f.test", "the second letter", "letter2"));
      while (!peer.received.some((r) => r.includes("the second letter"))) await new Promise((r) => setTimeout(r, 20));
      peer.stop();
      const bounced = await benvolio.next((el) => el.attrs.id === "letter2" && el.attrs.type === "error", "the bounce", 10_000);
      expect(errorOf(bounced)).toMatch(/remote-server-(not-found|timeout)/);
      await benvolio.stop();
    } finally {
      peer.stop();
      await e.stop();
    }
  });
});
