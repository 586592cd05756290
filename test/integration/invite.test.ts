// Invitations over real sockets, with public registration off: the administrator and Romeo make
// invitations with XEP-0401's ad-hoc commands (the XEP's examples), newcomers present the tokens on
// raw streams and register (XEP-0445 §4's exchange, then XEP-0077), a contact invitation makes the
// newcomer and Romeo contacts, and Benvolio, who has an account already, redeems one with a
// subscription request (XEP-0379). Used, expired, revoked and foreign tokens get the errors the
// XEPs name, or are ignored where XEP-0379 says so. Then a server of two hosts, localhost and
// b.example: b.example's administrator and users invite to b.example, its tokens register there
// and nowhere else, and its contact invitations make contacts of b.example's inviter.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { invitationStores, Invitations } from "../../src/modules/invite/store.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { FEATURES, OPEN, RawClient } from "../helpers/raw.ts";
import { accounts, connect, errorOf, isPush, presence, pushedItem, ROSTER, type Im } from "../helpers/im.ts";

const CMDS = "http://jabber.org/protocol/commands";
const ITEMS = "http://jabber.org/protocol/disco#items";
const X = "jabber:x:data";
const DAY = 86_400_000;

const commandAt = (to: string, node: string, attrs: Record<string, string | undefined> = {}, ...payload: Element[]) =>
  xml("iq", { type: "set", to }, xml("command", { xmlns: CMDS, node, ...attrs }, ...payload));
const command = (node: string, attrs: Record<string, string | undefined> = {}, ...payload: Element[]) => commandAt("localhost", node, attrs, ...payload);
const submit = (fields: Record<string, string>) =>
  xml("x", { xmlns: X, type: "submit" }, Object.entries(fields).map(([k, v]) => xml("field", { var: k }, xml("value", null, v))));
const values = (x: Element) => Object.fromEntries(x.getChildren("field").map((f) => [f.attrs.var, f.getChildText("value")]));
const reply = (id: string) => new RegExp(`<iq[^>]*id="${id}"[^>]*(/>|>[\\s\\S]*?</iq>)`);
const tokenOf = (uri: string) => /preauth=([0-9a-f]+)/.exec(uri)![1]!;

/** A stream to `domain`, after STARTTLS; the features offered then. */
async function streamTo(port: number, domain: string): Promise<{ c: RawClient; features: string }> {
  const c = await RawClient.connect(port);
  c.send(OPEN(domain));
  await c.expect(FEATURES);
  await c.startTls();
  c.send(OPEN(domain));
  return { c, features: await c.expect(FEATURES) };
}

/** XEP-0445 §4, Example 2: the token on a fresh stream (to `domain`) after STARTTLS; the stream and the answer. */
async function present(port: number, token: string, id = "pa1", domain = "localhost"): Promise<{ c: RawClient; answer: string }> {
  const { c } = await streamTo(port, domain);
  c.send(`<iq type='set' to='${domain}' id='${id}'><preauth xmlns='urn:xmpp:pars:0' token='${token}'/></iq>`);
  return { c, answer: await c.expect(reply(id)) };
}

const registerIq = (id: string, username: string, password: string) =>
  `<iq type='set' id='${id}'><query xmlns='jabber:iq:register'><username>${username}</username><password>${password}</password></query></iq>`;

async function register(c: RawClient, username: string, password: string, id = "reg"): Promise<string> {
  c.send(registerIq(id, username, password));
  return c.expect(reply(id));
}

async function loginWorks(port: number, user: string, password: string, domain = "localhost"): Promise<boolean> {
  const { c } = await streamTo(port, domain);
  const r = await c.scram(user, password, "SHA-1");
  c.close();
  return r.startsWith("<success");
}

