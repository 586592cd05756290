// XEP-0050 Ad-Hoc Commands and XEP-0133 Service Administration over real sockets. The admin
// (in the config's `admins`) discovers the commands, runs them as Smack's
// ServiceAdministrationManager and Gajim do (execute, then submit with the sessionid), and sees
// each refusal the XEPs name; Romeo, no admin, sees no commands and may run none.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { accounts, connect, errorOf, type Im } from "../helpers/im.ts";

const CMDS = "http://jabber.org/protocol/commands";
const ADMIN = "http://jabber.org/protocol/admin";
const INFO = "http://jabber.org/protocol/disco#info";
const ITEMS = "http://jabber.org/protocol/disco#items";
const X = "jabber:x:data";

const command = (node: string, attrs: Record<string, string | undefined> = {}, ...payload: Element[]) =>
  xml("iq", { type: "set", to: "localhost" }, xml("command", { xmlns: CMDS, node, ...attrs }, ...payload));
const submit = (fields: Record<string, string | string[]>) =>
  xml("x", { xmlns: X, type: "submit" }, Object.entries(fields).map(([k, v]) => xml("field", { var: k }, [v].flat().map((s) => xml("value", null, s)))));
const cmdOf = (iq: Element) => iq.getChild("command", CMDS)!;
/** The command-specific condition of an error reply (XEP-0050 §4.4). */
const specificOf = (iq: Element) => iq.getChild("error")?.getChildElements().find((c) => c.attrs.xmlns === CMDS)?.name;
const fieldValue = (c: Element, name: string) => c.getChild("x", X)?.getChildren("field").find((f) => f.attrs.var === name)?.getChildText("value");

/** Runs a one-form command the way Smack's ServiceAdministrationManager does: execute, then execute again with the form. */
async function run(im: Im, name: string, fields: Record<string, string | string[]>): Promise<Element> {
  const first = await im.ask(command(`${ADMIN}#${name}`, { action: "execute" }));
  if (first.attrs.type !== "result") return first;
  return im.ask(command(`${ADMIN}#${name}`, { sessionid: cmdOf(first).attrs.sessionid, action: "execute" }, submit({ FORM_TYPE: ADMIN, ...fields })));
}

let t: TestServer;
let admin: Im;
let romeo: Im;
beforeAll(async () => {
  // The tests leave some command sessions open on purpose; the per-requester limit is a unit test's.
  t = await startServer({ users: { admin: "pw", romeo: "pw" }, config: { admins: ["admin@localhost"], modules: { adhoc: { sessionsPerRequester: 100 } } } });
  [admin, romeo] = await Promise.all([connect(t, "admin", "desk"), connect(t, "romeo", "orchard")]);
});
afterAll(async () => {
  await Promise.all([admin.stop(), romeo.stop()]);
  await t.stop();
});

describe("discovery (XEP-0050 §2.1, §2.2)", () => {
  it("the server advertises ad-hoc commands", async () => {
    const r = await romeo.ask(xml("iq", { type: "get", to: "localhost" }, xml("query", { xmlns: INFO })));
    expect(r.getChild("query")!.getChildren("feature").map((f) => f.attrs.var)).toContain(CMDS);
  });

  it("the admin lists the administration commands; Romeo lists none", async () => {
    const list = async (im: Im) => (await im.ask(xml("iq", { type: "get", to: "localhost" }, xml("query", { xmlns: ITEMS, node: CMDS }))))
      .getChild("query")!.getChildren("item").map((i) => i.attrs);
    const items = await list(admin);
    expect(items.map((i) => i.node).sort()).toEqual([...["add-user", "change-user-password", "delete-user", "end-user-session",
      "get-online-users-list", "get-online-users-num", "get-registered-users-list", "get-registered-users-num"].map((n) => `${ADMIN}#${n}`),
    "urn:xmpp:invite#create-account", "urn:xmpp:invite#invite"]);
    expect(items.every((i) => i.jid === "localhost" && i.name)).toBe(true);
    expect(await list(romeo)).toEqual([]);
  });

  it("the command list node and each command node describe themselves; Romeo is forbidden a command's info", async () => {
    const info = (im: Im, node: string) => im.ask(xml("iq", { type: "get", to: "localhost" }, xml("query", { xmlns: INFO, node })));
    const listInfo = (await info(romeo, CMDS)).getChild("query")!;
    expect(listInfo.getChild("identity")!.attrs).toMatchObject({ category: "automation", type: "command-list" });
    const addUser = (await info(admin, `${ADMIN}#add-user`)).getChild("query")!;
    expect(addUser.getChild("identity")!.attrs).toMatchObject({ category: "automation", type: "command-node", name: "Add a User" });
    expect(addUser.getChildren("feature").map((f) => f.attrs.var)).toEqual([CMDS, X]);
    expect(errorOf(await info(romeo, `${ADMIN}#add-user`))).toBe("forbidden");
    expect(errorOf(await info(admin, `${ADMIN}#no-such-command`))).toBe("item-not-found");
  });
});

