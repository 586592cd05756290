// XEP-0045 moderation, administration and ownership over real sockets (§8-§10), invitations
// (§7.8), room discovery (§6.4), XEP-0421 occupant-ids, XEP-0410 self-ping, vanished sessions and
// persistent rooms across a restart.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { connect, errorOf, type Im } from "../helpers/im.ts";
import { RawClient } from "../helpers/raw.ts";
import { SmClient } from "../helpers/sm.ts";

const MUC = "http://jabber.org/protocol/muc";
const USER = "http://jabber.org/protocol/muc#user";
const ADMIN = "http://jabber.org/protocol/muc#admin";
const OWNER = "http://jabber.org/protocol/muc#owner";
const INFO = "http://jabber.org/protocol/disco#info";
const OID = "urn:xmpp:occupant-id:0";
const S = "conference.localhost";

let t: TestServer;
let romeo: Im, juliet: Im, mercutio: Im;
let n = 0;
const fresh = () => `hall${++n}@${S}`;

const statuses = (p: Element) => p.getChild("x", USER)?.getChildren("status").map((s) => s.attrs.code) ?? [];
const itemOf = (p: Element) => p.getChild("x", USER)?.getChild("item")?.attrs ?? {};
const presenceFrom = (jid: string, type?: string) => (el: Element) => el.name === "presence" && el.attrs.from === jid && el.attrs.type === type;
const isSubject = (room: string) => (el: Element) => el.name === "message" && el.attrs.from?.startsWith(room) === true && el.getChild("subject") !== undefined;

async function enter(c: Im, room: string, nick: string, ...extra: Element[]): Promise<Element> {
  c.send(xml("presence", { to: `${room}/${nick}` }, xml("x", { xmlns: MUC }, ...extra)));
  const self = await c.next((el) => el.name === "presence" && el.attrs.from === `${room}/${nick}` && statuses(el).includes("110"), `self-presence in ${room}`);
  await c.next(isSubject(room), `subject of ${room}`);
  return self;
}
const configure = (c: Im, room: string, fields: Record<string, string>) => c.ask(xml("iq", { type: "set", to: room }, xml("query", { xmlns: OWNER },
  xml("x", { xmlns: "jabber:x:data", type: "submit" }, Object.entries(fields).map(([k, v]) => xml("field", { var: `muc#roomconfig_${k}` }, xml("value", null, v)))))));
async function instant(room: string, fields: Record<string, string> = {}): Promise<void> {
  await enter(romeo, room, "romeo");
  expect((await configure(romeo, room, fields)).attrs.type).toBe("result");
}
const admin = (c: Im, room: string, ...items: Element[]) => c.ask(xml("iq", { type: "set", to: room }, xml("query", { xmlns: ADMIN }, ...items)));
const list = async (c: Im, room: string, attrs: Record<string, string>) =>
  (await c.ask(xml("iq", { type: "get", to: room }, xml("query", { xmlns: ADMIN }, xml("item", attrs))))).getChild("query", ADMIN)?.getChildren("item").map((i) => i.attrs) ?? [];
const leave = async (c: Im, room: string, nick: string) => {
  c.send(xml("presence", { to: `${room}/${nick}`, type: "unavailable" }));
  await c.next(presenceFrom(`${room}/${nick}`, "unavailable"));
};
const features = async (c: Im, room: string) =>
  (await c.ask(xml("iq", { type: "get", to: room }, xml("query", { xmlns: INFO })))).getChild("query")!.getChildren("feature").map((f) => f.attrs.var);

beforeAll(async () => {
  t = await startServer({ users: { romeo: "pw", juliet: "pw", mercutio: "pw" } });
  [romeo, juliet, mercutio] = (await Promise.all(["romeo", "juliet", "mercutio"].map((u) => connect(t, u)))) as [Im, Im, Im];
});
afterAll(async () => {
  await Promise.all([romeo, juliet, mercutio].map((c) => c.stop().catch(() => {})));
  await t.stop();
});

