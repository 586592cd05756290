// SASL2 (XEP-0388), Bind 2 (XEP-0386), inline stream management (XEP-0198 §SASL2 and BIND2
// interaction) and FAST (XEP-0484) over real sockets, as the XEPs' examples exchange them: one
// round trip of SCRAM binds a resource with carbons, CSI and stream management on; a dropped
// session is resumed inside the login; a token asked for at a password login logs the client in
// with one message each way, until it expires, is replayed, is invalidated, or the password
// changes. A last part counts the round trips from connect to the first message, the RFC 6120
// way and these ways, and @xmpp/client logs in with SASL2 and then FAST.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { client, xml, type FastToken } from "@xmpp/client";
import { WebSocket } from "ws";
import { startServer, type TestServer } from "../helpers/server.ts";
import { FEATURES, OPEN, RawClient } from "../helpers/raw.ts";
import { BIND2, FAST, SASL2, SM, fastLogin, ht, scramLogin, secureStream, tokenOf, userAgent } from "../helpers/sasl2.ts";
import { removeAccount } from "../../src/core/account-removal.ts";
import type { ClientTokens } from "../../src/stream/fast-tokens.ts";
import { parseJid } from "../../src/xml/jid.ts";

let t: TestServer;
beforeAll(async () => {
  t = await startServer({
    users: { romeo: "pw", juliet: "pw", benvolio: "pw", mercutio: "pw", tybalt: "pw" },
    // Tests here fail logins on purpose, on few accounts: the account's spacing of attempts is
    // for the throttle's own test below.
    config: { auth: { sasl2: true, failuresPerMinute: 100, failuresPerAccount: 100 } },
  });
});
afterAll(() => t.stop());

const UA = "d4565fa7-4d72-4749-b3d3-740edbf87770";
let uaSeq = 0;
/** A fresh client installation id, so that tests do not share resources or tokens. */
const newUa = () => `d4565fa7-4d72-4749-b3d3-${(++uaSeq).toString(16).padStart(12, "0")}`;

const bind = (...inner: string[]) => `<bind xmlns='${BIND2}'><tag>AwesomeXMPP</tag>${inner.join("")}</bind>`;
const CARBONS = "<enable xmlns='urn:xmpp:carbons:2'/>";
const SM_ENABLE = `<enable xmlns='${SM}' resume='true'/>`;
const INACTIVE = "<inactive xmlns='urn:xmpp:csi:0'/>";
const jidOf = (success: string) => /<authorization-identifier>([^<]+)</.exec(success)?.[1];

/** The map store FAST keeps its tokens in, as the server's storage holds it. */
const fastStore = () => t.server.storage.map<ClientTokens>("fast");

describe("the <authentication/> feature", () => {
  it("lists the mechanisms and the inline features: Bind 2 with carbons, CSI and SM, SM resumption, FAST", async () => {
    const { c, features } = await secureStream(t.port);
    const auth = /<authentication xmlns="urn:xmpp:sasl:2">[\s\S]*?<\/authentication>/.exec(features)?.[0] ?? "";
    expect(auth).toContain("<mechanism>SCRAM-SHA-256-PLUS</mechanism>");
    expect(auth).toContain("<mechanism>SCRAM-SHA-256</mechanism>");
    const inline = /<inline>([\s\S]*)<\/inline>\s*<\/authentication>/.exec(auth)?.[1] ?? "";
    const bound = /<bind xmlns="urn:xmpp:bind:0"><inline>([\s\S]*?)<\/inline><\/bind>/.exec(inline)?.[1] ?? "";
    for (const v of [SM, "urn:xmpp:carbons:2", "urn:xmpp:csi:0"]) expect(bound).toContain(`<feature var="${v}"/>`);
    expect(inline).toContain(`<sm xmlns="${SM}"/>`);
    // TLS 1.3: tls-exporter and tls-server-end-point, no tls-unique; NONE for clients that cannot bind.
    expect(/<fast xmlns="urn:xmpp:fast:0">([\s\S]*?)<\/fast>/.exec(inline)?.[1]).toBe(
      "<mechanism>HT-SHA-256-EXPR</mechanism><mechanism>HT-SHA-256-ENDP</mechanism><mechanism>HT-SHA-256-NONE</mechanism>");
    // XEP-0440 beside it, for both profiles.
    expect(features).toContain('<sasl-channel-binding xmlns="urn:xmpp:sasl-cb:0">');
    c.close();
  });

  it("is not offered before TLS", async () => {
    const { c, features } = await RawClient.stream(t.port, false);
    expect(features).not.toContain("urn:xmpp:sasl:2");
    c.send(`<authenticate xmlns='${SASL2}' mechanism='SCRAM-SHA-256'/>`);
    expect(await c.expect(/<failure[\s\S]*?<\/failure>/)).toBe(
      '<failure xmlns="urn:xmpp:sasl:2"><encryption-required xmlns="urn:ietf:params:xml:ns:xmpp-sasl"/></failure>');
    c.close();
  });
});

