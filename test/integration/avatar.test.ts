// What clients keep in PEP about their user, over real sockets with the stanzas they send:
// XEP-0084 avatars as Conversations and Gajim publish them (the data node first, then the
// metadata node, both with publish-options access_model=open), the metadata notified to contacts
// whose caps say urn:xmpp:avatar:metadata+notify and the data fetched by item id, by contacts and
// strangers alike; XEP-0172 nicknames; XEP-0292 vCard4 (urn:xmpp:vcard4).
import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { accounts, errorOf, given } from "../helpers/im.ts";
import { EVENT, isEvent, items, itemsOf, ok, pepFixture, publishOptions, PUBSUB } from "../helpers/pep.ts";

const DATA = "urn:xmpp:avatar:data";
const METADATA = "urn:xmpp:avatar:metadata";
const NICK = "http://jabber.org/protocol/nick";
const VCARD4_NODE = "urn:xmpp:vcard4";
const VCARD4 = "urn:ietf:params:xml:ns:vcard-4.0";

const fixture = pepFixture();

/** Two contacts with presence both ways, each with a client that wants the nodes. */
async function pair(notify: string[]) {
  const [romeo, juliet, stranger] = (await accounts(fixture.server, "romeo", "juliet", "stranger")) as [string, string, string];
  await given(fixture.server, romeo, juliet, "both");
  await given(fixture.server, juliet, romeo, "both");
  return {
    romeo: await fixture.client(romeo, "phone", notify), juliet: await fixture.client(juliet, "laptop", notify),
    stranger: await fixture.client(stranger, "pc"), romeoJid: `${romeo}@localhost`, julietUser: juliet,
  };
}

/** The iq a client sends: one <publish/> with its <item/>, and publish-options. */
function publishIq(node: string, id: string, payload: Element, options: Record<string, string>): Element {
  return xml("iq", { type: "set", id: `pub-${node}` }, xml("pubsub", { xmlns: PUBSUB },
    xml("publish", { node }, xml("item", { id }, payload)), publishOptions(options)));
}

describe("user avatars (XEP-0084)", () => {
  it("Romeo's phone publishes data then metadata, open; Juliet is told, fetches the data by id; a stranger may too", async () => {
    const { romeo, juliet, stranger, romeoJid } = await pair([METADATA]);
    // A 48 KB image: base64 of it is about 64 KB, a typical avatar that must fit an item.
    const image = randomBytes(48 * 1024);
    const sha1 = createHash("sha1").update(image).digest("hex");
    const b64 = image.toString("base64");
    ok(await romeo.ask(publishIq(DATA, sha1, xml("data", { xmlns: DATA }, b64), { "pubsub#access_model": "open" })));
    ok(await romeo.ask(publishIq(METADATA, sha1, xml("metadata", { xmlns: METADATA },
      xml("info", { bytes: String(image.length), id: sha1, height: "192", width: "192", type: "image/png" })), { "pubsub#access_model": "open" })));

    // Only the metadata is notified: Juliet's client asked for urn:xmpp:avatar:metadata+notify only.
    const note = await juliet.next(isEvent(METADATA, romeoJid), "the metadata notification");
    const info = itemsOf(note)[0]!.getChild("metadata", METADATA)!.getChild("info")!;
    expect(info.attrs).toMatchObject({ id: sha1, bytes: String(image.length), type: "image/png" });
    await juliet.nothing(isEvent(DATA));

    // XEP-0084 §4.2: the data is fetched by item id.
    const fetched = itemsOf(ok(await juliet.ask(items(DATA, romeoJid, {}, sha1))));
    expect(fetched.map((i) => i.attrs.id)).toEqual([sha1]);
    expect(fetched[0]!.getChild("data", DATA)!.getText()).toBe(b64);
    // access_model=open: someone without a subscription reads both.
    expect(itemsOf(ok(await stranger.ask(items(METADATA, romeoJid)))).map((i) => i.attrs.id)).toEqual([sha1]);
    expect(itemsOf(ok(await stranger.ask(items(DATA, romeoJid, {}, sha1))))[0]!.getChild("data", DATA)!.getText()).toBe(b64);

    // XEP-0084 §4.5: disabling is an empty <metadata/>, notified like any other.
    ok(await romeo.ask(publishIq(METADATA, "current", xml("metadata", { xmlns: METADATA }), { "pubsub#access_model": "open" })));
    const off = await juliet.next(isEvent(METADATA, romeoJid), "the empty metadata");
    expect(itemsOf(off)[0]!.getChild("metadata", METADATA)!.getChildElements()).toEqual([]);
  });

  it("a client that wants metadata gets the contact's last one when it comes online (XEP-0163 §4.3.3)", async () => {
    const { romeo, romeoJid, julietUser } = await pair([]);
    ok(await romeo.ask(publishIq(METADATA, "abc", xml("metadata", { xmlns: METADATA }, xml("info", { bytes: "1", id: "abc", type: "image/png" })), { "pubsub#access_model": "open" })));
    const tablet = await fixture.client(julietUser, "tablet", [METADATA]);
    const last = await tablet.next(isEvent(METADATA, romeoJid), "the last metadata");
    expect(itemsOf(last)[0]!.attrs.id).toBe("abc");
    expect(last.getChild("delay", "urn:xmpp:delay")).toBeDefined();
  });

  it("without access_model=open (the presence default) a stranger is refused the data", async () => {
    const { romeo, stranger, romeoJid } = await pair([]);
    ok(await romeo.ask(publishIq(DATA, "id1", xml("data", { xmlns: DATA }, "AAAA"), { "pubsub#persist_items": "true" })));
    expect(errorOf(await stranger.ask(items(DATA, romeoJid)))).toBe("not-authorized");
  });
});