describe("add-user (XEP-0133 §4.1)", () => {
  it("execute returns the form; submitting it creates an account that can log in", async () => {
    const first = await admin.ask(command(`${ADMIN}#add-user`, { action: "execute" }));
    const c = cmdOf(first);
    expect(c.attrs).toMatchObject({ status: "executing", node: `${ADMIN}#add-user` });
    expect(c.attrs.sessionid).toBeTruthy();
    expect(c.getChild("actions")!.attrs.execute).toBe("complete");
    expect(fieldValue(c, "FORM_TYPE")).toBe(ADMIN);
    const accountjid = c.getChild("x", X)!.getChildren("field").find((f) => f.attrs.var === "accountjid")!;
    expect(accountjid.attrs.type).toBe("jid-single");
    expect(accountjid.getChild("required")).toBeDefined();
    const done = await admin.ask(command(`${ADMIN}#add-user`, { sessionid: c.attrs.sessionid }, submit({ accountjid: "benvolio@localhost", password: "s3cret", "password-verify": "s3cret" })));
    expect(cmdOf(done).attrs).toMatchObject({ status: "completed", sessionid: c.attrs.sessionid });
    const benvolio = await connect(t, "benvolio", "r", { password: "s3cret" });
    await benvolio.stop();
  });

  it("conflict for an existing account; not-acceptable for differing passwords or a foreign domain", async () => {
    expect(errorOf(await run(admin, "add-user", { accountjid: "romeo@localhost", password: "x", "password-verify": "x" }))).toBe("conflict");
    expect(errorOf(await run(admin, "add-user", { accountjid: "mercutio@localhost", password: "x", "password-verify": "y" }))).toBe("not-acceptable");
    expect(errorOf(await run(admin, "add-user", { accountjid: "mercutio@elsewhere.example", password: "x" }))).toBe("not-acceptable");
    expect(errorOf(await run(admin, "add-user", { accountjid: "not a jid@", password: "x" }))).toBe("not-acceptable");
    expect(await t.server.accounts.exists("mercutio")).toBe(false);
  });

  it("bad-request with <bad-payload/> when a required field is missing; the session survives for a corrected form", async () => {
    const first = await admin.ask(command(`${ADMIN}#add-user`));
    const sessionid = cmdOf(first).attrs.sessionid;
    const bad = await admin.ask(command(`${ADMIN}#add-user`, { sessionid, action: "complete" }, submit({ password: "x" })));
    expect([errorOf(bad), specificOf(bad)]).toEqual(["bad-request", "bad-payload"]);
    const empty = await admin.ask(command(`${ADMIN}#add-user`, { sessionid, action: "complete" }));
    expect([errorOf(empty), specificOf(empty)]).toEqual(["bad-request", "bad-payload"]);
    const ok = await admin.ask(command(`${ADMIN}#add-user`, { sessionid, action: "complete" }, submit({ accountjid: "paris@localhost", password: "pw" })));
    expect(cmdOf(ok).attrs.status).toBe("completed");
  });

  it("Romeo is forbidden to run it, and nothing is created", async () => {
    const r = await romeo.ask(command(`${ADMIN}#add-user`));
    expect(errorOf(r)).toBe("forbidden");
    expect(r.getChild("error")!.attrs.type).toBe("auth");
  });
});

