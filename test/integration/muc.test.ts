// XEP-0045 Multi-User Chat over real sockets, with XEP-0421 occupant-ids and XEP-0410 self-ping.
// Romeo, Juliet, Mercutio and Tybalt meet in rooms of conference.localhost.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { connect, errorOf, type Im } from "../helpers/im.ts";

const MUC = "http://jabber.org/protocol/muc";
const USER = "http://jabber.org/protocol/muc#user";
const ADMIN = "http://jabber.org/protocol/muc#admin";
const OWNER = "http://jabber.org/protocol/muc#owner";
const INFO = "http://jabber.org/protocol/disco#info";
const ITEMS = "http://jabber.org/protocol/disco#items";
const OID = "urn:xmpp:occupant-id:0";
const S = "conference.localhost";

let t: TestServer;
let romeo: Im, juliet: Im, mercutio: Im, tybalt: Im;
let n = 0;
const fresh = () => `room${++n}@${S}`;

const statuses = (p: Element) => p.getChild("x", USER)?.getChildren("status").map((s) => s.attrs.code) ?? [];
const itemOf = (p: Element) => p.getChild("x", USER)?.getChild("item")?.attrs ?? {};
const from = (jid: string) => (el: Element) => el.attrs.from === jid;
const presenceFrom = (jid: string, type?: string) => (el: Element) => el.name === "presence" && el.attrs.from === jid && el.attrs.type === type;
const isSubject = (room: string) => (el: Element) => el.name === "message" && el.attrs.from?.startsWith(room) === true && el.getChild("subject") !== undefined && !el.getChild("body");

/** Enters `room` as `nick`; returns the self-presence, after the subject that ends the entry. */
async function enter(c: Im, room: string, nick: string, x: Element = xml("x", { xmlns: MUC })): Promise<Element> {
  c.send(xml("presence", { to: `${room}/${nick}` }, x));
  const self = await c.next((el) => el.name === "presence" && el.attrs.from === `${room}/${nick}` && statuses(el).includes("110"), `self-presence in ${room}`);
  await c.next(isSubject(room), `subject of ${room}`);
  return self;
}

/** Romeo makes an instant room (§10.1.2) with these configuration values. */
async function instant(room: string, fields: Record<string, string> = {}, owner = romeo, nick = "romeo"): Promise<void> {
  const self = await enter(owner, room, nick);
  expect(statuses(self)).toContain("201");
  const form = xml("x", { xmlns: "jabber:x:data", type: "submit" },
    Object.entries(fields).map(([k, v]) => xml("field", { var: `muc#roomconfig_${k}` }, xml("value", null, v))));
  const r = await owner.ask(xml("iq", { type: "set", to: room }, xml("query", { xmlns: OWNER }, form)));
  expect(r.attrs.type, r.toString()).toBe("result");
}

const leave = async (c: Im, room: string, nick: string) => {
  c.send(xml("presence", { to: `${room}/${nick}`, type: "unavailable" }));
  await c.next(presenceFrom(`${room}/${nick}`, "unavailable"));
};
const say = (c: Im, room: string, body: string) => c.send(xml("message", { to: room, type: "groupchat" }, xml("body", null, body)));
const admin = (c: Im, room: string, ...items: Element[]) => c.ask(xml("iq", { type: "set", to: room }, xml("query", { xmlns: ADMIN }, ...items)));

beforeAll(async () => {
  t = await startServer({ users: { romeo: "pw", juliet: "pw", mercutio: "pw", tybalt: "pw" } });
  [romeo, juliet, mercutio, tybalt] = (await Promise.all(["romeo", "juliet", "mercutio", "tybalt"].map((u) => connect(t, u)))) as [Im, Im, Im, Im];
});
afterAll(async () => {
  await Promise.all([romeo, juliet, mercutio, tybalt].map((c) => c.stop().catch(() => {})));
  await t.stop();
});

