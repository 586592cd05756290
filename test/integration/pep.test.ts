// XEP-0163 (PEP) over real sockets, with @xmpp/client: Romeo publishes on his own bare JID; the
// node is created on the fly; Juliet, his contact, is told through her client's caps (XEP-0115
// +notify), Benvolio (no subscription) is not; items are retrieved, retracted, kept to max_items,
// configured, deleted; publish-options (XEP-0223) create open nodes or fail with
// precondition-not-met; the last item comes at login; everything survives a restart.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { accounts, connect, errorOf, given, type Im } from "../helpers/im.ts";
import { capsClient, configure, EVENT, submit, isEvent, items, itemsOf, owner, OWNER, publish, publishOptions, PUBSUB, pubsubCondition, retract } from "../helpers/pep.ts";
import { removeAccount } from "../../src/core/account-removal.ts";
import { parseJid } from "../../src/xml/jid.ts";

const TUNE = "http://jabber.org/protocol/tune";
const MOOD = "http://jabber.org/protocol/mood";
const tune = (title: string) => xml("tune", { xmlns: TUNE }, xml("title", null, title));
const mood = (m: string) => xml("mood", { xmlns: MOOD }, xml(m));
const titles = (el: Element) => itemsOf(el).map((i) => i.getChild("tune", TUNE)?.getChildText("title"));

let t: TestServer;
let dataDir: string;
const open: Im[] = [];
async function client(user: string, resource: string, notify: string[] = []): Promise<Im> {
  const c = await capsClient(t, user, resource, notify);
  open.push(c);
  return c;
}
/** Romeo and Juliet share presence both ways; Benvolio knows nobody. */
async function cast(): Promise<{ romeo: string; juliet: string; benvolio: string }> {
  const [romeo, juliet, benvolio] = (await accounts(t, "romeo", "juliet", "benvolio")) as [string, string, string];
  await given(t, romeo, juliet, "both");
  await given(t, juliet, romeo, "both");
  return { romeo, juliet, benvolio };
}
const ok = (el: Element) => {
  expect(el.attrs.type, el.toString()).toBe("result");
  return el;
};

beforeAll(async () => {
  t = await startServer({ config: { modules: { pep: { maxItems: 5, maxItemSize: 2048 } } } });
  dataDir = t.dataDir;
});
afterAll(async () => {
  await Promise.all(open.map((c) => c.stop().catch(() => {})));
  await t.stop();
});