describe("SASL2 authentication", () => {
  it("SCRAM-SHA-256 without inline requests: <success/> with the server's signature and the bare JID, then the features without a restart", async () => {
    const { c } = await secureStream(t.port);
    const { result, serverOk } = await scramLogin(c, "romeo", "pw", userAgent(UA));
    expect(serverOk).toBe(true);
    expect(jidOf(result)).toBe("romeo@localhost");
    const features = await c.expect(FEATURES);
    expect(features).toContain("urn:ietf:params:xml:ns:xmpp-bind");
    // Binding the RFC 6120 way on the same stream, no new header.
    c.send("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>old-way</resource></bind></iq>");
    expect(await c.expect(/<iq[^>]*id="b"[\s\S]*?<\/iq>/)).toContain("<jid>romeo@localhost/old-way</jid>");
    c.close();
  });

  it("SCRAM-SHA-256-PLUS binds to the TLS channel (tls-exporter)", async () => {
    const { c } = await secureStream(t.port);
    const { result, serverOk } = await scramLogin(c, "romeo", "pw", "", true);
    expect(result).toMatch(/^<success/);
    expect(serverOk).toBe(true);
    c.close();
  });

  it("a wrong password is <failure/> with not-authorized, in the RFC's namespace, and nothing inline happens", async () => {
    const { c } = await secureStream(t.port);
    const before = t.server.sessions.of(parseJid("romeo@localhost")).length;
    const { result } = await scramLogin(c, "romeo", "wrong", bind(CARBONS, SM_ENABLE));
    expect(result).toBe('<failure xmlns="urn:xmpp:sasl:2"><not-authorized xmlns="urn:ietf:params:xml:ns:xmpp-sasl"/></failure>');
    expect(t.server.sessions.of(parseJid("romeo@localhost")).length).toBe(before);
    // The client may try again on the same stream.
    expect((await scramLogin(c, "romeo", "pw")).result).toMatch(/^<success/);
    c.close();
  });

  it("an unknown mechanism is invalid-mechanism; <abort/> is aborted; anything else during an exchange ends the stream", async () => {
    const { c } = await secureStream(t.port);
    c.send(`<authenticate xmlns='${SASL2}' mechanism='BLURDYBLOOP'><initial-response>SW5pdGlhbCBSZXNwb25zZQ==</initial-response></authenticate>`);
    expect(await c.expect(/<failure[\s\S]*?<\/failure>/)).toContain("<invalid-mechanism");
    c.send(`<authenticate xmlns='${SASL2}' mechanism='SCRAM-SHA-256'><initial-response>${Buffer.from("n,,n=romeo,r=abc").toString("base64")}</initial-response></authenticate>`);
    await c.expect("<challenge");
    c.send(`<abort xmlns='${SASL2}'/>`);
    expect(await c.expect(/<failure[\s\S]*?<\/failure>/)).toContain("<aborted");
    c.send(`<authenticate xmlns='${SASL2}' mechanism='SCRAM-SHA-256'><initial-response>${Buffer.from("n,,n=romeo,r=abc").toString("base64")}</initial-response></authenticate>`);
    await c.expect("<challenge");
    c.send("<iq type='get' id='x'><ping xmlns='urn:xmpp:ping'/></iq>");
    expect(await c.expect(/<stream:error>[\s\S]*?<\/stream:error>/)).toContain("policy-violation");
    await c.closedByServer();
  });
});