let t: TestServer;
let strict: TestServer;
let admin: Im;
let romeo: Im;
beforeAll(async () => {
  [t, strict] = await Promise.all([
    startServer({
      users: { admin: "pw", romeo: "pw", benvolio: "pw", tybalt: "pw" },
      config: { admins: ["admin@localhost"], modules: { invite: { usersMayInvite: true, perUser: 3 }, adhoc: { sessionsPerRequester: 100 } } },
    }),
    startServer({ users: { admin: "pw", romeo: "pw" }, config: { admins: ["admin@localhost"] } }),
  ]);
  [admin, romeo] = await Promise.all([connect(t, "admin", "desk"), connect(t, "romeo", "orchard")]);
  // Romeo's client asks for the roster, so it gets roster pushes (RFC 6121 §2.1.6), and goes online.
  await romeo.ask(xml("iq", { type: "get" }, xml("query", { xmlns: ROSTER })));
  romeo.send(presence());
});
afterAll(async () => {
  await Promise.all([admin.stop(), romeo.stop()]);
  await Promise.all([t.stop(), strict.stop()]);
});

/** The administrator's create-account command as XEP-0401 §4.5's examples run it; the invitation form. */
async function createAccount(fields: Record<string, string> = {}): Promise<Record<string, string | null>> {
  const first = await admin.ask(command("urn:xmpp:invite#create-account", { action: "execute" }));
  const sessionid = first.getChild("command", CMDS)!.attrs.sessionid;
  const done = await admin.ask(command("urn:xmpp:invite#create-account", { sessionid }, submit(fields)));
  expect(done.attrs.type, done.toString()).toBe("result");
  return values(done.getChild("command", CMDS)!.getChild("x", X)!);
}

/** A user's invite command (§4.1): completed at once with the invitation form. */
async function inviteAsUser(im: Im): Promise<Element> {
  return im.ask(command("urn:xmpp:invite#invite", { action: "execute" }));
}

describe("discovery", () => {
  it("after STARTTLS the stream offers pre-authenticated registration (XEP-0445 §3) and in-band registration, though public registration is off", async () => {
    const c = await RawClient.connect(t.port);
    c.send(OPEN());
    const plain = await c.expect(FEATURES);
    expect(plain).not.toContain("<register");
    await c.startTls();
    c.send(OPEN());
    const features = await c.expect(FEATURES);
    expect(features).toContain(`<register xmlns="urn:xmpp:ibr-token:0"/>`);
    expect(features).toContain(`<register xmlns="urn:xmpp:invite"/>`);
    expect(features).toContain(`<register xmlns="http://jabber.org/features/iq-register"/>`);
    c.close();
  });

  it("the command list (XEP-0401 §3): the administrator has both commands, Romeo (users may invite here) only #invite; elsewhere Romeo has none", async () => {
    const list = async (im: Im) => (await im.ask(xml("iq", { type: "get", to: "localhost" }, xml("query", { xmlns: ITEMS, node: CMDS }))))
      .getChild("query")!.getChildren("item").filter((i) => i.attrs.node!.startsWith("urn:xmpp:invite")).map((i) => [i.attrs.node, i.attrs.name]);
    expect(await list(admin)).toEqual([["urn:xmpp:invite#invite", "Invite user"], ["urn:xmpp:invite#create-account", "Create account"]]);
    expect(await list(romeo)).toEqual([["urn:xmpp:invite#invite", "Invite user"]]);
    const strictRomeo = await connect(strict, "romeo");
    expect(await list(strictRomeo)).toEqual([]);
    expect(errorOf(await inviteAsUser(strictRomeo))).toBe("forbidden");
    await strictRomeo.stop();
  });
});

