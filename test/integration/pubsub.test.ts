// XEP-0060 as a service of its own (pubsub.localhost) over real sockets: the server lists it in
// its disco#items; Romeo creates nodes (named, instant, configured), publishes and retracts;
// Juliet subscribes and is notified, reads items, lists her subscriptions and affiliations;
// whitelist nodes keep out the unaffiliated until an owner makes them members; outcasts lose
// their subscription; publishers publish but do not configure; notification-only transient nodes
// take publications without items (§7.1.3.6); everything survives a restart.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { accounts, connect, errorOf, presence, type Im } from "../helpers/im.ts";
import { EVENT, isEvent, itemsOf, OWNER, publishOptions, PUBSUB, pubsubCondition, submit } from "../helpers/pep.ts";

const PS = "pubsub.localhost";
const DISCO_INFO = "http://jabber.org/protocol/disco#info";
const DISCO_ITEMS = "http://jabber.org/protocol/disco#items";
const NODE_CONFIG = "http://jabber.org/protocol/pubsub#node_config";
const entry = (title: string) => xml("entry", { xmlns: "http://www.w3.org/2005/Atom" }, xml("title", null, title));
const titles = (el: Element) => itemsOf(el).map((i) => i.getChild("entry", "http://www.w3.org/2005/Atom")?.getChildText("title"));

const ps = (type: "get" | "set", ...children: (Element | undefined)[]) => xml("iq", { type, to: PS }, xml("pubsub", { xmlns: PUBSUB }, ...children));
const own = (type: "get" | "set", child: Element) => xml("iq", { type, to: PS }, xml("pubsub", { xmlns: OWNER }, child));
const publish = (node: string, payload?: Element, id?: string, options?: Element) =>
  ps("set", xml("publish", { node }, payload || id ? xml("item", { id }, payload) : undefined), options);
const create = (node?: string, fields?: Record<string, string>) =>
  ps("set", xml("create", { node }), fields ? xml("configure", null, submit(NODE_CONFIG, fields)) : undefined);
const subscribe = (node: string, jid: string) => ps("set", xml("subscribe", { node, jid }));
const items = (node: string) => ps("get", xml("items", { node }));
const affiliations = (node: string, ...a: [string, string][]) =>
  own("set", xml("affiliations", { node }, a.map(([jid, affiliation]) => xml("affiliation", { jid, affiliation }))));

let t: TestServer;
const open: Im[] = [];
async function client(user: string, resource = "r"): Promise<Im> {
  const c = await connect(t, user, resource);
  open.push(c);
  // Available, so that notifications to the bare JID reach it (RFC 6121 §8.5.2).
  c.send(presence());
  await c.next((el) => el.name === "presence" && el.attrs.from === c.jid, "its own presence");
  return c;
}
const ok = (el: Element) => {
  expect(el.attrs.type, el.toString()).toBe("result");
  return el;
};
const failed = (el: Element, condition: string, specific?: string) => {
  expect(el.attrs.type, el.toString()).toBe("error");
  expect(errorOf(el)).toBe(condition);
  if (specific) expect(pubsubCondition(el)).toBe(specific);
};
async function cast() {
  const [romeo, juliet, tybalt] = (await accounts(t, "romeo", "juliet", "tybalt")) as [string, string, string];
  return { romeo: await client(romeo), juliet: await client(juliet), tybalt: await client(tybalt) };
}

beforeAll(async () => {
  t = await startServer();
});
afterAll(async () => {
  await Promise.all(open.map((c) => c.stop().catch(() => {})));
  await t.stop();
});