describe("the service (§6)", () => {
  it("is an item of the server's disco#items, a conference/text service with the muc feature", async () => {
    const items = await romeo.ask(xml("iq", { type: "get", to: "localhost" }, xml("query", { xmlns: ITEMS })));
    expect(items.getChild("query")!.getChildren("item").map((i) => i.attrs.jid)).toContain(S);
    const info = await romeo.ask(xml("iq", { type: "get", to: S }, xml("query", { xmlns: INFO })));
    expect(info.getChild("query")!.getChild("identity")!.attrs).toMatchObject({ category: "conference", type: "text" });
    expect(info.getChild("query")!.getChildren("feature").map((f) => f.attrs.var)).toContain(MUC);
  });

  it("lists public rooms in its disco#items, not hidden ones", async () => {
    const open = fresh();
    const hidden = fresh();
    await instant(open, { roomname: "The Square" });
    await instant(hidden, { publicroom: "0" });
    const items = await juliet.ask(xml("iq", { type: "get", to: S }, xml("query", { xmlns: ITEMS })));
    const list = items.getChild("query")!.getChildren("item").map((i) => i.attrs);
    expect(list).toContainEqual({ jid: open, name: "The Square" });
    expect(list.map((i) => i.jid)).not.toContain(hidden);
    await leave(romeo, open, "romeo");
    await leave(romeo, hidden, "romeo");
  });

  it("a room's occupants are in its disco#items for who may see them: anyone in an open public room; members in a members-only one; occupants in a password-protected one (§6.5)", async () => {
    const occupantsSeenBy = async (c: Im, room: string) =>
      (await c.ask(xml("iq", { type: "get", to: room }, xml("query", { xmlns: ITEMS })))).getChild("query")!.getChildren("item").map((i) => i.attrs.name);
    const open = fresh();
    await instant(open);
    expect(await occupantsSeenBy(tybalt, open)).toEqual(["romeo"]);

    const members = fresh();
    await instant(members, { membersonly: "1" });
    expect(await occupantsSeenBy(tybalt, members)).toEqual([]);
    expect((await admin(romeo, members, xml("item", { jid: "juliet@localhost", affiliation: "member" }))).attrs.type).toBe("result");
    expect(await occupantsSeenBy(juliet, members)).toEqual(["romeo"]);

    const secret = fresh();
    await instant(secret, { passwordprotectedroom: "1", roomsecret: "balcony" });
    expect(await occupantsSeenBy(tybalt, secret)).toEqual([]);
    await enter(juliet, secret, "juliet", xml("x", { xmlns: MUC }, xml("password", null, "balcony")));
    expect((await occupantsSeenBy(juliet, secret)).sort()).toEqual(["juliet", "romeo"]);
    expect(await occupantsSeenBy(tybalt, secret)).toEqual([]);
    await leave(juliet, secret, "juliet");
    for (const room of [open, members, secret]) await leave(romeo, room, "romeo");
  });

  it("a room that does not exist is item-not-found; entering without a nickname is jid-malformed", async () => {
    const r = await juliet.ask(xml("iq", { type: "get", to: `nowhere@${S}` }, xml("query", { xmlns: INFO })));
    expect(errorOf(r)).toBe("item-not-found");
    juliet.send(xml("presence", { to: `nowhere@${S}` }, xml("x", { xmlns: MUC })));
    expect(errorOf(await juliet.next(presenceFrom(`nowhere@${S}`, "error")))).toBe("jid-malformed");
  });
});

describe("creating rooms (§10.1)", () => {
  it("a reserved room is locked (201) until its owner submits the configuration form", async () => {
    const room = fresh();
    const self = await enter(romeo, room, "romeo");
    expect(statuses(self)).toEqual(expect.arrayContaining(["110", "201"]));
    expect(itemOf(self)).toMatchObject({ affiliation: "owner", role: "moderator" });
    juliet.send(xml("presence", { to: `${room}/juliet` }, xml("x", { xmlns: MUC })));
    expect(errorOf(await juliet.next(presenceFrom(`${room}/juliet`, "error")))).toBe("item-not-found");

    const form = await romeo.ask(xml("iq", { type: "get", to: room }, xml("query", { xmlns: OWNER })));
    const vars = form.getChild("query")!.getChild("x", "jabber:x:data")!.getChildren("field").map((f) => f.attrs.var);
    expect(vars).toEqual(expect.arrayContaining(["muc#roomconfig_roomname", "muc#roomconfig_persistentroom", "muc#roomconfig_whois", "muc#roomconfig_roomsecret", "muc#roomconfig_historylength", "muc#roomconfig_allowpm"]));
    const notOwner = await juliet.ask(xml("iq", { type: "get", to: room }, xml("query", { xmlns: OWNER })));
    expect(errorOf(notOwner)).toBe("forbidden");

    const submit = xml("x", { xmlns: "jabber:x:data", type: "submit" }, xml("field", { var: "muc#roomconfig_roomname" }, xml("value", null, "Verona")));
    expect((await romeo.ask(xml("iq", { type: "set", to: room }, xml("query", { xmlns: OWNER }, submit)))).attrs.type).toBe("result");
    const jself = await enter(juliet, room, "juliet");
    expect(itemOf(jself)).toMatchObject({ affiliation: "none", role: "participant" });
    await leave(juliet, room, "juliet");
    await leave(romeo, room, "romeo");
  });

  it("cancelling the form of a new room destroys it", async () => {
    const room = fresh();
    await enter(romeo, room, "romeo");
    romeo.send(xml("iq", { type: "set", to: room, id: "cancel" }, xml("query", { xmlns: OWNER }, xml("x", { xmlns: "jabber:x:data", type: "cancel" }))));
    await romeo.next(presenceFrom(`${room}/romeo`, "unavailable"));
    const r = await romeo.ask(xml("iq", { type: "get", to: room }, xml("query", { xmlns: INFO })));
    expect(errorOf(r)).toBe("item-not-found");
  });
});