describe("an account invitation (XEP-0401 §4.5) redeemed by registration (XEP-0445 §4)", () => {
  it("the form of Example 7; the result of Example 9: a register link for the username chosen, and its expiry", async () => {
    const first = await admin.ask(command("urn:xmpp:invite#create-account", { action: "execute" }));
    const cmd = first.getChild("command", CMDS)!;
    expect(cmd.attrs).toMatchObject({ status: "executing", node: "urn:xmpp:invite#create-account" });
    expect(cmd.getChild("actions")!.toString()).toBe(`<actions execute="complete"><complete/></actions>`);
    const fields = cmd.getChild("x", X)!.getChildren("field").map((f) => [f.attrs.var, f.attrs.type]);
    expect(fields).toEqual([["username", "text-single"], ["roster-subscription", "boolean"]]);
    const done = await admin.ask(command("urn:xmpp:invite#create-account", { sessionid: cmd.attrs.sessionid }, submit({ username: "juliet" })));
    const x = done.getChild("command", CMDS)!.getChild("x", X)!;
    expect(x.attrs.type).toBe("result");
    const form = values(x);
    expect(form.FORM_TYPE).toBe("urn:xmpp:invite#invitation");
    expect(form.uri).toMatch(/^xmpp:juliet@localhost\?register;preauth=[0-9a-f]{30}$/);
    const expires = Date.parse(form.expire!);
    expect(form.expire).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Math.abs(expires - (Date.now() + 7 * DAY))).toBeLessThan(60_000);
    // §6 (Business Rules): no account until the invitee registers.
    expect(await t.server.accounts.exists("juliet")).toBe(false);
  });

  it("Juliet presents the token (Example 2), is answered with a result (Example 3), asks the fields (her name filled in), registers and logs in", async () => {
    const token = tokenOf((await createAccount({ username: "juliet2" })).uri!);
    const { c, answer } = await present(t.port, token);
    expect(answer).toMatch(/^<iq type="result" id="pa1" from="localhost"\/>$/);
    c.send("<iq type='get' id='f'><query xmlns='jabber:iq:register'/></iq>");
    expect(await c.expect(reply("f"))).toContain("<username>juliet2</username>");
    expect(await register(c, "juliet2", "balcony")).toMatch(/^<iq type="result" id="reg"\/>$/);
    expect(await c.scram("juliet2", "balcony", "SHA-1")).toMatch(/^<success/);
    c.close();
  });

  it("another username than the invitation's is not-acceptable; the invitation is not spent by it", async () => {
    const token = tokenOf((await createAccount({ username: "paris" })).uri!);
    const { c } = await present(t.port, token);
    expect(await register(c, "notparis", "pw", "r1")).toContain("<not-acceptable");
    expect(await register(c, "paris", "pw", "r2")).toContain(`type="result"`);
    c.close();
  });

  it("without a username the invitee picks one; a name another open invitation holds is conflict (XEP-0445 §5)", async () => {
    await createAccount({ username: "rosaline" });
    const token = tokenOf((await createAccount()).uri!);
    const { c } = await present(t.port, token);
    expect(await register(c, "rosaline", "pw", "r1")).toContain("<conflict");
    expect(await register(c, "friar", "pw", "r2")).toContain(`type="result"`);
    c.close();
    expect(await loginWorks(t.port, "friar", "pw")).toBe(true);
  });

  it("with roster-subscription (§4.5), the new account and the administrator become contacts, the administrator's client told by a push", async () => {
    await admin.ask(xml("iq", { type: "get" }, xml("query", { xmlns: ROSTER })));
    const token = tokenOf((await createAccount({ username: "nurse", "roster-subscription": "true" })).uri!);
    const { c } = await present(t.port, token);
    expect(await register(c, "nurse", "angelica")).toContain(`type="result"`);
    c.close();
    expect(await pushedItem(admin, "nurse@localhost")).toEqual({ jid: "nurse@localhost", subscription: "both" });
    expect(await t.server.storage.map("roster").get("nurse@localhost", "admin@localhost")).toMatchObject({ subscription: "both" });
  });

  it("a used token: item-not-found with the XEP's text (Example 4), and registering without one is forbidden", async () => {
    const token = tokenOf((await createAccount()).uri!);
    const first = await present(t.port, token);
    expect(await register(first.c, "sampson", "pw")).toContain(`type="result"`);
    first.c.close();
    const { c, answer } = await present(t.port, token, "pa2");
    expect(answer).toBe(`<iq type="error" id="pa2" from="localhost"><error type="cancel"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>` +
      `<text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas" xml:lang="en">The provided token is invalid or expired</text></error></iq>`);
    const r = await register(c, "gregory", "pw");
    expect(r).toContain("<forbidden");
    c.close();
    expect(await loginWorks(t.port, "gregory", "pw")).toBe(false);
  });

  it("two streams with one token: both may present it, only the first registration counts", async () => {
    const token = tokenOf((await createAccount()).uri!);
    const a = await present(t.port, token, "a");
    const b = await present(t.port, token, "b");
    expect(a.answer).toContain(`type="result"`);
    expect(b.answer).toContain(`type="result"`);
    const [ra, rb] = await Promise.all([register(a.c, "abram", "pw", "ra"), register(b.c, "balthasar", "pw", "rb")]);
    expect([ra, rb].filter((r) => r.includes(`type="result"`))).toHaveLength(1);
    expect([ra, rb].filter((r) => r.includes("<forbidden"))).toHaveLength(1);
    a.c.close();
    b.c.close();
  });

  it("an expired token is item-not-found; one that expires between presenting and registering still registers (XEP-0445 §4)", async () => {
    const aWeekAgo = new Invitations(invitationStores(t.server.storage), t.server.hosts, () => Date.now() - 8 * DAY);
    const expired = await aWeekAgo.create({ kind: "account", domain: "localhost", creator: "", ttlMs: 7 * DAY });
    expect((await present(t.port, expired.token)).answer).toContain("<item-not-found");
    const brief = await new Invitations(invitationStores(t.server.storage), t.server.hosts).create({ kind: "account", domain: "localhost", creator: "", ttlMs: 300 });
    const { c, answer } = await present(t.port, brief.token);
    expect(answer).toContain(`type="result"`);
    await new Promise((r) => setTimeout(r, 400));
    expect(await register(c, "latecomer", "pw")).toContain(`type="result"`);
    c.close();
  });

  it("a revoked token is item-not-found", async () => {
    const token = tokenOf((await createAccount()).uri!);
    expect(await new Invitations(invitationStores(t.server.storage), t.server.hosts).revoke(token)).toBe(true);
    expect((await present(t.port, token)).answer).toContain("<item-not-found");
  });

  it("bad requests: before TLS not-authorized, no token bad-request, a get bad-request, after login unexpected-request", async () => {
    const token = tokenOf((await createAccount()).uri!);
    const c = await RawClient.connect(t.port);
    c.send(OPEN());
    await c.expect(FEATURES);
    c.send(`<iq type='set' id='p0'><preauth xmlns='urn:xmpp:pars:0' token='${token}'/></iq>`);
    expect(await c.expect(reply("p0"))).toContain("<not-authorized");
    c.close();
    const { c: s } = await RawClient.stream(t.port);
    s.send(`<iq type='set' id='p1'><preauth xmlns='urn:xmpp:pars:0'/></iq>`);
    expect(await s.expect(reply("p1"))).toContain("<bad-request");
    s.send(`<iq type='get' id='p2'><preauth xmlns='urn:xmpp:pars:0' token='${token}'/></iq>`);
    expect(await s.expect(reply("p2"))).toContain("<bad-request");
    s.close();
    const { c: authed } = await RawClient.authenticated(t.port, "tybalt", "pw");
    authed.send(`<iq type='set' id='p3'><preauth xmlns='urn:xmpp:pars:0' token='${token}'/></iq>`);
    expect(await authed.expect(reply("p3"))).toContain("<unexpected-request");
    authed.close();
    // None of that used it.
    expect((await present(t.port, token)).answer).toContain(`type="result"`);
  });
});