describe("discovery (XEP-0060 §5)", () => {
  it("the server lists pubsub.localhost, a pubsub/service with the pubsub features", async () => {
    const { romeo } = await cast();
    const list = ok(await romeo.ask(xml("iq", { type: "get", to: "localhost" }, xml("query", { xmlns: DISCO_ITEMS }))));
    expect(list.getChild("query")!.getChildren("item").map((i) => i.attrs.jid)).toContain(PS);
    const info = ok(await romeo.ask(xml("iq", { type: "get", to: PS }, xml("query", { xmlns: DISCO_INFO })))).getChild("query")!;
    expect(info.getChild("identity")!.attrs).toMatchObject({ category: "pubsub", type: "service" });
    const features = info.getChildren("feature").map((f) => f.attrs.var);
    expect(features).toEqual(expect.arrayContaining([PUBSUB, `${PUBSUB}#subscribe`, `${PUBSUB}#access-whitelist`, `${PUBSUB}#instant-nodes`]));
  });

  it("nodes and their items are listed; a node is a pubsub/leaf; a missing node is item-not-found", async () => {
    const { romeo } = await cast();
    ok(await romeo.ask(create("disco-node", { "pubsub#title": "Disco" })));
    ok(await romeo.ask(publish("disco-node", entry("one"), "i1")));
    const nodes = ok(await romeo.ask(xml("iq", { type: "get", to: PS }, xml("query", { xmlns: DISCO_ITEMS })))).getChild("query")!;
    expect(nodes.getChildren("item").find((i) => i.attrs.node === "disco-node")?.attrs).toMatchObject({ jid: PS, name: "Disco" });
    const nodeItems = ok(await romeo.ask(xml("iq", { type: "get", to: PS }, xml("query", { xmlns: DISCO_ITEMS, node: "disco-node" }))));
    expect(nodeItems.getChild("query")!.getChildren("item").map((i) => i.attrs.name)).toEqual(["i1"]);
    const info = ok(await romeo.ask(xml("iq", { type: "get", to: PS }, xml("query", { xmlns: DISCO_INFO, node: "disco-node" }))));
    expect(info.getChild("query")!.getChild("identity")!.attrs).toMatchObject({ category: "pubsub", type: "leaf" });
    failed(await romeo.ask(xml("iq", { type: "get", to: PS }, xml("query", { xmlns: DISCO_INFO, node: "nope" }))), "item-not-found");
  });
});