describe("sessions and actions (XEP-0050 §3.3, §3.4, §4.4)", () => {
  it("item-not-found for an unknown command node", async () => {
    expect(errorOf(await admin.ask(command("urn:example:nothing")))).toBe("item-not-found");
  });

  it("bad-request with <malformed-action/> for an action that does not exist", async () => {
    const r = await admin.ask(command(`${ADMIN}#add-user`, { action: "jump" }));
    expect([errorOf(r), specificOf(r)]).toEqual(["bad-request", "malformed-action"]);
  });

  it("bad-request with <bad-action/> for prev or next on a one-form command", async () => {
    const sessionid = cmdOf(await admin.ask(command(`${ADMIN}#add-user`))).attrs.sessionid;
    for (const action of ["prev", "next"]) {
      const r = await admin.ask(command(`${ADMIN}#add-user`, { sessionid, action }, submit({ accountjid: "x@localhost", password: "x" })));
      expect([errorOf(r), specificOf(r)]).toEqual(["bad-request", "bad-action"]);
    }
  });

  it("bad-request with <bad-sessionid/> for a sessionid never given, another requester's, or none with 'complete'", async () => {
    const unknown = await admin.ask(command(`${ADMIN}#add-user`, { sessionid: "made-up", action: "complete" }, submit({ accountjid: "x@localhost", password: "x" })));
    expect([errorOf(unknown), specificOf(unknown)]).toEqual(["bad-request", "bad-sessionid"]);
    const sessionid = cmdOf(await admin.ask(command(`${ADMIN}#add-user`))).attrs.sessionid;
    const other = await connect(t, "admin", "laptop");
    const stolen = await other.ask(command(`${ADMIN}#add-user`, { sessionid, action: "complete" }, submit({ accountjid: "x@localhost", password: "x" })));
    await other.stop();
    expect([errorOf(stolen), specificOf(stolen)]).toEqual(["bad-request", "bad-sessionid"]);
    const none = await admin.ask(command(`${ADMIN}#add-user`, { action: "complete" }, submit({ accountjid: "x@localhost", password: "x" })));
    expect([errorOf(none), specificOf(none)]).toEqual(["bad-request", "bad-sessionid"]);
    expect(await t.server.accounts.exists("x")).toBe(false);
  });

  it("cancel ends the session (status canceled); using it again is not-allowed with <session-expired/>, as after completion", async () => {
    const sessionid = cmdOf(await admin.ask(command(`${ADMIN}#add-user`))).attrs.sessionid;
    const canceled = await admin.ask(command(`${ADMIN}#add-user`, { sessionid, action: "cancel" }));
    expect(cmdOf(canceled).attrs).toMatchObject({ status: "canceled", sessionid });
    const again = await admin.ask(command(`${ADMIN}#add-user`, { sessionid, action: "complete" }, submit({ accountjid: "x@localhost", password: "x" })));
    expect([errorOf(again), specificOf(again)]).toEqual(["not-allowed", "session-expired"]);
    expect(again.getChild("error")!.attrs.type).toBe("cancel");
    const counted = cmdOf(await admin.ask(command(`${ADMIN}#get-online-users-num`)));
    const after = await admin.ask(command(`${ADMIN}#get-online-users-num`, { sessionid: counted.attrs.sessionid }));
    expect(specificOf(after)).toBe("session-expired");
  });

  it("a command iq of type get is a bad-request", async () => {
    const r = await admin.ask(xml("iq", { type: "get", to: "localhost" }, xml("command", { xmlns: CMDS, node: `${ADMIN}#add-user` })));
    expect(errorOf(r)).toBe("bad-request");
  });
});