describe("Bind 2 inline", () => {
  it("one round trip of SCRAM binds a resource with carbons, CSI inactive and stream management: <bound/> holds <enabled/>", async () => {
    const { c } = await secureStream(t.port);
    const { result, serverOk } = await scramLogin(c, "juliet", "pw", userAgent(newUa()) + bind(CARBONS, SM_ENABLE, INACTIVE));
    expect(serverOk).toBe(true);
    const full = jidOf(result)!;
    // "[client tag]/[server generated identifier]"
    expect(full).toMatch(/^juliet@localhost\/AwesomeXMPP\/[A-Za-z0-9_-]{12}$/);
    expect(result).toMatch(/<bound xmlns="urn:xmpp:bind:0"><enabled xmlns="urn:xmpp:sm:3" id="[^"]+" resume="true" max="\d+"\/><metadata xmlns="urn:xmpp:mam:2"/);
    const features = await c.expect(FEATURES);
    expect(features).not.toContain("urn:ietf:params:xml:ns:xmpp-bind");
    expect(features).not.toContain(`<sm xmlns="${SM}"`);
    expect(features).toContain('<csi xmlns="urn:xmpp:csi:0"/>');
    // The session is ready: a ping is answered (and counted by stream management).
    c.send("<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>");
    await c.expect(/<iq[^>]*id="p1"/);
    // CSI: the session began inactive (its hold is on).
    expect(t.server.sessions.local(parseJid(full))?.hold).toBeDefined();
    // Carbons: what another resource of juliet sends reaches this one as a <sent/> copy.
    const other = await RawClient.login(t.port, "juliet", "pw", "balcony");
    other.send("<message to='romeo@localhost' type='chat' id='m1'><body>Wherefore art thou?</body></message>");
    expect(await c.expect(/<message[\s\S]*?<\/message>/)).toMatch(/<sent xmlns="urn:xmpp:carbons:2"><forwarded[\s\S]*id="m1"/);
    other.close();
    c.close();
  });

  it("the same client installation gets the same resource back, and its new session replaces the old one", async () => {
    const ua = newUa();
    const first = await secureStream(t.port);
    const a = jidOf((await scramLogin(first.c, "benvolio", "pw", userAgent(ua) + bind())).result);
    const second = await secureStream(t.port);
    const b = jidOf((await scramLogin(second.c, "benvolio", "pw", userAgent(ua) + bind())).result);
    expect(b).toBe(a);
    expect(await first.c.expect(/<stream:error>[\s\S]*?<\/stream:error>/)).toContain("<conflict");
    // Another installation, another resource.
    const third = await secureStream(t.port);
    const c3 = jidOf((await scramLogin(third.c, "benvolio", "pw", userAgent(newUa()) + bind())).result);
    expect(c3).not.toBe(a);
    second.c.close();
    third.c.close();
  });

  it("<bound/> carries the archive's <metadata/> as it was at binding (XEP-0313 §5)", async () => {
    const sender = await RawClient.login(t.port, "romeo", "pw", "archiving");
    sender.send("<message to='benvolio@localhost' type='chat' id='last'><body>the last one</body></message>");
    sender.send("<iq type='get' id='m' to='romeo@localhost'><metadata xmlns='urn:xmpp:mam:2'/></iq>");
    const viaIq = /<metadata[\s\S]*?<\/metadata>/.exec(await sender.expect(/<iq[^>]*id="m"[\s\S]*?<\/iq>/))![0];
    expect(viaIq).toContain("<end id=");
    const { c } = await secureStream(t.port);
    const { result } = await scramLogin(c, "romeo", "pw", bind());
    expect(/<bound xmlns="urn:xmpp:bind:0">([\s\S]*?)<\/bound>/.exec(result)![1]).toBe(viaIq);
    sender.close();
    c.close();
  });

  it("without a tag or a user-agent the resource is the server's alone", async () => {
    const { c } = await secureStream(t.port);
    const { result } = await scramLogin(c, "benvolio", "pw", `<bind xmlns='${BIND2}'/>`);
    expect(jidOf(result)).toMatch(/^benvolio@localhost\/[A-Za-z0-9_-]{12}$/);
    c.close();
  });
});