describe("nodes, publishing and subscriptions (§6-§8)", () => {
  it("Romeo creates a node; Juliet subscribes, gets the last item, then each publish and retract; she unsubscribes", async () => {
    const { romeo, juliet } = await cast();
    ok(await romeo.ask(create("balcony")));
    failed(await romeo.ask(create("balcony")), "conflict");
    ok(await romeo.ask(publish("balcony", entry("first"), "a")));
    const sub = ok(await juliet.ask(subscribe("balcony", juliet.jid.split("/")[0]!))).getChild("pubsub")!.getChild("subscription")!;
    expect(sub.attrs).toMatchObject({ node: "balcony", subscription: "subscribed" });
    expect(sub.attrs.subid).toBeTruthy();
    // on_sub: the last item follows the subscription, with its delay.
    const last = await juliet.next(isEvent("balcony", PS), "the last item");
    expect(titles(last)).toEqual(["first"]);
    expect(last.getChild("delay", "urn:xmpp:delay")).toBeDefined();

    ok(await romeo.ask(publish("balcony", entry("second"), "b")));
    expect(titles(await juliet.next(isEvent("balcony", PS), "the notification"))).toEqual(["second"]);
    expect(titles(ok(await juliet.ask(items("balcony"))))).toEqual(["first", "second"]);
    ok(await romeo.ask(ps("set", xml("retract", { node: "balcony", notify: "true" }, xml("item", { id: "a" })))));
    const retracted = await juliet.next(isEvent("balcony", PS), "the retraction");
    expect(retracted.getChild("event", EVENT)!.getChild("items")!.getChild("retract")!.attrs.id).toBe("a");

    const mine = ok(await juliet.ask(ps("get", xml("subscriptions")))).getChild("pubsub")!.getChild("subscriptions")!;
    expect(mine.getChildren("subscription").map((s) => s.attrs.node)).toEqual(["balcony"]);
    ok(await juliet.ask(ps("set", xml("unsubscribe", { node: "balcony", jid: juliet.jid.split("/")[0]! }))));
    failed(await juliet.ask(ps("set", xml("unsubscribe", { node: "balcony", jid: juliet.jid.split("/")[0]! }))), "unexpected-request", "not-subscribed");
    ok(await romeo.ask(publish("balcony", entry("third"))));
    await juliet.nothing(isEvent("balcony", PS));
  });

  it("only the owner configures, purges and deletes; deletion is notified to subscribers", async () => {
    const { romeo, juliet } = await cast();
    ok(await romeo.ask(create("orchard")));
    failed(await juliet.ask(own("set", xml("purge", { node: "orchard" }))), "forbidden");
    failed(await juliet.ask(own("set", xml("delete", { node: "orchard" }))), "forbidden");
    failed(await juliet.ask(publish("orchard", entry("hers"))), "forbidden");
    failed(await juliet.ask(own("get", xml("configure", { node: "orchard" }))), "forbidden");
    const form = ok(await romeo.ask(own("get", xml("configure", { node: "orchard" })))).getChild("pubsub")!.getChild("configure")!.getChild("x")!;
    expect(form.getChildren("field").find((f) => f.attrs.var === "pubsub#access_model")?.getChildText("value")).toBe("open");
    ok(await romeo.ask(own("set", xml("configure", { node: "orchard" }, submit(NODE_CONFIG, { "pubsub#max_items": "2" })))));
    failed(await romeo.ask(own("set", xml("configure", { node: "orchard" }, submit(NODE_CONFIG, { "pubsub#access_model": "presence" })))), "not-acceptable");
    for (const x of ["1", "2", "3"]) ok(await romeo.ask(publish("orchard", entry(x))));
    expect(titles(ok(await romeo.ask(items("orchard"))))).toEqual(["2", "3"]);
    ok(await juliet.ask(subscribe("orchard", juliet.jid)));
    await juliet.next(isEvent("orchard", PS), "the last item");
    ok(await romeo.ask(own("set", xml("purge", { node: "orchard" }))));
    expect((await juliet.next(isEvent("orchard", PS), "purge")).getChild("event", EVENT)!.getChild("purge")).toBeDefined();
    expect(titles(ok(await romeo.ask(items("orchard"))))).toEqual([]);
    ok(await romeo.ask(own("set", xml("delete", { node: "orchard" }))));
    expect((await juliet.next(isEvent("orchard", PS), "delete")).getChild("event", EVENT)!.getChild("delete")).toBeDefined();
    failed(await romeo.ask(items("orchard")), "item-not-found");
  });

  it("an instant node gets its name from the service; publish to a missing node creates it with the publish-options", async () => {
    const { romeo } = await cast();
    const made = ok(await romeo.ask(create())).getChild("pubsub")!.getChild("create")!.attrs.node;
    expect(made).toBeTruthy();
    ok(await romeo.ask(own("set", xml("delete", { node: made! }))));
    ok(await romeo.ask(publish("auto", entry("x"), undefined, publishOptions({ "pubsub#access_model": "whitelist" }))));
    failed(await romeo.ask(publish("auto", entry("y"), undefined, publishOptions({ "pubsub#access_model": "open" }))), "conflict", "precondition-not-met");
    const mine = ok(await romeo.ask(ps("get", xml("affiliations")))).getChild("pubsub")!.getChild("affiliations")!;
    expect(mine.getChildren("affiliation").map((a) => a.attrs)).toEqual(expect.arrayContaining([{ node: "auto", affiliation: "owner" }]));
  });

  it("a notification-only transient node takes a publication without item and refuses one with (§7.1.3.6)", async () => {
    const { romeo, juliet } = await cast();
    ok(await romeo.ask(create("bell", { "pubsub#deliver_payloads": "0", "pubsub#persist_items": "0" })));
    ok(await juliet.ask(subscribe("bell", juliet.jid)));
    ok(await romeo.ask(publish("bell")));
    const ring = await juliet.next(isEvent("bell", PS), "the notification");
    expect(ring.getChild("event", EVENT)!.getChild("items")!.getChildren("item")).toEqual([]);
    failed(await romeo.ask(publish("bell", entry("x"), "id1")), "bad-request", "item-forbidden");
    failed(await romeo.ask(publish("balcony-missing-item", undefined)), "bad-request", "item-required");
  });

  it("a JID cannot subscribe someone else, nor to a node that does not exist", async () => {
    const { romeo, juliet } = await cast();
    ok(await romeo.ask(create("gate")));
    failed(await juliet.ask(subscribe("gate", romeo.jid)), "bad-request", "invalid-jid");
    failed(await juliet.ask(subscribe("no-such-node", juliet.jid)), "item-not-found");
  });
});

