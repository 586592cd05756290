// The XEP-0077 flows without sockets: a real Accounts store in memory, a fake stream.
import { describe, expect, it } from "vitest";
import { vi } from "vitest";
import { xml, type Element } from "../../xml/element.ts";
import { parseJid, type JID } from "../../xml/jid.ts";
import { NS } from "../../xml/ns.ts";
import { Accounts } from "../../core/accounts.ts";
import { StanzaError, StreamError } from "../../core/errors.ts";
import { Events } from "../../core/events.ts";
import { createLogger } from "../../core/log.ts";
import type { Session } from "../../core/session.ts";
import { MemoryStorage } from "../../storage/memory.ts";
import type { PreAuthRequest } from "../../core/stream-handlers.ts";
import { preAuthHandler, routedHandlers } from "./handlers.ts";
import { namesAccount, rateKey, Registrar, validLocal, type RegistrarHost } from "./registrar.ts";
import type { Admission } from "./gate.ts";
import { CHANGE_PASSWORD } from "./parse.ts";

const log = createLogger("silent");

/** example.com's public registration switch, as preAuth() sets it for each request. */
let openRegistration = true;

function world(opts: { perHour?: number; requireTls?: boolean } = {}) {
  const storage = new MemoryStorage();
  const closed: { jid: string; condition: string }[] = [];
  const sessions: Session[] = [];
  const events = new Events();
  const accounts = new Accounts(storage, "example.com", 64);
  const registration = { get enabled() { return openRegistration; }, perHourPerAddress: opts.perHour ?? 10 };
  const server: RegistrarHost & { events: Events; accounts: Accounts } = {
    accounts,
    accountsOf: (d) => (d === "example.com" ? accounts : undefined),
    hosts: { get: (d) => (d === "example.com" ? { registration } : undefined) },
    events,
    notify: (name, value) => events.notify(name, value, () => {}),
    sessions: { of: (bare: JID) => sessions.filter((s) => s.jid.bare.equals(bare)) },
    settings: { c2s: { requireTls: opts.requireTls ?? true } },
    settled: async () => {},
  };
  const session = (full: string): Session => {
    const s = { jid: parseJid(full), secure: true, close: (e?: StreamError) => closed.push({ jid: full, condition: e?.condition ?? "" }) };
    sessions.push(s as unknown as Session);
    return s as unknown as Session;
  };
  return { server, registrar: new Registrar(server, log), closed, session, storage };
}

/** Sends one pre-auth iq through the handler; returns the reply. */
async function preAuth(registrar: Registrar, iq: Element, opts: { enabled?: boolean; secure?: boolean; account?: string; address?: string; stream?: object } = {}): Promise<Element> {
  const replies: Element[] = [];
  const payload = iq.getChildElements()[0]!;
  const req: PreAuthRequest = {
    stanza: iq, payload, secure: opts.secure ?? true, domain: "example.com", remoteAddress: opts.address ?? "192.0.2.1", stream: opts.stream ?? {},
    account: opts.account ? parseJid(opts.account) : undefined, reply: (r) => replies.push(r),
  };
  openRegistration = opts.enabled ?? true;
  await preAuthHandler(registrar, log)(req);
  expect(replies).toHaveLength(1);
  return replies[0]!;
}

const get = () => xml("iq", { type: "get", id: "reg1" }, xml("query", { xmlns: NS.register }));
const set = (...fields: Element[]) => xml("iq", { type: "set", id: "reg2" }, xml("query", { xmlns: NS.register }, ...fields));
const creds = (u: string, p: string) => set(xml("username", null, u), xml("password", null, p));
const errorOf = (r: Element) => r.getChild("error")?.getChildElements()[0]?.name;