describe("moderators (§8)", () => {
  it("kicking is role none: everyone sees 307 with the actor and reason; admins and owners cannot be kicked", async () => {
    const room = fresh();
    await instant(room);
    await enter(juliet, room, "juliet");
    expect(errorOf(await admin(juliet, room, xml("item", { nick: "romeo", role: "none" })))).toBe("forbidden");
    const r = await admin(romeo, room, xml("item", { nick: "juliet", role: "none" }, xml("reason", null, "Be gone")));
    expect(r.attrs.type).toBe("result");
    const kicked = await juliet.next(presenceFrom(`${room}/juliet`, "unavailable"));
    expect(statuses(kicked)).toEqual(expect.arrayContaining(["110", "307"]));
    expect(kicked.getChild("x", USER)!.getChild("item")!.getChildText("reason")).toBe("Be gone");
    expect(kicked.getChild("x", USER)!.getChild("item")!.getChild("actor")!.attrs.nick).toBe("romeo");
    expect(statuses(await romeo.next(presenceFrom(`${room}/juliet`, "unavailable")))).toContain("307");
    await leaveAll(room);
  });

  it("in a moderated room, visitors need voice to speak; a moderator grants and revokes it", async () => {
    const room = fresh();
    await instant(room, { moderatedroom: "1" });
    expect(await features(romeo, room)).toContain("muc_moderated");
    expect(itemOf(await enter(juliet, room, "juliet")).role).toBe("visitor");
    juliet.send(xml("message", { to: room, type: "groupchat", id: "v1" }, xml("body", null, "may I?")));
    expect(errorOf(await juliet.next((el) => el.attrs.id === "v1"))).toBe("forbidden");
    await admin(romeo, room, xml("item", { nick: "juliet", role: "participant" }));
    expect(itemOf(await juliet.next(presenceFrom(`${room}/juliet`))).role).toBe("participant");
    juliet.send(xml("message", { to: room, type: "groupchat" }, xml("body", null, "thank you")));
    await romeo.next((el) => el.getChildText("body") === "thank you");
    const mods = await list(romeo, room, { role: "moderator" });
    expect(mods.map((m) => m.nick)).toEqual(["romeo"]);
    await leaveAll(room);
  });
});

describe("admins and owners (§9, §10)", () => {
  it("banning makes an outcast (301); an outcast cannot enter; the list shows it", async () => {
    const room = fresh();
    await instant(room);
    await enter(juliet, room, "juliet");
    await admin(romeo, room, xml("item", { jid: "juliet@localhost", affiliation: "outcast" }));
    expect(statuses(await juliet.next(presenceFrom(`${room}/juliet`, "unavailable")))).toContain("301");
    juliet.send(xml("presence", { to: `${room}/juliet` }, xml("x", { xmlns: MUC })));
    expect(errorOf(await juliet.next(presenceFrom(`${room}/juliet`, "error")))).toBe("forbidden");
    expect(await list(romeo, room, { affiliation: "outcast" })).toEqual([{ affiliation: "outcast", jid: "juliet@localhost" }]);
    expect(errorOf(await juliet.ask(xml("iq", { type: "get", to: room }, xml("query", { xmlns: ADMIN }, xml("item", { affiliation: "owner" })))))).toBe("forbidden");
    await leaveAll(room);
  });

  it("members-only: non-members are refused (registration-required); membership lets them in; losing it removes them (321)", async () => {
    const room = fresh();
    await instant(room, { membersonly: "1" });
    juliet.send(xml("presence", { to: `${room}/juliet` }, xml("x", { xmlns: MUC })));
    expect(errorOf(await juliet.next(presenceFrom(`${room}/juliet`, "error")))).toBe("registration-required");
    await admin(romeo, room, xml("item", { jid: "juliet@localhost", affiliation: "member" }));
    expect(itemOf(await enter(juliet, room, "juliet")).affiliation).toBe("member");
    await admin(romeo, room, xml("item", { jid: "juliet@localhost", affiliation: "none" }));
    expect(statuses(await juliet.next(presenceFrom(`${room}/juliet`, "unavailable")))).toContain("321");
    await leaveAll(room);
  });

  it("an admin cannot touch an owner (not-allowed) nor make admins (forbidden); the last owner cannot step down (conflict)", async () => {
    const room = fresh();
    await instant(room);
    await admin(romeo, room, xml("item", { jid: "juliet@localhost", affiliation: "admin" }));
    expect(itemOf(await enter(juliet, room, "juliet")).role).toBe("moderator");
    expect(errorOf(await admin(juliet, room, xml("item", { jid: "romeo@localhost", affiliation: "outcast" })))).toBe("not-allowed");
    expect(errorOf(await admin(juliet, room, xml("item", { jid: "mercutio@localhost", affiliation: "admin" })))).toBe("forbidden");
    expect(errorOf(await admin(romeo, room, xml("item", { jid: "romeo@localhost", affiliation: "admin" })))).toBe("conflict");
    expect(await list(juliet, room, { affiliation: "owner" })).toEqual([{ affiliation: "owner", jid: "romeo@localhost" }]);
    // Demoted to member, Juliet's role follows: participant.
    await admin(romeo, room, xml("item", { jid: "juliet@localhost", affiliation: "member" }));
    expect(itemOf(await juliet.next((el) => el.name === "presence" && itemOf(el).affiliation === "member"))).toMatchObject({ role: "participant" });
    await leaveAll(room);
  });

  it("a password-protected room needs its password (not-authorized), and says so in disco#info", async () => {
    const room = fresh();
    await instant(room, { passwordprotectedroom: "1", roomsecret: "balcony" });
    expect(await features(juliet, room)).toEqual(expect.arrayContaining(["muc_passwordprotected", "muc_temporary", "muc_open", "muc_public", "muc_semianonymous", "muc_unmoderated", OID]));
    juliet.send(xml("presence", { to: `${room}/juliet` }, xml("x", { xmlns: MUC })));
    expect(errorOf(await juliet.next(presenceFrom(`${room}/juliet`, "error")))).toBe("not-authorized");
    await enter(juliet, room, "juliet", xml("password", null, "balcony"));
    await leaveAll(room);
  });

  it("a configuration change tells the occupants (104), and whois anyone (172) shows real JIDs with 100 on entry", async () => {
    const room = fresh();
    await instant(room);
    await enter(juliet, room, "juliet");
    await configure(romeo, room, { whois: "anyone" });
    const note = await juliet.next((el) => el.name === "message" && el.attrs.from === room);
    expect(statuses(note)).toEqual(["104", "172"]);
    expect(await features(juliet, room)).toContain("muc_nonanonymous");
    const self = await enter(mercutio, room, "mercutio");
    expect(statuses(self)).toContain("100");
    expect(itemOf(await mercutio.next(presenceFrom(`${room}/juliet`))).jid).toBe("juliet@localhost/r");
    await leaveAll(room);
  });

  it("destroying the room sends everyone away with the alternate venue and reason (§10.9)", async () => {
    const room = fresh();
    await instant(room);
    await enter(juliet, room, "juliet");
    expect(errorOf(await juliet.ask(xml("iq", { type: "set", to: room }, xml("query", { xmlns: OWNER }, xml("destroy")))))).toBe("forbidden");
    await romeo.ask(xml("iq", { type: "set", to: room }, xml("query", { xmlns: OWNER }, xml("destroy", { jid: `mantua@${S}` }, xml("reason", null, "Banished")))));
    const out = await juliet.next(presenceFrom(`${room}/juliet`, "unavailable"));
    const d = out.getChild("x", USER)!.getChild("destroy")!;
    expect(d.attrs.jid).toBe(`mantua@${S}`);
    expect(d.getChildText("reason")).toBe("Banished");
    expect(errorOf(await juliet.ask(xml("iq", { type: "get", to: room }, xml("query", { xmlns: INFO }))))).toBe("item-not-found");
  });
});

