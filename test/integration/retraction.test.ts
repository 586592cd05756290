// Message retraction (XEP-0424) and moderation (XEP-0425) over real sockets. Romeo takes back a
// message he sent Juliet: she gets the retraction like any message, and both archives keep it
// and replace the original with a tombstone; nobody can take back someone else's words. In a
// room, an occupant retracts its own message, and a moderator retracts another's with the
// moderation iq (both versions of it): everyone is told, the room's archive and its history keep
// tombstones, and only moderators may.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { accounts, connect, errorOf, presence, type Im } from "../helpers/im.ts";

const RETRACT = "urn:xmpp:message-retract:1";
const TOMBSTONE = `${RETRACT}#tombstone`;
const MAM = "urn:xmpp:mam:2";
const SID = "urn:xmpp:sid:0";
const FALLBACK = "urn:xmpp:fallback:0";
const DISCO = "http://jabber.org/protocol/disco#info";

let t: TestServer;
beforeAll(async () => {
  t = await startServer();
});
afterAll(() => t.stop());

const chat = (to: string, id: string, body: string) =>
  xml("message", { to, type: "chat", id }, xml("body", null, body), xml("origin-id", { xmlns: SID, id }));
/** A retraction as XEP-0424 §3 has clients send it: fallback body, store hint. */
const retraction = (to: string, named: string, id: string, type = "chat") =>
  xml("message", { to, type, id }, xml("retract", { xmlns: RETRACT, id: named }), xml("fallback", { xmlns: FALLBACK, for: RETRACT }),
    xml("body", null, "/me retracted a previous message, but it's unsupported by your client."), xml("store", { xmlns: "urn:xmpp:hints" }));
const withId = (id: string) => (el: Element) => el.name === "message" && el.attrs.id === id;
const features = async (c: Im, to: string) =>
  (await c.ask(xml("iq", { type: "get", to }, xml("query", { xmlns: DISCO })))).getChild("query")!.getChildren("feature").map((f) => f.attrs.var);

let queries = 0;
/** The archive's messages (as forwarded), oldest first. */
async function archived(c: Im, to?: string): Promise<Element[]> {
  const queryid = `q${++queries}`;
  const r = await c.ask(xml("iq", { type: "set", to }, xml("query", { xmlns: MAM, queryid })));
  expect(r.attrs.type, r.toString()).toBe("result");
  const out: Element[] = [];
  for (let i = 0; i < c.inbox.length; i++) {
    const res = c.inbox[i]!.getChild("result", MAM);
    if (res?.attrs.queryid !== queryid) continue;
    out.push(res.getChild("forwarded")!.getChild("message")!);
    c.inbox.splice(i--, 1);
  }
  return out;
}
const summary = (ms: Element[]) => ms.map((m) => m.getChild("retracted", RETRACT) ? `${m.attrs.id}: retracted by ${m.getChild("retracted", RETRACT)!.attrs.id}`
  : m.getChild("retract", RETRACT) ? `${m.attrs.id}: retracts ${m.getChild("retract", RETRACT)!.attrs.id}` : `${m.attrs.id}: ${m.getChildText("body")}`);

async function online(user: string, resource: string): Promise<Im> {
  const c = await connect(t, user, resource);
  c.send(presence());
  await c.next((el) => el.name === "presence" && el.attrs.from === c.jid, "its own presence");
  return c;
}