describe("pre-auth registration (§3.1)", () => {
  it("offers the form, then creates the account", async () => {
    const { registrar, server } = world();
    const form = await preAuth(registrar, get());
    expect(form.attrs.type).toBe("result");
    expect(form.getChild("query")?.getChild("username")).toBeDefined();
    const done = await preAuth(registrar, creds("Bill", "Calliope"));
    expect(done.attrs).toMatchObject({ type: "result", id: "reg2" });
    expect(await server.accounts.exists("bill")).toBe(true);
  });

  it("answers service-unavailable when public registration is off", async () => {
    const { registrar } = world();
    expect(errorOf(await preAuth(registrar, get(), { enabled: false }))).toBe("service-unavailable");
    expect(errorOf(await preAuth(registrar, creds("bill", "x"), { enabled: false }))).toBe("service-unavailable");
  });

  it("refuses an unencrypted stream when TLS is required, not when it is not", async () => {
    expect(errorOf(await preAuth(world().registrar, creds("bill", "x"), { secure: false }))).toBe("not-authorized");
    expect((await preAuth(world({ requireTls: false }).registrar, creds("bill", "x"), { secure: false })).attrs.type).toBe("result");
  });

  it("conflict for a taken username, echoing no password", async () => {
    const { registrar } = world();
    await preAuth(registrar, creds("bill", "one"));
    const r = await preAuth(registrar, creds("BILL", "two"));
    expect(errorOf(r)).toBe("conflict");
    expect(r.toString()).not.toContain("two");
  });

  it("not-acceptable for missing or empty fields", async () => {
    const { registrar } = world();
    expect(errorOf(await preAuth(registrar, set(xml("username", null, "bill"))))).toBe("not-acceptable");
    expect(errorOf(await preAuth(registrar, set(xml("username", null, "bill"), xml("password"))))).toBe("not-acceptable");
    expect(errorOf(await preAuth(registrar, set(xml("password", null, "x"))))).toBe("not-acceptable");
    expect(errorOf(await preAuth(registrar, creds("bill", "tab\there")))).toBe("not-acceptable");
  });

  it("jid-malformed for a username that is no localpart", async () => {
    const { registrar } = world();
    for (const u of ["bill@example.com", "a b", "x/y", "<tag>"]) expect(errorOf(await preAuth(registrar, creds(u, "pw")))).toBe("jid-malformed");
  });

  it("resource-constraint (type wait) past the hourly limit of an address; others still register", async () => {
    const { registrar } = world({ perHour: 2 });
    await preAuth(registrar, creds("a1", "pw"));
    await preAuth(registrar, creds("a2", "pw"));
    const r = await preAuth(registrar, creds("a3", "pw"));
    expect(errorOf(r)).toBe("resource-constraint");
    expect(r.getChild("error")?.attrs.type).toBe("wait");
    expect((await preAuth(registrar, creds("a3", "pw"), { address: "192.0.2.2" })).attrs.type).toBe("result");
  });

  it("counts requests sent at once from one address before any is answered: no more than the limit pass", async () => {
    const { registrar } = world({ perHour: 2 });
    const answers = await Promise.all(["p1", "p2", "p3", "p4", "p5"].map((u) => preAuth(registrar, creds(u, "pw"))));
    expect(answers.filter((r) => r.attrs.type === "result")).toHaveLength(2);
    expect(answers.filter((r) => errorOf(r) === "resource-constraint")).toHaveLength(3);
  });

  it("gives back the count of an attempt that failed (a taken username)", async () => {
    const { registrar } = world({ perHour: 2 });
    await preAuth(registrar, creds("q1", "pw"));
    expect(errorOf(await preAuth(registrar, creds("q1", "pw")))).toBe("conflict");
    expect((await preAuth(registrar, creds("q2", "pw"))).attrs.type).toBe("result");
  });

  it("unexpected-request for <remove/> before authentication", async () => {
    expect(errorOf(await preAuth(world().registrar, set(xml("remove"))))).toBe("unexpected-request");
  });

  it("bad-request for an iq with two payloads; service-unavailable for an unknown element", async () => {
    const two = xml("iq", { type: "get", id: "x" }, xml("query", { xmlns: NS.register }), xml("query", { xmlns: NS.register }));
    expect(errorOf(await preAuth(world().registrar, two))).toBe("bad-request");
    const other = xml("iq", { type: "get", id: "y" }, xml("form", { xmlns: NS.register }));
    expect(errorOf(await preAuth(world().registrar, other))).toBe("service-unavailable");
  });
});