describe("delete-user, change-user-password, end-user-session (XEP-0133 §4.2, §4.7, §4.5)", () => {
  it("delete-user ends the user's sessions with <not-authorized/> and removes the account", async () => {
    const [tybalt] = await accounts(t, "tybalt");
    const im = await connect(t, tybalt!, "street");
    const done = await run(admin, "delete-user", { accountjids: [`${tybalt}@localhost`] });
    expect(cmdOf(done).attrs.status).toBe("completed");
    await until(() => im.streamErrors.length > 0);
    expect(im.streamErrors).toEqual(["not-authorized"]);
    expect(await t.server.accounts.exists(tybalt!)).toBe(false);
    await im.stop().catch(() => {});
  });

  it("delete-user of an account that does not exist is item-not-found, and deletes none of the list", async () => {
    const [lady] = await accounts(t, "lady");
    const r = await run(admin, "delete-user", { accountjids: [`${lady}@localhost`, "nobody@localhost"] });
    expect(errorOf(r)).toBe("item-not-found");
    expect(await t.server.accounts.exists(lady!)).toBe(true);
  });

  it("change-user-password: the new password logs in, the old one no longer does", async () => {
    const [nurse] = await accounts(t, "nurse");
    expect(cmdOf(await run(admin, "change-user-password", { accountjid: `${nurse}@localhost`, password: "n3w" })).attrs.status).toBe("completed");
    await (await connect(t, nurse!, "r", { password: "n3w" })).stop();
    await expect(connect(t, nurse!, "r", { password: "pw" })).rejects.toThrow();
    expect(errorOf(await run(admin, "change-user-password", { accountjid: "nobody@localhost", password: "x" }))).toBe("item-not-found");
  });

  it("end-user-session with a full JID ends that session only; with a bare JID, all of them", async () => {
    const [friar] = await accounts(t, "friar");
    const [cell, garden] = await Promise.all([connect(t, friar!, "cell"), connect(t, friar!, "garden")]);
    expect(cmdOf(await run(admin, "end-user-session", { accountjids: [`${friar}@localhost/cell`] })).attrs.status).toBe("completed");
    await until(() => cell.streamErrors.length > 0);
    expect(cell.streamErrors).toEqual(["policy-violation"]);
    expect(garden.streamErrors).toEqual([]);
    await run(admin, "end-user-session", { accountjids: [`${friar}@localhost`] });
    await until(() => garden.streamErrors.length > 0);
    expect(await t.server.accounts.exists(friar!)).toBe(true);
    await Promise.all([cell.stop().catch(() => {}), garden.stop().catch(() => {})]);
  });
});

describe("statistics (XEP-0133 §4.13, §4.15, §4.18, §4.20)", () => {
  it("lists registered and online users, as many as asked for", async () => {
    const form = cmdOf(await admin.ask(command(`${ADMIN}#get-registered-users-list`)));
    const max = form.getChild("x", X)!.getChildren("field").find((f) => f.attrs.var === "max_items")!;
    expect(max.attrs.type).toBe("list-single");
    expect(max.getChildren("option").map((o) => o.getChildText("value"))).toEqual(["25", "50", "75", "100", "150", "200", "none"]);
    const values = (c: Element, name: string) => c.getChild("x", X)!.getChildren("field").find((f) => f.attrs.var === name)!.getChildren("value").map((v) => v.getText());
    const all = values(cmdOf(await run(admin, "get-registered-users-list", { max_items: "none" })), "registereduserjids");
    expect(all).toEqual((await t.server.accounts.list()).sort());
    expect(all).toContain("romeo@localhost");
    const online = values(cmdOf(await run(admin, "get-online-users-list", { max_items: "25" })), "onlineuserjids");
    expect(online).toContain("admin@localhost");
    expect(online).toContain("romeo@localhost");
    expect(errorOf(await run(admin, "get-online-users-list", { max_items: "7" }))).toBe("not-acceptable");
  });

  it("counts registered and online users, completing at once with a result form", async () => {
    const registered = cmdOf(await admin.ask(command(`${ADMIN}#get-registered-users-num`, { action: "execute" })));
    expect(registered.attrs.status).toBe("completed");
    expect(registered.getChild("x", X)!.attrs.type).toBe("result");
    expect(Number(fieldValue(registered, "registeredusersnum"))).toBe((await t.server.accounts.list()).length);
    const online = cmdOf(await admin.ask(command(`${ADMIN}#get-online-users-num`)));
    expect(fieldValue(online, "onlineusersnum")).toBe(String(new Set([...t.server.sessions.all()].map((s) => s.jid.bare.toString())).size));
  });
});

async function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}
