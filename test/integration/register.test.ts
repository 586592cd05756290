// XEP-0077 In-Band Registration over real sockets. Before authentication with a raw stream
// (STARTTLS, then the register iq, exactly as Conversations and Gajim do it); afterwards with
// @xmpp/client: password change and account cancellation. Four servers: registration open,
// open with a rate limit of one per hour, closed, and open without required TLS.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { FEATURES, OPEN, RawClient } from "../helpers/raw.ts";
import { connect, errorOf } from "../helpers/im.ts";
import { modules } from "../../src/modules/index.ts";

// ---- raw streams before authentication ----------------------------------------------------------

const REGISTER_FEATURE = `<register xmlns="http://jabber.org/features/iq-register"/>`;
const reply = (id: string) => new RegExp(`<iq[^>]*id="${id}"[^>]*(/>|>[\\s\\S]*?</iq>)`);

const registerIq = (id: string, username?: string, password?: string) =>
  `<iq type='set' id='${id}'><query xmlns='jabber:iq:register'>` +
  (username !== undefined ? `<username>${username}</username>` : "") +
  (password !== undefined ? `<password>${password}</password>` : "") + `</query></iq>`;

/** Registers on a new stream; returns the reply text. */
async function register(port: number, username?: string, password?: string): Promise<string> {
  const { c } = await RawClient.stream(port);
  c.send(registerIq("reg", username, password));
  const r = await c.expect(reply("reg"));
  c.close();
  return r;
}

/** Tries a SCRAM login on a new stream; returns the server's <success/> or <failure/>. */
async function tryLogin(port: number, user: string, password: string): Promise<string> {
  const { c } = await RawClient.stream(port);
  const r = await c.scram(user, password, "SHA-1");
  c.close();
  return r;
}

// ---- @xmpp/client after authentication ----------------------------------------------------------

async function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

const REG = "jabber:iq:register";
const regQuery = (...c: (Element | undefined)[]) => xml("query", { xmlns: REG }, ...c);
const changePassword = (username: string | undefined, password: string, to: string | undefined = "localhost") =>
  xml("iq", { type: "set", to }, regQuery(username !== undefined ? xml("username", null, username) : undefined, xml("password", null, password)));

// ---- the servers --------------------------------------------------------------------------------

let open: TestServer;
let limited: TestServer;
let closed: TestServer;
let plain: TestServer;
beforeAll(async () => {
  [open, limited, closed, plain] = await Promise.all([
    startServer({ users: { romeo: "pw", juliet: "pw", nurse: "pw", tybalt: "pw" }, config: { registration: { enabled: true, perHourPerAddress: 50 } } }),
    startServer({ config: { registration: { enabled: true, perHourPerAddress: 1 } } }),
    startServer({ users: { benvolio: "pw", mercutio: "pw" } }),
    startServer({ config: { registration: { enabled: true }, c2s: { host: "127.0.0.1", requireTls: false } } }),
  ]);
});
afterAll(() => Promise.all([open, limited, closed, plain].map((s) => s.stop())));

