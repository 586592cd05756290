// RFC 6121 §3 and §4 over real sockets, with @xmpp/client: the subscription handshake in both
// directions, requests waiting for an offline contact (even across a restart), pre-approval,
// cancelling and unsubscribing, presence broadcast to subscribers only, probes at login, the
// account's own resources, directed presence, priority, and the unavailable presence every
// contact gets whichever way a session ends (clean close, lost connection).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { RawClient } from "../helpers/raw.ts";
import { accounts, connect, errorOf, given, type Im, presence, pushedItem, ROSTER } from "../helpers/im.ts";

const isPresence = (type: string | undefined, from?: string) => (el: Element) =>
  el.name === "presence" && el.attrs.type === type && (from === undefined || el.attrs.from === from);
const getRoster = async (c: Im) => (await c.ask(xml("iq", { type: "get" }, xml("query", { xmlns: ROSTER })))).getChild("query", ROSTER)!;

let t: TestServer;
const login = (user: string, resource: string) => connect(t, user, resource, { timeoutMs: 3000 });
/** A client that wants roster pushes (roster get) and is available (initial presence). */
async function online(user: string, resource: string, initial = true): Promise<Im> {
  const c = await login(user, resource);
  await getRoster(c);
  if (initial) {
    c.send(presence());
    await c.next(isPresence(undefined, c.jid), "its own presence");
  }
  return c;
}

beforeAll(async () => {
  t = await startServer();
});
afterAll(() => t.stop());

describe("the subscription handshake (RFC 6121 §3.1)", () => {
  it("Romeo and Juliet subscribe to each other: both end with 'both'", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    const r = await online(romeo!, "orchard");
    const j = await online(juliet!, "balcony");

    // Romeo asks; his roster shows the request pending; Juliet's client gets it from his bare JID.
    r.send(presence({ to: `${juliet}@localhost`, type: "subscribe" }, xml("status", null, "I am Romeo")));
    expect(await pushedItem(r, `${juliet}@localhost`)).toMatchObject({ subscription: "none", ask: "subscribe" });
    const request = await j.next(isPresence("subscribe"), "subscribe");
    expect(request.attrs.from).toBe(`${romeo}@localhost`);
    expect(request.getChildText("status")).toBe("I am Romeo");
    // A contact who only asked is not in Juliet's roster (§3.1.3).
    expect((await getRoster(j)).getChildren("item")).toEqual([]);

    // Juliet approves: she gets "from"; Romeo gets "subscribed", "to", and her presence.
    j.send(presence({ to: `${romeo}@localhost`, type: "subscribed" }));
    expect(await pushedItem(j, `${romeo}@localhost`)).toMatchObject({ subscription: "from" });
    expect((await r.next(isPresence("subscribed"), "subscribed")).attrs.from).toBe(`${juliet}@localhost`);
    expect(await pushedItem(r, `${juliet}@localhost`)).toEqual({ jid: `${juliet}@localhost`, subscription: "to" });
    await r.next(isPresence(undefined, j.jid), "Juliet's presence");

    // And the other way round.
    j.send(presence({ to: `${romeo}@localhost`, type: "subscribe" }));
    expect(await pushedItem(j, `${romeo}@localhost`)).toMatchObject({ subscription: "from", ask: "subscribe" });
    await r.next(isPresence("subscribe", `${juliet}@localhost`), "Juliet's request");
    r.send(presence({ to: `${juliet}@localhost`, type: "subscribed" }));
    expect(await pushedItem(r, `${juliet}@localhost`)).toMatchObject({ subscription: "both" });
    expect(await pushedItem(j, `${romeo}@localhost`)).toEqual({ jid: `${romeo}@localhost`, subscription: "both" });
    await j.next(isPresence(undefined, r.jid), "Romeo's presence");
    await Promise.all([r.stop(), j.stop()]);
  });

  it("a request to an account already subscribed is answered by the server (§3.1.3)", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    await given(t, juliet!, romeo!, "from");
    const j = await online(juliet!, "balcony");
    const r = await online(romeo!, "orchard");
    r.send(presence({ to: `${juliet}@localhost`, type: "subscribe" }));
    await r.next(isPresence("subscribed", `${juliet}@localhost`), "the automatic subscribed");
    await r.next(isPresence(undefined, j.jid), "Juliet's presence");
    await j.nothing(isPresence("subscribe"));
    await Promise.all([r.stop(), j.stop()]);
  });

  it("a request to an offline contact waits and is delivered at her next login, even after a restart", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    const r = await online(romeo!, "orchard");
    r.send(presence({ to: `${juliet}@localhost`, type: "subscribe" }, xml("status", null, "Wherefore art thou?")));
    await pushedItem(r, `${juliet}@localhost`);
    await r.stop();

    await t.stop(false);
    t = await startServer({ dataDir: t.dataDir });
    const j = await login(juliet!, "balcony");
    await getRoster(j);
    await j.nothing(isPresence("subscribe"), 100); // not before she is available
    j.send(presence());
    const request = await j.next(isPresence("subscribe", `${romeo}@localhost`), "the stored request");
    expect(request.getChildText("status")).toBe("Wherefore art thou?");
    // Until she answers, every login brings it again; after her answer, it is gone.
    j.send(presence({ to: `${romeo}@localhost`, type: "unsubscribed" }));
    await j.stop();
    const again = await online(juliet!, "balcony");
    await again.nothing(isPresence("subscribe"));
    await again.stop();
  });

  it("a request to an account that does not exist is answered 'unsubscribed'", async () => {
    const [romeo] = await accounts(t, "romeo");
    const r = await online(romeo!, "orchard");
    r.send(presence({ to: "nobody@localhost", type: "subscribe" }));
    expect(await pushedItem(r, "nobody@localhost")).toMatchObject({ ask: "subscribe" });
    await r.next(isPresence("unsubscribed", "nobody@localhost"), "unsubscribed");
    expect(await pushedItem(r, "nobody@localhost")).toEqual({ jid: "nobody@localhost", subscription: "none" });
    await r.stop();
  });
});