describe("discovery (XEP-0163 §6)", () => {
  it("an account is a pubsub/pep service with the features that work", async () => {
    const { romeo } = await cast();
    const r = await connect(t, romeo, "disco");
    open.push(r);
    const info = ok(await r.ask(xml("iq", { type: "get", to: `${romeo}@localhost` }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" }))));
    const q = info.getChild("query")!;
    expect(q.getChildren("identity").map((i) => `${i.attrs.category}/${i.attrs.type}`)).toContain("pubsub/pep");
    const features = q.getChildren("feature").map((f) => f.attrs.var);
    for (const f of ["publish", "publish-options", "retract-items", "retrieve-items", "auto-create", "last-published", "config-node",
      "access-presence", "access-open", "delete-nodes", "item-ids", "persistent-items", "retrieve-default"]) {
      expect(features).toContain(`${PUBSUB}#${f}`);
    }
  });

  it("the server's domain says so too, as XEP-0163 1.1 had clients ask it (Smack's OMEMO support check)", async () => {
    const { romeo } = await cast();
    const r = await connect(t, romeo, "disco-domain");
    open.push(r);
    const info = ok(await r.ask(xml("iq", { type: "get", to: "localhost" }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" }))));
    const q = info.getChild("query")!;
    expect(q.getChildren("identity").map((i) => `${i.attrs.category}/${i.attrs.type}`)).toEqual(expect.arrayContaining(["server/im", "pubsub/pep"]));
    const features = q.getChildren("feature").map((f) => f.attrs.var);
    for (const f of [PUBSUB, `${PUBSUB}#publish`, `${PUBSUB}#publish-options`, `${PUBSUB}#access-open`, `${PUBSUB}#access-whitelist`]) expect(features).toContain(f);
  });
});

describe("the nodes of an account (XEP-0060 §5.2-5.5 on the bare JID)", () => {
  const INFO = "http://jabber.org/protocol/disco#info";
  const ITEMS = "http://jabber.org/protocol/disco#items";
  const info = (node: string, to?: string) => xml("iq", { type: "get", to }, xml("query", { xmlns: INFO, node }));
  const discoItems = (to: string, node?: string) => xml("iq", { type: "get", to }, xml("query", { xmlns: ITEMS, node }));

  it("a contact sees a node as pubsub/leaf (Smack asks before it reads an OMEMO device list), its items and the nodes it may read", async () => {
    const { romeo, juliet } = await cast();
    const r = await client(romeo, "orchard");
    const j = await client(juliet, "balcony");
    const bare = `${romeo}@localhost`;
    ok(await r.ask(publish(TUNE, tune("Roundabout"), "t1")));
    ok(await r.ask(xml("iq", { type: "set" }, xml("pubsub", { xmlns: PUBSUB }, xml("create", { node: MOOD }),
      xml("configure", null, submit("http://jabber.org/protocol/pubsub#node_config", { "pubsub#access_model": "whitelist" }))))));

    const q = ok(await j.ask(info(TUNE, bare))).getChild("query", INFO)!;
    expect(q.attrs.node).toBe(TUNE);
    expect(q.getChildren("identity").map((i) => `${i.attrs.category}/${i.attrs.type}`)).toEqual(["pubsub/leaf"]);
    expect(q.getChildren("feature").map((f) => f.attrs.var)).toContain(PUBSUB);
    // His own client asks without a 'to' (RFC 6120 §10.3.3: his bare JID).
    expect(ok(await r.ask(info(MOOD))).getChild("query", INFO)!.getChild("identity")!.attrs.type).toBe("leaf");

    const listed = ok(await j.ask(discoItems(bare))).getChild("query", ITEMS)!.getChildren("item");
    expect(listed.map((i) => [i.attrs.jid, i.attrs.node])).toEqual([[bare, TUNE]]);
    const own = ok(await r.ask(discoItems(bare))).getChild("query", ITEMS)!.getChildren("item").map((i) => i.attrs.node);
    expect(own.sort()).toEqual([MOOD, TUNE].sort());
    const ids = ok(await j.ask(discoItems(bare, TUNE))).getChild("query", ITEMS)!;
    expect([ids.attrs.node, ...ids.getChildren("item").map((i) => i.attrs.name)]).toEqual([TUNE, "t1"]);
  });

  it("a node that does not exist is item-not-found; one the access model closes gets the model's error", async () => {
    const { romeo, juliet, benvolio } = await cast();
    const r = await client(romeo, "orchard");
    const j = await client(juliet, "balcony");
    const b = await client(benvolio, "street");
    const bare = `${romeo}@localhost`;
    ok(await r.ask(publish(TUNE, tune("Siberian Khatru"), "t2")));
    expect(errorOf(await j.ask(info("urn:nothing:here", bare)))).toBe("item-not-found");
    expect(errorOf(await j.ask(discoItems(bare, "urn:nothing:here")))).toBe("item-not-found");
    const denied = await b.ask(info(TUNE, bare));
    expect([errorOf(denied), pubsubCondition(denied)]).toEqual(["not-authorized", "presence-subscription-required"]);
    expect(errorOf(await b.ask(discoItems(bare, TUNE)))).toBe("not-authorized");
    expect(ok(await b.ask(discoItems(bare))).getChild("query", ITEMS)!.getChildren("item").map((i) => i.attrs.node)).not.toContain(TUNE);
  });
});

describe("publishing and notifications (XEP-0163 §4, XEP-0060 §7.1)", () => {
  it("Romeo publishes: the node is created, his contact's +notify client and his own get the event, others do not", async () => {
    const { romeo, juliet, benvolio } = await cast();
    const r = await client(romeo, "orchard", [TUNE]);
    const rQuiet = await client(romeo, "quiet");
    const j = await client(juliet, "balcony", [TUNE]);
    const jQuiet = await client(juliet, "desk", [MOOD]);
    const b = await client(benvolio, "street", [TUNE]);

    const reply = ok(await r.ask(publish(TUNE, tune("Heart of the Sunrise"), "song1")));
    expect(reply.getChild("pubsub", PUBSUB)!.getChild("publish")!.attrs.node).toBe(TUNE);
    expect(reply.getChild("pubsub", PUBSUB)!.getChild("publish")!.getChild("item")!.attrs.id).toBe("song1");

    const ev = await j.next(isEvent(TUNE), "the tune event");
    expect(ev.attrs.from).toBe(`${romeo}@localhost`);
    expect(ev.attrs.type).toBe("headline");
    expect(titles(ev)).toEqual(["Heart of the Sunrise"]);
    expect(itemsOf(ev)[0]!.attrs.id).toBe("song1");
    expect(titles(await r.next(isEvent(TUNE), "his own event"))).toEqual(["Heart of the Sunrise"]);
    await jQuiet.nothing(isEvent(TUNE));
    await rQuiet.nothing(isEvent(TUNE));
    await b.nothing(isEvent(TUNE));
  });

  it("an item without an id gets one from the server; a PEP node keeps one item by default", async () => {
    const { romeo } = await cast();
    const r = await client(romeo, "orchard");
    ok(await r.ask(publish(TUNE, tune("one"))));
    const reply = ok(await r.ask(publish(TUNE, tune("two"))));
    const id = reply.getChild("pubsub")!.getChild("publish")!.getChild("item")!.attrs.id;
    expect(id).toMatch(/\S/);
    const got = ok(await r.ask(items(TUNE)));
    expect(titles(got)).toEqual(["two"]);
    expect(itemsOf(got)[0]!.attrs.id).toBe(id);
  });
});

describe("retrieving items (XEP-0060 §6.5)", () => {
  it("all, the newest max_items, or by id; in publish order; max_items of the node enforced", async () => {
    const { romeo, juliet } = await cast();
    const r = await client(romeo, "orchard");
    const j = await client(juliet, "balcony");
    ok(await r.ask(publish(TUNE, tune("a"), "a")));
    ok(await r.ask(configure(TUNE, { "pubsub#max_items": "3" })));
    for (const s of ["b", "c", "d"]) ok(await r.ask(publish(TUNE, tune(s), s)));
    expect(titles(ok(await j.ask(items(TUNE, `${romeo}@localhost`))))).toEqual(["b", "c", "d"]);
    expect(titles(ok(await j.ask(items(TUNE, `${romeo}@localhost`, { max_items: "2" }))))).toEqual(["c", "d"]);
    expect(titles(ok(await j.ask(items(TUNE, `${romeo}@localhost`, {}, "b", "nope"))))).toEqual(["b"]);
    // Publishing an id again replaces that item and makes it the newest.
    ok(await r.ask(publish(TUNE, tune("b2"), "b")));
    expect(titles(ok(await j.ask(items(TUNE, `${romeo}@localhost`))))).toEqual(["c", "d", "b2"]);
    // max_items 'max' is the server's limit (5 in this test).
    ok(await r.ask(configure(TUNE, { "pubsub#max_items": "max" })));
    for (const s of ["e", "f", "g", "h"]) ok(await r.ask(publish(TUNE, tune(s), s)));
    expect(titles(ok(await r.ask(items(TUNE))))).toEqual(["b2", "e", "f", "g", "h"]);
  });

  it("a node that does not exist is item-not-found; a request without a node is bad-request + nodeid-required", async () => {
    const { romeo } = await cast();
    const r = await client(romeo, "orchard");
    expect(errorOf(await r.ask(items("urn:nothing")))).toBe("item-not-found");
    const noNode = await r.ask(xml("iq", { type: "get" }, xml("pubsub", { xmlns: PUBSUB }, xml("items"))));
    expect([errorOf(noNode), pubsubCondition(noNode)]).toEqual(["bad-request", "nodeid-required"]);
  });
});

describe("access models (XEP-0060 §4.5)", () => {
  it("presence (the default): contacts with a subscription read, others get not-authorized + presence-subscription-required", async () => {
    const { romeo, juliet, benvolio } = await cast();
    const r = await client(romeo, "orchard");
    const j = await client(juliet, "balcony");
    const b = await client(benvolio, "street");
    ok(await r.ask(publish(MOOD, mood("happy"), "m")));
    expect(itemsOf(ok(await j.ask(items(MOOD, `${romeo}@localhost`))))).toHaveLength(1);
    const denied = await b.ask(items(MOOD, `${romeo}@localhost`));
    expect([errorOf(denied), pubsubCondition(denied)]).toEqual(["not-authorized", "presence-subscription-required"]);
  });

  it("open: anyone reads; whitelist: only the owner (not-allowed + closed-node); roster: the allowed groups", async () => {
    const { romeo, juliet, benvolio } = await cast();
    const r = await client(romeo, "orchard");
    const j = await client(juliet, "balcony");
    const b = await client(benvolio, "street");
    ok(await r.ask(publish(MOOD, mood("happy"), "m")));
    ok(await r.ask(configure(MOOD, { "pubsub#access_model": "open" })));
    expect(itemsOf(ok(await b.ask(items(MOOD, `${romeo}@localhost`))))).toHaveLength(1);

    ok(await r.ask(configure(MOOD, { "pubsub#access_model": "whitelist" })));
    const closed = await j.ask(items(MOOD, `${romeo}@localhost`));
    expect([errorOf(closed), pubsubCondition(closed)]).toEqual(["not-allowed", "closed-node"]);
    expect(itemsOf(ok(await r.ask(items(MOOD))))).toHaveLength(1);

    ok(await r.ask(configure(MOOD, { "pubsub#access_model": "roster", "pubsub#roster_groups_allowed": ["Family"] })));
    const outside = await j.ask(items(MOOD, `${romeo}@localhost`));
    expect([errorOf(outside), pubsubCondition(outside)]).toEqual(["not-authorized", "not-in-roster-group"]);
    await t.server.storage.map("roster").set(`${romeo}@localhost`, `${juliet}@localhost`, { jid: `${juliet}@localhost`, groups: ["Family"], subscription: "both" });
    expect(itemsOf(ok(await j.ask(items(MOOD, `${romeo}@localhost`))))).toHaveLength(1);
  });

  it("notifications follow the access model: a whitelist node tells only the owner", async () => {
    const { romeo, juliet } = await cast();
    const r = await client(romeo, "orchard", [MOOD]);
    const j = await client(juliet, "balcony", [MOOD]);
    ok(await r.ask(xml("iq", { type: "set" }, xml("pubsub", { xmlns: PUBSUB }, xml("create", { node: MOOD }),
      xml("configure", null, (configure(MOOD, { "pubsub#access_model": "whitelist" }).getChild("pubsub")!.getChild("configure")!.getChild("x")!))))));
    ok(await r.ask(publish(MOOD, mood("secretive"))));
    await r.next(isEvent(MOOD), "his own event");
    await j.nothing(isEvent(MOOD));
  });
});

describe("retracting (XEP-0060 §7.2)", () => {
  it("the item goes, and contacts get a <retract/>; unless notify is false", async () => {
    const { romeo, juliet } = await cast();
    const r = await client(romeo, "orchard");
    const j = await client(juliet, "balcony", [TUNE]);
    ok(await r.ask(publish(TUNE, tune("x"), "x")));
    await j.next(isEvent(TUNE), "the publish event");
    ok(await r.ask(retract(TUNE, "x", "true")));
    const ev = await j.next(isEvent(TUNE), "the retract event");
    expect(ev.getChild("event", EVENT)!.getChild("items")!.getChild("retract")!.attrs.id).toBe("x");
    expect(itemsOf(ok(await r.ask(items(TUNE))))).toEqual([]);

    ok(await r.ask(publish(TUNE, tune("y"), "y")));
    await j.next(isEvent(TUNE), "the publish event");
    ok(await r.ask(retract(TUNE, "y", "false")));
    await j.nothing(isEvent(TUNE));
  });

  it("an item or node that does not exist is item-not-found; no item is item-required; only the owner retracts", async () => {
    const { romeo, juliet } = await cast();
    const r = await client(romeo, "orchard");
    const j = await client(juliet, "balcony");
    ok(await r.ask(publish(TUNE, tune("x"), "x")));
    expect(errorOf(await r.ask(retract(TUNE, "nope")))).toBe("item-not-found");
    expect(errorOf(await r.ask(retract("urn:nothing", "x")))).toBe("item-not-found");
    const noItem = await r.ask(xml("iq", { type: "set" }, xml("pubsub", { xmlns: PUBSUB }, xml("retract", { node: TUNE }))));
    expect([errorOf(noItem), pubsubCondition(noItem)]).toEqual(["bad-request", "item-required"]);
    const other = retract(TUNE, "x");
    other.attrs.to = `${romeo}@localhost`;
    expect(errorOf(await j.ask(other))).toBe("forbidden");
  });
});

describe("publish-options (XEP-0223, XEP-0060 §7.1.5)", () => {
  it("create the node with the options; then are preconditions: conflict + precondition-not-met when they differ", async () => {
    const { romeo, benvolio } = await cast();
    const r = await client(romeo, "orchard");
    const b = await client(benvolio, "street");
    ok(await r.ask(publish("urn:xmpp:avatar:metadata", xml("metadata", { xmlns: "urn:xmpp:avatar:metadata" }), "a1",
      publishOptions({ "pubsub#access_model": "open" }))));
    expect(itemsOf(ok(await b.ask(items("urn:xmpp:avatar:metadata", `${romeo}@localhost`))))).toHaveLength(1);
    ok(await r.ask(publish("urn:xmpp:avatar:metadata", xml("metadata", { xmlns: "urn:xmpp:avatar:metadata" }), "a2",
      publishOptions({ "pubsub#access_model": "open", "pubsub#persist_items": "1" }))));

    ok(await r.ask(publish(TUNE, tune("default"), "t1")));
    const refused = await r.ask(publish(TUNE, tune("open please"), "t2", publishOptions({ "pubsub#access_model": "open" })));
    expect(refused.getChild("error")!.attrs.type).toBe("cancel");
    expect([errorOf(refused), pubsubCondition(refused)]).toEqual(["conflict", "precondition-not-met"]);
    expect(titles(ok(await r.ask(items(TUNE))))).toEqual(["default"]);
    const unknown = await r.ask(publish(TUNE, tune("?"), "t3", publishOptions({ "pubsub#bogus": "1" })));
    expect([errorOf(unknown), pubsubCondition(unknown)]).toEqual(["conflict", "precondition-not-met"]);
  });
});

describe("node configuration (XEP-0060 §8.2, §8.3)", () => {
  it("the owner reads the form with the node's values and changes them; bad values are not-acceptable", async () => {
    const { romeo, juliet } = await cast();
    const r = await client(romeo, "orchard");
    const j = await client(juliet, "balcony");
    ok(await r.ask(publish(TUNE, tune("x"))));
    const form = ok(await r.ask(owner("get", xml("configure", { node: TUNE })))).getChild("pubsub", OWNER)!.getChild("configure")!.getChild("x")!;
    const value = (f: Element, v: string) => f.getChildren("field").find((x) => x.attrs.var === v)?.getChildText("value");
    expect(value(form, "FORM_TYPE")).toBe("http://jabber.org/protocol/pubsub#node_config");
    expect(value(form, "pubsub#access_model")).toBe("presence");
    expect(value(form, "pubsub#max_items")).toBe("1");

    ok(await r.ask(configure(TUNE, { "pubsub#access_model": "open", "pubsub#max_items": "4" })));
    const after = ok(await r.ask(owner("get", xml("configure", { node: TUNE })))).getChild("pubsub", OWNER)!.getChild("configure")!.getChild("x")!;
    expect([value(after, "pubsub#access_model"), value(after, "pubsub#max_items")]).toEqual(["open", "4"]);

    expect(errorOf(await r.ask(configure(TUNE, { "pubsub#access_model": "everyone" })))).toBe("not-acceptable");
    expect(errorOf(await r.ask(configure("urn:nothing", {})))).toBe("item-not-found");
    const theirs = configure(TUNE, {});
    theirs.attrs.to = `${romeo}@localhost`;
    expect(errorOf(await j.ask(theirs))).toBe("forbidden");
  });

  it("the default configuration (#retrieve-default)", async () => {
    const { romeo } = await cast();
    const r = await client(romeo, "orchard");
    const form = ok(await r.ask(owner("get", xml("default")))).getChild("pubsub", OWNER)!.getChild("default")!.getChild("x")!;
    expect(form.getChildren("field").find((f) => f.attrs.var === "pubsub#send_last_published_item")?.getChildText("value")).toBe("on_sub_and_presence");
  });
});

describe("deleting and purging (XEP-0060 §8.4, §8.5)", () => {
  it("delete: contacts get <delete/>, the node and its items are gone; purge empties a node", async () => {
    const { romeo, juliet } = await cast();
    const r = await client(romeo, "orchard");
    const j = await client(juliet, "balcony", [TUNE]);
    ok(await r.ask(publish(TUNE, tune("x"))));
    await j.next(isEvent(TUNE), "the publish event");
    ok(await r.ask(owner("set", xml("delete", { node: TUNE }))));
    const ev = await j.next((el) => el.getChild("event", EVENT)?.getChild("delete")?.attrs.node === TUNE, "the delete event");
    expect(ev.attrs.from).toBe(`${romeo}@localhost`);
    expect(errorOf(await r.ask(items(TUNE)))).toBe("item-not-found");
    expect(errorOf(await r.ask(owner("set", xml("delete", { node: TUNE }))))).toBe("item-not-found");

    ok(await r.ask(publish(TUNE, tune("y"))));
    ok(await r.ask(owner("set", xml("purge", { node: TUNE }))));
    expect(itemsOf(ok(await r.ask(items(TUNE))))).toEqual([]);
  });
});

describe("the last item (XEP-0163 §4.3.3, send_last_published_item)", () => {
  it("Juliet's client comes online with +notify: it gets Romeo's last tune, stamped with its time; a client without does not", async () => {
    const { romeo, juliet } = await cast();
    const r = await client(romeo, "orchard");
    ok(await r.ask(publish(TUNE, tune("Roundabout"), "s1")));
    ok(await r.ask(publish(MOOD, mood("happy"), "m1")));
    const j = await client(juliet, "balcony", [TUNE]);
    const ev = await j.next(isEvent(TUNE, `${romeo}@localhost`), "the last tune");
    expect(titles(ev)).toEqual(["Roundabout"]);
    expect(ev.getChild("delay", "urn:xmpp:delay")?.attrs.stamp).toMatch(/^\d{4}-\d\d-\d\dT/);
    await j.nothing(isEvent(MOOD));
    // Romeo's own new resource gets his own last items too.
    const r2 = await client(romeo, "car", [MOOD]);
    expect((await r2.next(isEvent(MOOD, `${romeo}@localhost`), "his own last mood")).getChild("event")!.getChild("items")!.getChild("item")!.attrs.id).toBe("m1");
    // A node set to never send it: nothing at login.
    ok(await r.ask(configure(TUNE, { "pubsub#send_last_published_item": "never" })));
    const j2 = await client(juliet, "garden", [TUNE]);
    await j2.nothing(isEvent(TUNE));
  });
});

describe("bad requests (XEP-0060 §7.1.3)", () => {
  it("publishing to another account is forbidden; no item, no payload, two payloads, unsupported subscriptions", async () => {
    const { romeo, juliet } = await cast();
    const r = await client(romeo, "orchard");
    expect(errorOf(await r.ask(publish(TUNE, tune("x"), "x", undefined, `${juliet}@localhost`)))).toBe("forbidden");
    const noItem = await r.ask(xml("iq", { type: "set" }, xml("pubsub", { xmlns: PUBSUB }, xml("publish", { node: TUNE }))));
    expect([errorOf(noItem), pubsubCondition(noItem)]).toEqual(["bad-request", "item-required"]);
    const noPayload = await r.ask(publish(TUNE, undefined, "x"));
    expect([errorOf(noPayload), pubsubCondition(noPayload)]).toEqual(["bad-request", "payload-required"]);
    const two = await r.ask(xml("iq", { type: "set" }, xml("pubsub", { xmlns: PUBSUB }, xml("publish", { node: TUNE }, xml("item", null, tune("a"), tune("b"))))));
    expect([errorOf(two), pubsubCondition(two)]).toEqual(["bad-request", "invalid-payload"]);
    const noNode = await r.ask(xml("iq", { type: "set" }, xml("pubsub", { xmlns: PUBSUB }, xml("publish", null, xml("item", null, tune("a"))))));
    expect([errorOf(noNode), pubsubCondition(noNode)]).toEqual(["bad-request", "nodeid-required"]);
    const sub = await r.ask(xml("iq", { type: "set" }, xml("pubsub", { xmlns: PUBSUB }, xml("subscribe", { node: TUNE, jid: r.jid }))));
    expect(errorOf(sub)).toBe("feature-not-implemented");
    expect(sub.getChild("error")!.getChild("unsupported", "http://jabber.org/protocol/pubsub#errors")?.attrs.feature).toBe("subscribe");
    // The session is still fine.
    ok(await r.ask(publish(TUNE, tune("still here"))));
  });

  it("an item larger than the limit is not-acceptable + payload-too-big", async () => {
    const { romeo } = await cast();
    const r = await client(romeo, "orchard");
    const big = await r.ask(publish("urn:xmpp:avatar:data", xml("data", { xmlns: "urn:xmpp:avatar:data" }, "A".repeat(3000))));
    expect([errorOf(big), pubsubCondition(big)]).toEqual(["not-acceptable", "payload-too-big"]);
  });
});

describe("storage", () => {
  it("an account deleted takes its nodes with it", async () => {
    const { romeo } = await cast();
    const r = await client(romeo, "orchard");
    ok(await r.ask(publish(TUNE, tune("x"))));
    await removeAccount(t.context, parseJid(`${romeo}@localhost`));
    await t.server.accounts.create(romeo, "pw");
    const again = await client(romeo, "again");
    expect(errorOf(await again.ask(items(TUNE)))).toBe("item-not-found");
  });

  it("nodes, their configuration and items survive a restart", async () => {
    const { romeo } = await cast();
    const r = await client(romeo, "orchard");
    ok(await r.ask(publish(TUNE, tune("kept"), "k", publishOptions({ "pubsub#access_model": "open", "pubsub#max_items": "3" }))));
    await Promise.all(open.splice(0).map((c) => c.stop().catch(() => {})));
    await t.stop(false);
    t = await startServer({ dataDir, config: { modules: { pep: { maxItems: 5, maxItemSize: 2048 } } } });
    const again = await client(romeo, "again");
    expect(titles(ok(await again.ask(items(TUNE))))).toEqual(["kept"]);
    const form = ok(await again.ask(owner("get", xml("configure", { node: TUNE })))).getChild("pubsub", OWNER)!.getChild("configure")!.getChild("x")!;
    expect(form.getChildren("field").find((f) => f.attrs.var === "pubsub#access_model")?.getChildText("value")).toBe("open");
  });
});
