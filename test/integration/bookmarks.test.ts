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