describe("pre-approval (RFC 6121 §3.4)", () => {
  it("Juliet approves in advance and Romeo's request is answered at once", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    const j = await online(juliet!, "balcony");
    j.send(presence({ to: `${romeo}@localhost`, type: "subscribed" }));
    expect(await pushedItem(j, `${romeo}@localhost`)).toEqual({ jid: `${romeo}@localhost`, subscription: "none", approved: "true" });
    const r = await online(romeo!, "orchard");
    r.send(presence({ to: `${juliet}@localhost`, type: "subscribe" }));
    await r.next(isPresence("subscribed", `${juliet}@localhost`), "subscribed");
    expect(await pushedItem(j, `${romeo}@localhost`)).toEqual({ jid: `${romeo}@localhost`, subscription: "from" });
    await j.nothing(isPresence("subscribe"));
    await Promise.all([r.stop(), j.stop()]);
  });
});

describe("ending subscriptions (RFC 6121 §3.2, §3.3)", () => {
  it("Juliet cancels Romeo's subscription: he is told, and sees her go unavailable", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    await given(t, romeo!, juliet!, "both");
    await given(t, juliet!, romeo!, "both");
    const j = await online(juliet!, "balcony");
    const r = await online(romeo!, "orchard");
    await r.next(isPresence(undefined, j.jid), "Juliet's presence (probe)");
    j.send(presence({ to: `${romeo}@localhost`, type: "unsubscribed" }));
    expect(await pushedItem(j, `${romeo}@localhost`)).toMatchObject({ subscription: "to" });
    await r.next(isPresence("unsubscribed", `${juliet}@localhost`), "unsubscribed");
    expect(await pushedItem(r, `${juliet}@localhost`)).toMatchObject({ subscription: "from" });
    await r.next(isPresence("unavailable", j.jid), "her unavailable presence");
    // From now on her presence no longer reaches him.
    j.send(presence({}, xml("status", null, "gone to Mantua")));
    await r.nothing(isPresence(undefined, j.jid));
    await Promise.all([r.stop(), j.stop()]);
  });

  it("Romeo unsubscribes from Juliet's presence: both rosters follow, he sees her go unavailable", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    await given(t, romeo!, juliet!, "to");
    await given(t, juliet!, romeo!, "from");
    const j = await online(juliet!, "balcony");
    const r = await online(romeo!, "orchard");
    await r.next(isPresence(undefined, j.jid), "Juliet's presence");
    r.send(presence({ to: `${juliet}@localhost`, type: "unsubscribe" }));
    expect(await pushedItem(r, `${juliet}@localhost`)).toMatchObject({ subscription: "none" });
    await j.next(isPresence("unsubscribe", `${romeo}@localhost`), "unsubscribe");
    expect(await pushedItem(j, `${romeo}@localhost`)).toMatchObject({ subscription: "none" });
    await r.next(isPresence("unavailable", j.jid), "her unavailable presence");
    await Promise.all([r.stop(), j.stop()]);
  });
});

