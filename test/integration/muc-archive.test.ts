// The room archive (XEP-0313 on the room's JID, XEP-0359 stanza-ids by the room) and groups that
// reach members who are away (XEP-0357 push), over real sockets. Romeo owns the rooms; Juliet
// and Mercutio join or stay away; Tybalt is nobody's member. A real app server takes the pushes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { connect, errorOf, type Im } from "../helpers/im.ts";
import { AppServer, enablePush } from "../helpers/push.ts";
import { SmClient } from "../helpers/sm.ts";

const MUC = "http://jabber.org/protocol/muc";
const USER = "http://jabber.org/protocol/muc#user";
const ADMIN = "http://jabber.org/protocol/muc#admin";
const OWNER = "http://jabber.org/protocol/muc#owner";
const MAM = "urn:xmpp:mam:2";
const SID = "urn:xmpp:sid:0";
const RSM = "http://jabber.org/protocol/rsm";
const S = "conference.localhost";

let t: TestServer;
let app: AppServer;
let romeo: Im, juliet: Im, tybalt: Im;
let n = 0;
const fresh = () => `archived${++n}@${S}`;

const statuses = (p: Element) => p.getChild("x", USER)?.getChildren("status").map((s) => s.attrs.code) ?? [];
const isSubject = (room: string) => (el: Element) => el.name === "message" && el.attrs.from?.startsWith(room) === true && el.getChild("subject") !== undefined && !el.getChild("body");
const bodyFrom = (room: string, body: string) => (el: Element) => el.name === "message" && el.attrs.from?.startsWith(`${room}/`) === true && el.getChildText("body") === body;

async function enter(c: Im, room: string, nick: string, history?: Record<string, string>): Promise<Element[]> {
  c.send(xml("presence", { to: `${room}/${nick}` }, xml("x", { xmlns: MUC }, history && xml("history", history))));
  await c.next((el) => el.name === "presence" && el.attrs.from === `${room}/${nick}` && statuses(el).includes("110"), `self-presence in ${room}`);
  const got: Element[] = [];
  for (;;) {
    const el = await c.next((m) => m.name === "message" && m.attrs.from?.startsWith(room) === true && m.attrs.type === "groupchat", `history or subject of ${room}`);
    if (isSubject(room)(el)) return got;
    got.push(el);
  }
}

async function instant(room: string, fields: Record<string, string> = {}): Promise<void> {
  await enter(romeo, room, "romeo");
  const form = xml("x", { xmlns: "jabber:x:data", type: "submit" },
    Object.entries(fields).map(([k, v]) => xml("field", { var: k.includes("#") || k === "mam" ? k : `muc#roomconfig_${k}` }, xml("value", null, v))));
  const r = await romeo.ask(xml("iq", { type: "set", to: room }, xml("query", { xmlns: OWNER }, form)));
  expect(r.attrs.type, r.toString()).toBe("result");
}

const say = (c: Im, room: string, body: string, ...extra: Element[]) =>
  c.send(xml("message", { to: room, type: "groupchat", id: `id-${body}` }, xml("body", null, body), ...extra));
const sidOf = (m: Element, room: string) => m.getChildren("stanza-id", SID).find((s) => s.attrs.by === room)?.attrs.id;
const member = (room: string, jid: string, affiliation = "member") =>
  romeo.ask(xml("iq", { type: "set", to: room }, xml("query", { xmlns: ADMIN }, xml("item", { jid, affiliation }))));