describe("entering, talking, leaving (§7)", () => {
  it("the newcomer gets everyone's presence then its own; the others get one presence each; the subject ends the entry", async () => {
    const room = fresh();
    await instant(room);
    await enter(juliet, room, "juliet");
    await romeo.next(presenceFrom(`${room}/juliet`));
    mercutio.send(xml("presence", { to: `${room}/mercutio` }, xml("x", { xmlns: MUC })));
    const first = await mercutio.next((el) => el.name === "presence");
    const second = await mercutio.next((el) => el.name === "presence");
    const third = await mercutio.next((el) => el.name === "presence");
    expect([first.attrs.from, second.attrs.from].sort()).toEqual([`${room}/juliet`, `${room}/romeo`]);
    expect(third.attrs.from).toBe(`${room}/mercutio`);
    expect(statuses(third)).toContain("110");
    // Semi-anonymous: a participant does not see real JIDs; the moderator does.
    expect(itemOf(first).jid).toBeUndefined();
    await mercutio.next(isSubject(room));
    expect(itemOf(await romeo.next(presenceFrom(`${room}/mercutio`))).jid).toBe("mercutio@localhost/r");
    await juliet.next(presenceFrom(`${room}/mercutio`));
    await romeo.nothing(presenceFrom(`${room}/mercutio`));

    say(juliet, room, "Good morrow");
    for (const c of [romeo, juliet, mercutio]) {
      const m = await c.next((el) => el.name === "message" && el.getChildText("body") === "Good morrow");
      expect(m.attrs).toMatchObject({ from: `${room}/juliet`, type: "groupchat" });
      expect(m.getChild("occupant-id", OID)?.attrs.id).toBeTruthy();
    }
    await leave(mercutio, room, "mercutio");
    const gone = await juliet.next(presenceFrom(`${room}/mercutio`, "unavailable"));
    expect(itemOf(gone).role).toBe("none");
    await leave(juliet, room, "juliet");
    await leave(romeo, room, "romeo");
  });

  it("a nickname in use is a conflict; a non-occupant cannot talk (not-acceptable)", async () => {
    const room = fresh();
    await instant(room);
    juliet.send(xml("presence", { to: `${room}/romeo` }, xml("x", { xmlns: MUC })));
    expect(errorOf(await juliet.next(presenceFrom(`${room}/romeo`, "error")))).toBe("conflict");
    juliet.send(xml("message", { to: room, type: "groupchat", id: "x1" }, xml("body", null, "hi")));
    expect(errorOf(await juliet.next((el) => el.name === "message" && el.attrs.id === "x1"))).toBe("not-acceptable");
    await leave(romeo, room, "romeo");
  });

  it("history on entry: delayed by the room's JID, limited by maxstanzas", async () => {
    const room = fresh();
    await instant(room);
    for (const b of ["one", "two", "three"]) say(romeo, room, b);
    for (const b of ["one", "two", "three"]) await romeo.next((el) => el.getChildText("body") === b);
    juliet.send(xml("presence", { to: `${room}/juliet` }, xml("x", { xmlns: MUC }, xml("history", { maxstanzas: "2" }))));
    await juliet.next((el) => el.name === "presence" && statuses(el).includes("110"));
    const h1 = await juliet.next((el) => el.name === "message" && el.getChild("body") !== undefined);
    const h2 = await juliet.next((el) => el.name === "message" && el.getChild("body") !== undefined);
    expect([h1.getChildText("body"), h2.getChildText("body")]).toEqual(["two", "three"]);
    expect(h1.getChild("delay", "urn:xmpp:delay")!.attrs.from).toBe(room);
    await juliet.next(isSubject(room));
    await leave(juliet, room, "juliet");
    mercutio.send(xml("presence", { to: `${room}/mercutio` }, xml("x", { xmlns: MUC }, xml("history", { maxchars: "0" }))));
    await mercutio.next(isSubject(room));
    expect(mercutio.inbox.filter((el) => el.getChild("body"))).toEqual([]);
    await leave(mercutio, room, "mercutio");
    await leave(romeo, room, "romeo");
  });

  it("the subject: moderators change it, participants only when the room allows (§8.1)", async () => {
    const room = fresh();
    await instant(room);
    await enter(juliet, room, "juliet");
    juliet.send(xml("message", { to: room, type: "groupchat", id: "s1" }, xml("subject", null, "Love")));
    expect(errorOf(await juliet.next((el) => el.attrs.id === "s1" && el.attrs.type === "error"))).toBe("forbidden");
    romeo.send(xml("message", { to: room, type: "groupchat" }, xml("subject", null, "Feud")));
    expect((await juliet.next(isSubject(room))).getChildText("subject")).toBe("Feud");
    await leave(juliet, room, "juliet");
    // A newcomer gets the subject as the last stanza of its entry, from whoever set it.
    juliet.send(xml("presence", { to: `${room}/juliet` }, xml("x", { xmlns: MUC })));
    const subject = await juliet.next(isSubject(room));
    expect(subject.attrs.from).toBe(`${room}/romeo`);
    expect(subject.getChildText("subject")).toBe("Feud");
    await leave(juliet, room, "juliet");
    await leave(romeo, room, "romeo");
  });

  it("private messages go from the sender's room JID to the occupant's real JID (§7.5)", async () => {
    const room = fresh();
    await instant(room);
    await enter(juliet, room, "juliet");
    romeo.send(xml("message", { to: `${room}/juliet`, type: "chat" }, xml("body", null, "psst")));
    const pm = await juliet.next((el) => el.getChildText("body") === "psst");
    expect(pm.attrs.from).toBe(`${room}/romeo`);
    expect(pm.getChild("x", USER)).toBeDefined();
    romeo.send(xml("message", { to: `${room}/nobody`, type: "chat", id: "pm2" }, xml("body", null, "?")));
    expect(errorOf(await romeo.next((el) => el.attrs.id === "pm2"))).toBe("item-not-found");
    await leave(juliet, room, "juliet");
    await leave(romeo, room, "romeo");
  });

  it("a nickname change is unavailable with 303 and the new nick, then the new presence (§7.6)", async () => {
    const room = fresh();
    await instant(room);
    await enter(juliet, room, "juliet");
    juliet.send(xml("presence", { to: `${room}/capulet` }));
    const out = await romeo.next(presenceFrom(`${room}/juliet`, "unavailable"));
    expect(statuses(out)).toContain("303");
    expect(itemOf(out).nick).toBe("capulet");
    await romeo.next(presenceFrom(`${room}/capulet`));
    expect(statuses(await juliet.next(presenceFrom(`${room}/juliet`, "unavailable")))).toEqual(expect.arrayContaining(["110", "303"]));
    await juliet.next(presenceFrom(`${room}/capulet`));
    juliet.send(xml("presence", { to: `${room}/romeo` }));
    expect(errorOf(await juliet.next(presenceFrom(`${room}/romeo`, "error")))).toBe("conflict");
    await leave(juliet, room, "capulet");
    await leave(romeo, room, "romeo");
  });
});

