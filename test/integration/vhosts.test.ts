// Virtual hosts over real sockets: one server serves a.example (its `domain`) and b.example (in
// `hosts`), each with its own accounts, admins, registration policy, certificate and services.
// Alice of a.example and Alice of b.example are two people; Alice (a) writes to Bob (b) and they
// subscribe to each other's presence, all inside the one server; a stream to c.example gets
// host-unknown; registration is open on a.example and by invitation only on b.example; a.example's
// admin runs the XEP-0133 commands on a.example only, b.example's boss on b.example only; each host presents
// its own certificate (SNI, STARTTLS 'to') and has its own conference, pubsub and upload services.
// Then the operator's side (the admin socket's adduser, users and sessions; a reload of the admins;
// the configuration check), the login throttle per account of each host, and federation from a
// further host to another server.
import { X509Certificate } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { parseJid } from "../../src/xml/jid.ts";
import { adminRequest } from "../../src/ops/admin-client.ts";
import { serverSchema } from "../../src/core/config.ts";
import { parseShape } from "../../src/core/schema.ts";
import { MemoryStorage } from "../../src/storage/memory.ts";
import { XmppServer } from "../../src/server.ts";
import { TestPki, presented, type Issued } from "../helpers/pki.ts";
import { FEATURES, OPEN, RawClient } from "../helpers/raw.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { errorOf, Im, isPush, pushedItem } from "../helpers/im.ts";

const A = "a.example";
const B = "b.example";
const CMDS = "http://jabber.org/protocol/commands";
const ADMIN = "http://jabber.org/protocol/admin";
const ITEMS = "http://jabber.org/protocol/disco#items";
const INFO = "http://jabber.org/protocol/disco#info";
const MUC = "http://jabber.org/protocol/muc";
const USER = "http://jabber.org/protocol/muc#user";
const REGISTER = "jabber:iq:register";
const X = "jabber:x:data";

let pki: TestPki;
let dir: string;
let t: TestServer;
const certs: Record<"a" | "b", Issued> = {} as never;
const open: Im[] = [];
const isMessage = (body: string) => (el: Element) => el.name === "message" && el.getChildText("body") === body;

const fingerprint = (c: Issued) => new X509Certificate(c.cert).fingerprint256;

/** `user@domain/r` logged in over STARTTLS to `domain` (password `pw` unless given). */
async function login(user: string, domain: string, password = "pw", resource = "r"): Promise<Im> {
  const im = await Im.login(t.port, user, resource, { domain, password });
  open.push(im);
  return im;
}

async function create(domain: string, user: string, password = "pw"): Promise<void> {
  await t.server.hosts.get(domain)!.accounts.create(user, password);
}

beforeAll(async () => {
  pki = new TestPki();
  dir = mkdtempSync(join(tmpdir(), "xmppd-vhosts-"));
  const live = join(dir, "certs");
  mkdirSync(live);
  // Prosody's layout: each certificate covers its host and the host's service subdomains.
  for (const [k, d] of [["a", A], ["b", B]] as const) {
    certs[k] = pki.issue({ cn: d, san: [`DNS:${d}`, `DNS:*.${d}`] });
    writeFileSync(join(live, `${d}.crt`), certs[k].cert);
    writeFileSync(join(live, `${d}.key`), certs[k].key);
  }
  t = await startServer({
    config: {
      domain: A, admins: [`admin@${A}`], registration: { enabled: true },
      hosts: { [B]: { admins: [`boss@${B}`], registration: { enabled: false } } },
      tls: { directory: live },
      modules: { adhoc: { sessionsPerRequester: 100 } },
    },
  });
  await create(A, "alice", "alice-of-a");
  await create(B, "alice", "alice-of-b");
  await create(B, "bob");
  await create(A, "admin");
  await create(B, "boss");
});