describe("a contact invitation (XEP-0401 §4.1)", () => {
  it("Romeo's invite command completes at once with a roster link that allows registering (ibr=y)", async () => {
    const r = await inviteAsUser(romeo);
    const cmd = r.getChild("command", CMDS)!;
    expect(cmd.attrs.status).toBe("completed");
    const form = values(cmd.getChild("x", X)!);
    expect(form.FORM_TYPE).toBe("urn:xmpp:invite#invitation");
    expect(form.uri).toMatch(/^xmpp:romeo@localhost\?roster;preauth=[0-9a-f]{30};ibr=y$/);
    expect(form.expire).toBeTruthy();
  });

  it("Mercutio registers with it: Romeo gets the roster push at once (§4.6), both rosters say 'both', and presence flows both ways", async () => {
    const token = tokenOf(values((await inviteAsUser(romeo)).getChild("command", CMDS)!.getChild("x", X)!).uri!);
    const { c } = await present(t.port, token);
    expect(await register(c, "mercutio", "queenmab")).toContain(`type="result"`);
    c.close();
    expect(await pushedItem(romeo, "mercutio@localhost")).toEqual({ jid: "mercutio@localhost", subscription: "both" });
    const mercutio = await connect(t, "mercutio", "r", { password: "queenmab" });
    const roster = await mercutio.ask(xml("iq", { type: "get" }, xml("query", { xmlns: ROSTER })));
    expect(roster.getChild("query", ROSTER)!.getChildren("item").map((i) => i.attrs)).toEqual([{ jid: "romeo@localhost", subscription: "both" }]);
    mercutio.send(presence());
    await romeo.next((s) => s.name === "presence" && s.attrs.from === "mercutio@localhost/r" && !s.attrs.type, "Mercutio's presence");
    await mercutio.next((s) => s.name === "presence" && s.attrs.from === "romeo@localhost/orchard" && !s.attrs.type, "Romeo's presence");
    await mercutio.stop();
  });

  it("Benvolio, who has an account, sends the token in his request (XEP-0379 §3.4): approved and asked back at once; Romeo is not asked", async () => {
    const token = tokenOf(values((await inviteAsUser(romeo)).getChild("command", CMDS)!.getChild("x", X)!).uri!);
    const benvolio = await connect(t, "benvolio", "r");
    benvolio.send(presence());
    benvolio.send(xml("presence", { to: "romeo@localhost", type: "subscribe" }, xml("preauth", { xmlns: "urn:xmpp:pars:0", token })));
    await benvolio.next((s) => s.name === "presence" && s.attrs.from === "romeo@localhost" && s.attrs.type === "subscribed", "subscribed");
    await benvolio.next((s) => s.name === "presence" && s.attrs.from === "romeo@localhost/orchard" && !s.attrs.type, "Romeo's presence");
    await benvolio.next((s) => s.name === "presence" && s.attrs.from === "romeo@localhost" && s.attrs.type === "subscribe", "Romeo's request back");
    expect(await pushedItem(romeo, "benvolio@localhost")).toMatchObject({ jid: "benvolio@localhost" });
    // Benvolio approves; Romeo's roster then says "both", and Romeo never saw the request.
    benvolio.send(xml("presence", { to: "romeo@localhost", type: "subscribed" }));
    await romeo.next((el) => isPush("benvolio@localhost")(el) && el.getChild("query", ROSTER)!.getChild("item")!.attrs.subscription === "both", "both");
    await romeo.nothing((s) => s.name === "presence" && s.attrs.type === "subscribe");
    await benvolio.stop();
    // Used once: presented again it no longer registers anyone.
    expect((await present(t.port, token)).answer).toContain("<item-not-found");
  });

  it("a token that is not the contact's own is ignored (XEP-0379 §5.1): the request reaches Tybalt as usual, and the token stays good", async () => {
    const token = tokenOf(values((await inviteAsUser(romeo)).getChild("command", CMDS)!.getChild("x", X)!).uri!);
    const [nurse] = await accounts(t, "nurse");
    const tybalt = await connect(t, "tybalt", "r");
    tybalt.send(presence());
    const n = await connect(t, nurse!, "r");
    n.send(xml("presence", { to: "tybalt@localhost", type: "subscribe" }, xml("preauth", { xmlns: "urn:xmpp:pars:0", token })));
    await tybalt.next((s) => s.name === "presence" && s.attrs.type === "subscribe" && s.attrs.from === `${nurse}@localhost`, "the request");
    await n.nothing((s) => s.name === "presence" && s.attrs.type === "subscribed");
    await Promise.all([tybalt.stop(), n.stop()]);
    expect((await present(t.port, token)).answer).toContain(`type="result"`);
  });
});