describe("registration before authentication (§3.1), registration open", () => {
  it("the stream feature appears only once TLS is up, and a register iq before TLS is not-authorized", async () => {
    const c = await RawClient.connect(open.port);
    c.send(OPEN());
    expect(await c.expect(FEATURES)).not.toContain(REGISTER_FEATURE);
    c.send(registerIq("early", "bill", "Calliope"));
    const r = await c.expect(reply("early"));
    expect(r).toContain(`type="error"`);
    expect(r).toContain("<not-authorized");
    expect(r).not.toContain("Calliope");
    await c.startTls();
    c.send(OPEN());
    expect(await c.expect(FEATURES)).toContain(REGISTER_FEATURE);
    c.close();
  });

  it("a new user asks for the fields, registers, then logs in with the new account on the same stream", async () => {
    const { c } = await RawClient.stream(open.port);
    c.send("<iq type='get' id='reg1'><query xmlns='jabber:iq:register'/></iq>");
    const form = await c.expect(reply("reg1"));
    expect(form).toContain(`type="result"`);
    expect(form).toMatch(/<instructions>[^<]+<\/instructions><username\/><password\/>/);
    c.send(registerIq("reg2", "bill", "Calliope"));
    expect(await c.expect(reply("reg2"))).toMatch(/^<iq type="result" id="reg2"\/>$/);
    expect(await c.scram("bill", "Calliope", "SHA-1")).toMatch(/^<success/);
    c.close();
  });

  it("a taken username is conflict, with no password echoed back", async () => {
    const r = await register(open.port, "romeo", "m1cro$oft");
    expect(r).toContain("<conflict xmlns=\"urn:ietf:params:xml:ns:xmpp-stanzas\"/>");
    expect(r).not.toContain("m1cro$oft");
    expect(await tryLogin(open.port, "romeo", "pw")).toMatch(/^<success/);
  });

  it("the same username in another case is the same account: conflict", async () => {
    expect(await register(open.port, "ROMEO", "x")).toContain("<conflict");
  });

  it("missing or empty fields are not-acceptable", async () => {
    expect(await register(open.port, "ann")).toContain("<not-acceptable");
    expect(await register(open.port, "ann", "")).toContain("<not-acceptable");
    expect(await register(open.port, undefined, "pw")).toContain("<not-acceptable");
  });

  it("a username that cannot be a JID localpart is jid-malformed", async () => {
    for (const u of ["bill@localhost", "a b", "bill/desk", "&lt;b&gt;"]) expect(await register(open.port, u, "pw")).toContain("<jid-malformed");
  });

  it("<remove/> before logging in is unexpected-request", async () => {
    const { c } = await RawClient.stream(open.port);
    c.send("<iq type='set' id='un0'><query xmlns='jabber:iq:register'><remove/></query></iq>");
    expect(await c.expect(reply("un0"))).toContain("<unexpected-request");
    c.close();
  });

  it("bad requests hurt nobody: the same stream registers afterwards", async () => {
    const { c } = await RawClient.stream(open.port);
    c.send(registerIq("bad1", "x y", "pw"));
    expect(await c.expect(reply("bad1"))).toContain("<jid-malformed");
    c.send("<iq type='set' id='bad2'><query xmlns='jabber:iq:register'><remove/><username>x</username></query></iq>");
    expect(await c.expect(reply("bad2"))).toContain("<bad-request");
    c.send(registerIq("good", "ann", "hathaway"));
    expect(await c.expect(reply("good"))).toContain(`type="result"`);
    c.close();
    expect(await tryLogin(open.port, "ann", "hathaway")).toMatch(/^<success/);
  });
});

// ---- data forms (§4) ------------------------------------------------------------------------------

const X = "jabber:x:data";
const submitted = (fields: Record<string, string>) =>
  `<x xmlns='${X}' type='submit'>` + Object.entries(fields).map(([k, v]) => `<field var='${k}'><value>${v}</value></field>`).join("") + `</x>`;
const formSubmission = (id: string, fields: Record<string, string>, extra = "") =>
  `<iq type='set' id='${id}'><query xmlns='jabber:iq:register'>${submitted(fields)}${extra}</query></iq>`;

describe("registration with a data form (§4 Extensibility)", () => {
  it("the offer carries a jabber:iq:register form beside the legacy fields; the form, submitted, registers", async () => {
    const { c } = await RawClient.stream(open.port);
    c.send("<iq type='get' id='f1'><query xmlns='jabber:iq:register'/></iq>");
    const offer = await c.expect(reply("f1"));
    expect(offer).toMatch(/<username\/><password\/><x xmlns="jabber:x:data" type="form">/);
    expect(offer).toContain(`<field var="FORM_TYPE" type="hidden"><value>jabber:iq:register</value></field>`);
    expect(offer).toContain(`<field var="username" type="text-single" label="Username"><required/></field>`);
    expect(offer).toContain(`<field var="password" type="text-private" label="Password"><required/></field>`);
    c.send(formSubmission("f2", { FORM_TYPE: "jabber:iq:register", username: "formbill", password: "Calliope" }));
    expect(await c.expect(reply("f2"))).toMatch(/^<iq type="result" id="f2"\/>$/);
    expect(await c.scram("formbill", "Calliope", "SHA-1")).toMatch(/^<success/);
    c.close();
  });

  it("a form and the legacy fields at once are bad-request (rule 5); a form without the password is not-acceptable; nothing is made", async () => {
    const { c } = await RawClient.stream(open.port);
    c.send(formSubmission("f3", { username: "both", password: "pw" }, "<username>both</username>"));
    expect(await c.expect(reply("f3"))).toContain("<bad-request");
    c.send(formSubmission("f4", { FORM_TYPE: "jabber:iq:register", username: "nopass" }));
    const r = await c.expect(reply("f4"));
    expect(r).toContain("<not-acceptable");
    expect(r).not.toContain("nopass");
    c.close();
    expect(await tryLogin(open.port, "both", "pw")).toContain("<failure");
  });

  it("the password changes with §3.3's form (old_password checked when given)", async () => {
    await open.server.accounts.create("formchange", "pw");
    const im = await connect(open, "formchange");
    const change = (old: string, pw: string) => xml("iq", { type: "set", to: "localhost" }, regQuery(xml("x", { xmlns: X, type: "submit" },
      Object.entries({ FORM_TYPE: "jabber:iq:register:changepassword", username: "formchange@localhost", old_password: old, password: pw })
        .map(([k, v]) => xml("field", { var: k }, xml("value", null, v))))));
    const wrong = await im.ask(change("not-it", "new1"));
    expect(errorOf(wrong)).toBe("not-authorized");
    expect(wrong.toString()).not.toContain("new1");
    expect((await im.ask(change("pw", "new2"))).attrs.type).toBe("result");
    await im.stop();
    expect(await tryLogin(open.port, "formchange", "new2")).toMatch(/^<success/);
  });
});