afterAll(async () => {
  await Promise.all(open.map((c) => c.stop().catch(() => {})));
  await t?.stop();
  pki?.remove();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("accounts per host", () => {
  it("alice@a.example and alice@b.example are two accounts, each with its own password", async () => {
    expect(await t.server.hosts.get(A)!.accounts.list()).toEqual(expect.arrayContaining([`alice@${A}`, `admin@${A}`]));
    expect(await t.server.hosts.get(A)!.accounts.list()).not.toContain(`alice@${B}`);
    const a = await login("alice", A, "alice-of-a");
    const b = await login("alice", B, "alice-of-b");
    expect(a.jid).toBe(`alice@${A}/r`);
    expect(b.jid).toBe(`alice@${B}/r`);
    // Each password opens its own host's account only.
    await expect(login("alice", B, "alice-of-a")).rejects.toThrow(/not-authorized/);
    await expect(login("alice", A, "alice-of-b")).rejects.toThrow(/not-authorized/);
  });

  it("a stream to a.example cannot log in as a user of b.example", async () => {
    const c = await RawClient.connect(t.tlsPort, true, undefined, { servername: A });
    c.send(OPEN(A));
    await c.expect(FEATURES);
    // bob exists only on b.example; his password gets nowhere on a.example's stream.
    expect(await c.scram("bob", "pw")).toMatch(/<failure[\s\S]*not-authorized/);
    // Nor does naming him as the authorization identity.
    const plain = Buffer.from(`bob@${B}\0bob\0pw`).toString("base64");
    c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${plain}</auth>`);
    expect(await c.expect(/<failure[\s\S]*?<\/failure>/)).toMatch(/invalid-authzid|not-authorized/);
    c.socket.destroy();
  });

  it("a stream to a domain the server does not host gets host-unknown", async () => {
    const c = await RawClient.connect(t.port);
    c.send(OPEN("c.example"));
    await c.expect("<host-unknown");
    await c.closedByServer();
    // The header names a hosted domain, answered from it.
    const ok = await RawClient.connect(t.port);
    ok.send(OPEN(B));
    expect(await ok.expect(/<stream:stream[^>]*>/)).toContain(`from='${B}'`);
    await ok.expect(FEATURES);
    ok.socket.destroy();
  });

  it("`adduser` through the admin socket takes any hosted domain, and refuses others; `users` and `sessions` list every host's", async () => {
    const socket = join(t.dataDir, "admin.sock");
    expect(await adminRequest(socket, "adduser", [`carol@${B}`, "carol-pw"])).toEqual({ created: `carol@${B}` });
    expect(await adminRequest(socket, "adduser", ["carol", "carol-pw"])).toEqual({ created: `carol@${A}` });
    await expect(adminRequest(socket, "adduser", ["carol@c.example", "pw"])).rejects.toThrow(/c\.example is not a domain of this server/);
    const users = await adminRequest(socket, "users", []) as string[];
    expect(users).toEqual(expect.arrayContaining([`carol@${A}`, `carol@${B}`, `alice@${A}`, `alice@${B}`, `bob@${B}`]));
    await login("carol", B, "carol-pw");
    // `sessions` lists the sessions of every host (Alice of each logged in above).
    const sessions = (await adminRequest(socket, "sessions", [])) as { jid: string }[];
    expect(sessions.map((x) => x.jid)).toEqual(expect.arrayContaining([`alice@${A}/r`, `alice@${B}/r`, `carol@${B}/r`]));
  });
});

describe("between hosts, inside the server", () => {
  it("Alice (a.example) writes to Bob (b.example), who answers", async () => {
    const alice = await login("alice", A, "alice-of-a", "chat");
    const bob = await login("bob", B, "pw", "chat");
    alice.send(xml("presence"));
    await alice.next((el) => el.name === "presence" && el.attrs.from === alice.jid, "her own presence");
    alice.send(xml("message", { to: `bob@${B}/chat`, type: "chat", id: "m1" }, xml("body", null, "hello from a")));
    const got = await bob.next((el) => el.name === "message" && el.getChildText("body") === "hello from a");
    expect(got.attrs.from).toBe(`alice@${A}/chat`);
    bob.send(xml("message", { to: `alice@${A}`, type: "chat" }, xml("body", null, "hello from b")));
    expect((await alice.next((el) => el.name === "message" && el.getChildText("body") === "hello from b")).attrs.from).toBe(`bob@${B}/chat`);
  });

  it("over WebSocket too (RFC 7395): Bob opens to b.example and gets Alice's message", async () => {
    const bob = await Im.login(t.port, "bob", "web", { domain: B, service: `wss://127.0.0.1:${t.server.ports.https}/xmpp-websocket` });
    open.push(bob);
    expect(bob.jid).toBe(`bob@${B}/web`);
    const alice = await login("alice", A, "alice-of-a", "ws");
    alice.send(xml("message", { to: `bob@${B}/web`, type: "chat" }, xml("body", null, "over websocket")));
    expect((await bob.next(isMessage("over websocket"))).attrs.from).toBe(`alice@${A}/ws`);
  });

  it("Alice (a) subscribes to Bob's (b) presence; Bob approves; Alice sees him online", async () => {
    const alice = await login("alice", A, "alice-of-a", "sub");
    const bob = await login("bob", B, "pw", "sub");
    // Both ask for their rosters (RFC 6121 §2.1.6: pushes go to the resources that did) and come online.
    for (const c of [alice, bob]) {
      expect((await c.ask(xml("iq", { type: "get" }, xml("query", { xmlns: "jabber:iq:roster" })))).attrs.type).toBe("result");
      c.send(xml("presence"));
    }
    alice.send(xml("presence", { to: `bob@${B}`, type: "subscribe" }));
    const request = await bob.next((el) => el.name === "presence" && el.attrs.type === "subscribe");
    expect(request.attrs.from).toBe(`alice@${A}`);
    bob.send(xml("presence", { to: `alice@${A}`, type: "subscribed" }));
    await alice.next((el) => isPush(`bob@${B}`)(el) && el.getChild("query")!.getChild("item")!.attrs.subscription === "to", "roster push: subscription to");
    expect((await pushedItem(bob, `alice@${A}`)).subscription).toBe("from");
    const online = await alice.next((el) => el.name === "presence" && el.attrs.from === `bob@${B}/sub` && el.attrs.type === undefined);
    expect(online.attrs.to).toContain(`alice@${A}`);
  });

  it("each host's conference service has its rooms; a user of either host joins a room of the other", async () => {
    const alice = await login("alice", A, "alice-of-a", "muc");
    const bob = await login("bob", B, "pw", "muc");
    const enter = async (c: Im, room: string, nick: string) => {
      c.send(xml("presence", { to: `${room}/${nick}` }, xml("x", { xmlns: MUC })));
      return c.next((el) => el.name === "presence" && el.attrs.from === `${room}/${nick}` && el.getChild("x", USER)?.getChildren("status").some((s) => s.attrs.code === "110") === true, `self-presence in ${room}`);
    };
    const onA = `tea@conference.${A}`;
    const onB = `coffee@conference.${B}`;
    // Instant rooms (XEP-0045 §10.1.2): the owner accepts the default configuration.
    const instant = async (owner: Im, room: string, nick: string) => {
      await enter(owner, room, nick);
      const r = await owner.ask(xml("iq", { type: "set", to: room }, xml("query", { xmlns: `${MUC}#owner` }, xml("x", { xmlns: X, type: "submit" }))));
      expect(r.attrs.type, r.toString()).toBe("result");
    };
    await instant(alice, onA, "alice");
    await instant(bob, onB, "bob");
    await enter(bob, onA, "bob");
    alice.send(xml("message", { to: onA, type: "groupchat" }, xml("body", null, "welcome, b")));
    expect((await bob.next((el) => el.name === "message" && el.getChildText("body") === "welcome, b")).attrs.from).toBe(`${onA}/alice`);
    // Each service lists its own rooms only.
    const roomsOf = async (service: string) => (await alice.ask(xml("iq", { type: "get", to: service }, xml("query", { xmlns: ITEMS }))))
      .getChild("query")!.getChildren("item").map((i) => i.attrs.jid);
    expect(await roomsOf(`conference.${A}`)).toEqual([onA]);
    expect(await roomsOf(`conference.${B}`)).toEqual([onB]);
  });

  it("disco#items of each host lists its own services", async () => {
    const alice = await login("alice", A, "alice-of-a", "disco");
    const itemsOf = async (host: string) => (await alice.ask(xml("iq", { type: "get", to: host }, xml("query", { xmlns: ITEMS }))))
      .getChild("query")!.getChildren("item").map((i) => i.attrs.jid).sort();
    for (const [mine, other] of [[A, B], [B, A]] as const) {
      const items = await itemsOf(mine);
      expect(items).toEqual(expect.arrayContaining([`conference.${mine}`, `pubsub.${mine}`, `upload.${mine}`, `proxy.${mine}`]));
      expect(items.filter((j) => j!.endsWith(other))).toEqual([]);
    }
    // b.example's upload service answers, for b.example's accounts only.
    const info = await alice.ask(xml("iq", { type: "get", to: `upload.${B}` }, xml("query", { xmlns: INFO })));
    expect(info.attrs.type).toBe("result");
    const slot = await alice.ask(xml("iq", { type: "get", to: `upload.${B}` }, xml("request", { xmlns: "urn:xmpp:http:upload:0", filename: "a.txt", size: "3" })));
    expect(errorOf(slot)).toBe("not-allowed");
    const own = await alice.ask(xml("iq", { type: "get", to: `upload.${A}` }, xml("request", { xmlns: "urn:xmpp:http:upload:0", filename: "a.txt", size: "3" })));
    expect(own.attrs.type, own.toString()).toBe("result");
  });
});

describe("registration per host (XEP-0077)", () => {
  /** A direct TLS stream to `domain`, its features read. */
  async function stream(domain: string): Promise<{ c: RawClient; features: string }> {
    const c = await RawClient.connect(t.tlsPort, true, undefined, { servername: domain });
    c.send(OPEN(domain));
    return { c, features: await c.expect(FEATURES) };
  }
  const iq = (type: string, ...children: string[]) => `<iq type='${type}' id='reg'><query xmlns='${REGISTER}'>${children.join("")}</query></iq>`;

  it("a.example offers registration and creates an account there", async () => {
    const { c, features } = await stream(A);
    expect(features).toContain("http://jabber.org/features/iq-register");
    c.send(iq("set", "<username>dave</username>", "<password>dave-pw</password>"));
    expect(await c.expect(/<iq[^>]*id=["']reg["'][^>]*>/)).toMatch(/type=["']result["']/);
    c.socket.destroy();
    expect(await t.server.hosts.get(A)!.accounts.exists("dave")).toBe(true);
    expect(await t.server.hosts.get(B)!.accounts.exists("dave")).toBe(false);
    await login("dave", A, "dave-pw");
  });

  it("b.example's is closed: registration there is by invitation only (invite.test.ts), a submission without one is forbidden", async () => {
    const { c, features } = await stream(B);
    // XEP-0445 §3: the invitation module offers its token feature on every host.
    expect(features).toContain("urn:xmpp:ibr-token:0");
    c.send(iq("get"));
    expect(await c.expect(/<iq[\s\S]*?<\/iq>/)).toMatch(/<instructions>Registration on this server is by invitation/);
    c.send(iq("set", "<username>dave</username>", "<password>dave-pw</password>"));
    expect(await c.expect(/<iq[\s\S]*?<\/iq>/)).toMatch(/type=["']error["'][\s\S]*forbidden/);
    c.socket.destroy();
    expect(await t.server.hosts.get(B)!.accounts.exists("dave")).toBe(false);
  });
});

describe("admins per host (XEP-0133)", () => {
  const command = (host: string, node: string, attrs: Record<string, string | undefined> = {}, ...payload: Element[]) =>
    xml("iq", { type: "set", to: host }, xml("command", { xmlns: CMDS, node: `${ADMIN}#${node}`, ...attrs }, ...payload));
  const submit = (fields: Record<string, string>) =>
    xml("x", { xmlns: X, type: "submit" }, Object.entries({ FORM_TYPE: ADMIN, ...fields }).map(([k, v]) => xml("field", { var: k }, xml("value", null, v))));
  async function run(im: Im, host: string, node: string, fields: Record<string, string>): Promise<Element> {
    const first = await im.ask(command(host, node, { action: "execute" }));
    if (first.attrs.type !== "result") return first;
    const sessionid = first.getChild("command", CMDS)!.attrs.sessionid;
    return im.ask(command(host, node, { sessionid, action: "execute" }, submit(fields)));
  }
  const listed = async (im: Im, host: string) => (await im.ask(xml("iq", { type: "get", to: host }, xml("query", { xmlns: ITEMS, node: CMDS }))))
    .getChild("query")!.getChildren("item").map((i) => i.attrs.node);

  it("a.example's admin sees and runs the commands at a.example only", async () => {
    const admin = await login("admin", A);
    expect(await listed(admin, A)).toContain(`${ADMIN}#add-user`);
    expect(await listed(admin, B)).toEqual([]);
    const done = await run(admin, A, "add-user", { accountjid: `erin@${A}`, password: "erin-pw" });
    expect(done.attrs.type, done.toString()).toBe("result");
    expect(await t.server.hosts.get(A)!.accounts.exists("erin")).toBe(true);
    const refused = await run(admin, B, "add-user", { accountjid: `erin@${B}`, password: "erin-pw" });
    expect(errorOf(refused)).toBe("forbidden");
    expect(await t.server.hosts.get(B)!.accounts.exists("erin")).toBe(false);
  });

  it("b.example's boss runs them at b.example, on b.example's accounts only", async () => {
    const boss = await login("boss", B);
    const done = await run(boss, B, "add-user", { accountjid: `frank@${B}`, password: "frank-pw" });
    expect(done.attrs.type, done.toString()).toBe("result");
    expect(await t.server.hosts.get(B)!.accounts.exists("frank")).toBe(true);
    // An account of the other host, asked at its own: not-acceptable (XEP-0004 §4).
    expect(errorOf(await run(boss, B, "add-user", { accountjid: `frank@${A}`, password: "x" }))).toBe("not-acceptable");
    expect(errorOf(await run(boss, A, "add-user", { accountjid: `frank@${A}`, password: "x" }))).toBe("forbidden");
    const count = await boss.ask(command(B, "get-registered-users-num", { action: "execute" }));
    const n = count.getChild("command", CMDS)!.getChild("x", X)!.getChildren("field").find((f) => f.attrs.var === "registeredusersnum")!.getChildText("value");
    // b.example's accounts are counted, not a.example's.
    expect(Number(n)).toBe((await t.server.hosts.get(B)!.accounts.list()).length);
  });
});

describe("a certificate per host", () => {
  const presentedFor = (servername: string) => presented(t.tlsPort, servername);


  it("by SNI on direct TLS, for each host and its services", async () => {
    expect(await presentedFor(A)).toBe(fingerprint(certs.a));
    expect(await presentedFor(B)).toBe(fingerprint(certs.b));
    expect(await presentedFor(`conference.${B}`)).toBe(fingerprint(certs.b));
    expect(await presentedFor(`upload.${A}`)).toBe(fingerprint(certs.a));
  });

  it("by the stream's 'to' on STARTTLS", async () => {
    for (const [domain, cert] of [[A, certs.a], [B, certs.b]] as const) {
      const c = await RawClient.connect(t.port);
      c.send(OPEN(domain));
      await c.expect(FEATURES);
      await c.startTls({ servername: undefined });
      expect((c.socket as TLSSocket).getPeerCertificate().fingerprint256).toBe(fingerprint(cert));
      c.socket.destroy();
    }
  });
});

describe("without certificates", () => {
  it("the self-signed one made at first start names every host and its subdomains", async () => {
    const s = await startServer({ config: { domain: A, hosts: { [B]: {} } } });
    try {
      const sock = tlsConnect({ host: "127.0.0.1", port: s.tlsPort, rejectUnauthorized: false, servername: B });
      await new Promise<void>((resolve, reject) => {
        sock.once("secureConnect", resolve);
        sock.once("error", reject);
      });
      const names = sock.getPeerCertificate().subjectaltname;
      sock.destroy();
      for (const n of [A, `*.${A}`, B, `*.${B}`]) expect(names).toContain(`DNS:${n}`);
    } finally {
      await s.stop();
    }
  });
});

describe("the login throttle", () => {
  /** A SCRAM attempt as alice on a direct TLS stream to `domain` from `address`; its answer and how long it took. */
  async function attempt(domain: string, password: string, address: string): Promise<{ answer: string; ms: number }> {
    const c = await RawClient.connect(t.tlsPort, true, address, { servername: domain });
    c.send(OPEN(domain));
    await c.expect(FEATURES);
    const started = Date.now();
    const answer = await c.scram("alice", password);
    c.socket.destroy();
    return { answer, ms: Date.now() - started };
  }

  it("slows down the account that failed, not the same name on the other host", async () => {
    // auth.failuresPerAccount (5) wrong passwords for alice@a.example...
    for (let i = 0; i < 5; i++) expect((await attempt(A, "wrong", "127.0.0.2")).answer).toMatch(/not-authorized/);
    // ...and her next attempt waits its turn (a second after the last), from any address.
    const slowed = await attempt(A, "alice-of-a", "127.0.0.3");
    expect(slowed.answer).toMatch(/^<success/);
    expect(slowed.ms).toBeGreaterThanOrEqual(900);
    // alice@b.example is another account: no wait.
    const other = await attempt(B, "alice-of-b", "127.0.0.4");
    expect(other.answer).toMatch(/^<success/);
    expect(other.ms).toBeLessThan(900);
  });
});

describe("reload", () => {
  it("applies each host's admins; a new host needs a restart", async () => {
    const file = join(t.dataDir, "config.json");
    const config = JSON.parse(readFileSync(file, "utf8")) as { hosts: Record<string, { admins: string[] }> };
    config.hosts[B]!.admins = [`boss@${B}`, `deputy@${B}`];
    writeFileSync(file, JSON.stringify(config));
    expect(await t.server.reload()).toEqual({ applied: [expect.stringMatching(/^tls/), `admins (${A}: 1, ${B}: 2)`], restartNeeded: [] });
    expect(t.server.isAdmin(parseJid(`deputy@${B}`))).toBe(true);
    expect(t.server.isAdmin(parseJid(`deputy@${B}`), A)).toBe(false);
    config.hosts["c.example"] = { admins: [] };
    writeFileSync(file, JSON.stringify(config));
    expect((await t.server.reload()).restartNeeded).toEqual(["hosts.c.example"]);
    expect(t.server.hosts.has("c.example")).toBe(false);
  });
});

describe("the configuration check", () => {
  const made = ({ modules = {}, ...raw }: Record<string, unknown>) => () =>
    new XmppServer({ server: parseShape(serverSchema, raw), modules: modules as Record<string, unknown>, path: undefined }, { storage: new MemoryStorage() });

  it("refuses a host that is the domain, and an external component on a host or its services", () => {
    expect(made({ domain: A, hosts: { [A]: {} } })).toThrow(`hosts: ${A} is the domain already`);
    const secret = "a-secret-of-sixteen-chars";
    expect(made({ domain: A, hosts: { [B]: {} }, components: [{ domain: B, secret }] })).toThrow(`components: ${B} is a hosted domain (hosts.${B})`);
    expect(made({ domain: A, hosts: { [B]: {} }, components: [{ domain: `conference.${B}`, secret }] })).toThrow(`components: conference.${B} is the domain of module muc on ${B}`);
    expect(made({ domain: A, hosts: { [B]: {} }, components: [{ domain: `gateway.${B}`, secret }] })).not.toThrow();
    // A host that is another host's service, or a service renamed onto another host's.
    expect(made({ domain: A, hosts: { [`conference.${A}`]: {} } })).toThrow(`conference.${A} is a hosted domain (hosts.conference.${A}) and the domain of module muc (modules.muc.domain)`);
    expect(made({ domain: A, hosts: { [B]: {} }, modules: { pubsub: { domain: `pubsub.${B}` } } })).toThrow(`pubsub.${B} is the domain of module pubsub (modules.pubsub.domain) and the domain of module pubsub on ${B}`);
  });

  it("names every host's services among the names served (certificates, ACME)", () => {
    const names = made({ domain: A, hosts: { [B]: {} } })().servedNames();
    for (const d of [A, B]) for (const n of [d, `conference.${d}`, `upload.${d}`, `pubsub.${d}`, `proxy.${d}`]) expect(names).toContain(n);
  });
});

describe("federation from a virtual host (RFC 6120 server-to-server, XEP-0220 dialback)", () => {
  let x: TestServer;
  let y: TestServer;
  afterAll(async () => {
    await x?.stop();
    await y?.stop();
  });

  it("Bob of b.example (a further host of x) and Carol of c.test (server y) chat both ways", async () => {
    const s2s = { enabled: true, host: "127.0.0.1", routes: {}, connectTimeout: 5 };
    x = await startServer({ config: { domain: A, hosts: { [B]: {} }, s2s } });
    y = await startServer({ config: { domain: "c.test", s2s }, users: { carol: "pw" } });
    await x.server.hosts.get(B)!.accounts.create("bob", "pw");
    // Static routes instead of DNS: each server's peers at the other's S2S listener.
    x.server.config.s2s.routes["c.test"] = `127.0.0.1:${y.server.ports.s2s}`;
    for (const d of [A, B]) y.server.config.s2s.routes[d] = `127.0.0.1:${x.server.ports.s2s}`;
    const bob = await Im.login(x.port, "bob", "r", { domain: B, timeoutMs: 10_000 });
    const carol = await Im.login(y.port, "carol", "r", { domain: "c.test", timeoutMs: 10_000 });
    open.push(bob, carol);
    bob.send(xml("message", { to: "carol@c.test/r", type: "chat" }, xml("body", null, "from a virtual host")));
    expect((await carol.next(isMessage("from a virtual host"), "Bob's message", 15_000)).attrs.from).toBe(`bob@${B}/r`);
    carol.send(xml("message", { to: `bob@${B}/r`, type: "chat" }, xml("body", null, "back to it")));
    expect((await bob.next(isMessage("back to it"), "Carol's answer", 15_000)).attrs.from).toBe("carol@c.test/r");
    // The route is b.example's own, with c.test; a.example has none.
    const routes = x.server.federation!.describe();
    expect(routes).toContainEqual(expect.objectContaining({ local: B, remote: "c.test", state: expect.stringMatching(/^ready/) }));
    expect(routes.filter((r: { local: string }) => r.local === A)).toEqual([]);
  });
});