describe("limits", () => {
  it("a user has at most perUser open invitations: then resource-constraint (wait); the administrator has no quota", async () => {
    const [user] = await accounts(t, "quota");
    const im = await connect(t, user!, "r");
    for (let i = 0; i < 3; i++) expect((await inviteAsUser(im)).attrs.type).toBe("result");
    const refused = await inviteAsUser(im);
    expect(errorOf(refused)).toBe("resource-constraint");
    expect(refused.getChild("error")!.attrs.type).toBe("wait");
    await im.stop();
    for (let i = 0; i < 4; i++) expect((await inviteAsUser(admin)).attrs.type).toBe("result");
  });

  it("ten unknown tokens from one address in a minute, then resource-constraint even for a good one", async () => {
    const s = await startServer({ users: { admin: "pw" }, config: { admins: ["admin@localhost"] } });
    try {
      const good = await new Invitations(invitationStores(s.server.storage), s.server.hosts).create({ kind: "account", domain: "localhost", creator: "", ttlMs: DAY });
      const { c } = await RawClient.stream(s.port);
      for (let i = 0; i < 10; i++) {
        c.send(`<iq type='set' id='g${i}'><preauth xmlns='urn:xmpp:pars:0' token='guess${i}'/></iq>`);
        expect(await c.expect(reply(`g${i}`))).toContain("<item-not-found");
      }
      c.send(`<iq type='set' id='g10'><preauth xmlns='urn:xmpp:pars:0' token='${good.token}'/></iq>`);
      expect(await c.expect(reply("g10"))).toMatch(/<error type="wait"><resource-constraint/);
      c.close();
    } finally {
      await s.stop();
    }
  });
});