describe("rate limit per address", () => {
  it("the second account from one address within the hour is resource-constraint, type wait", async () => {
    expect(await register(limited.port, "first", "pw")).toContain(`type="result"`);
    const r = await register(limited.port, "second", "pw");
    expect(r).toMatch(/<error type="wait"><resource-constraint xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"\/>/);
    expect(await tryLogin(limited.port, "second", "pw")).toContain("<failure");
  });
});

describe("registration closed (the default)", () => {
  it("registration by invitation only (XEP-0445, invite.test.ts): the feature is there, the form says so, a submission without one is forbidden", async () => {
    const { c, features } = await RawClient.stream(closed.port);
    expect(features).toContain(REGISTER_FEATURE);
    c.send("<iq type='get' id='c1'><query xmlns='jabber:iq:register'/></iq>");
    expect(await c.expect(reply("c1"))).toMatch(/<instructions>Registration on this server is by invitation[^<]*<\/instructions>/);
    c.send(registerIq("c2", "eve", "pw"));
    const r = await c.expect(reply("c2"));
    expect(r).toContain("<forbidden");
    expect(r).not.toContain("pw");
    c.close();
    expect(await tryLogin(closed.port, "eve", "pw")).toContain("<failure");
  });

  it("without the invitation module, no stream feature; get and set are service-unavailable (§3.1)", async () => {
    const bare = await startServer({ modules: modules.filter((m) => m.name !== "invite") });
    try {
      const { c, features } = await RawClient.stream(bare.port);
      expect(features).not.toContain("iq-register");
      c.send("<iq type='get' id='c1'><query xmlns='jabber:iq:register'/></iq>");
      expect(await c.expect(reply("c1"))).toContain("<service-unavailable");
      c.send(registerIq("c2", "eve", "pw"));
      expect(await c.expect(reply("c2"))).toContain("<service-unavailable");
      c.close();
    } finally {
      await bare.stop();
    }
  });

  it("the server still advertises jabber:iq:register: password change and cancellation work", async () => {
    const benvolio = await connect(closed, "benvolio");
    const info = await benvolio.ask(xml("iq", { type: "get", to: "localhost" }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" })));
    expect(info.getChild("query")!.getChildren("feature").map((f) => f.attrs.var)).toContain(REG);
    expect((await benvolio.ask(changePassword("benvolio", "peace"))).attrs.type).toBe("result");
    await benvolio.stop();
    expect(await tryLogin(closed.port, "benvolio", "peace")).toMatch(/^<success/);
    const mercutio = await connect(closed, "mercutio");
    expect((await mercutio.ask(xml("iq", { type: "set" }, regQuery(xml("remove"))))).attrs.type).toBe("result");
    await until(() => mercutio.streamErrors.length > 0);
    expect(await tryLogin(closed.port, "mercutio", "pw")).toContain("<failure");
  });
});

describe("registration without required TLS (a loopback test profile)", () => {
  it("the feature is offered on the plain stream and registration works there", async () => {
    const { c, features } = await RawClient.stream(plain.port, false);
    expect(features).toContain(REGISTER_FEATURE);
    c.send(registerIq("p1", "plainbill", "pw"));
    expect(await c.expect(reply("p1"))).toContain(`type="result"`);
    c.close();
  });
});

describe("after authentication: the account's own registration", () => {
  it("Romeo asks: he is registered, under his username, and no password comes back", async () => {
    const romeo = await connect(open, "romeo");
    for (const to of ["localhost", "romeo@localhost", undefined]) {
      const r = await romeo.ask(xml("iq", { type: "get", to }, regQuery()));
      const q = r.getChild("query", REG)!;
      expect(q.getChild("registered")).toBeDefined();
      expect(q.getChildText("username")).toBe("romeo");
      expect(q.getChildText("password")).toBe("");
    }
    await romeo.stop();
  });

  it("the Nurse changes her password (§3.3): the old one stops working, the new one works", async () => {
    const nurse = await connect(open, "nurse");
    const r = await nurse.ask(changePassword("nurse", "angelica"));
    expect(r.attrs).toMatchObject({ type: "result", from: "localhost" });
    await nurse.stop();
    expect(await tryLogin(open.port, "nurse", "pw")).toContain("<not-authorized/>");
    expect(await tryLogin(open.port, "nurse", "angelica")).toMatch(/^<success/);
  });

  it("an empty new password is bad-request and changes nothing; the error does not echo the request", async () => {
    const romeo = await connect(open, "romeo");
    const r = await romeo.ask(xml("iq", { type: "set", to: "localhost" }, regQuery(xml("username", null, "romeo"), xml("password"))));
    expect(errorOf(r)).toBe("bad-request");
    expect(r.getChild("query", REG)?.getChildElements()).toEqual([]);
    await romeo.stop();
    expect(await tryLogin(open.port, "romeo", "pw")).toMatch(/^<success/);
  });

  it("Tybalt may not change Romeo's password: forbidden, also through Romeo's bare JID", async () => {
    const tybalt = await connect(open, "tybalt");
    expect(errorOf(await tybalt.ask(changePassword("romeo", "stabbed")))).toBe("forbidden");
    expect(errorOf(await tybalt.ask(changePassword("romeo", "stabbed", "romeo@localhost")))).toBe("forbidden");
    await tybalt.stop();
    expect(await tryLogin(open.port, "romeo", "pw")).toMatch(/^<success/);
  });

  it("after SASL but before bind: the password can change, the account cannot be removed yet", async () => {
    const { c, sasl } = await RawClient.authenticated(open.port, "tybalt", "pw", "SHA-1");
    expect(sasl).toMatch(/^<success/);
    c.send("<iq type='set' id='pb1'><query xmlns='jabber:iq:register'><remove/></query></iq>");
    expect(await c.expect(reply("pb1"))).toContain("<unexpected-request");
    c.send("<iq type='set' id='pb2'><query xmlns='jabber:iq:register'><username>tybalt</username><password>prince</password></query></iq>");
    expect(await c.expect(reply("pb2"))).toContain(`type="result"`);
    c.close();
    expect(await tryLogin(open.port, "tybalt", "prince")).toMatch(/^<success/);
  });

  it("Juliet cancels her account (§3.2): result, then every session of hers gets <not-authorized/>", async () => {
    const phone = await connect(open, "juliet", "phone");
    const balcony = await connect(open, "juliet", "balcony");
    const romeo = await connect(open, "romeo");
    const r = await balcony.ask(xml("iq", { type: "set" }, regQuery(xml("remove"))));
    expect(r.attrs.type).toBe("result");
    await until(() => phone.streamErrors.length > 0 && balcony.streamErrors.length > 0);
    expect([...phone.streamErrors, ...balcony.streamErrors]).toEqual(["not-authorized", "not-authorized"]);
    expect(romeo.streamErrors).toEqual([]);
    // Her account is gone: no login, and her bare JID is unknown to everyone.
    expect(await tryLogin(open.port, "juliet", "pw")).toContain("<failure");
    const disco = await romeo.ask(xml("iq", { type: "get", to: "juliet@localhost" }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" })));
    expect(errorOf(disco)).toBe("service-unavailable");
    await romeo.stop();
  });
});