describe("retracting a message one sent (XEP-0424), one to one", () => {
  it("is advertised on the server and on accounts, with tombstones", async () => {
    const [romeo] = (await accounts(t, "romeo")) as [string];
    const c = await connect(t, romeo, "r");
    for (const to of ["localhost", `${romeo}@localhost`]) {
      expect(await features(c, to)).toEqual(expect.arrayContaining([RETRACT, TOMBSTONE]));
    }
    await c.stop();
  });

  it("Romeo retracts what he sent Juliet: she is told, and both archives keep the retraction and a tombstone where the message was", async () => {
    const [romeo, juliet] = (await accounts(t, "romeo", "juliet")) as [string, string];
    const R = `${romeo}@localhost`;
    const J = `${juliet}@localhost`;
    const [r, j] = [await online(romeo, "orchard"), await online(juliet, "balcony")];
    r.send(chat(J, "m1", "Have not saints lips, and holy palmers too?"));
    r.send(chat(J, "m2", "Ay, pilgrim, lips that they must use in prayer."));
    await j.next(withId("m1"));
    await j.next(withId("m2"));
    r.send(retraction(J, "m1", "r1"));
    const told = await j.next(withId("r1"), "the retraction");
    expect(told.getChild("retract", RETRACT)!.attrs.id).toBe("m1");
    expect(told.getChildren("stanza-id", SID).map((s) => s.attrs.by)).toEqual([J]);

    for (const c of [j, r]) {
      const list = await archived(c);
      expect(summary(list)).toEqual(["m1: retracted by r1", "m2: Ay, pilgrim, lips that they must use in prayer.", "r1: retracts m1"]);
      const dead = list[0]!;
      expect(dead.attrs).toMatchObject({ from: `${R}/orchard`, type: "chat" });
      expect(dead.getChild("body")).toBeUndefined();
      expect(dead.getChild("origin-id", SID)?.attrs.id).toBe("m1");
      expect(Date.now() - Date.parse(dead.getChild("retracted", RETRACT)!.attrs.stamp!)).toBeLessThan(60_000);
    }
    await Promise.all([r.stop(), j.stop()]);
  });

  it("a retraction reaches Juliet's archive while she is away, and her next session finds the tombstone", async () => {
    const [romeo, juliet] = (await accounts(t, "romeo", "juliet")) as [string, string];
    const J = `${juliet}@localhost`;
    const r = await online(romeo, "orchard");
    r.send(chat(J, "away1", "Thou know'st the mask of night is on my face"));
    r.send(retraction(J, "away1", "r-away1"));
    // Romeo's own archive answers once the tombstone is written.
    expect(summary(await archived(r))).toEqual(["away1: retracted by r-away1", "r-away1: retracts away1"]);
    const j = await connect(t, juliet, "balcony");
    expect(summary(await archived(j))).toEqual(["away1: retracted by r-away1", "r-away1: retracts away1"]);
    await Promise.all([r.stop(), j.stop()]);
  });

  it("nobody retracts another's message: Juliet's retraction naming Romeo's message leaves it whole in both archives", async () => {
    const [romeo, juliet] = (await accounts(t, "romeo", "juliet")) as [string, string];
    const [R, J] = [`${romeo}@localhost`, `${juliet}@localhost`];
    const [r, j] = [await online(romeo, "orchard"), await online(juliet, "balcony")];
    r.send(chat(J, "mine", "It is my lady, O, it is my love!"));
    await j.next(withId("mine"));
    j.send(retraction(R, "mine", "not-hers"));
    await r.next(withId("not-hers"), "the retraction, routed like any message");
    for (const c of [j, r]) expect(summary(await archived(c))).toEqual(["mine: It is my lady, O, it is my love!", "not-hers: retracts mine"]);
    await Promise.all([r.stop(), j.stop()]);
  });
});

// ---- in rooms ---------------------------------------------------------------------------------

const MUC = "http://jabber.org/protocol/muc";
const MUC_USER = "http://jabber.org/protocol/muc#user";
const MUC_OWNER = "http://jabber.org/protocol/muc#owner";
const MODERATE = "urn:xmpp:message-moderate:1";
const MODERATE_0 = "urn:xmpp:message-moderate:0";
const OCCUPANT_ID = "urn:xmpp:occupant-id:0";
let rooms = 0;

const statuses = (p: Element) => p.getChild("x", MUC_USER)?.getChildren("status").map((s) => s.attrs.code) ?? [];
/** Enters the room; resolves with the history it was sent. */
async function enter(c: Im, room: string, nick: string): Promise<Element[]> {
  c.send(xml("presence", { to: `${room}/${nick}` }, xml("x", { xmlns: MUC })));
  await c.next((el) => el.name === "presence" && el.attrs.from === `${room}/${nick}` && statuses(el).includes("110"), `self-presence in ${room}`);
  const history: Element[] = [];
  for (;;) {
    const m = await c.next((el) => el.name === "message" && el.attrs.type === "groupchat" && el.attrs.from?.startsWith(room) === true, `history of ${room}`);
    if (m.getChild("subject")) return history;
    history.push(m);
  }
}
/** A room Romeo owns (and moderates), configured with `fields` (muc#roomconfig_ ones). */
async function roomOf(romeo: Im, fields: Record<string, string> = {}): Promise<string> {
  const room = `tomb${++rooms}@conference.localhost`;
  await enter(romeo, room, "romeo");
  const form = xml("x", { xmlns: "jabber:x:data", type: "submit" },
    Object.entries(fields).map(([k, v]) => xml("field", { var: `muc#roomconfig_${k}` }, xml("value", null, v))));
  expect((await romeo.ask(xml("iq", { type: "set", to: room }, xml("query", { xmlns: MUC_OWNER }, form)))).attrs.type).toBe("result");
  return room;
}
const say = (c: Im, room: string, id: string, body: string) => c.send(xml("message", { to: room, type: "groupchat", id }, xml("body", null, body)));
const heard = (c: Im, id: string) => c.next((el) => el.name === "message" && el.attrs.type === "groupchat" && el.attrs.id === id, `groupchat ${id}`);
const roomSid = (m: Element, room: string) => m.getChildren("stanza-id", SID).find((s) => s.attrs.by === room)!.attrs.id!;
const moderate1 = (room: string, id: string, reason?: string) => xml("iq", { type: "set", to: room },
  xml("moderate", { xmlns: MODERATE, id }, xml("retract", { xmlns: RETRACT }), reason !== undefined && xml("reason", null, reason)));