describe("invitations (§7.8)", () => {
  it("a mediated invitation reaches the invitee from the room; a decline goes back to the inviter", async () => {
    const room = fresh();
    await instant(room);
    romeo.send(xml("message", { to: room }, xml("x", { xmlns: USER }, xml("invite", { to: "juliet@localhost/r" }, xml("reason", null, "Come")))));
    const inv = await juliet.next((el) => el.name === "message" && el.attrs.from === room);
    expect(inv.getChild("x", USER)!.getChild("invite")!.attrs.from).toBe("romeo@localhost/r");
    expect(inv.getChild("x", USER)!.getChild("invite")!.getChildText("reason")).toBe("Come");
    juliet.send(xml("message", { to: room }, xml("x", { xmlns: USER }, xml("decline", { to: "romeo@localhost/r" }, xml("reason", null, "Not tonight")))));
    const dec = await romeo.next((el) => el.name === "message" && el.attrs.from === room && el.getChild("x", USER)?.getChild("decline") !== undefined);
    expect(dec.getChild("x", USER)!.getChild("decline")!.attrs.from).toBe("juliet@localhost");
    await leaveAll(room);
  });
});

describe("occupant-id (XEP-0421) and self-ping (XEP-0410)", () => {
  it("an occupant-id is the same on every visit of one account and differs between accounts and rooms", async () => {
    const room = fresh();
    await instant(room, { persistentroom: "1" });
    const id1 = (await enter(juliet, room, "juliet")).getChild("occupant-id", OID)!.attrs.id;
    await leave(juliet, room, "juliet");
    const id2 = (await enter(juliet, room, "nurse")).getChild("occupant-id", OID)!.attrs.id;
    expect(id2).toBe(id1);
    const forged = xml("message", { to: room, type: "groupchat" }, xml("body", null, "me"), xml("occupant-id", { xmlns: OID, id: "forged" }));
    mercutio.send(forged);
    const self = await enter(mercutio, room, "mercutio");
    expect(self.getChild("occupant-id", OID)!.attrs.id).not.toBe(id1);
    const other = fresh();
    await instant(other);
    expect((await enter(juliet, other, "juliet")).getChild("occupant-id", OID)!.attrs.id).not.toBe(id1);
    mercutio.send(xml("message", { to: room, type: "groupchat" }, xml("body", null, "spoof"), xml("occupant-id", { xmlns: OID, id: "forged" })));
    const m = await juliet.next((el) => el.getChildText("body") === "spoof");
    expect(m.getChildren("occupant-id", OID).map((e) => e.attrs.id)).toEqual([self.getChild("occupant-id", OID)!.attrs.id]);
    await leaveAll(room);
    await leaveAll(other);
  });

  it("a ping to one's own occupant JID is answered by the room while joined, else not-acceptable", async () => {
    const room = fresh();
    await instant(room);
    const ping = () => xml("iq", { type: "get", to: `${room}/romeo` }, xml("ping", { xmlns: "urn:xmpp:ping" }));
    const ok = await romeo.ask(ping());
    expect(ok.attrs).toMatchObject({ type: "result", from: `${room}/romeo` });
    expect(errorOf(await juliet.ask(ping()))).toBe("not-acceptable");
    await leaveAll(room);
  });
});

