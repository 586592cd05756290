// What one account may take of the MUC service (conference.localhost) that every account shares,
// over real sockets and with the shipped defaults: Romeo creates rooms until his own quota
// refuses him (XEP-0045 §10.1.1: not-allowed), kept across a restart for persistent rooms, while
// Juliet still creates hers; Romeo joins rooms until the number of rooms one account may be in
// refuses him (resource-constraint, as the room-full case of §7.2.9 is a resource limit too);
// disco#items of the service answers a page (XEP-0059) even when none was asked for.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { connect, errorOf, type Im } from "../helpers/im.ts";

const S = "conference.localhost";
const USER = "http://jabber.org/protocol/muc#user";
const OWNER = "http://jabber.org/protocol/muc#owner";
const ITEMS = "http://jabber.org/protocol/disco#items";
const RSM = "http://jabber.org/protocol/rsm";
/** The shipped quotas (modules.muc.maxRoomsPerAccount, maxJoinedPerAccount). */
const CREATED = 100;
const JOINED = 100;

const statuses = (p: Element) => p.getChild("x", USER)?.getChildren("status").map((s) => s.attrs.code) ?? [];

/** Enters room@S as `nick` (without <x/>: a new room is open at once); the self-presence or the error presence. */
async function join(c: Im, room: string, nick: string): Promise<Element> {
  const to = `${room}@${S}/${nick}`;
  c.send(xml("presence", { to }));
  return c.next((el) => el.name === "presence" && el.attrs.from === to && (el.attrs.type === "error" || statuses(el).includes("110")), `presence from ${to}`);
}

async function joinAll(c: Im, rooms: string[], nick: string): Promise<void> {
  const replies = await Promise.all(rooms.map((r) => join(c, r, nick)));
  for (const r of replies) expect(r.attrs.type, r.toString()).toBeUndefined();
}

async function leave(c: Im, room: string, nick: string): Promise<void> {
  const to = `${room}@${S}/${nick}`;
  c.send(xml("presence", { to, type: "unavailable" }));
  await c.next((el) => el.name === "presence" && el.attrs.from === to && el.attrs.type === "unavailable", `unavailable from ${to}`);
}

const persistent = (room: string) => xml("iq", { type: "set", to: `${room}@${S}` }, xml("query", { xmlns: OWNER },
  xml("x", { xmlns: "jabber:x:data", type: "submit" }, xml("field", { var: "muc#roomconfig_persistentroom" }, xml("value", null, "1")))));
const destroy = (room: string) => xml("iq", { type: "set", to: `${room}@${S}` }, xml("query", { xmlns: OWNER }, xml("destroy")));
const discoItems = (...set: (Element | undefined)[]) => xml("iq", { type: "get", to: S }, xml("query", { xmlns: ITEMS }, set.length ? xml("set", { xmlns: RSM }, ...set) : undefined));
const range = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

describe("room quotas of the MUC service", () => {
  let t: TestServer;
  const open: Im[] = [];
  const login = async (user: string) => {
    const c = await connect(t, user);
    open.push(c);
    return c;
  };
  const users = { romeo: "pw", juliet: "pw", mercutio: "pw", benvolio: "pw" };
  beforeAll(async () => {
    t = await startServer({ users });
  });
  afterAll(async () => {
    await Promise.all(open.map((c) => c.stop().catch(() => {})));
    await t.stop();
  });

  it("Romeo creates his quota of rooms; the next is not-allowed, and Juliet still creates one", async () => {
    const romeo = await login("romeo");
    const rooms = range("romeo", CREATED);
    await joinAll(romeo, rooms, "romeo");
    const replies = await Promise.all(rooms.map((r) => romeo.ask(persistent(r))));
    for (const r of replies) expect(r.attrs.type, r.toString()).toBe("result");
    // Persistent rooms stay when he leaves: they still count.
    await Promise.all(rooms.map((r) => leave(romeo, r, "romeo")));
    const refused = await join(romeo, "romeo-one-more", "romeo");
    expect(refused.attrs.type).toBe("error");
    expect(errorOf(refused)).toBe("not-allowed");
    const juliet = await login("juliet");
    expect((await join(juliet, "juliet-0", "juliet")).attrs.type).toBeUndefined();
  });

  it("the count is kept across a restart; a room he destroys gives its place back", async () => {
    await Promise.all(open.splice(0).map((c) => c.stop()));
    await t.stop(false);
    t = await startServer({ dataDir: t.dataDir, users });
    const romeo = await login("romeo");
    expect(errorOf(await join(romeo, "romeo-after-restart", "romeo"))).toBe("not-allowed");
    expect((await join(romeo, "romeo-0", "romeo")).attrs.type).toBeUndefined();
    expect((await romeo.ask(destroy("romeo-0"))).attrs.type).toBe("result");
    expect((await join(romeo, "romeo-after-restart", "romeo")).attrs.type).toBeUndefined();
  });

  it("Benvolio joins rooms others made up to the number one account may be in; the next is resource-constraint until he leaves one", async () => {
    const [juliet, mercutio, benvolio] = [await login("juliet"), await login("mercutio"), await login("benvolio")];
    const ofJuliet = range("juliet-room", 60);
    const ofMercutio = range("mercutio-room", 60);
    await joinAll(juliet, ofJuliet, "juliet");
    await joinAll(mercutio, ofMercutio, "mercutio");
    const all = [...ofJuliet, ...ofMercutio];
    await joinAll(benvolio, all.slice(0, JOINED), "benvolio");
    const refused = await join(benvolio, all[JOINED]!, "benvolio");
    expect(errorOf(refused)).toBe("resource-constraint");
    // A second device of his in a room he is in already takes no more.
    const other = await connect(t, "benvolio", "phone");
    open.push(other);
    expect((await join(other, all[0]!, "benvolio-phone")).attrs.type).toBeUndefined();
    await leave(benvolio, all[1]!, "benvolio");
    expect((await join(benvolio, all[JOINED]!, "benvolio")).attrs.type).toBeUndefined();
  });

  it("disco#items of the service answers a bounded page with its <set/>, and pages through every public room once (XEP-0059)", async () => {
    const juliet = await login("juliet");
    const first = (await juliet.ask(discoItems())).getChild("query")!;
    const count = Number(first.getChild("set", RSM)?.getChildText("count"));
    expect(count).toBeGreaterThan(200);
    expect(first.getChildren("item").length).toBeLessThan(count);
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const q = (await juliet.ask(discoItems(xml("max", null, "50"), after === undefined ? undefined : xml("after", null, after)))).getChild("query")!;
      const page = q.getChildren("item").map((i) => i.attrs.jid!);
      seen.push(...page);
      if (page.length < 50) break;
      after = q.getChild("set", RSM)!.getChildText("last")!;
    }
    expect(seen.length).toBe(count);
    expect(new Set(seen).size).toBe(count);
  });
});
