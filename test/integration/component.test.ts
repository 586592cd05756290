// External components (XEP-0114) over real loopback sockets: a gateway opens a
// jabber:component:accept stream to its domain, proves the shared secret with <handshake/>, and
// from then on takes every stanza to its domain and sends as any address at it. Romeo is a local
// user on a client stream; the gateway is a raw socket that speaks the component protocol.
import { createHash } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/core/config.ts";
import { XmppServer } from "../../src/server.ts";
import { MemoryStorage } from "../../src/storage/memory.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { RawClient } from "../helpers/raw.ts";

const GATEWAY = "gateway.localhost";
const BOT = "bot.localhost";
const SECRET = "gateway-secret-0123456789";

let t: TestServer;
beforeAll(async () => {
  t = await startServer({
    users: { romeo: "pw" },
    config: {
      components: [{ domain: GATEWAY, secret: SECRET }, { domain: BOT, secret: "bot-secret-0123456789" }],
      component: { handshakeTimeout: 1 },
    },
  });
});
afterAll(() => t.stop());
// A failed test's component connections must not hold its domain for the next test.
const opened: RawClient[] = [];
afterEach(async () => {
  for (const c of opened.splice(0)) c.close();
  await expect.poll(() => t.server.components.connected()).toEqual([]);
});

const open = (domain: string) =>
  `<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='${domain}'>`;
const stanza = (name: string, id: string) => new RegExp(`<${name}[^>]*id="${id}"[^>]*(/>|>[\\s\\S]*?</${name}>)`);
const STREAM_ERROR = /<stream:error>[\s\S]*?<\/stream:error>/;

/** Opens a component stream to `domain`: the server's header, and the stream id it carries. */
async function openComponent(domain: string): Promise<{ c: RawClient; header: string; id: string }> {
  const c = await RawClient.connect(t.server.ports.component!);
  opened.push(c);
  c.send(open(domain));
  const header = await c.expect(/<stream:stream[^>]*>/);
  return { c, header, id: /id='([^']+)'/.exec(header)?.[1] ?? "" };
}

/** The handshake of XEP-0114 §3: lowercase hex SHA-1 of the stream id and the secret. */
const handshake = (id: string, secret: string) => `<handshake>${createHash("sha1").update(id + secret).digest("hex")}</handshake>`;

/** A component stream past its handshake. */
async function connectComponent(domain = GATEWAY, secret = SECRET): Promise<RawClient> {
  const { c, id } = await openComponent(domain);
  c.send(handshake(id, secret));
  await c.expect("<handshake/>");
  return c;
}

/** Waits until the server has let the domain go (its socket closed on our side). */
const released = (domain: string) => expect.poll(() => t.server.components.connected().includes(domain)).toBe(false);

