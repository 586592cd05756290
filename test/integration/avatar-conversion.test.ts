// XEP-0398 over real sockets: Romeo's phone publishes his avatar through PEP as Conversations
// does, and his vCard gets the photo, so that Juliet's client, which reads vCards, finds it; his
// presence carries its hash, to contacts and into a room he enters; his desktop client, which
// still sets vCards, publishes an avatar that way and PEP gets it, notified to Juliet. An avatar
// in a node that is not open stays out of the vCard; disabling it takes the photo out.
import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { accounts, given, presence, type Im } from "../helpers/im.ts";
import { isEvent, items, itemsOf, ok, pepFixture, publish, publishOptions } from "../helpers/pep.ts";

const DATA = "urn:xmpp:avatar:data";
const METADATA = "urn:xmpp:avatar:metadata";
const VCARD = "vcard-temp";
const UPDATE = "vcard-temp:x:update";
const DISCO = "http://jabber.org/protocol/disco#info";

const fixture = pepFixture();

async function pair(notify: string[] = []) {
  const [romeo, juliet] = (await accounts(fixture.server, "romeo", "juliet")) as [string, string];
  await given(fixture.server, romeo, juliet, "both");
  await given(fixture.server, juliet, romeo, "both");
  const r = await fixture.client(romeo, "phone");
  const j = await fixture.client(juliet, "laptop", notify);
  // Each has the other's initial presence by now; the tests look at what comes after.
  await j.next((el) => el.name === "presence" && el.attrs.from === r.jid, "Romeo's presence");
  return { r, j, R: `${romeo}@localhost`, J: `${juliet}@localhost` };
}

const png = () => Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), randomBytes(4000)]);
const sha1 = (b: Buffer) => createHash("sha1").update(b).digest("hex");
const open = { "pubsub#access_model": "open" };

/** The phone's publication, data then metadata (XEP-0084 §4.1-4.2). */
async function publishAvatar(c: Im, image: Buffer, access: Record<string, string> = open, id = sha1(image)): Promise<void> {
  ok(await c.ask(publish(DATA, xml("data", { xmlns: DATA }, image.toString("base64")), id, publishOptions(access))));
  ok(await c.ask(publish(METADATA, xml("metadata", { xmlns: METADATA },
    xml("info", { bytes: String(image.length), id, type: "image/png", width: "64", height: "64" })), id, publishOptions(access))));
}
const vcardOf = async (c: Im, to?: string) => (await c.ask(xml("iq", { type: "get", to }, xml("vCard", { xmlns: VCARD })))).getChild("vCard", VCARD)!;
const photoIn = (v: Element) => v.getChild("PHOTO")?.getChildText("BINVAL") ?? undefined;
const hashIn = (p: Element) => p.getChild("x", UPDATE)?.getChildText("photo") ?? undefined;
const presenceFrom = (jid: string) => (el: Element) => el.name === "presence" && el.attrs.from === jid && el.attrs.type === undefined;