let queries = 0;
/** A query of the room's archive (as Conversations sends it); resolves with the results and the <fin/>. */
async function query(c: Im, room: string, fields: Record<string, string | string[]> = {}, set?: Element[]): Promise<{ results: Element[]; fin: Element | undefined; iq: Element }> {
  const queryid = `q${++queries}`;
  const form = xml("x", { xmlns: "jabber:x:data", type: "submit" },
    xml("field", { var: "FORM_TYPE", type: "hidden" }, xml("value", null, MAM)),
    Object.entries(fields).map(([k, v]) => xml("field", { var: k }, (Array.isArray(v) ? v : [v]).map((x) => xml("value", null, x)))));
  const iq = await c.ask(xml("iq", { type: "set", to: room }, xml("query", { xmlns: MAM, queryid }, form, set && xml("set", { xmlns: RSM }, set))));
  const results: Element[] = [];
  for (let i = c.inbox.findIndex((m) => m.getChild("result", MAM)?.attrs.queryid === queryid); i >= 0; i = c.inbox.findIndex((m) => m.getChild("result", MAM)?.attrs.queryid === queryid)) {
    results.push(c.inbox.splice(i, 1)[0]!);
  }
  return { results, fin: iq.getChild("fin", MAM), iq };
}
const bodies = (results: Element[]) => results.map((r) => r.getChild("result")!.getChild("forwarded")!.getChild("message")!.getChildText("body"));

beforeAll(async () => {
  t = await startServer({
    users: { romeo: "pw", juliet: "pw", mercutio: "pw", tybalt: "pw", push: "pw" },
    config: { modules: { push: { minInterval: 0, timeout: 2, includeBody: true } } },
  });
  app = await AppServer.start(t);
  [romeo, juliet, tybalt] = (await Promise.all(["romeo", "juliet", "tybalt"].map((u) => connect(t, u)))) as [Im, Im, Im];
});
afterAll(async () => {
  await Promise.all([romeo, juliet, tybalt].map((c) => c.stop().catch(() => {})));
  app.stop();
  await t.stop();
});