describe("user nickname (XEP-0172 §4.5)", () => {
  it("Romeo publishes his nickname; Juliet's client (nick+notify) hears it; a new nick replaces it", async () => {
    const { romeo, juliet, romeoJid } = await pair([NICK]);
    ok(await romeo.ask(publishIq(NICK, "current", xml("nick", { xmlns: NICK }, "Romeo"), { "pubsub#access_model": "presence" })));
    expect(itemsOf(await juliet.next(isEvent(NICK, romeoJid), "the nick"))[0]!.getChild("nick", NICK)!.getText()).toBe("Romeo");
    ok(await romeo.ask(publishIq(NICK, "current", xml("nick", { xmlns: NICK }, "Montague"), { "pubsub#access_model": "presence" })));
    expect(itemsOf(await juliet.next(isEvent(NICK, romeoJid), "the new nick"))[0]!.getChild("nick", NICK)!.getText()).toBe("Montague");
    expect(itemsOf(ok(await juliet.ask(items(NICK, romeoJid)))).map((i) => i.getChild("nick", NICK)!.getText())).toEqual(["Montague"]);
  });
});

describe("vCard4 over PEP (XEP-0292 §3)", () => {
  it("Romeo publishes his vCard4 in urn:xmpp:vcard4 (item current); Juliet retrieves it and is notified of changes", async () => {
    const { romeo, juliet, romeoJid } = await pair([VCARD4_NODE]);
    const vcard = (fn: string) => xml("vcard", { xmlns: VCARD4 }, xml("fn", null, xml("text", null, fn)), xml("nickname", null, xml("text", null, "Romy")),
      xml("email", null, xml("text", null, "romeo@montague.lit")));
    ok(await romeo.ask(publishIq(VCARD4_NODE, "current", vcard("Romeo Montague"), { "pubsub#access_model": "presence" })));
    const note = await juliet.next(isEvent(VCARD4_NODE, romeoJid), "the vcard");
    expect(itemsOf(note)[0]!.getChild("vcard", VCARD4)!.getChild("fn")!.getChildText("text")).toBe("Romeo Montague");
    const got = itemsOf(ok(await juliet.ask(items(VCARD4_NODE, romeoJid))));
    expect(got.map((i) => [i.attrs.id, i.getChild("vcard", VCARD4)!.getChild("email")!.getChildText("text")])).toEqual([["current", "romeo@montague.lit"]]);
    expect(note.getChild("event", EVENT)).toBeDefined();
  });
});
