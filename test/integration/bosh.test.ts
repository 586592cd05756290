// XMPP over BOSH (XEP-0124, XEP-0206) over real sockets, request by request: a session is created
// with the server's terms and the stream's features in its answer; Romeo logs in with PLAIN and
// Juliet with SCRAM (-PLUS bound to the certificate), each restarting the stream with
// xmpp:restart, and binds; a long poll held by the server carries Mercutio's message the moment
// it comes, and is answered empty once 'wait' is over. Then the rules of the binding: request
// ids handled in order inside the window, a request sent again answered again, an unknown sid or
// a request id out of the window ended with item-not-found, a malformed body with bad-request,
// too frequent polls and too many requests at once with policy-violation, a stream error as
// remote-stream-error, type='terminate', pauses, inactivity, CORS, host-meta and the size bound.
import { createHash, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { parse } from "ltx";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { NS } from "../../src/xml/ns.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { accounts, given, Im, presence } from "../helpers/im.ts";
import { BoshClient, HTTPBIND, post } from "../helpers/bosh.ts";
import { SmClient } from "../helpers/sm.ts";

let t: TestServer;
let url: string;
beforeAll(async () => {
  t = await startServer();
  url = `https://localhost:${t.server.ports.https}/http-bind`;
});
afterAll(() => t.stop());

const ping = (id: string) => `<iq xmlns='jabber:client' type='get' id='${id}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`;
const openBosh = async () => (await t.server.openConnections()).bosh;

describe("a BOSH session (XEP-0124 §7, XEP-0206)", () => {
  it("is created with the server's terms, the stream's id and origin, and its features; no STARTTLS over HTTPS, SCRAM-PLUS on the certificate", async () => {
    const c = await BoshClient.create(url, { wait: 3600, hold: 4 });
    expect(c.created.attrs).toMatchObject({
      xmlns: HTTPBIND, wait: "60", hold: "1", requests: "2", inactivity: "60", polling: "5", ver: "1.6", maxpause: "120",
      from: "localhost", "xmpp:version": "1.0", "xmpp:restartlogic": "true", "xmlns:xmpp": "urn:xmpp:xbosh",
    });
    expect(c.sid).toMatch(/^[\w-]{24}$/);
    expect(c.created.attrs.authid).toMatch(/.+/);
    const features = c.created.getChildElements()[0]!;
    expect(features.name).toBe("stream:features");
    expect(c.created.attrs["xmlns:stream"]).toBe(NS.stream);
    const mechanisms = features.getChild("mechanisms", NS.sasl)!.getChildren("mechanism").map((m) => m.getText());
    expect(mechanisms).toEqual(expect.arrayContaining(["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "PLAIN"]));
    expect(features.getChild("starttls")).toBeUndefined();
    // Each request of the session may come on another TLS connection: only the certificate binds.
    const types = features.getChild("sasl-channel-binding")!.getChildren("channel-binding").map((b) => b.attrs.type);
    expect(types).toEqual(["tls-server-end-point"]);
    expect((await c.terminate()).attrs.type).toBe("terminate");
  });

  it("carries a login (PLAIN, SCRAM-SHA-256-PLUS, each with its restart), and a held request takes Mercutio's message at once", async () => {
    const [romeo, juliet, mercutio] = await accounts(t, "romeo", "juliet", "mercutio");
    const r = await BoshClient.create(url);
    await r.login(romeo!, "tab");
    expect(r.jid).toBe(`${romeo}@localhost/tab`);

    const j = await BoshClient.create(url);
    await j.next((e) => e.name === "stream:features", "features");
    const pem = readFileSync(t.server.certificate!.path, "utf8");
    const endPoint = createHash("sha256").update(new X509Certificate(pem).raw).digest();
    expect((await j.scram(juliet!, "pw", "sha256", endPoint)).name).toBe("success");

    const m = await Im.login(t.port, mercutio!, "desk");
    // Romeo's long poll waits at the server until there is something for him.
    const started = Date.now();
    const held = r.send();
    await new Promise((resolve) => setTimeout(resolve, 300));
    m.send(xml("message", { to: r.jid, type: "chat", id: "m1" }, xml("body", null, "over a long poll")));
    const answer = await held;
    expect(Date.now() - started).toBeLessThan(5000);
    const msg = answer.getChild("message")!;
    expect(msg.attrs).toMatchObject({ xmlns: "jabber:client", from: `${mercutio}@localhost/desk` });
    expect(msg.getChildText("body")).toBe("over a long poll");

    // A request with a payload is held as well, until there is something for Romeo.
    const sent = r.send(`<message xmlns='jabber:client' to='${mercutio}@localhost/desk' type='chat'><body>and back</body></message>`);
    const back = await m.next((e) => e.name === "message", "Romeo's answer");
    expect(back.attrs.from).toBe(r.jid);
    expect(back.getChildText("body")).toBe("and back");
    await Promise.all([r.terminate(), j.terminate(), m.stop()]);
    expect((await sent).attrs.type).toBe("terminate");
  });

  it("answers a held request with an empty body once 'wait' is over", async () => {
    const c = await BoshClient.create(url, { wait: 1 });
    expect(c.created.attrs.wait).toBe("1");
    const started = Date.now();
    const empty = await c.send();
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(empty.toString()).toBe(`<body xmlns="${HTTPBIND}"/>`);
    await c.terminate();
  });

  it("handles requests in request-id order, whatever order they come in (§14.2)", async () => {
    const [romeo] = await accounts(t, "romeo");
    const c = await BoshClient.create(url);
    await c.login(romeo!, "r");
    const first = c.rid++;
    const second = c.rid++;
    const later = c.send(ping("p2"), {}, { rid: second });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const earlier = c.send(ping("p1"), {}, { rid: first });
    await Promise.all([later, earlier]);
    const p1 = await c.next((e) => e.attrs.id === "p1", "p1's result");
    const p2 = await c.next((e) => e.attrs.id === "p2", "p2's result");
    expect([p1.attrs.type, p2.attrs.type]).toEqual(["result", "result"]);
    const ids = c.answers.flatMap((b) => b.getChildElements()).map((e) => e.attrs.id).filter((id) => id === "p1" || id === "p2");
    expect(ids).toEqual(["p1", "p2"]);
    await c.terminate();
  });

  it("answers a request sent again with its first answer, and a held one's copy in its place (§14.3)", async () => {
    const [romeo, mercutio] = await accounts(t, "romeo", "mercutio");
    const c = await BoshClient.create(url);
    await c.login(romeo!, "r");
    const rid = c.rid;
    await c.send(ping("once"));
    await c.next((e) => e.attrs.id === "once", "the ping's result");
    const first = c.answers.at(-1)!.toString();
    const again = await post(url, c.wrap(ping("once"), {}, rid));
    expect(again.body!.toString()).toBe(first);

    // A held request whose connection breaks is sent again: the copy gets what comes.
    const aborted = new AbortController();
    const heldRid = c.rid;
    const lost = c.send("", {}, { signal: aborted.signal }).catch(() => "aborted");
    await new Promise((resolve) => setTimeout(resolve, 200));
    aborted.abort();
    expect(await lost).toBe("aborted");
    const copy = post(url, c.wrap("", {}, heldRid));
    const m = await Im.login(t.port, mercutio!, "desk");
    m.send(xml("message", { to: `${romeo}@localhost/r`, type: "chat" }, xml("body", null, "for the copy")));
    expect((await copy).body!.getChild("message")!.getChildText("body")).toBe("for the copy");

    // Too old to be kept: item-not-found, and the session is over.
    const stale = await post(url, c.wrap("", {}, rid - 3));
    expect(stale.body!.attrs).toMatchObject({ type: "terminate", condition: "item-not-found" });
    expect((await post(url, c.wrap(""))).body!.attrs.condition).toBe("item-not-found");
    await m.stop();
  });

  it("ends a session with a request id beyond the window, and answers an unknown sid, with item-not-found", async () => {
    const before = await openBosh();
    const c = await BoshClient.create(url);
    expect(await openBosh()).toBe(before + 1);
    const ahead = await post(url, c.wrap("", {}, c.rid + 5));
    expect(ahead.status).toBe(200);
    expect(ahead.body!.attrs).toMatchObject({ type: "terminate", condition: "item-not-found" });
    expect(await openBosh()).toBe(before);
    const unknown = await post(url, `<body xmlns='${HTTPBIND}' rid='7' sid='nosuchsession'/>`);
    expect(unknown.body!.attrs).toMatchObject({ type: "terminate", condition: "item-not-found" });
  });

  it("answers what is not a BOSH body with bad-request", async () => {
    for (const text of ["not xml", `<body xmlns='urn:example' rid='1'/>`, `<body xmlns='${HTTPBIND}'/>`, `<body xmlns='${HTTPBIND}' rid='1'><!-- no --></body>`]) {
      const a = await post(url, text);
      expect(a.status, text).toBe(200);
      expect(a.body!.attrs, text).toMatchObject({ type: "terminate", condition: "bad-request" });
    }
  });

  it("ends a session that polls too often, or has more requests at once than 'requests', with policy-violation (§11, §12)", async () => {
    const [romeo] = await accounts(t, "romeo");
    const polling = await BoshClient.create(url);
    await polling.login(romeo!, "a");
    const first = polling.send();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = polling.send(); // the first is answered at once, empty: a poll
    expect((await first).toString()).toBe(`<body xmlns="${HTTPBIND}"/>`);
    // Another empty poll within 'polling' seconds.
    expect((await polling.send()).attrs).toMatchObject({ type: "terminate", condition: "policy-violation" });
    expect((await second).attrs.condition).toBe("policy-violation");

    const busy = await BoshClient.create(url);
    await busy.login(romeo!, "b");
    const waiting = busy.send();
    const skipped = busy.rid++;
    const early = busy.send(); // waits for the skipped one
    await new Promise((resolve) => setTimeout(resolve, 100));
    const third2 = await busy.send("", {}, { rid: skipped });
    expect(third2.attrs).toMatchObject({ type: "terminate", condition: "policy-violation" });
    expect((await waiting).attrs.condition).toBe("policy-violation");
    expect((await early).attrs.condition).toBe("policy-violation");
  });

  it("ends the session on a stream error with remote-stream-error and the error (XEP-0206 §6)", async () => {
    const [romeo] = await accounts(t, "romeo");
    const c = await BoshClient.create(url);
    await c.login(romeo!, "same");
    const held = c.send();
    const tcp = await Im.login(t.port, romeo!, "same"); // replaces the BOSH session: conflict
    const end = await held;
    expect(end.attrs).toMatchObject({ type: "terminate", condition: "remote-stream-error", "xmlns:stream": NS.stream });
    expect(end.getChild("error", NS.stream)!.getChild("conflict", NS.streams)).toBeDefined();
    await tcp.stop();
  });

  it("ends on type='terminate' with the unavailable presence it carries (§13)", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    await given(t, romeo!, juliet!, "both");
    await given(t, juliet!, romeo!, "both");
    const j = await Im.login(t.port, juliet!, "desk");
    j.send(presence());
    const c = await BoshClient.create(url);
    await c.login(romeo!, "tab");
    await c.send(`<presence xmlns='jabber:client'/>`);
    await j.next((e) => e.name === "presence" && e.attrs.from === c.jid && e.attrs.type === undefined, "Romeo online");
    const before = await openBosh();
    const end = await c.terminate();
    expect(end.attrs.type).toBe("terminate");
    expect(end.attrs.condition).toBeUndefined();
    await j.next((e) => e.name === "presence" && e.attrs.from === c.jid && e.attrs.type === "unavailable", "Romeo gone");
    expect(await openBosh()).toBe(before - 1);
    expect((await post(url, c.wrap(""))).body!.attrs.condition).toBe("item-not-found");
    await j.stop();
  });

  it("refuses a body larger than a stanza may be (HTTP 413)", async () => {
    const c = await BoshClient.create(url);
    const huge = `<message xmlns='jabber:client'><body>${"x".repeat(t.server.config.limits.stanzaSize * 4 + 2048)}</body></message>`;
    const a = await post(url, c.wrap(huge, {}, c.rid));
    expect(a.status).toBe(413);
    // The request was not read: its request id is still the one expected.
    expect((await c.terminate()).attrs.type).toBe("terminate");
  });

  it("over plain http:// offers no way to authenticate while TLS is required", async () => {
    const c = await BoshClient.create(`http://127.0.0.1:${t.server.ports.http}/http-bind`);
    expect(c.created.getChild("features", NS.stream)!.getChild("mechanisms")).toBeUndefined();
    await c.terminate();
  });

  it("answers a CORS preflight from any page by default, and is named in host-meta (XEP-0156)", async () => {
    const pre = await fetch(url, { method: "OPTIONS", headers: { origin: "https://chat.example.org", "access-control-request-method": "POST", "access-control-request-headers": "content-type" } });
    expect(pre.status).toBe(200);
    expect(pre.headers.get("access-control-allow-origin")).toBe("*");
    expect(pre.headers.get("access-control-allow-methods")).toBe("POST, OPTIONS");
    expect(pre.headers.get("access-control-allow-headers")).toBe("Content-Type");
    const base = `https://localhost:${t.server.ports.https}`;
    const json = (await (await fetch(`${base}/.well-known/host-meta.json`)).json()) as { links: { rel: string; href: string }[] };
    expect(json.links).toContainEqual({ rel: "urn:xmpp:alt-connections:xbosh", href: `${base}/http-bind` });
    const xrd = parse(await (await fetch(`${base}/.well-known/host-meta`)).text()) as Element;
    expect(xrd.getChildren("Link").map((l) => l.attrs)).toContainEqual({ rel: "urn:xmpp:alt-connections:xbosh", href: `${base}/http-bind` });
  });
});

describe("BOSH with short timers and one allowed origin", () => {
  let s: TestServer;
  let surl: string;
  const ORIGIN = "https://chat.example.org";
  beforeAll(async () => {
    s = await startServer({ config: { http: { host: "127.0.0.1", tlsHost: "127.0.0.1", bosh: { maxWait: 1, maxInactivity: 2, maxPause: 4, allowedOrigins: [ORIGIN] } } } });
    surl = `https://localhost:${s.server.ports.https}/http-bind`;
  });
  afterAll(() => s.stop());

  it("ends a session without a request for 'inactivity' seconds: its stream is dropped and its resource unbound (§10)", async () => {
    const [romeo] = await accounts(s, "romeo");
    const c = await BoshClient.create(surl);
    expect(c.created.attrs).toMatchObject({ wait: "1", inactivity: "2", maxpause: "4" });
    await c.login(romeo!, "tab");
    const bound = () => [...s.server.sessions.all()].filter((x) => x.jid.toString() === c.jid).length;
    expect(bound()).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 2600));
    expect((await s.server.openConnections()).bosh).toBe(0);
    expect(bound()).toBe(0);
    expect((await post(surl, c.wrap(""))).body!.attrs.condition).toBe("item-not-found");
  });

  it("a session that enabled stream management over BOSH, gone quiet, resumes over TCP with what it had not acknowledged", async () => {
    const [romeo, juliet] = await accounts(s, "romeo", "juliet");
    const r = await Im.login(s.port, romeo!, "desk");
    const c = await BoshClient.create(surl);
    await c.login(juliet!, "tab");
    await c.send(`<enable xmlns='${NS.sm}' resume='true'/>`);
    const enabled = await c.next((e) => e.name === "enabled", "enabled");
    r.send(xml("message", { to: c.jid, type: "chat" }, xml("body", null, "while the tab sleeps")));
    await c.next((e) => e.name === "message", "the message, over BOSH");
    // No more requests: after 'inactivity' the stream is dropped and the session waits to be resumed.
    await expect.poll(() => [...s.server.sessions.all()].some((x) => x.jid.toString() === c.jid && x.detached), { timeout: 4000 }).toBe(true);
    expect((await s.server.openConnections()).bosh).toBe(0);
    const { c: tcp, reply } = await SmClient.resume(s.port, juliet!, enabled.attrs.id!, 0);
    expect(reply.name).toBe("resumed");
    const replayed = await tcp.next((e) => e.name === "message", "the unacknowledged message, replayed");
    expect(replayed.getChildText("body")).toBe("while the tab sleeps");
    tcp.cut();
    await r.stop();
  });

  it("lets a client pause for longer than 'inactivity', up to maxpause (§10)", async () => {
    const [romeo] = await accounts(s, "romeo");
    const c = await BoshClient.create(surl);
    await c.login(romeo!, "tab");
    const paused = await c.send("", { pause: 4 });
    expect(paused.toString()).toBe(`<body xmlns="${HTTPBIND}"/>`);
    await new Promise((resolve) => setTimeout(resolve, 2600));
    await c.send(ping("still"));
    expect((await c.next((e) => e.attrs.id === "still", "the ping's result")).attrs.type).toBe("result");
    await c.terminate();
  });

  it("serves the allowed origin's pages, and no other's", async () => {
    const pre = await fetch(surl, { method: "OPTIONS", headers: { origin: ORIGIN, "access-control-request-method": "POST" } });
    expect(pre.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    expect(pre.headers.get("vary")).toBe("Origin");
    const create = `<body xmlns='${HTTPBIND}' rid='100' to='localhost' wait='1' hold='1' xmpp:version='1.0' xmlns:xmpp='urn:xmpp:xbosh'/>`;
    const allowed = await post(surl, create, { headers: { origin: ORIGIN } });
    expect(allowed.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    expect(allowed.body!.attrs.sid).toMatch(/.+/);
    const other = await post(surl, create, { headers: { origin: "https://evil.example" } });
    expect(other.status).toBe(403);
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("BOSH behind a TLS-ending proxy, with tight bounds", () => {
  let s: TestServer;
  let purl: string;
  beforeAll(async () => {
    s = await startServer({ config: { http: { host: "127.0.0.1", tlsHost: "127.0.0.1", secureProxy: true, bosh: { maxSessionsPerAddress: 1, requestsPerSecond: 2 } } } });
    purl = `http://127.0.0.1:${s.server.ports.http}/http-bind`;
  });
  afterAll(() => s.stop());

  const create = (rid: number, from: string) =>
    post(purl, `<body xmlns='${HTTPBIND}' rid='${rid}' to='localhost' wait='5' hold='1' xmpp:version='1.0' xmlns:xmpp='urn:xmpp:xbosh'/>`, { headers: { "x-forwarded-for": `10.9.9.9, ${from}` } });

  it("counts sessions by the address the proxy forwards, and refuses one too many with policy-violation", async () => {
    const first = await create(1, "192.0.2.1");
    expect(first.body!.attrs.sid).toMatch(/.+/);
    expect((await create(1, "192.0.2.2")).body!.attrs.sid).toMatch(/.+/);
    expect((await create(1, "192.0.2.1")).body!.attrs).toMatchObject({ type: "terminate", condition: "policy-violation" });
    // Over plain HTTP behind the proxy the session is secure: it may authenticate.
    expect((parse(first.text) as Element).getChild("features", NS.stream)!.getChild("mechanisms", NS.sasl)).toBeDefined();
  });

  it("makes a session's requests beyond requestsPerSecond (after its burst) wait their turn", async () => {
    const c = await BoshClient.create(purl.replace("127.0.0.1", "localhost"));
    const started = Date.now();
    // A burst of ten requests at once (at least), then two a second.
    for (let i = 0; i < 12; i++) {
      await c.send(ping(`r${i}`));
      await c.next((e) => e.attrs.id === `r${i}`, `the result of r${i}`);
    }
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    await c.terminate();
  });
});

describe("a server that stops", () => {
  it("ends its BOSH sessions: a held request gets remote-stream-error with system-shutdown, and the stop does not wait for it", async () => {
    const p = await startServer({ users: { romeo: "pw" } });
    const c = await BoshClient.create(`https://localhost:${p.server.ports.https}/http-bind`);
    await c.login("romeo", "tab");
    const held = c.send();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    await p.stop();
    const end = await held;
    expect(end.attrs).toMatchObject({ type: "terminate", condition: "remote-stream-error" });
    expect(end.getChild("error", NS.stream)!.getChild("system-shutdown", NS.streams)).toBeDefined();
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