describe("the room archive (XEP-0313 on the room JID)", () => {
  // XEP-0280 §11 and XEP-0313 §4.2: a copy or a result in a message from a room is an occupant's
  // forgery. The room writes one element to every occupant; each of them gets it without those.
  it("takes a forged carbon and a forged archive result out of a room's message, for every occupant", async () => {
    const room = fresh();
    await instant(room);
    await enter(juliet, room, "juliet");
    await enter(tybalt, room, "tybalt");
    const inner = () => xml("forwarded", { xmlns: "urn:xmpp:forward:0" }, xml("message", { from: "juliet@localhost/balcony", to: "romeo@localhost" }, xml("body", null, "never said")));
    say(juliet, room, "forgeries", xml("received", { xmlns: "urn:xmpp:carbons:2" }, inner()), xml("result", { xmlns: MAM, id: "x" }, inner()));
    for (const c of [romeo, juliet, tybalt]) {
      const m = await c.next(bodyFrom(room, "forgeries"));
      expect(m.getChild("received", "urn:xmpp:carbons:2"), m.toString()).toBeUndefined();
      expect(m.getChild("result", MAM), m.toString()).toBeUndefined();
    }
  });

  it("gives every copy of a message the same stanza-id by the room, removes forged ones, and stores the message once", async () => {
    const room = fresh();
    await instant(room);
    await enter(juliet, room, "juliet");
    const info = await tybalt.ask(xml("iq", { type: "get", to: room }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" })));
    const features = info.getChild("query")!.getChildren("feature").map((f) => f.attrs.var);
    expect(features).toContain(MAM);
    expect(features).toContain(SID);
    const ids: string[] = [];
    for (const [c, body] of [[romeo, "one"], [juliet, "two"], [romeo, "three"]] as const) {
      say(c, room, body, xml("stanza-id", { xmlns: SID, by: room, id: `forged-${body}` }));
      const [a, b] = [await romeo.next(bodyFrom(room, body)), await juliet.next(bodyFrom(room, body))];
      expect(sidOf(a, room)).toBeDefined();
      expect(sidOf(a, room)).toBe(sidOf(b, room));
      expect(a.getChildren("stanza-id", SID)).toHaveLength(1); // the forged one is gone
      ids.push(sidOf(a, room)!);
    }
    const { results, fin } = await query(juliet, room);
    expect(bodies(results)).toEqual(["one", "two", "three"]);
    // Stored once: two occupants, three messages, three entries.
    expect(fin!.getChild("set", RSM)!.getChildText("count")).toBe("3");
    expect(fin!.attrs.complete).toBe("true");
    const r0 = results[0]!;
    expect(r0.attrs.from).toBe(room);
    expect(r0.getChild("result")!.attrs.id).toBe(ids[0]);
    const fwd = r0.getChild("result")!.getChild("forwarded")!.getChild("message")!;
    expect(fwd.attrs).toMatchObject({ from: `${room}/romeo`, type: "groupchat" });
    expect(r0.getChild("result")!.getChild("forwarded")!.getChild("delay", "urn:xmpp:delay")).toBeDefined();

    // RSM paging: two, then what follows the last of them.
    const p1 = await query(juliet, room, {}, [xml("max", null, "2")]);
    expect(bodies(p1.results)).toEqual(["one", "two"]);
    expect(p1.fin!.attrs.complete).toBeUndefined();
    const last = p1.fin!.getChild("set", RSM)!.getChildText("last")!;
    const p2 = await query(juliet, room, {}, [xml("max", null, "2"), xml("after", null, last)]);
    expect(bodies(p2.results)).toEqual(["three"]);
    // The last page, as clients catching up ask for it.
    const tail = await query(juliet, room, {}, [xml("max", null, "1"), xml("before")]);
    expect(bodies(tail.results)).toEqual(["three"]);
    // #extended filters, and 'with' as the occupant's room JID.
    expect(bodies((await query(juliet, room, { "after-id": ids[0]! })).results)).toEqual(["two", "three"]);
    expect(bodies((await query(juliet, room, { "before-id": ids[2]! })).results)).toEqual(["one", "two"]);
    expect(bodies((await query(juliet, room, { ids: [ids[1]!] })).results)).toEqual(["two"]);
    expect(bodies((await query(juliet, room, { with: `${room}/romeo` })).results)).toEqual(["one", "three"]);
    expect(bodies((await query(juliet, room, { start: new Date(Date.now() + 60_000).toISOString() })).results)).toEqual([]);
    expect(errorOf((await query(juliet, room, { "after-id": "nope" })).iq)).toBe("item-not-found");
    expect(errorOf((await query(juliet, room, { colour: "red" })).iq)).toBe("feature-not-implemented");
    // Anyone may read the archive of an open room; its form is there to ask for.
    expect(bodies((await query(tybalt, room)).results)).toHaveLength(3);
    const form = await tybalt.ask(xml("iq", { type: "get", to: room }, xml("query", { xmlns: MAM })));
    expect(form.getChild("query", MAM)!.getChild("x", "jabber:x:data")).toBeDefined();
  });

  it("a members-only room's archive is for its members; an outcast is refused anywhere", async () => {
    const room = fresh();
    await instant(room, { membersonly: "1" });
    say(romeo, room, "secret");
    await romeo.next(bodyFrom(room, "secret"));
    expect(errorOf((await query(tybalt, room)).iq)).toBe("forbidden");
    expect((await member(room, "juliet@localhost")).attrs.type).toBe("result");
    expect(bodies((await query(juliet, room)).results)).toEqual(["secret"]);
    const open = fresh();
    await instant(open);
    expect((await member(open, "tybalt@localhost", "outcast")).attrs.type).toBe("result");
    expect(errorOf((await query(tybalt, open)).iq)).toBe("forbidden");
  });

  it("is off when the owner turns archiving off: no stanza-id, no feature, service-unavailable", async () => {
    const room = fresh();
    await instant(room, { enablearchiving: "0" });
    say(romeo, room, "unkept");
    const m = await romeo.next(bodyFrom(room, "unkept"));
    expect(sidOf(m, room)).toBeUndefined();
    const info = await romeo.ask(xml("iq", { type: "get", to: room }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" })));
    expect(info.getChild("query")!.getChildren("feature").map((f) => f.attrs.var)).not.toContain(MAM);
    expect(errorOf((await query(romeo, room)).iq)).toBe("service-unavailable");
    // ejabberd's field name works too.
    const r = await romeo.ask(xml("iq", { type: "set", to: room }, xml("query", { xmlns: OWNER },
      xml("x", { xmlns: "jabber:x:data", type: "submit" }, xml("field", { var: "mam" }, xml("value", null, "1"))))));
    expect(r.attrs.type).toBe("result");
    say(romeo, room, "kept");
    expect(sidOf(await romeo.next(bodyFrom(room, "kept")), room)).toBeDefined();
  });
});

describe("groups that reach members who are away", () => {
  it("a member not in the room is pushed each message and finds it in the archive; members present are not pushed", async () => {
    const room = fresh();
    await instant(room, { membersonly: "1", persistentroom: "1" });
    // Mercutio's phone registers the app server, then its connection ends: he is away.
    const phone = await connect(t, "mercutio", "phone");
    expect((await phone.ask(enablePush("mercutio-phone"))).attrs.type).toBe("result");
    await phone.stop();
    // Juliet registers too, but she is in the room.
    expect((await juliet.ask(enablePush("juliet-phone"))).attrs.type).toBe("result");
    expect((await member(room, "mercutio@localhost")).attrs.type).toBe("result");
    expect((await member(room, "juliet@localhost")).attrs.type).toBe("result");
    await enter(juliet, room, "juliet");
    say(romeo, room, "supper at eight");
    const pushes = await app.counted("mercutio-phone", 1);
    expect(pushes[0]!["last-message-sender"]).toBe(`${room}/romeo`);
    expect(pushes[0]!["last-message-body"]).toBe("supper at eight");
    await juliet.next(bodyFrom(room, "supper at eight"));
    expect(app.to("juliet-phone")).toEqual([]);
    // Mercutio comes back: the archive has what he missed, with the room's id.
    const back = await connect(t, "mercutio", "phone");
    const { results } = await query(back, room);
    expect(bodies(results)).toEqual(["supper at eight"]);
    await back.stop();
  });
});

describe("occupants whose phone is asleep (session detached, XEP-0198)", () => {
  /** `user`'s phone: a resumable session that enables push under `node`, enters `room` as `nick`, and acks all it gets. */
  async function phoneIn(user: string, node: string, room: string, nick: string): Promise<{ c: SmClient; id: string }> {
    const { c, enabled } = await SmClient.login(t.port, user, "phone");
    c.autoAck = true;
    c.send("<presence/>");
    const enable = enablePush(node);
    enable.attrs.id = "en";
    c.send(enable);
    expect((await c.next((el) => el.attrs.id === "en", "enable result")).attrs.type).toBe("result");
    c.send(xml("presence", { to: `${room}/${nick}` }, xml("x", { xmlns: MUC })));
    await c.next((el) => el.name === "presence" && el.attrs.from === `${room}/${nick}` && statuses(el).includes("110"), "self-presence");
    await c.next(isSubject(room), "subject");
    return { c, id: enabled.attrs.id! };
  }

  /** Cuts the phone's connection; its session stays, detached, and so does its occupant. */
  async function sleepNow(c: SmClient, room: string, nick: string): Promise<void> {
    c.ack();
    c.cut();
    // The room still lists the nickname: the occupant did not leave.
    const items = await romeo.ask(xml("iq", { type: "get", to: room }, xml("query", { xmlns: "http://jabber.org/protocol/disco#items" })));
    expect(items.getChild("query")!.getChildren("item").map((i) => i.attrs.name)).toContain(nick);
  }

  it("in a members-only room, every message wakes an occupant whose session is detached; resuming delivers it", async () => {
    const room = fresh();
    await instant(room, { membersonly: "1" });
    expect((await member(room, "tybalt@localhost")).attrs.type).toBe("result");
    const { c, id } = await phoneIn("tybalt", "tybalt-asleep", room, "tybalt");
    const h = c.handled;
    await sleepNow(c, room, "tybalt");
    say(romeo, room, "the watch is set");
    const pushes = await app.counted("tybalt-asleep", 1);
    expect(pushes[0]!["last-message-sender"]).toBe(`${room}/romeo`);
    expect(pushes[0]!["last-message-body"]).toBe("the watch is set");
    const { c: woken, reply } = await SmClient.resume(t.port, "tybalt", id, h);
    expect(reply.name).toBe("resumed");
    await woken.next(bodyFrom(room, "the watch is set"), "the message, on resumption");
    woken.send(xml("presence", { to: `${room}/tybalt`, type: "unavailable" }));
    await woken.next((el) => el.name === "presence" && el.attrs.type === "unavailable", "left");
    woken.cut();
  });

  it("in an open room, only a message that names the occupant's nickname wakes it; an occupant awake is not woken", async () => {
    const room = fresh();
    await instant(room);
    const { c } = await phoneIn("mercutio", "mercutio-asleep", room, "Mercutio");
    expect((await juliet.ask(enablePush("juliet-awake"))).attrs.type).toBe("result");
    await enter(juliet, room, "juliet");
    await sleepNow(c, room, "Mercutio");
    say(romeo, room, "a plague on both your houses");
    say(romeo, room, "mercutio, where art thou");
    const pushes = await app.counted("mercutio-asleep", 1);
    expect(pushes.map((p) => p["last-message-body"])).toEqual(["mercutio, where art thou"]);
    await juliet.next(bodyFrom(room, "mercutio, where art thou"));
    say(juliet, room, "romeo, wake mercutio");
    await app.counted("mercutio-asleep", 2);
    // Juliet is awake: named or not, she is never pushed; nor are the messages she sent herself.
    expect(app.to("juliet-awake")).toEqual([]);
    expect(app.to("mercutio-asleep").map((p) => p["last-message-body"])).toEqual(["mercutio, where art thou", "romeo, wake mercutio"]);
  });
});

describe("history on entry after a restart", () => {
  it("comes from the archive of a persistent room", async () => {
    const room = fresh();
    await instant(room, { persistentroom: "1" });
    say(romeo, room, "before the restart");
    await romeo.next(bodyFrom(room, "before the restart"));
    await Promise.all([romeo, juliet, tybalt].map((c) => c.stop().catch(() => {})));
    app.stop();
    await t.stop(false);
    t = await startServer({ dataDir: t.dataDir, config: { modules: { push: { minInterval: 0 } } } });
    app = await AppServer.start(t);
    [romeo, juliet, tybalt] = (await Promise.all(["romeo", "juliet", "tybalt"].map((u) => connect(t, u)))) as [Im, Im, Im];
    const history = await enter(juliet, room, "juliet");
    expect(history.map((m) => m.getChildText("body"))).toEqual(["before the restart"]);
    expect(history[0]!.getChild("delay", "urn:xmpp:delay")!.attrs.from).toBe(room);
    expect(sidOf(history[0]!, room)).toBeDefined();
  });
});

describe("XEP-0249 direct invitations", () => {
  it("go to the invitee as they were sent, and both archives keep them", async () => {
    const room = fresh();
    await instant(room, { roomsecret: "cauldron", passwordprotectedroom: "1" });
    const invite = xml("x", { xmlns: "jabber:x:conference", jid: room, password: "cauldron", reason: "Hey Hecate, this is the place for all good witches!", continue: "true", thread: "e0ffe42b28561960c6b12b944a092794b9683a38" });
    romeo.send(xml("message", { to: juliet.jid, id: "inv1" }, invite));
    const got = await juliet.next((el) => el.name === "message" && el.getChild("x", "jabber:x:conference") !== undefined, "the invitation");
    expect(got.attrs).toMatchObject({ from: romeo.jid, id: "inv1" });
    expect(got.getChild("x", "jabber:x:conference")!.attrs).toEqual(invite.attrs);
    for (const c of [juliet, romeo]) {
      const mine = await query(c, c.jid.split("/")[0]!);
      const kept = mine.results.map((r) => r.getChild("result")!.getChild("forwarded")!.getChild("message")!).filter((m) => m.attrs.id === "inv1");
      expect(kept, c.jid).toHaveLength(1);
      expect(kept[0]!.getChild("x", "jabber:x:conference")!.attrs).toEqual(invite.attrs);
    }
  });
});