describe("stream resumption inline (XEP-0198 with SASL2)", () => {
  it("<resume/> in <authenticate/>: <success/> carries <resumed/> and the full JID, what was not acknowledged follows, and no features", async () => {
    const ua = newUa();
    const { c } = await secureStream(t.port);
    const { result } = await scramLogin(c, "mercutio", "pw", userAgent(ua) + bind(SM_ENABLE));
    const full = jidOf(result)!;
    const previd = /<enabled[^>]* id="([^"]+)"/.exec(result)![1]!;
    await c.expect(FEATURES);
    c.close(); // the connection drops; the session waits to be resumed
    await new Promise((r) => setTimeout(r, 100));
    const sender = await RawClient.login(t.port, "romeo", "pw", "sender");
    sender.send(`<message to='${full}' type='chat' id='while-away'><body>A plague o' both your houses!</body></message>`);
    await new Promise((r) => setTimeout(r, 100));
    const again = await secureStream(t.port);
    const r2 = await scramLogin(again.c, "mercutio", "pw", userAgent(ua) + `<resume xmlns='${SM}' previd='${previd}' h='0'/>` + bind(SM_ENABLE));
    expect(jidOf(r2.result)).toBe(full);
    expect(r2.result).toMatch(new RegExp(`<resumed xmlns="${SM}" h="0" previd="${previd}"/>`));
    expect(r2.result).not.toContain("<bound");
    const next = await again.c.expect(/<message[\s\S]*?<\/message>|<stream:features>/);
    expect(next).toContain('id="while-away"');
    expect(again.c.buffer).not.toContain("<stream:features>");
    sender.close();
    again.c.close();
  });

  it("a failed resumption: <failed/> in <success/>, and Bind 2 makes a new session", async () => {
    const { c } = await secureStream(t.port);
    const { result } = await scramLogin(c, "mercutio", "pw", userAgent(newUa()) + `<resume xmlns='${SM}' previd='nope' h='0'/>` + bind(SM_ENABLE));
    expect(result).toContain(`<failed xmlns="${SM}"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`);
    expect(result).toMatch(/<bound xmlns="urn:xmpp:bind:0"><enabled /);
    expect(jidOf(result)).toMatch(/^mercutio@localhost\/AwesomeXMPP\//);
    await c.expect(FEATURES);
    c.close();
  });
});