const moderate0 = (room: string, id: string, reason?: string) => xml("iq", { type: "set", to: room },
  xml("apply-to", { xmlns: "urn:xmpp:fasten:0", id }, xml("moderate", { xmlns: MODERATE_0 },
    xml("retract", { xmlns: "urn:xmpp:message-retract:0" }), reason !== undefined && xml("reason", null, reason))));
const roomSummary = (ms: Element[]) => ms.map((m) => {
  const dead = m.getChild("retracted", RETRACT);
  if (dead) return `${m.attrs.from}: retracted${dead.getChild("moderated", MODERATE) ? ` by ${dead.getChild("moderated", MODERATE)!.attrs.by}` : ""}`;
  const retract = m.getChild("retract", RETRACT);
  if (retract) return `${m.attrs.from}: ${retract.getChild("moderated", MODERATE) ? "moderates" : "retracts"} a message`;
  return `${m.attrs.from}: ${m.getChildText("body")}`;
});

describe("retractions in rooms (XEP-0424, XEP-0425)", () => {
  let romeo: Im, juliet: Im, mercutio: Im;
  let names: string[];
  beforeAll(async () => {
    names = await accounts(t, "romeo", "juliet", "mercutio");
    [romeo, juliet, mercutio] = (await Promise.all(names.map((u) => connect(t, u, "r")))) as [Im, Im, Im];
  });
  afterAll(() => Promise.all([romeo, juliet, mercutio].map((c) => c.stop())));

  it("an archived room offers moderation (both versions), retraction and tombstones; one without an archive offers none", async () => {
    const archived = await roomOf(romeo);
    expect(await features(juliet, archived)).toEqual(expect.arrayContaining([MODERATE, MODERATE_0, RETRACT, TOMBSTONE]));
    const plain = await roomOf(romeo, { enablearchiving: "0" });
    const f = await features(juliet, plain);
    for (const x of [MODERATE, MODERATE_0, RETRACT, TOMBSTONE]) expect(f).not.toContain(x);
    // No stanza-ids there: nothing can be named, so a moderation finds nothing.
    expect(errorOf(await romeo.ask(moderate1(plain, "anything")))).toBe("item-not-found");
  });

  it("Juliet retracts her own message: everyone is told, and the archive and the history keep a tombstone; her retraction of Romeo's changes nothing", async () => {
    const room = await roomOf(romeo);
    await enter(juliet, room, "juliet");
    say(juliet, room, "j1", "My only love sprung from my only hate!");
    const sid = roomSid(await heard(romeo, "j1"), room);
    await heard(juliet, "j1");
    say(romeo, room, "r1", "Call me but love");
    const romeos = roomSid(await heard(juliet, "r1"), room);
    await heard(romeo, "r1");

    juliet.send(retraction(room, sid, "jr1", "groupchat"));
    const told = await heard(romeo, "jr1");
    expect(told.attrs.from).toBe(`${room}/juliet`);
    expect(told.getChild("retract", RETRACT)!.attrs.id).toBe(sid);
    await heard(juliet, "jr1");
    juliet.send(retraction(room, romeos, "jr2", "groupchat"));
    await heard(romeo, "jr2");

    const list = await archived(mercutio, room);
    expect(roomSummary(list)).toEqual([`${room}/juliet: retracted`, `${room}/romeo: Call me but love`,
      `${room}/juliet: retracts a message`, `${room}/juliet: retracts a message`]);
    expect(list[0]!.getChild("retracted", RETRACT)!.attrs.id).toBe("jr1");
    expect(list[0]!.getChild("occupant-id", OCCUPANT_ID)).toBeDefined();
    // A newcomer is not replayed what was retracted.
    const history = await enter(mercutio, room, "mercutio");
    expect(roomSummary(history)).toEqual(roomSummary(list));
    expect(history[0]!.getChild("delay", "urn:xmpp:delay")).toBeDefined();
  });

  it("Romeo, a moderator, retracts Juliet's message (XEP-0425 0.3): everyone is told by the room, with the reason; the archive and the history keep a tombstone saying who", async () => {
    const room = await roomOf(romeo);
    await enter(juliet, room, "juliet");
    say(juliet, room, "spam", "DM me for free magic potions!");
    const sid = roomSid(await heard(romeo, "spam"), room);
    await heard(juliet, "spam");
    expect((await romeo.ask(moderate1(room, sid, "Spam"))).attrs.type).toBe("result");
    for (const c of [romeo, juliet]) {
      const m = await c.next((el) => el.name === "message" && el.attrs.from === room && el.getChild("retract", RETRACT) !== undefined, "the room's retraction");
      expect(m.attrs.type).toBe("groupchat");
      const retract = m.getChild("retract", RETRACT)!;
      expect(retract.attrs.id).toBe(sid);
      expect(retract.getChildText("reason")).toBe("Spam");
      const by = retract.getChild("moderated", MODERATE)!;
      expect(by.attrs.by).toBe(`${room}/romeo`);
      expect(by.getChild("occupant-id", OCCUPANT_ID)?.attrs.id).toBeDefined();
      // 0.2's form beside it, for the clients that read that one.
      const old = m.getChild("apply-to", "urn:xmpp:fasten:0")!;
      expect(old.attrs.id).toBe(sid);
      expect(old.getChild("moderated", MODERATE_0)!.getChild("retract", "urn:xmpp:message-retract:0")).toBeDefined();
    }
    const list = await archived(mercutio, room);
    expect(roomSummary(list)).toEqual([`${room}/juliet: retracted by ${room}/romeo`, `${room}: moderates a message`]);
    const dead = list[0]!;
    expect(dead.getChild("body")).toBeUndefined();
    expect(dead.getChild("retracted", RETRACT)!.getChildText("reason")).toBe("Spam");
    expect(dead.getChild("moderated", MODERATE_0)!.getChild("retracted", "urn:xmpp:message-retract:0")).toBeDefined();
    expect(roomSummary(await enter(mercutio, room, "mercutio"))).toEqual(roomSummary(list));
  });

  it("the 0.2 request (apply-to, message-moderate:0) works the same", async () => {
    const room = await roomOf(romeo);
    await enter(juliet, room, "juliet");
    say(juliet, room, "old1", "What's in a name?");
    const sid = roomSid(await heard(romeo, "old1"), room);
    expect((await romeo.ask(moderate0(room, sid, "Off topic"))).attrs.type).toBe("result");
    await juliet.next((el) => el.attrs.from === room && el.getChild("retract", RETRACT)?.attrs.id === sid, "the room's retraction");
    expect(roomSummary(await archived(juliet, room))).toEqual([`${room}/juliet: retracted by ${room}/romeo`, `${room}: moderates a message`]);
  });

  it("only moderators may (forbidden), and only what the archive has (item-not-found)", async () => {
    const room = await roomOf(romeo);
    await enter(juliet, room, "juliet");
    say(romeo, room, "r-keep", "Parting is such sweet sorrow");
    const sid = roomSid(await heard(juliet, "r-keep"), room);
    expect(errorOf(await juliet.ask(moderate1(room, sid)))).toBe("forbidden");
    expect(errorOf(await mercutio.ask(moderate1(room, sid)))).toBe("forbidden"); // not even in the room
    expect(errorOf(await romeo.ask(moderate1(room, "no-such-id")))).toBe("item-not-found");
    const edit = xml("iq", { type: "set", to: room }, xml("moderate", { xmlns: MODERATE, id: sid }, xml("replace", { xmlns: "urn:example:edit" })));
    expect(errorOf(await romeo.ask(edit))).toBe("feature-not-implemented");
    expect(roomSummary(await archived(juliet, room))).toEqual([`${room}/romeo: Parting is such sweet sorrow`]);
  });
});