/** A gate whose streams in `invited` hold an invitation; records what registration did with it. */
function gate(registrar: Registrar, invitation: { username?: string; claimable?: boolean; reserved?: string[] } = {}) {
  const done: string[] = [];
  const invited = new Set<object>();
  const admission: Admission = {
    username: invitation.username,
    claim: async () => (done.push("claim"), invitation.claimable ?? true),
    release: async () => void done.push("release"),
    completed: async (account) => void done.push(`completed ${account}`),
  };
  registrar.addGate({
    admission: (stream) => (invited.has(stream) ? admission : undefined),
    reserved: async (local, a) => a !== admission && (invitation.reserved ?? []).includes(local),
  });
  const stream = {};
  invited.add(stream);
  return { done, stream };
}

const xform = (fields: Record<string, string>) =>
  xml("x", { xmlns: NS.dataForms, type: "submit" }, Object.entries(fields).map(([k, v]) => xml("field", { var: k }, xml("value", null, v))));

describe("registration by invitation (a gate, XEP-0445), public registration off", () => {
  it("without an invitation: the form says so, and a submission is forbidden", async () => {
    const { registrar, server } = world();
    gate(registrar);
    const form = await preAuth(registrar, get(), { enabled: false });
    expect(form.attrs.type).toBe("result");
    expect(form.getChild("query")!.getChildText("instructions")).toMatch(/by invitation/);
    expect(errorOf(await preAuth(registrar, creds("bill", "pw"), { enabled: false }))).toBe("forbidden");
    expect(await server.accounts.exists("bill")).toBe(false);
  });

  it("with one: registers, claims the invitation, then completes it; the hourly limit does not count it", async () => {
    const { registrar, server } = world({ perHour: 1 });
    const { done, stream } = gate(registrar);
    await preAuth(registrar, creds("first", "pw"), { enabled: true });
    const r = await preAuth(registrar, creds("bill", "Calliope"), { enabled: false, stream });
    expect(r.attrs.type).toBe("result");
    expect(await server.accounts.exists("bill")).toBe(true);
    expect(done).toEqual(["claim", "completed bill@example.com"]);
  });

  it("an invitation for a username: the form offers it, another one is not-acceptable", async () => {
    const { registrar, server } = world();
    const { done, stream } = gate(registrar, { username: "juliet" });
    expect((await preAuth(registrar, get(), { enabled: false, stream })).getChild("query")!.getChildText("username")).toBe("juliet");
    expect(errorOf(await preAuth(registrar, creds("romeo", "pw"), { enabled: false, stream }))).toBe("not-acceptable");
    expect(done).toEqual([]);
    await preAuth(registrar, creds("Juliet", "pw"), { enabled: false, stream });
    expect(await server.accounts.exists("juliet")).toBe(true);
  });

  it("a username another invitation holds is conflict, for open registration too", async () => {
    const { registrar, server } = world();
    gate(registrar, { reserved: ["juliet"] });
    expect(errorOf(await preAuth(registrar, creds("juliet", "pw"), { enabled: true }))).toBe("conflict");
    expect(await server.accounts.exists("juliet")).toBe(false);
  });

  it("an invitation used meanwhile is forbidden; a failed creation gives the invitation back", async () => {
    const used = world();
    const a = gate(used.registrar, { claimable: false });
    expect(errorOf(await preAuth(used.registrar, creds("bill", "pw"), { enabled: false, stream: a.stream }))).toBe("forbidden");
    expect(await used.server.accounts.exists("bill")).toBe(false);
    const racing = world();
    const b = gate(racing.registrar);
    const create = racing.server.accounts.create.bind(racing.server.accounts);
    racing.server.accounts.create = async (local, pw) => {
      await create(local, pw); // someone else took the name between the check and the creation
      await create(local, pw);
    };
    expect(errorOf(await preAuth(racing.registrar, creds("bill", "pw"), { enabled: false, stream: b.stream }))).toBe("conflict");
    expect(b.done).toEqual(["claim", "release"]);
  });
});