describe("the handshake (XEP-0114 §3)", () => {
  it("the server's header is in jabber:component:accept, from the component's domain, with a stream id; the right hash is answered with an empty <handshake/>", async () => {
    const { c, header, id } = await openComponent(GATEWAY);
    expect(header).toContain("xmlns='jabber:component:accept'");
    expect(header).toContain(`from='${GATEWAY}'`);
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    c.send(handshake(id, SECRET));
    await c.expect("<handshake/>");
    expect(t.server.components.connected()).toContain(GATEWAY);
    c.close();
    await released(GATEWAY);
  });

  it("a wrong secret ends the stream with not-authorized, and the domain stays free", async () => {
    const { c, id } = await openComponent(GATEWAY);
    c.send(handshake(id, "not-the-secret-at-all"));
    expect(await c.expect(STREAM_ERROR)).toContain("<not-authorized");
    await c.closedByServer();
    expect(t.server.components.connected()).not.toContain(GATEWAY);
  });

  it("a hash of another stream's id is refused: each stream has its own", async () => {
    const first = await openComponent(GATEWAY);
    const second = await openComponent(GATEWAY);
    expect(second.id).not.toBe(first.id);
    second.c.send(handshake(first.id, SECRET));
    expect(await second.c.expect(STREAM_ERROR)).toContain("<not-authorized");
    first.c.close();
  });

  it("a domain that is not configured is host-unknown; a stanza before the handshake is not-authorized", async () => {
    const unknown = await openComponent("stranger.localhost");
    expect(unknown.header).not.toContain("from=");
    expect(await unknown.c.expect(STREAM_ERROR)).toContain("<host-unknown");
    await unknown.c.closedByServer();
    const early = await openComponent(GATEWAY);
    early.c.send(`<message from='${GATEWAY}' to='romeo@localhost'><body>too soon</body></message>`);
    expect(await early.c.expect(STREAM_ERROR)).toContain("<not-authorized");
  });

  it("a client's content namespace is invalid-namespace", async () => {
    const c = await RawClient.connect(t.server.ports.component!);
    c.send(open(GATEWAY).replace("jabber:component:accept", "jabber:client"));
    expect(await c.expect(STREAM_ERROR)).toContain("<invalid-namespace");
  });

  it("no handshake within component.handshakeTimeout ends the stream with connection-timeout", async () => {
    const { c } = await openComponent(GATEWAY);
    expect(await c.expect(STREAM_ERROR, 3000)).toContain("<connection-timeout");
  });

  it("a second connection for a connected domain is refused with conflict; the first goes on", async () => {
    const first = await connectComponent();
    const { c: second, id } = await openComponent(GATEWAY);
    second.send(handshake(id, SECRET));
    expect(await second.expect(STREAM_ERROR)).toContain("<conflict");
    await second.closedByServer();
    first.send(`<iq type='get' id='still' from='${GATEWAY}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    expect(await first.expect(stanza("iq", "still"))).toContain('type="result"');
    first.close();
    await released(GATEWAY);
  });
});

describe("stanzas between local users and the component", () => {
  it("Romeo's message to a user of the gateway reaches the component, from his full JID", async () => {
    const gw = await connectComponent();
    const romeo = await RawClient.login(t.port, "romeo", "pw", "garden");
    romeo.send(`<message to='juliet@${GATEWAY}' type='chat' id='m1'><body>Good morrow</body></message>`);
    const got = await gw.expect(stanza("message", "m1"));
    expect(got).toContain('from="romeo@localhost/garden"');
    expect(got).toContain(`to="juliet@${GATEWAY}"`);
    expect(got).toContain("<body>Good morrow</body>");
    romeo.close();
    gw.close();
    await released(GATEWAY);
  });

  it("the gateway's message from one of its users reaches Romeo's client as sent", async () => {
    const gw = await connectComponent();
    const romeo = await RawClient.login(t.port, "romeo", "pw", "garden");
    gw.send(`<message from='juliet@${GATEWAY}/phone' to='romeo@localhost/garden' type='chat' id='m2'><body>Good morrow, Romeo</body></message>`);
    const got = await romeo.expect(stanza("message", "m2"));
    expect(got).toContain(`from="juliet@${GATEWAY}/phone"`);
    expect(got).toContain("<body>Good morrow, Romeo</body>");
    expect(got).not.toContain("jabber:component:accept");
    romeo.close();
    gw.close();
    await released(GATEWAY);
  });

  it("an iq round trip: Romeo asks the gateway, the gateway answers; the gateway asks the server, the server answers", async () => {
    const gw = await connectComponent();
    const romeo = await RawClient.login(t.port, "romeo", "pw", "garden");
    romeo.send(`<iq type='get' id='v1' to='${GATEWAY}'><query xmlns='jabber:iq:version'/></iq>`);
    expect(await gw.expect(stanza("iq", "v1"))).toContain('from="romeo@localhost/garden"');
    gw.send(`<iq type='result' id='v1' from='${GATEWAY}' to='romeo@localhost/garden'><query xmlns='jabber:iq:version'><name>gateway</name></query></iq>`);
    const answer = await romeo.expect(stanza("iq", "v1"));
    expect(answer).toContain('type="result"');
    expect(answer).toContain(`from="${GATEWAY}"`);
    expect(answer).toContain("<name>gateway</name>");
    gw.send(`<iq type='get' id='p1' from='${GATEWAY}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    const pong = await gw.expect(stanza("iq", "p1"));
    expect(pong).toContain('type="result"');
    expect(pong).toContain(`to="${GATEWAY}"`);
    romeo.close();
    gw.close();
    await released(GATEWAY);
  });

  it("the server's disco#items lists the component while it is connected", async () => {
    const romeo = await RawClient.login(t.port, "romeo", "pw", "garden");
    const items = async (id: string) => {
      romeo.send(`<iq type='get' id='${id}' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`);
      return romeo.expect(stanza("iq", id));
    };
    expect(await items("d1")).not.toContain(`jid="${GATEWAY}"`);
    const gw = await connectComponent();
    expect(await items("d2")).toContain(`<item jid="${GATEWAY}"/>`);
    gw.close();
    await released(GATEWAY);
    expect(await items("d3")).not.toContain(`jid="${GATEWAY}"`);
    romeo.close();
  });

  it("once the component is gone, a message and an iq to it bounce with service-unavailable (wait)", async () => {
    const gw = await connectComponent();
    gw.close();
    await released(GATEWAY);
    const romeo = await RawClient.login(t.port, "romeo", "pw", "garden");
    romeo.send(`<message to='juliet@${GATEWAY}' type='chat' id='b1'><body>anyone?</body></message>`);
    const bounced = await romeo.expect(stanza("message", "b1"));
    expect(bounced).toContain('type="error"');
    expect(bounced).toMatch(/<error type="wait"><service-unavailable/);
    romeo.send(`<iq type='get' id='b2' to='${GATEWAY}'><query xmlns='jabber:iq:version'/></iq>`);
    expect(await romeo.expect(stanza("iq", "b2"))).toMatch(/type="error"[\s\S]*<service-unavailable/);
    romeo.close();
  });

  it("presence subscriptions both ways between Romeo and a gateway user keep Romeo's roster (RFC 6121 §3), stamped with his bare JID", async () => {
    const gw = await connectComponent();
    const romeo = await RawClient.login(t.port, "romeo", "pw", "garden");
    romeo.send("<iq type='get' id='roster'><query xmlns='jabber:iq:roster'/></iq>");
    await romeo.expect(stanza("iq", "roster"));
    romeo.send("<presence/>");
    romeo.send(`<presence to='juliet@${GATEWAY}' type='subscribe' id='s1'/>`);
    expect(await gw.expect(stanza("presence", "s1"))).toMatch(/from="romeo@localhost"[^>]*type="subscribe"|type="subscribe"[^>]*from="romeo@localhost"/);
    // The request's roster push (ask="subscribe"), then the approval's (subscription "to").
    expect(await romeo.expect(/<iq[^>]*type="set"[\s\S]*?<\/iq>/)).toContain('ask="subscribe"');
    gw.send(`<presence from='juliet@${GATEWAY}' to='romeo@localhost' type='subscribed' id='s2'/>`);
    expect(await romeo.expect(/<iq[^>]*type="set"[\s\S]*?<\/iq>/)).toMatch(/subscription="to"/);
    gw.send(`<presence from='juliet@${GATEWAY}/phone' to='romeo@localhost' id='s3'><show>chat</show></presence>`);
    expect(await romeo.expect(stanza("presence", "s3"))).toContain(`from="juliet@${GATEWAY}/phone"`);
    // The other way: Juliet asks, Romeo approves; the gateway gets the approval from his bare JID, then his presence.
    gw.send(`<presence from='juliet@${GATEWAY}' to='romeo@localhost' type='subscribe' id='s4'/>`);
    await romeo.expect(stanza("presence", "s4"));
    romeo.send(`<presence to='juliet@${GATEWAY}' type='subscribed' id='s5'/>`);
    expect(await gw.expect(stanza("presence", "s5"))).toContain('from="romeo@localhost"');
    expect(await gw.expect(/<presence[^>]*from="romeo@localhost\/garden"[^>]*\/>/)).not.toContain("type=");
    romeo.close();
    gw.close();
    await released(GATEWAY);
  });

  it("two components reach each other", async () => {
    const gw = await connectComponent();
    const bot = await connectComponent(BOT, "bot-secret-0123456789");
    gw.send(`<message from='juliet@${GATEWAY}' to='${BOT}' id='x1'><body>hello bot</body></message>`);
    expect(await bot.expect(stanza("message", "x1"))).toContain(`from="juliet@${GATEWAY}"`);
    gw.close();
    bot.close();
    await released(GATEWAY);
  });
});

describe("what the component may send", () => {
  it("a 'from' outside its domain ends the stream with invalid-from", async () => {
    const gw = await connectComponent();
    gw.send(`<message from='romeo@localhost' to='romeo@localhost'><body>forged</body></message>`);
    expect(await gw.expect(STREAM_ERROR)).toContain("<invalid-from");
    await gw.closedByServer();
    await released(GATEWAY);
  });

  it("a stanza without 'to' is bad-request; one without 'from' is the component's own; jabber:client stanzas are taken as its own", async () => {
    const gw = await connectComponent();
    gw.send(`<iq type='get' id='nt' from='${GATEWAY}'><ping xmlns='urn:xmpp:ping'/></iq>`);
    expect(await gw.expect(stanza("iq", "nt"))).toMatch(/type="error"[\s\S]*<bad-request/);
    gw.send(`<iq type='get' id='nf' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    expect(await gw.expect(stanza("iq", "nf"))).toContain(`to="${GATEWAY}"`);
    gw.send(`<iq xmlns='jabber:client' type='get' id='jc' from='${GATEWAY}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    expect(await gw.expect(stanza("iq", "jc"))).toContain('type="result"');
    gw.close();
    await released(GATEWAY);
  });

  it("after the handshake the stanza size limit is limits.stanzaSize, not the pre-authentication one; beyond it the stream ends (policy-violation)", async () => {
    const gw = await connectComponent();
    const { preAuthStanzaSize, stanzaSize } = t.server.config.limits;
    // To the bot, which is not connected: the bounce shows the large stanza was read and routed.
    gw.send(`<message from='${GATEWAY}' to='${BOT}' id='big'><body>${"x".repeat(preAuthStanzaSize * 2)}</body></message>`);
    expect(await gw.expect(stanza("message", "big"))).toContain("<service-unavailable");
    gw.send(`<message from='${GATEWAY}' to='romeo@localhost'><body>${"x".repeat(stanzaSize)}</body></message>`);
    expect(await gw.expect(STREAM_ERROR)).toContain("<policy-violation");
    await released(GATEWAY);
  });
});

describe("the configuration check", () => {
  const check = (raw: Record<string, unknown>) => () => {
    const loaded = loadConfig(undefined, { XMPPD_COMPONENTS: JSON.stringify(raw.components), ...(raw.env as Record<string, string> | undefined) });
    new XmppServer(loaded, { storage: new MemoryStorage() });
  };

  it("refuses a component on the server's domain or on a module's service domain, and takes any other", () => {
    expect(check({ components: [{ domain: "LocalHost.", secret: SECRET }] })).toThrow("components: localhost is the server's own domain");
    expect(check({ components: [{ domain: "conference.localhost", secret: SECRET }] }))
      .toThrow("components: conference.localhost is the domain of module muc (modules.muc.domain)");
    expect(check({ components: [{ domain: "rooms.localhost", secret: SECRET }], env: { XMPPD_MODULES__MUC__DOMAIN: "rooms.localhost" } }))
      .toThrow("components: rooms.localhost is the domain of module muc");
    expect(check({ components: [{ domain: "conference.localhost", secret: SECRET }], env: { XMPPD_MODULES__MUC__DOMAIN: "rooms.localhost" } })).not.toThrow();
    expect(check({ components: [{ domain: "irc.example.net", secret: SECRET }] })).not.toThrow();
  });
});

describe("the server's drain", () => {
  it("a stopping server ends the component's stream with system-shutdown", async () => {
    const own = await startServer({ config: { components: [{ domain: GATEWAY, secret: SECRET }] } });
    const c = await RawClient.connect(own.server.ports.component!);
    c.send(open(GATEWAY));
    const id = /id='([^']+)'/.exec(await c.expect(/<stream:stream[^>]*>/))![1]!;
    c.send(handshake(id, SECRET));
    await c.expect("<handshake/>");
    await own.stop();
    expect(await c.expect(STREAM_ERROR)).toContain("<system-shutdown");
  });
});