describe("blocklists (XEP-0191) apply to what a room sends", () => {
  const BLOCKING = "urn:xmpp:blocking";
  const block = (c: Im, jid: string) => c.ask(xml("iq", { type: "set" }, xml("block", { xmlns: BLOCKING }, xml("item", { jid }))));
  const unblock = (c: Im, jid: string) => c.ask(xml("iq", { type: "set" }, xml("unblock", { xmlns: BLOCKING }, xml("item", { jid }))));

  it("an occupant who blocked a nick gets neither its messages nor its presence; the others get both", async () => {
    const room = fresh();
    await instant(room);
    await enter(juliet, room, "juliet");
    await enter(mercutio, room, "mercutio");
    expect((await block(juliet, `${room}/romeo`)).attrs.type).toBe("result");
    juliet.inbox.length = 0; // the presences of her entry
    say(romeo, room, "from romeo");
    say(mercutio, room, "from mercutio");
    romeo.send(xml("presence", { to: `${room}/romeo` }, xml("show", null, "away")));
    await mercutio.next((el) => el.name === "message" && el.getChildText("body") === "from romeo");
    await mercutio.next((el) => el.name === "presence" && el.attrs.from === `${room}/romeo` && el.getChildText("show") === "away");
    await juliet.next((el) => el.name === "message" && el.getChildText("body") === "from mercutio");
    await juliet.nothing((el) => el.attrs.from === `${room}/romeo`);
    // Unblocked, the nick reaches her again.
    expect((await unblock(juliet, `${room}/romeo`)).attrs.type).toBe("result");
    say(romeo, room, "again");
    await juliet.next((el) => el.name === "message" && el.attrs.from === `${room}/romeo` && el.getChildText("body") === "again");
    // Blocking the room's bare JID silences all of it.
    expect((await block(juliet, room)).attrs.type).toBe("result");
    juliet.inbox.length = 0;
    say(mercutio, room, "to all");
    await romeo.next((el) => el.name === "message" && el.getChildText("body") === "to all");
    await juliet.nothing((el) => el.attrs.from?.startsWith(room) === true);
    expect((await unblock(juliet, room)).attrs.type).toBe("result");
    await leave(juliet, room, "juliet");
    await leave(mercutio, room, "mercutio");
    await leave(romeo, room, "romeo");
  });
});