describe("presence broadcast (RFC 6121 §4.2, §4.4)", () => {
  it("reaches subscribers and the sender's resources, never anyone else", async () => {
    const [romeo, juliet, benvolio] = await accounts(t, "romeo", "juliet", "benvolio");
    await given(t, romeo!, juliet!, "from");
    await given(t, juliet!, romeo!, "to");
    const j = await online(juliet!, "balcony");
    const b = await online(benvolio!, "street");
    const r = await online(romeo!, "orchard");
    await j.next(isPresence(undefined, r.jid), "Romeo's initial presence");
    r.send(presence({}, xml("show", null, "away"), xml("status", null, "In the orchard")));
    const got = await j.next((el) => isPresence(undefined, r.jid)(el) && el.getChildText("show") === "away", "Romeo away");
    expect(got.getChildText("status")).toBe("In the orchard");
    await r.next((el) => isPresence(undefined, r.jid)(el) && el.getChildText("show") === "away", "his own presence back");
    await b.nothing((el) => el.name === "presence" && el.attrs.from === r.jid);
    await Promise.all([r.stop(), j.stop(), b.stop()]);
  });

  it("at login, probes bring the presence of available contacts, and 'unavailable' for offline ones", async () => {
    const [romeo, juliet, nurse] = await accounts(t, "romeo", "juliet", "nurse");
    for (const c of [juliet!, nurse!]) {
      await given(t, romeo!, c, "to");
      await given(t, c, romeo!, "from");
    }
    const j = await online(juliet!, "balcony");
    j.send(presence({}, xml("status", null, "On the balcony")));
    // Her own copy comes once the server holds her status, before Romeo's probe can ask for it.
    await j.next((el) => isPresence(undefined, j.jid)(el) && el.getChildText("status") === "On the balcony", "her own status");
    const r = await online(romeo!, "orchard", false);
    r.send(presence());
    const hers = await r.next((el) => isPresence(undefined, j.jid)(el) && el.getChildText("status") === "On the balcony", "Juliet's presence");
    expect(hers.attrs.to).toBe(r.jid);
    await r.next(isPresence("unavailable", `${nurse}@localhost`), "the Nurse is offline");
    await Promise.all([r.stop(), j.stop()]);
  });

  it("the account's resources see each other", async () => {
    const [romeo] = await accounts(t, "romeo");
    const a = await online(romeo!, "orchard");
    const b = await online(romeo!, "garden");
    await a.next(isPresence(undefined, b.jid), "garden's presence at orchard");
    await b.next(isPresence(undefined, a.jid), "orchard's presence at garden");
    await b.stop();
    await a.next(isPresence("unavailable", b.jid), "garden gone");
    await a.stop();
  });

  it("a probe from someone not subscribed reveals nothing, and his out-of-sync roster is corrected", async () => {
    const [romeo, benvolio] = await accounts(t, "romeo", "benvolio");
    await given(t, benvolio!, romeo!, "to"); // Benvolio's roster believes it; Romeo's knows nothing of him
    const r = await online(romeo!, "orchard");
    const b = await online(benvolio!, "street");
    await b.next(isPresence("unsubscribed", `${romeo}@localhost`), "unsubscribed, answering the login probe");
    expect(await pushedItem(b, `${romeo}@localhost`)).toEqual({ jid: `${romeo}@localhost`, subscription: "none" });
    b.send(presence({ to: `${romeo}@localhost`, type: "probe" }));
    await b.nothing((el) => el.name === "presence" && el.attrs.from === r.jid);
    await Promise.all([r.stop(), b.stop()]);
  });
});