describe("sessions that vanish, rooms that persist", () => {
  it("an occupant whose session ends without leaving is removed; the others see it unavailable", async () => {
    const room = fresh();
    await instant(room);
    const nurse = await connect(t, "juliet", "nurse");
    await enter(nurse, room, "nurse");
    await nurse.stop();
    await romeo.next(presenceFrom(`${room}/nurse`, "unavailable"));
    await leaveAll(room);
  });

  for (const away of ["closes its stream", "loses its connection (XEP-0198 session detached)"] as const) {
    it(`an occupant's session ${away}; a new session bound to the same resource at once hears nothing of the room`, async () => {
      const room = fresh();
      await instant(room);
      const detach = away !== "closes its stream";
      const { c: nurse } = await SmClient.login(t.port, "juliet", "balcony", { resume: detach });
      nurse.autoAck = true;
      nurse.send(`<presence to='${room}/nurse'><x xmlns='${MUC}'/></presence>`);
      await nurse.next((el) => el.name === "presence" && el.attrs.from === `${room}/nurse`, "the nurse in the room");
      if (detach) nurse.cut();
      else nurse.send("</stream:stream>");
      // The new session replaces a detached one, or follows a closed one before the room has heard of it.
      const again = await RawClient.login(t.port, "juliet", "pw", "balcony");
      let heard = again.buffer;
      again.socket.on("data", (d: Buffer | string) => (heard += String(d)));
      await romeo.next(presenceFrom(`${room}/nurse`, "unavailable"));
      again.send(`<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
      await again.expect(/id="p1"/);
      // The room tells the others that the nurse is gone; the new session never entered and is told nothing.
      expect(heard).not.toContain(room);
      again.socket.destroy();
      await leaveAll(room);
    });
  }

  it("a persistent room keeps its configuration, affiliations and subject across a restart", async () => {
    const room = fresh();
    await instant(room, { persistentroom: "1", roomname: "Capulet Hall", membersonly: "1" });
    await admin(romeo, room, xml("item", { jid: "juliet@localhost", affiliation: "member" }));
    romeo.send(xml("message", { to: room, type: "groupchat" }, xml("subject", null, "The feast")));
    await romeo.next(isSubject(room));
    await leave(romeo, room, "romeo");
    await Promise.all([romeo, juliet, mercutio].map((c) => c.stop()));
    await t.stop(false);
    t = await startServer({ dataDir: t.dataDir });
    [romeo, juliet, mercutio] = (await Promise.all(["romeo", "juliet", "mercutio"].map((u) => connect(t, u)))) as [Im, Im, Im];
    expect(await features(juliet, room)).toEqual(expect.arrayContaining(["muc_persistent", "muc_membersonly"]));
    const self = await enter(juliet, room, "juliet");
    expect(itemOf(self).affiliation).toBe("member");
    mercutio.send(xml("presence", { to: `${room}/mercutio` }, xml("x", { xmlns: MUC })));
    expect(errorOf(await mercutio.next(presenceFrom(`${room}/mercutio`, "error")))).toBe("registration-required");
    const form = await romeo.ask(xml("iq", { type: "get", to: room }, xml("query", { xmlns: OWNER })));
    expect(form.attrs.type).toBe("result");
    await leave(juliet, room, "juliet");
  });
});

/** Everyone still in the room leaves (temporary rooms then go away). */
async function leaveAll(room: string): Promise<void> {
  for (const [c, nicks] of [[juliet, ["juliet", "nurse"]], [mercutio, ["mercutio"]], [romeo, ["romeo"]]] as const) {
    for (const nick of nicks) c.send(xml("presence", { to: `${room}/${nick}`, type: "unavailable" }));
  }
  await new Promise((r) => setTimeout(r, 50));
  for (const c of [romeo, juliet, mercutio]) c.inbox.length = 0;
}
