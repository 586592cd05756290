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
export async function archived(c: Im, to?: string): Promise<Element[]> {
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