describe("presence broadcast by role (§10.2 muc#roomconfig_presencebroadcast)", () => {
  it("a room that broadcasts moderators only: participants see the moderators and themselves, nobody sees participants", async () => {
    const room = fresh();
    await enter(romeo, room, "romeo");
    const form = await romeo.ask(xml("iq", { type: "get", to: room }, xml("query", { xmlns: OWNER })));
    const field = form.getChild("query")!.getChild("x", "jabber:x:data")!.getChildren("field").find((f) => f.attrs.var === "muc#roomconfig_presencebroadcast")!;
    expect(field.attrs.type).toBe("list-multi");
    expect(field.getChildren("value").map((v) => v.getText())).toEqual(["moderator", "participant", "visitor"]);
    const submit = xml("x", { xmlns: "jabber:x:data", type: "submit" },
      xml("field", { var: "muc#roomconfig_presencebroadcast" }, xml("value", null, "moderator")));
    expect((await romeo.ask(xml("iq", { type: "set", to: room }, xml("query", { xmlns: OWNER }, submit)))).attrs.type).toBe("result");
    await enter(juliet, room, "juliet");
    await enter(mercutio, room, "mercutio");
    // Romeo (a moderator) is seen by both; neither participant is seen by anyone.
    await juliet.next(presenceFrom(`${room}/romeo`));
    await mercutio.next(presenceFrom(`${room}/romeo`));
    say(juliet, room, "hello");
    await romeo.next((el) => el.name === "message" && el.getChildText("body") === "hello");
    await leave(juliet, room, "juliet");
    await romeo.nothing((el) => el.name === "presence" && (el.attrs.from === `${room}/juliet` || el.attrs.from === `${room}/mercutio`));
    await mercutio.nothing((el) => el.name === "presence" && el.attrs.from === `${room}/juliet`);
    // Made a moderator, Mercutio is announced to everyone.
    expect((await admin(romeo, room, xml("item", { nick: "mercutio", role: "moderator" }))).attrs.type).toBe("result");
    await romeo.next((el) => el.name === "presence" && el.attrs.from === `${room}/mercutio` && itemOf(el).role === "moderator");
    await leave(mercutio, room, "mercutio");
    await romeo.next(presenceFrom(`${room}/mercutio`, "unavailable"));
    await leave(romeo, room, "romeo");
  });
});
