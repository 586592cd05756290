// XEP-0402 (PEP Native Bookmarks) over real sockets, with the stanzas of its §3: one item per room,
// its id the room's JID, published with the publish-options the XEP requires (persist_items,
// max_items=max, send_last_published_item=never, access_model=whitelist); the account's other
// +notify resources hear of each change, nobody else can read them.
import { describe, expect, it } from "vitest";
import { xml } from "../../src/xml/element.ts";
import { accounts, errorOf, given } from "../helpers/im.ts";
import { ok, pepFixture, EVENT, isEvent, items, itemsOf, publish, publishOptions, pubsubCondition, retract } from "../helpers/pep.ts";

const BOOKMARKS = "urn:xmpp:bookmarks:1";
const OPTIONS = {
  "pubsub#persist_items": "true", "pubsub#max_items": "max",
  "pubsub#send_last_published_item": "never", "pubsub#access_model": "whitelist",
};
const conference = (name: string, nick: string) => xml("conference", { xmlns: BOOKMARKS, name, autojoin: "true" }, xml("nick", null, nick));

const fixture = pepFixture({}, true);
const client = (user: string, resource: string, notify: string[] = []) => fixture.client(user, resource, notify);

describe("PEP native bookmarks (XEP-0402 §3)", () => {
  it("Juliet adds two rooms from her laptop; her phone hears each; she reads them all; her contact cannot", async () => {
    const [juliet, romeo] = (await accounts(fixture.server, "juliet", "romeo")) as [string, string];
    await given(fixture.server, juliet, romeo, "both");
    await given(fixture.server, romeo, juliet, "both");
    const laptop = await client(juliet, "laptop", [BOOKMARKS]);
    const phone = await client(juliet, "phone", [BOOKMARKS]);
    const r = await client(romeo, "orchard", [BOOKMARKS]);

    ok(await laptop.ask(publish(BOOKMARKS, conference("The Play's the Thing", "JC"), "theplay@conference.shakespeare.lit", publishOptions(OPTIONS))));
    ok(await laptop.ask(publish(BOOKMARKS, conference("Orchard", "Jules"), "orchard@conference.shakespeare.lit", publishOptions(OPTIONS))));
    const first = await phone.next(isEvent(BOOKMARKS, `${juliet}@localhost`), "the first bookmark");
    expect(itemsOf(first)[0]!.attrs.id).toBe("theplay@conference.shakespeare.lit");
    expect(itemsOf(first)[0]!.getChild("conference", BOOKMARKS)!.getChildText("nick")).toBe("JC");
    await phone.next(isEvent(BOOKMARKS, `${juliet}@localhost`), "the second bookmark");

    // max_items=max: both are kept.
    const all = ok(await phone.ask(items(BOOKMARKS)));
    expect(itemsOf(all).map((i) => i.attrs.id)).toEqual(["theplay@conference.shakespeare.lit", "orchard@conference.shakespeare.lit"]);
    // whitelist: the owner alone.
    await r.nothing(isEvent(BOOKMARKS));
    const denied = await r.ask(items(BOOKMARKS, `${juliet}@localhost`));
    expect([errorOf(denied), pubsubCondition(denied)]).toEqual(["not-allowed", "closed-node"]);

    // Removing one: a retraction, notified.
    ok(await laptop.ask(retract(BOOKMARKS, "orchard@conference.shakespeare.lit", "true")));
    const gone = await phone.next(isEvent(BOOKMARKS), "the retraction");
    expect(gone.getChild("event", EVENT)!.getChild("items")!.getChild("retract")!.attrs.id).toBe("orchard@conference.shakespeare.lit");
    expect(itemsOf(ok(await phone.ask(items(BOOKMARKS)))).map((i) => i.attrs.id)).toEqual(["theplay@conference.shakespeare.lit"]);
  });

  it("send_last_published_item=never: a new resource is not sent the last bookmark, and fetches them itself", async () => {
    const [juliet] = (await accounts(fixture.server, "juliet")) as [string];
    const laptop = await client(juliet, "laptop");
    ok(await laptop.ask(publish(BOOKMARKS, conference("Balcony", "J"), "balcony@conference.shakespeare.lit", publishOptions(OPTIONS))));
    const tablet = await client(juliet, "tablet", [BOOKMARKS]);
    await tablet.nothing(isEvent(BOOKMARKS));
    expect(itemsOf(ok(await tablet.ask(items(BOOKMARKS))))).toHaveLength(1);
  });
});