describe("data forms (§4)", () => {
  it("registers from a submitted form", async () => {
    const { registrar, server } = world();
    const r = await preAuth(registrar, set(xform({ FORM_TYPE: NS.register, username: "bill", password: "Calliope" })));
    expect(r.attrs.type).toBe("result");
    expect(await server.accounts.exists("bill")).toBe(true);
  });

  it("a form without a password is not-acceptable, and no password comes back", async () => {
    const { registrar } = world();
    const r = await preAuth(registrar, set(xform({ FORM_TYPE: NS.register, username: "bill" })));
    expect(errorOf(r)).toBe("not-acceptable");
  });

  it("changes the password with §3.3's form: a wrong old password is not-authorized and changes nothing", async () => {
    const { registrar, server } = world();
    await server.accounts.create("juliet", "old");
    const before = await server.accounts.credentials("juliet");
    const change = (old: string) => set(xform({ FORM_TYPE: CHANGE_PASSWORD, username: "juliet", old_password: old, password: "new" }));
    const wrong = await preAuth(registrar, change("guess"), { account: "juliet@example.com" });
    expect(errorOf(wrong)).toBe("not-authorized");
    expect(wrong.toString()).not.toContain("guess");
    expect(await server.accounts.credentials("juliet")).toEqual(before);
    expect((await preAuth(registrar, change("old"), { account: "juliet@example.com" })).attrs.type).toBe("result");
    expect(await server.accounts.credentials("juliet")).not.toEqual(before);
  });
});

describe("after SASL, before bind", () => {
  it("tells the account it is registered and changes its password, even with registration off", async () => {
    const { registrar, server } = world();
    await server.accounts.create("juliet", "old");
    const before = await server.accounts.credentials("juliet");
    const form = await preAuth(registrar, get(), { account: "juliet@example.com", enabled: false });
    expect(form.getChild("query")?.getChild("registered")).toBeDefined();
    const r = await preAuth(registrar, creds("juliet", "new"), { account: "juliet@example.com", enabled: false });
    expect(r.attrs.type).toBe("result");
    expect(await server.accounts.credentials("juliet")).not.toEqual(before);
  });

  it("unexpected-request for <remove/> until a resource is bound", async () => {
    const { registrar, server } = world();
    await server.accounts.create("juliet", "pw");
    expect(errorOf(await preAuth(registrar, set(xml("remove")), { account: "juliet@example.com" }))).toBe("unexpected-request");
    expect(await server.accounts.exists("juliet")).toBe(true);
  });
});