describe("priority and malformed presence (RFC 6121 §4.7)", () => {
  it("a valid priority is kept in the broadcast; a bad one is bad-request for the sender only", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    await given(t, romeo!, juliet!, "from");
    const j = await online(juliet!, "balcony");
    const r = await online(romeo!, "orchard");
    await j.next(isPresence(undefined, r.jid), "Romeo's initial presence");
    r.send(presence({}, xml("priority", null, "5")));
    await j.next((e) => isPresence(undefined, r.jid)(e) && e.getChildText("priority") === "5", "Romeo's presence with priority 5");
    for (const bad of [presence({ id: "p1" }, xml("priority", null, "200")), presence({ id: "p2" }, xml("show", null, "asleep")), presence({ id: "p3", type: "invisible" })]) {
      r.send(bad);
      const err = await r.next((el) => el.name === "presence" && el.attrs.id === bad.attrs.id, "the error");
      expect(el(err)).toEqual({ type: "error", condition: "bad-request" });
    }
    r.send(presence({ to: j.jid, type: "bogus", id: "p4" }));
    expect(el(await r.next((e) => e.attrs.id === "p4", "the error"))).toEqual({ type: "error", condition: "bad-request" });
    await j.nothing((e) => e.name === "presence" && e.attrs.from === r.jid);
    // Romeo's session is unharmed.
    expect((await getRoster(r)).name).toBe("query");
    await Promise.all([r.stop(), j.stop()]);
  });
});

function el(reply: Element): { type: string | undefined; condition: string | undefined } {
  return { type: reply.attrs.type, condition: errorOf(reply) };
}

describe("directed presence (RFC 6121 §4.6)", () => {
  it("reaches a non-contact, who also hears of the logout; a directed unavailable ends it", async () => {
    const [romeo, benvolio, mercutio] = await accounts(t, "romeo", "benvolio", "mercutio");
    const b = await online(benvolio!, "street");
    const m = await online(mercutio!, "square");
    const r = await online(romeo!, "orchard");
    r.send(presence({ to: b.jid }, xml("status", null, "for Benvolio")));
    expect((await b.next(isPresence(undefined, r.jid), "directed presence")).getChildText("status")).toBe("for Benvolio");
    r.send(presence({ to: `${mercutio}@localhost` }));
    await m.next(isPresence(undefined, r.jid), "directed presence");
    r.send(presence({ to: `${mercutio}@localhost`, type: "unavailable" }));
    await m.next(isPresence("unavailable", r.jid), "directed unavailable");
    await r.stop();
    await b.next(isPresence("unavailable", r.jid), "Romeo's logout");
    await m.nothing(isPresence("unavailable", r.jid));
    await Promise.all([b.stop(), m.stop()]);
  });
});

describe("unavailable presence when a session ends (RFC 6121 §4.5)", () => {
  it("an explicit unavailable and a clean close reach the contacts", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    await given(t, romeo!, juliet!, "from");
    const j = await online(juliet!, "balcony");
    const r = await online(romeo!, "orchard");
    r.send(presence({ type: "unavailable" }, xml("status", null, "Farewell")));
    expect((await j.next(isPresence("unavailable", r.jid), "unavailable")).getChildText("status")).toBe("Farewell");
    const r2 = await online(romeo!, "garden");
    await j.next(isPresence(undefined, r2.jid), "garden available");
    await r2.stop();
    await j.next(isPresence("unavailable", r2.jid), "unavailable after a clean close");
    await j.nothing(isPresence("unavailable", r.jid)); // orchard said it already
    await Promise.all([r.stop(), j.stop()]);
  });

  it("a lost connection (socket destroyed, no stream close) reaches the contacts too", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    await given(t, romeo!, juliet!, "from");
    const j = await online(juliet!, "balcony");
    const raw = await RawClient.login(t.port, romeo!, "pw", "orchard");
    raw.send("<presence/>");
    await j.next(isPresence(undefined, `${romeo}@localhost/orchard`), "Romeo available");
    raw.close();
    await j.next(isPresence("unavailable", `${romeo}@localhost/orchard`), "Romeo unavailable");
    await j.stop();
  });

  it("a session replaced by a new one with the same resource goes unavailable first", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    await given(t, romeo!, juliet!, "from");
    const j = await online(juliet!, "balcony");
    const old = await RawClient.login(t.port, romeo!, "pw", "orchard");
    old.send("<presence/>");
    await j.next(isPresence(undefined, `${romeo}@localhost/orchard`), "Romeo available");
    const replacement = await RawClient.login(t.port, romeo!, "pw", "orchard");
    await j.next(isPresence("unavailable", `${romeo}@localhost/orchard`), "the old session's unavailable");
    old.close();
    replacement.close();
    await j.stop();
  });
});