describe("two hosted domains: localhost and b.example (registration closed on both)", () => {
  const B = "b.example";
  let v: TestServer;
  let boss: Im;
  let bob: Im;
  const list = async (im: Im, at: string) => (await im.ask(xml("iq", { type: "get", to: at }, xml("query", { xmlns: ITEMS, node: CMDS }))))
    .getChild("query")!.getChildren("item").map((i) => i.attrs.node).filter((n) => n!.startsWith("urn:xmpp:invite"));
  const formOf = (r: Element) => values(r.getChild("command", CMDS)!.getChild("x", X)!);

  /** create-account run by `im` at `at` (XEP-0401 §4.5); the invitation form. */
  async function createAccountAt(im: Im, at: string, fields: Record<string, string> = {}): Promise<Record<string, string | null>> {
    const first = await im.ask(commandAt(at, "urn:xmpp:invite#create-account", { action: "execute" }));
    const sessionid = first.getChild("command", CMDS)!.attrs.sessionid;
    const done = await im.ask(commandAt(at, "urn:xmpp:invite#create-account", { sessionid }, submit(fields)));
    expect(done.attrs.type, done.toString()).toBe("result");
    return formOf(done);
  }

  beforeAll(async () => {
    v = await startServer({
      users: { admin: "pw", bob: "pw" },
      config: {
        admins: ["admin@localhost"],
        hosts: { [B]: { admins: [`boss@${B}`], registration: { enabled: false } } },
        modules: { invite: { usersMayInvite: true }, adhoc: { sessionsPerRequester: 100 } },
      },
    });
    for (const user of ["boss", "bob"]) await v.server.hosts.get(B)!.accounts.create(user, "pw");
    [boss, bob] = await Promise.all([connect(v, "boss", "desk", { domain: B }), connect(v, "bob", "phone", { domain: B })]);
    await bob.ask(xml("iq", { type: "get" }, xml("query", { xmlns: ROSTER })));
    bob.send(presence());
  });
  afterAll(async () => {
    await Promise.all([boss?.stop(), bob?.stop()]);
    await v?.stop();
  });

  it("a stream to b.example offers pre-authenticated registration (XEP-0445 §3) and in-band registration", async () => {
    const { c, features } = await streamTo(v.port, B);
    expect(features).toContain(`<register xmlns="urn:xmpp:ibr-token:0"/>`);
    expect(features).toContain(`<register xmlns="http://jabber.org/features/iq-register"/>`);
    c.close();
  });

  it("the commands at b.example are its administrator's and users'; at localhost b.example's people have none, nor localhost's at b.example", async () => {
    expect(await list(boss, B)).toEqual(["urn:xmpp:invite#invite", "urn:xmpp:invite#create-account"]);
    expect(await list(bob, B)).toEqual(["urn:xmpp:invite#invite"]);
    expect(await list(boss, "localhost")).toEqual([]);
    expect(errorOf(await boss.ask(commandAt("localhost", "urn:xmpp:invite#create-account", { action: "execute" })))).toBe("forbidden");
    const admin = await connect(v, "admin", "desk");
    expect(await list(admin, B)).toEqual([]);
    expect(errorOf(await admin.ask(commandAt(B, "urn:xmpp:invite#create-account", { action: "execute" })))).toBe("forbidden");
    await admin.stop();
  });

  it("b.example's administrator invites Juliet: the link names b.example; the token is item-not-found at localhost, and registers her at b.example", async () => {
    const form = await createAccountAt(boss, B, { username: "juliet" });
    expect(form.FORM_TYPE).toBe("urn:xmpp:invite#invitation");
    expect(form.uri).toMatch(/^xmpp:juliet@b\.example\?register;preauth=[0-9a-f]{30}$/);
    const token = tokenOf(form.uri!);

    const elsewhere = await present(v.port, token, "pa-a", "localhost");
    expect(elsewhere.answer).toBe(`<iq type="error" id="pa-a" from="localhost"><error type="cancel"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>` +
      `<text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas" xml:lang="en">The provided token is invalid or expired</text></error></iq>`);
    expect(await register(elsewhere.c, "juliet", "balcony")).toContain("<forbidden");
    elsewhere.c.close();
    expect(await v.server.accounts.exists("juliet")).toBe(false);

    const { c, answer } = await present(v.port, token, "pa-b", B);
    expect(answer).toBe(`<iq type="result" id="pa-b" from="${B}"/>`);
    c.send("<iq type='get' id='f'><query xmlns='jabber:iq:register'/></iq>");
    expect(await c.expect(reply("f"))).toContain("<username>juliet</username>");
    expect(await register(c, "juliet", "balcony")).toMatch(/^<iq type="result" id="reg"\/>$/);
    c.close();
    expect(await loginWorks(v.port, "juliet", "balcony", B)).toBe(true);
    expect(await loginWorks(v.port, "juliet", "balcony", "localhost")).toBe(false);
    // Spent: good nowhere now.
    expect((await present(v.port, token, "pa-c", B)).answer).toContain("<item-not-found");
  });

  it("a username is reserved at its own domain only (XEP-0445 §5)", async () => {
    await createAccountAt(boss, B, { username: "rosaline" });
    const admin = await connect(v, "admin", "desk");
    const form = await (async () => {
      const first = await admin.ask(command("urn:xmpp:invite#create-account", { action: "execute" }));
      return formOf(await admin.ask(command("urn:xmpp:invite#create-account", { sessionid: first.getChild("command", CMDS)!.attrs.sessionid }, submit({ username: "rosaline" }))));
    })();
    await admin.stop();
    expect(form.uri).toMatch(/^xmpp:rosaline@localhost\?register;preauth=/);
    const token = tokenOf((await createAccountAt(boss, B)).uri!);
    const { c } = await present(v.port, token, "pa", B);
    expect(await register(c, "rosaline", "pw", "r1")).toContain("<conflict");
    expect(await register(c, "paris", "pw", "r2")).toContain(`type="result"`);
    c.close();
    expect(await v.server.hosts.get(B)!.accounts.exists("paris")).toBe(true);
    expect(await v.server.accounts.exists("paris")).toBe(false);
  });

  it("Bob's contact invitation (§4.1) names bob@b.example; Mercutio registers at b.example with it and he and Bob are contacts", async () => {
    const form = formOf(await bob.ask(commandAt(B, "urn:xmpp:invite#invite", { action: "execute" })));
    expect(form.uri).toMatch(/^xmpp:bob@b\.example\?roster;preauth=[0-9a-f]{30};ibr=y$/);
    const token = tokenOf(form.uri!);
    expect((await present(v.port, token, "pa-a", "localhost")).answer).toContain("<item-not-found");
    const { c, answer } = await present(v.port, token, "pa-b", B);
    expect(answer).toContain(`type="result"`);
    expect(await register(c, "mercutio", "queenmab")).toContain(`type="result"`);
    c.close();
    expect(await pushedItem(bob, `mercutio@${B}`)).toEqual({ jid: `mercutio@${B}`, subscription: "both" });
    const mercutio = await connect(v, "mercutio", "r", { domain: B, password: "queenmab" });
    const roster = await mercutio.ask(xml("iq", { type: "get" }, xml("query", { xmlns: ROSTER })));
    expect(roster.getChild("query", ROSTER)!.getChildren("item").map((i) => i.attrs)).toEqual([{ jid: `bob@${B}`, subscription: "both" }]);
    mercutio.send(presence());
    await bob.next((s) => s.name === "presence" && s.attrs.from === `mercutio@${B}/r` && !s.attrs.type, "Mercutio's presence");
    await mercutio.stop();
  });

  it("XEP-0379: Bob's token in a request to bob@localhost, his namesake, is ignored; in a request to bob@b.example it is approved at once", async () => {
    const token = tokenOf(formOf(await bob.ask(commandAt(B, "urn:xmpp:invite#invite", { action: "execute" }))).uri!);
    const admin = await connect(v, "admin", "r");
    const namesake = await connect(v, "bob", "r");
    namesake.send(presence());
    admin.send(presence());
    admin.send(xml("presence", { to: "bob@localhost", type: "subscribe" }, xml("preauth", { xmlns: "urn:xmpp:pars:0", token })));
    await namesake.next((s) => s.name === "presence" && s.attrs.type === "subscribe" && s.attrs.from === "admin@localhost", "the request, as usual");
    await admin.nothing((s) => s.name === "presence" && s.attrs.type === "subscribed");
    admin.send(xml("presence", { to: `bob@${B}`, type: "subscribe" }, xml("preauth", { xmlns: "urn:xmpp:pars:0", token })));
    await admin.next((s) => s.name === "presence" && s.attrs.from === `bob@${B}` && s.attrs.type === "subscribed", "subscribed");
    await admin.next((s) => s.name === "presence" && s.attrs.from === `bob@${B}` && s.attrs.type === "subscribe", "Bob's request back");
    await Promise.all([admin.stop(), namesake.stop()]);
  });
});