describe("routed requests (§3.2, §3.3)", () => {
  const req = (type: "get" | "set", from: string, to: string, payload: Element) =>
    ({ stanza: xml("iq", { type, id: "1" }, payload), payload, type, from: parseJid(from), to: parseJid(to), origin: undefined });
  const query = (...c: Element[]) => xml("query", { xmlns: NS.register }, ...c);

  async function rejects(p: Promise<unknown>, condition: string): Promise<void> {
    await expect(p).rejects.toSatisfy((e) => e instanceof StanzaError && e.condition === condition);
  }

  it("password change: bad-request without a password, forbidden for another username, scrubbed echo", async () => {
    const { registrar, server } = world();
    await server.accounts.create("juliet", "pw");
    const host = routedHandlers(registrar, (d) => d === "example.com", "host");
    const empty = query(xml("username", null, "juliet"), xml("password"));
    await rejects(host.set(req("set", "juliet@example.com/b", "example.com", empty)), "bad-request");
    expect(empty.children).toEqual([]);
    await rejects(host.set(req("set", "juliet@example.com/b", "example.com", query(xml("username", null, "romeo"), xml("password", null, "x")))), "forbidden");
    await host.set(req("set", "juliet@example.com/b", "example.com", query(xml("username", null, "juliet@example.com"), xml("password", null, "x"))));
  });

  it("forbidden on another account's bare JID; service-unavailable for remote senders", async () => {
    const { registrar } = world();
    const account = routedHandlers(registrar, (d) => d === "example.com", "account");
    await rejects((async () => account.get(req("get", "romeo@example.com/o", "juliet@example.com", query())))(), "forbidden");
    const host = routedHandlers(registrar, (d) => d === "example.com", "host");
    await rejects((async () => host.get(req("get", "eve@evil.example/x", "example.com", query())))(), "service-unavailable");
  });

  it("cancellation deletes the account and ends its sessions with <not-authorized/> after the reply", async () => {
    const { registrar, server, session, closed } = world();
    await server.accounts.create("juliet", "pw");
    session("juliet@example.com/balcony");
    session("juliet@example.com/phone");
    session("romeo@example.com/orchard");
    const deleted: string[] = [];
    server.events.onNotify("account/deleted", ({ jid }) => void deleted.push(jid.toString()));
    const account = routedHandlers(registrar, (d) => d === "example.com", "account");
    await account.set(req("set", "juliet@example.com/balcony", "juliet@example.com", query(xml("remove"))));
    expect(closed).toEqual([]); // the result goes out first
    expect(await server.accounts.exists("juliet")).toBe(true);
    await new Promise((r) => setImmediate(r));
    // Sessions close first (their contacts get unavailable presence), then the account goes.
    expect(closed).toEqual([
      { jid: "juliet@example.com/balcony", condition: "not-authorized" },
      { jid: "juliet@example.com/phone", condition: "not-authorized" },
    ]);
    await vi.waitFor(async () => expect(await server.accounts.exists("juliet")).toBe(false));
    expect(deleted).toEqual(["juliet@example.com"]);
  });

  it("registration-required when the account is already gone", async () => {
    const { registrar } = world();
    const account = routedHandlers(registrar, (d) => d === "example.com", "account");
    await rejects(account.set(req("set", "ghost@example.com/x", "ghost@example.com", query(xml("remove")))), "registration-required");
  });
});

describe("helpers", () => {
  it("validLocal normalises or throws jid-malformed", () => {
    expect(validLocal("Bill")).toBe("bill");
    expect(() => validLocal("a@b")).toThrow(StanzaError);
  });

  it("namesAccount accepts the localpart or the bare JID", () => {
    const me = parseJid("juliet@example.com/balcony");
    expect(namesAccount("juliet", me)).toBe(true);
    expect(namesAccount("Juliet@example.com", me)).toBe(true);
    expect(namesAccount("juliet@other.example", me)).toBe(false);
    expect(namesAccount("romeo", me)).toBe(false);
  });
});

describe("rateKey", () => {
  it("counts IPv4 by address, IPv4-mapped IPv6 as IPv4, IPv6 by its /64", () => {
    expect(rateKey("192.0.2.7")).toBe("192.0.2.7");
    expect(rateKey("::ffff:192.0.2.7")).toBe("192.0.2.7");
    expect(rateKey("2001:db8:1:2:a:b:c:d")).toBe("2001:db8:1:2::/64");
    expect(rateKey("2001:0DB8:1:2::1")).toBe("2001:db8:1:2::/64");
    expect(rateKey("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(rateKey("::1")).toBe("0:0:0:0::/64");
    expect(rateKey("fe80::1%eth0")).toBe("fe80:0:0:0::/64");
  });
});