describe("FAST", () => {
  /** A password login asking for a token for `mechanism`; returns the token. */
  async function tokenFor(user: string, ua: string, mechanism = "HT-SHA-256-NONE"): Promise<{ token: string; expiry: string }> {
    const { c } = await secureStream(t.port);
    const { result } = await scramLogin(c, user, "pw", userAgent(ua) + bind() + `<request-token xmlns='${FAST}' mechanism='${mechanism}'/>`);
    c.close();
    const tok = tokenOf(result);
    if (!tok) throw new Error(`no token: ${result}`);
    return tok;
  }

  async function fast(user: string, ua: string, token: string, opts: Parameters<typeof fastLogin>[3] = {}) {
    const { c } = await secureStream(t.port);
    const r = await fastLogin(c, user, token, { ...opts, inline: userAgent(ua) + (opts.inline ?? bind()) });
    c.close();
    return r;
  }

  it("a password login with <request-token/> gets a <token/> (XEP-0082 expiry, 14 days by default)", async () => {
    const { token, expiry } = await tokenFor("tybalt", newUa());
    expect(token.length).toBeGreaterThan(64);
    const days = (Date.parse(expiry) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(13.9);
    expect(days).toBeLessThanOrEqual(14);
    expect(expiry).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it("HT-SHA-256-NONE logs in with one message each way: the responder's HMAC in <additional-data/>, bound inline", async () => {
    const ua = newUa();
    const { token } = await tokenFor("tybalt", ua);
    const { result, serverOk } = await fast("tybalt", ua, token, { fast: " count='1'" });
    expect(result).toMatch(/^<success xmlns="urn:xmpp:sasl:2">/);
    expect(serverOk).toBe(true);
    expect(jidOf(result)).toMatch(/^tybalt@localhost\/AwesomeXMPP\//);
    expect(result).toContain("<bound");
    // Fresh token: no rotation yet.
    expect(tokenOf(result)).toBeUndefined();
  });

  it("HT-SHA-256-EXPR binds the token's proof to the TLS channel; the token only works with the mechanism it was asked for", async () => {
    const ua = newUa();
    const { token } = await tokenFor("tybalt", ua, "HT-SHA-256-EXPR");
    const r = await fast("tybalt", ua, token, { suffix: "EXPR" });
    expect(r.serverOk).toBe(true);
    const none = await fast("tybalt", ua, token, { suffix: "NONE" });
    expect(none.result).toContain("<not-authorized");
  });

  it("a wrong token, another client's token and an unknown user are not-authorized", async () => {
    const ua = newUa();
    const { token } = await tokenFor("tybalt", ua);
    expect((await fast("tybalt", ua, token.replace(/^./, (ch) => (ch === "A" ? "B" : "A")))).result).toBe(
      '<failure xmlns="urn:xmpp:sasl:2"><not-authorized xmlns="urn:ietf:params:xml:ns:xmpp-sasl"/></failure>');
    expect((await fast("tybalt", newUa(), token)).result).toContain("<not-authorized");
    expect((await fast("nobody", ua, token)).result).toContain("<not-authorized");
  });

  it("a count not above one already processed is a replay: refused", async () => {
    const ua = newUa();
    const { token } = await tokenFor("tybalt", ua);
    expect((await fast("tybalt", ua, token, { fast: " count='5'" })).serverOk).toBe(true);
    expect((await fast("tybalt", ua, token, { fast: " count='5'" })).result).toContain("<not-authorized");
    expect((await fast("tybalt", ua, token, { fast: " count='4'" })).result).toContain("<not-authorized");
    expect((await fast("tybalt", ua, token, { fast: " count='6'" })).serverOk).toBe(true);
    expect((await fast("tybalt", ua, token, { fast: " count='x'" })).result).toContain("<malformed-request");
  });

  it("an expired token is credentials-expired, and is gone", async () => {
    const ua = newUa();
    const { token } = await tokenFor("tybalt", ua);
    // The token's stored expiry moves into the past (as 14 days would).
    const store = fastStore();
    const all = await store.getAll("tybalt@localhost");
    for (const [k, v] of all) if (v.next) await store.set("tybalt@localhost", k, { ...v, next: { ...v.next, expires: Date.now() - 1 } });
    expect((await fast("tybalt", ua, token)).result).toContain("<credentials-expired");
    expect((await fast("tybalt", ua, token)).result).toContain("<not-authorized");
  });

  it("a token near its expiry is rotated: a new <token/> comes with the login, the old one works until the new one is used", async () => {
    const ua = newUa();
    const { token: old } = await tokenFor("tybalt", ua);
    const store = fastStore();
    for (const [k, v] of await store.getAll("tybalt@localhost")) {
      if (v.next) await store.set("tybalt@localhost", k, { ...v, next: { ...v.next, expires: Date.now() + 86_400_000 } });
    }
    const r1 = await fast("tybalt", ua, old);
    const rotated = tokenOf(r1.result);
    expect(rotated).toBeDefined();
    expect(rotated!.token).not.toBe(old);
    // The client never got it (say): the old token still works, and is rotated again.
    const r2 = await fast("tybalt", ua, old);
    const again = tokenOf(r2.result)!;
    // The unused one is gone; the newest works, and from then on the old one does not.
    expect((await fast("tybalt", ua, rotated!.token)).result).toContain("<not-authorized");
    expect((await fast("tybalt", ua, again.token)).serverOk).toBe(true);
    expect((await fast("tybalt", ua, old)).result).toContain("<not-authorized");
  });

  it("<fast invalidate='true'/> logs the client out: no token in the <success/>, and the token no longer works", async () => {
    const ua = newUa();
    const { token } = await tokenFor("tybalt", ua);
    const r = await fast("tybalt", ua, token, { fast: " invalidate='true'" });
    expect(r.serverOk).toBe(true);
    expect(tokenOf(r.result)).toBeUndefined();
    expect((await fast("tybalt", ua, token)).result).toContain("<not-authorized");
  });

  it("a login with a token may ask for another one for a different mechanism", async () => {
    const ua = newUa();
    const { token } = await tokenFor("tybalt", ua);
    const r = await fast("tybalt", ua, token, { inline: bind() + `<request-token xmlns='${FAST}' mechanism='HT-SHA-256-EXPR'/>` });
    const next = tokenOf(r.result)!;
    expect((await fast("tybalt", ua, next.token, { suffix: "EXPR" })).serverOk).toBe(true);
  });

  it("a password change revokes the account's tokens (credentials-expired)", async () => {
    await t.server.accounts.create("capulet", "pw");
    const ua = newUa();
    const { token } = await tokenFor("capulet", ua);
    expect((await fast("capulet", ua, token)).serverOk).toBe(true);
    await t.server.accounts.setPassword("capulet", "pw2");
    expect((await fast("capulet", ua, token)).result).toContain("<credentials-expired");
    await t.server.accounts.setPassword("capulet", "pw");
    expect((await fast("capulet", ua, token)).result).toContain("<not-authorized");
  });

  it("removing the account removes its tokens", async () => {
    await t.server.accounts.create("montague", "pw");
    const ua = newUa();
    const { token } = await tokenFor("montague", ua);
    expect((await fastStore().getAll("montague@localhost")).size).toBe(1);
    await removeAccount(t.context, parseJid("montague@localhost"));
    expect((await fastStore().getAll("montague@localhost")).size).toBe(0);
    await t.server.accounts.create("montague", "pw");
    expect((await fast("montague", ua, token)).result).toContain("<not-authorized");
  });

  it("without <fast/> an HT mechanism is malformed-request; without a user-agent id no token is made or accepted", async () => {
    const ua = newUa();
    const { token } = await tokenFor("tybalt", ua);
    const { c } = await secureStream(t.port);
    c.send(`<authenticate xmlns='${SASL2}' mechanism='HT-SHA-256-NONE'><initial-response>${Buffer.from("tybalt\0x").toString("base64")}</initial-response></authenticate>`);
    expect(await c.expect(/<failure[\s\S]*?<\/failure>/)).toContain("<malformed-request");
    const anon = await fastLogin(c, "tybalt", token, { inline: bind() });
    expect(anon.result).toContain("<not-authorized");
    const pw = await scramLogin(c, "tybalt", "pw", bind() + `<request-token xmlns='${FAST}' mechanism='HT-SHA-256-NONE'/>`);
    expect(pw.result).toMatch(/^<success/);
    expect(tokenOf(pw.result)).toBeUndefined();
    c.close();
  });
});

describe("over WebSocket (RFC 7395)", () => {
  it("wss:// offers SASL2 and FAST, and a token logs in with one message before the first chat", async () => {
    const ua = newUa();
    const { c } = await secureStream(t.port);
    const token = tokenOf((await scramLogin(c, "juliet", "pw", userAgent(ua) + `<request-token xmlns='${FAST}' mechanism='HT-SHA-256-NONE'/>`)).result)!.token;
    c.close();
    const ws = new WebSocket(`wss://127.0.0.1:${t.server.ports.https}/xmpp-websocket`, ["xmpp"], { rejectUnauthorized: false });
    const frames: string[] = [];
    const next = (re: RegExp) => new Promise<string>((resolve, reject) => {
      const look = () => {
        const i = frames.findIndex((f) => re.test(f));
        if (i >= 0) resolve(frames.splice(i, 1)[0]!);
        else setTimeout(look, 10);
      };
      ws.once("error", reject);
      look();
    });
    ws.on("message", (d: Buffer) => frames.push(d.toString("utf8")));
    await new Promise((r) => ws.once("open", r));
    ws.send("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>");
    const features = await next(/<stream:features/);
    expect(features).toContain('<authentication xmlns="urn:xmpp:sasl:2">');
    expect(features).toContain("<mechanism>HT-SHA-256-NONE</mechanism>");
    const initial = Buffer.concat([Buffer.from("juliet\0"), ht(token, "Initiator")]).toString("base64");
    ws.send(`<authenticate xmlns='${SASL2}' mechanism='HT-SHA-256-NONE'><initial-response>${initial}</initial-response>` +
      `${userAgent(ua)}<fast xmlns='${FAST}' count='1'/>${bind(SM_ENABLE)}</authenticate>`);
    const success = await next(/^<success/);
    expect(Buffer.from(/<additional-data>([^<]*)</.exec(success)![1]!, "base64").equals(ht(token, "Responder"))).toBe(true);
    expect(success).toContain("<enabled");
    ws.send("<message xmlns='jabber:client' to='romeo@localhost' type='chat'><body>over the web</body></message>");
    ws.send(`<r xmlns='${SM}'/>`);
    expect(await next(/^<a /)).toMatch(/h=['"]1['"]/);
    ws.close();
  });
});

describe("the login throttle counts SASL2 and FAST attempts", () => {
  it("wrong tokens from one address count like wrong passwords: past the limit, temporary-auth-failure", async () => {
    const s = await startServer({ users: { romeo: "pw" }, config: { auth: { sasl2: true, failuresPerMinute: 3 } } });
    try {
      const results: string[] = [];
      for (let i = 0; i < 4; i++) {
        const { c } = await secureStream(s.port);
        results.push((await fastLogin(c, "romeo", "x".repeat(88), { inline: userAgent(UA) })).result);
        c.close();
      }
      expect(results.slice(0, 3).every((r) => r.includes("<not-authorized"))).toBe(true);
      expect(results[3]).toContain("<temporary-auth-failure");
      const { c } = await secureStream(s.port);
      expect((await scramLogin(c, "romeo", "pw")).result).toContain("<temporary-auth-failure");
      c.close();
    } finally {
      await s.stop();
    }
  });
});

describe("round trips from connect to the first message", () => {
  /** A client that counts the times it waits for the server. */
  class Counted {
    trips = 0;
    readonly c: RawClient;
    constructor(c: RawClient) {
      this.c = c;
    }
    async wait(pattern: RegExp | string): Promise<string> {
      this.trips++;
      return this.c.expect(pattern);
    }
  }

  async function connect(direct: boolean): Promise<Counted> {
    const k = new Counted(await RawClient.connect(direct ? t.tlsPort : t.port, direct));
    // The TCP handshake, and with direct TLS the TLS 1.3 handshake, before the first byte.
    k.trips += direct ? 2 : 1;
    k.c.send(OPEN());
    await k.wait(FEATURES);
    if (!direct) {
      k.trips++; // <starttls/> and <proceed/>
      await k.c.startTls();
      k.trips++; // the TLS 1.3 handshake
      k.c.send(OPEN());
      await k.wait(FEATURES);
    }
    return k;
  }

  const message = `<message to='romeo@localhost' type='chat'><body>first</body></message>`;

  it("RFC 6120 (STARTTLS, SCRAM, restart, bind, SM and carbons) takes 10; SASL2 with Bind 2 takes 7; FAST 6; FAST over direct TLS 4", async () => {
    // RFC 6120: SCRAM's two steps, the restart, the bind, then SM and carbons together.
    const old = await connect(false);
    old.trips++; // the first SCRAM step (scram() sends and waits twice)
    old.trips++;
    expect(await old.c.scram("juliet", "pw")).toMatch(/^<success/);
    old.c.send(OPEN());
    await old.wait(FEATURES);
    old.c.send("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>");
    await old.wait(/<iq[^>]*id="b"[\s\S]*?<\/iq>/);
    old.c.send(`${SM_ENABLE}<iq type='set' id='c'><enable xmlns='urn:xmpp:carbons:2'/></iq>`);
    await old.wait(/<iq[^>]*id="c"/);
    old.c.send(message);
    old.c.close();

    // SASL2: SCRAM's two steps carry the bind, SM and carbons.
    const ua = newUa();
    const sasl2 = await connect(false);
    sasl2.trips += 2;
    const { result } = await scramLogin(sasl2.c, "juliet", "pw", userAgent(ua) + bind(SM_ENABLE, CARBONS) + `<request-token xmlns='${FAST}' mechanism='HT-SHA-256-NONE'/>`);
    expect(result).toContain("<enabled");
    sasl2.c.send(message);
    sasl2.c.close();

    // FAST: one step.
    const token = tokenOf(result)!.token;
    const quick = await connect(false);
    quick.trips++;
    expect((await fastLogin(quick.c, "juliet", token, { inline: userAgent(ua) + bind(SM_ENABLE, CARBONS) })).serverOk).toBe(true);
    quick.c.send(message);
    quick.c.close();

    // FAST over direct TLS (XEP-0368): no STARTTLS, one header.
    const direct = await connect(true);
    direct.trips++;
    expect((await fastLogin(direct.c, "juliet", token, { inline: userAgent(ua) + bind(SM_ENABLE, CARBONS) })).serverOk).toBe(true);
    direct.c.send(message);
    direct.c.close();

    expect([old.trips, sasl2.trips, quick.trips, direct.trips]).toEqual([10, 7, 6, 4]);
  });
});

describe("@xmpp/client 0.14 (its sasl2, bind2 and fast packages)", () => {
  it("logs in with SASL2 and Bind 2, gets a FAST token, and logs in with it next time", async () => {
    const tokens: FastToken[] = [];
    const make = () => {
      // The installation's id is the client's to keep, like its token: FAST tokens belong to it.
      const x = client({ service: `xmpps://127.0.0.1:${t.tlsPort}`, domain: "localhost", username: "romeo", password: "pw", resource: "lib",
        userAgent: xml("user-agent", { id: UA }, xml("software", null, "xmpp.js")) });
      x.reconnect.stop();
      x.on("error", () => {});
      x.fast.saveToken = async (tok) => void tokens.push(tok);
      x.fast.fetchToken = async () => tokens.at(-1);
      return x;
    };
    const auth = t.server.telemetry.authOf("HT-SHA-256-NONE");
    const before = auth.success;
    const first = make();
    const jid1 = await first.start();
    expect(jid1.toString()).toMatch(/^romeo@localhost\/lib\//);
    expect(tokens).toHaveLength(1);
    expect(tokens[0]!.mechanism).toBe("HT-SHA-256-NONE");
    await first.stop();
    const second = make();
    const jid2 = await second.start();
    expect(auth.success).toBe(before + 1);
    expect(jid2.toString()).toMatch(/^romeo@localhost\/lib\//);
    // The session works: a ping's empty result (the caller resolves to its absent payload).
    await expect(second.iqCaller.get(xml("ping", { xmlns: "urn:xmpp:ping" }), "localhost")).resolves.toBeUndefined();
    await second.stop();
  });
});