describe("PEP avatars and vCard avatars kept together (XEP-0398)", () => {
  it("the account advertises the conversion", async () => {
    const { j, R } = await pair();
    const features = (await j.ask(xml("iq", { type: "get", to: R }, xml("query", { xmlns: DISCO })))).getChild("query")!.getChildren("feature").map((f) => f.attrs.var);
    expect(features).toContain("urn:xmpp:pep-vcard-conversion:0");
  });

  it("Romeo publishes through PEP: his vCard gets the photo (his other fields kept), Juliet reads it there, and his presence carries its hash", async () => {
    const { r, j, R } = await pair();
    ok(await r.ask(xml("iq", { type: "set" }, xml("vCard", { xmlns: VCARD }, xml("FN", null, "Romeo Montague")))));
    const image = png();
    await publishAvatar(r, image);
    const card = await vcardOf(j, R);
    expect(card.getChildText("FN")).toBe("Romeo Montague");
    expect(card.getChild("PHOTO")!.getChildText("TYPE")).toBe("image/png");
    expect(Buffer.from(photoIn(card)!, "base64").equals(image)).toBe(true);

    // §4: the next presence carries the hash, whatever the client put there but an empty <photo/>.
    r.send(presence({}, xml("show", null, "away")));
    expect(hashIn(await j.next(presenceFrom(`${R}/phone`), "the presence with the hash"))).toBe(sha1(image));
    r.send(presence({}, xml("x", { xmlns: UPDATE })));
    expect(hashIn(await j.next(presenceFrom(`${R}/phone`), "an <x/> without <photo/> overwritten"))).toBe(sha1(image));
    r.send(presence({}, xml("x", { xmlns: UPDATE }, xml("photo"))));
    expect(hashIn(await j.next(presenceFrom(`${R}/phone`), "an empty <photo/> left"))).toBe("");

    // And in a directed presence: entering a room, the room shows it to the occupants.
    const room = `garden-${Date.now()}@conference.localhost`;
    r.send(xml("presence", { to: `${room}/romeo` }, xml("x", { xmlns: "http://jabber.org/protocol/muc" })));
    const self = await r.next((el) => el.name === "presence" && el.attrs.from === `${room}/romeo`, "his presence in the room");
    expect(hashIn(self)).toBe(sha1(image));
  });

  it("disabling the avatar (empty metadata) takes the photo out of the vCard, and the presence says none", async () => {
    const { r, j, R } = await pair();
    const image = png();
    await publishAvatar(r, image);
    expect(photoIn(await vcardOf(j, R))).toBeDefined();
    ok(await r.ask(publish(METADATA, xml("metadata", { xmlns: METADATA }), "none", publishOptions(open))));
    expect((await vcardOf(r)).getChild("PHOTO")).toBeUndefined();
    r.send(presence({}, xml("x", { xmlns: UPDATE })));
    expect(hashIn(await j.next(presenceFrom(`${R}/phone`), "the presence"))).toBe("");
  });

  it("an avatar Juliet could not read (access model presence), or whose id is not its hash, stays out of the vCard", async () => {
    const { r } = await pair();
    await publishAvatar(r, png(), { "pubsub#access_model": "presence" });
    expect(photoIn(await vcardOf(r))).toBeUndefined();
    const { r: other } = await pair();
    await publishAvatar(other, png(), open, "0".repeat(40));
    expect(photoIn(await vcardOf(other))).toBeUndefined();
  });

  it("Romeo's desktop sets a vCard with a photo: PEP gets the data and the metadata (open), Juliet is told, and his presence carries the hash", async () => {
    const { r, j, R } = await pair([METADATA]);
    const image = png();
    const card = () => xml("vCard", { xmlns: VCARD }, xml("FN", null, "Romeo"),
      xml("PHOTO", null, xml("TYPE", null, "image/png"), xml("BINVAL", null, image.toString("base64").replace(/(.{76})/g, "$1\n"))));
    ok(await r.ask(xml("iq", { type: "set" }, card())));
    const note = await j.next(isEvent(METADATA, R), "the metadata notification");
    const info = itemsOf(note)[0]!.getChild("metadata", METADATA)!.getChild("info")!;
    expect(info.attrs).toMatchObject({ id: sha1(image), bytes: String(image.length), type: "image/png" });
    const data = itemsOf(ok(await j.ask(items(DATA, R, {}, sha1(image)))))[0]!;
    expect(Buffer.from(data.getChild("data", DATA)!.getText(), "base64").equals(image)).toBe(true);
    r.send(presence());
    expect(hashIn(await j.next(presenceFrom(`${R}/phone`), "the presence"))).toBe(sha1(image));

    // The same vCard again publishes nothing new.
    ok(await r.ask(xml("iq", { type: "set" }, card())));
    await j.nothing(isEvent(METADATA, R));
  });
});