describe("affiliations and access models (§4.1, §4.5, §8.8, §8.9)", () => {
  it("a whitelist node: Tybalt is kept out until he is a member; as an outcast he loses his subscription", async () => {
    const { romeo, juliet, tybalt } = await cast();
    const tybaltBare = tybalt.jid.split("/")[0]!;
    ok(await romeo.ask(create("crypt", { "pubsub#access_model": "whitelist" })));
    ok(await romeo.ask(publish("crypt", entry("secret"))));
    failed(await tybalt.ask(items("crypt")), "not-allowed", "closed-node");
    failed(await tybalt.ask(subscribe("crypt", tybalt.jid)), "not-allowed", "closed-node");
    failed(await tybalt.ask(affiliations("crypt", [tybaltBare, "member"])), "forbidden");
    ok(await romeo.ask(affiliations("crypt", [tybaltBare, "member"], [juliet.jid.split("/")[0]!, "publisher"])));
    expect(titles(ok(await tybalt.ask(items("crypt"))))).toEqual(["secret"]);
    ok(await tybalt.ask(subscribe("crypt", tybalt.jid)));
    await tybalt.next(isEvent("crypt", PS), "the last item");

    // Juliet, a publisher, publishes and Tybalt hears it; she may not configure.
    ok(await juliet.ask(publish("crypt", entry("from juliet"))));
    expect(titles(await tybalt.next(isEvent("crypt", PS), "juliet's item"))).toEqual(["from juliet"]);
    failed(await juliet.ask(own("get", xml("configure", { node: "crypt" }))), "forbidden");

    const list = ok(await romeo.ask(own("get", xml("affiliations", { node: "crypt" })))).getChild("pubsub")!.getChild("affiliations")!;
    expect(Object.fromEntries(list.getChildren("affiliation").map((a) => [a.attrs.jid, a.attrs.affiliation]))).toEqual({
      [romeo.jid.split("/")[0]!]: "owner", [tybaltBare]: "member", [juliet.jid.split("/")[0]!]: "publisher",
    });
    const subs = ok(await romeo.ask(own("get", xml("subscriptions", { node: "crypt" })))).getChild("pubsub")!.getChild("subscriptions")!;
    expect(subs.getChildren("subscription").map((s) => s.attrs.jid)).toEqual([tybalt.jid]);

    ok(await romeo.ask(affiliations("crypt", [tybaltBare, "outcast"])));
    failed(await tybalt.ask(items("crypt")), "forbidden");
    ok(await romeo.ask(publish("crypt", entry("after"))));
    await tybalt.nothing(isEvent("crypt", PS));
    failed(await romeo.ask(affiliations("crypt", [romeo.jid.split("/")[0]!, "none"])), "not-acceptable");
  });

  it("the owner subscribes and unsubscribes others (§8.8.2)", async () => {
    const { romeo, juliet } = await cast();
    ok(await romeo.ask(create("letters")));
    ok(await romeo.ask(own("set", xml("subscriptions", { node: "letters" }, xml("subscription", { jid: juliet.jid, subscription: "subscribed" })))));
    ok(await romeo.ask(publish("letters", entry("dear juliet"))));
    expect(titles(await juliet.next(isEvent("letters", PS), "the letter"))).toEqual(["dear juliet"]);
    ok(await romeo.ask(own("set", xml("subscriptions", { node: "letters" }, xml("subscription", { jid: juliet.jid, subscription: "none" })))));
    ok(await romeo.ask(publish("letters", entry("another"))));
    await juliet.nothing(isEvent("letters", PS));
  });
});

describe("persistence", () => {
  it("nodes, items, affiliations and subscriptions survive a restart", async () => {
    const { romeo, juliet } = await cast();
    ok(await romeo.ask(create("vault", { "pubsub#access_model": "whitelist" })));
    ok(await romeo.ask(affiliations("vault", [juliet.jid.split("/")[0]!, "member"])));
    ok(await juliet.ask(subscribe("vault", juliet.jid.split("/")[0]!)));
    ok(await romeo.ask(publish("vault", entry("kept"), "k")));
    const [r, j] = [romeo.jid.split("@")[0]!, juliet.jid.split("@")[0]!];
    await Promise.all(open.splice(0).map((c) => c.stop().catch(() => {})));
    const dataDir = t.dataDir;
    await t.stop(false);
    t = await startServer({ dataDir });
    const romeo2 = await client(r);
    const juliet2 = await client(j);
    expect(titles(ok(await juliet2.ask(items("vault"))))).toEqual(["kept"]);
    ok(await romeo2.ask(publish("vault", entry("after restart"))));
    expect(titles(await juliet2.next(isEvent("vault", PS), "the notification"))).toEqual(["after restart"]);
  });
});