// XEP-0402 §5.3: the same bookmarks for clients that still read XEP-0048, in private XML
// (XEP-0049) and in the PEP node storage:bookmarks.
const LEGACY = "storage:bookmarks";
const PRIVATE = "jabber:iq:private";
const legacy = (...rooms: [jid: string, name: string, nick: string][]) =>
  xml("storage", { xmlns: LEGACY }, rooms.map(([jid, name, nick]) => xml("conference", { jid, name, autojoin: "true" }, xml("nick", null, nick))),
    xml("url", { name: "Verona", url: "https://verona.lit/" }));
const privateGet = () => xml("iq", { type: "get" }, xml("query", { xmlns: PRIVATE }, xml("storage", { xmlns: LEGACY })));
const privateSet = (storage: ReturnType<typeof xml>) => xml("iq", { type: "set" }, xml("query", { xmlns: PRIVATE }, storage));
const storedRooms = (iq: ReturnType<typeof xml>) =>
  Object.fromEntries(iq.getChild("query", PRIVATE)!.getChild("storage", LEGACY)!.getChildren("conference").map((c) => [c.attrs.jid, c.getChildText("nick")]));

describe("compatibility with XEP-0048 bookmarks (XEP-0402 §5.3)", () => {
  it("the account advertises #compat and #compat-pep", async () => {
    const [juliet] = (await accounts(fixture.server, "juliet")) as [string];
    const c = await client(juliet, "laptop");
    const info = ok(await c.ask(xml("iq", { type: "get", to: `${juliet}@localhost` }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" }))));
    const features = info.getChild("query")!.getChildren("feature").map((f) => f.attrs.var);
    expect(features).toEqual(expect.arrayContaining([`${BOOKMARKS}#compat`, `${BOOKMARKS}#compat-pep`]));
  });

  it("an old client stores bookmarks in private XML; the new client hears and reads them as native items, and as the PEP node", async () => {
    const [juliet] = (await accounts(fixture.server, "juliet")) as [string];
    const me = `${juliet}@localhost`;
    const old = await client(juliet, "old");
    const phone = await client(juliet, "phone", [BOOKMARKS]);
    ok(await old.ask(privateSet(legacy(["theplay@conference.shakespeare.lit", "The Play", "JC"], ["orchard@conference.shakespeare.lit", "Orchard", "Jules"]))));
    const first = await phone.next(isEvent(BOOKMARKS, me), "a native notification");
    expect(itemsOf(first)[0]!.attrs.id).toBe("theplay@conference.shakespeare.lit");
    const native = itemsOf(ok(await phone.ask(items(BOOKMARKS))));
    expect(native.map((i) => [i.attrs.id, i.getChild("conference", BOOKMARKS)!.getChildText("nick"), i.getChild("conference", BOOKMARKS)!.attrs.autojoin]))
      .toEqual([["theplay@conference.shakespeare.lit", "JC", "true"], ["orchard@conference.shakespeare.lit", "Jules", "true"]]);
    const pepLegacy = itemsOf(ok(await phone.ask(items(LEGACY))));
    expect(pepLegacy.map((i) => i.attrs.id)).toEqual(["current"]);
    expect(pepLegacy[0]!.getChild("storage", LEGACY)!.getChildren("conference")).toHaveLength(2);

    // The old client drops a room: the native item is retracted.
    ok(await old.ask(privateSet(legacy(["theplay@conference.shakespeare.lit", "The Play", "JC"]))));
    expect(itemsOf(ok(await phone.ask(items(BOOKMARKS)))).map((i) => i.attrs.id)).toEqual(["theplay@conference.shakespeare.lit"]);
  });

  it("the new client publishes and retracts native items; the old client reads them in private XML, its urls kept", async () => {
    const [juliet] = (await accounts(fixture.server, "juliet")) as [string];
    const old = await client(juliet, "old");
    const laptop = await client(juliet, "laptop");
    ok(await old.ask(privateSet(legacy(["crypt@conference.shakespeare.lit", "Crypt", "J"]))));
    const ext = xml("extensions", null, xml("state", { xmlns: "urn:example:client" }));
    const withExt = xml("conference", { xmlns: BOOKMARKS, name: "Balcony", autojoin: "true" }, xml("nick", null, "Jules"), ext);
    ok(await laptop.ask(publish(BOOKMARKS, withExt, "balcony@conference.shakespeare.lit", publishOptions(OPTIONS))));
    let stored = ok(await old.ask(privateGet()));
    expect(storedRooms(stored)).toEqual({ "crypt@conference.shakespeare.lit": "J", "balcony@conference.shakespeare.lit": "Jules" });
    expect(stored.getChild("query", PRIVATE)!.getChild("storage", LEGACY)!.getChild("url")!.attrs.url).toBe("https://verona.lit/");

    // The old client renames its nick in the balcony: the native item changes, its extensions kept.
    ok(await old.ask(privateSet(legacy(["crypt@conference.shakespeare.lit", "Crypt", "J"], ["balcony@conference.shakespeare.lit", "Balcony", "Juliet"]))));
    const balcony = itemsOf(ok(await laptop.ask(items(BOOKMARKS)))).find((i) => i.attrs.id === "balcony@conference.shakespeare.lit")!;
    expect(balcony.getChild("conference", BOOKMARKS)!.getChildText("nick")).toBe("Juliet");
    expect(balcony.getChild("conference", BOOKMARKS)!.getChild("extensions")!.getChild("state", "urn:example:client")).toBeDefined();

    ok(await laptop.ask(retract(BOOKMARKS, "crypt@conference.shakespeare.lit", "true")));
    stored = ok(await old.ask(privateGet()));
    expect(storedRooms(stored)).toEqual({ "balcony@conference.shakespeare.lit": "Juliet" });
  });

  it("an old client that publishes storage:bookmarks through PEP (XEP-0048 §3.3) is heard too", async () => {
    const [juliet] = (await accounts(fixture.server, "juliet")) as [string];
    const old = await client(juliet, "old");
    const phone = await client(juliet, "phone", [BOOKMARKS]);
    ok(await old.ask(publish(LEGACY, legacy(["tomb@conference.shakespeare.lit", "Tomb", "J"]), "current",
      publishOptions({ "pubsub#persist_items": "true", "pubsub#access_model": "whitelist" }))));
    expect(itemsOf(await phone.next(isEvent(BOOKMARKS), "a native notification"))[0]!.attrs.id).toBe("tomb@conference.shakespeare.lit");
    expect(storedRooms(ok(await old.ask(privateGet())))).toEqual({ "tomb@conference.shakespeare.lit": "J" });
  });
});

// XEP-0411 (Bookmarks Conversion): the two places of XEP-0048 kept in step, private XML and the
// PEP node storage:bookmarks, for a client that reads only one of them.
describe("bookmarks conversion between private XML and PEP (XEP-0411)", () => {
  it("the account advertises urn:xmpp:bookmarks-conversion:0 (§2)", async () => {
    const [juliet] = (await accounts(fixture.server, "juliet")) as [string];
    const c = await client(juliet, "laptop");
    const info = ok(await c.ask(xml("iq", { type: "get", to: `${juliet}@localhost` }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" }))));
    expect(info.getChild("query")!.getChildren("feature").map((f) => f.attrs.var)).toContain("urn:xmpp:bookmarks-conversion:0");
  });

  it("a private XML client stores; a PEP client hears the storage:bookmarks event; the PEP client publishes; the private XML client reads it", async () => {
    const [juliet] = (await accounts(fixture.server, "juliet")) as [string];
    const me = `${juliet}@localhost`;
    const old = await client(juliet, "old");
    const pep = await client(juliet, "pep", [LEGACY]);
    ok(await old.ask(privateSet(legacy(["capulet@conference.shakespeare.lit", "Capulets", "JC"]))));
    const event = await pep.next(isEvent(LEGACY, me), "a storage:bookmarks notification");
    const heard = itemsOf(event)[0]!;
    expect(heard.attrs.id).toBe("current");
    expect(heard.getChild("storage", LEGACY)!.getChild("conference")!.attrs.jid).toBe("capulet@conference.shakespeare.lit");

    ok(await pep.ask(publish(LEGACY, legacy(["montague@conference.shakespeare.lit", "Montagues", "Jules"]), "current",
      publishOptions({ "pubsub#persist_items": "true", "pubsub#access_model": "whitelist" }))));
    expect(storedRooms(ok(await old.ask(privateGet())))).toEqual({ "montague@conference.shakespeare.lit": "Jules" });
  });
});
