// Room avatars (XEP-0486: vcard-temp on the room's bare JID) over real sockets. Romeo owns the
// room and sets its vCard with a photo; Juliet, inside, is told (status 104, and the room's
// presence with the photo's hash, XEP-0153 style); the room's disco#info carries the hash;
// Tybalt, outside, reads the vCard; Mercutio entering gets the hash; nobody but an owner may set
// it; an empty vCard removes it; a persistent room keeps it across a restart.
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { connect, errorOf, type Im } from "../helpers/im.ts";

const MUC = "http://jabber.org/protocol/muc";
const MUC_USER = "http://jabber.org/protocol/muc#user";
const MUC_OWNER = "http://jabber.org/protocol/muc#owner";
const DISCO = "http://jabber.org/protocol/disco#info";
const VCARD = "vcard-temp";
const UPDATE = "vcard-temp:x:update";
const S = "conference.localhost";

let t: TestServer;
let romeo: Im, juliet: Im, tybalt: Im, mercutio: Im;
let n = 0;

const statuses = (p: Element) => p.getChild("x", MUC_USER)?.getChildren("status").map((s) => s.attrs.code) ?? [];
async function enter(c: Im, room: string, nick: string): Promise<void> {
  c.send(xml("presence", { to: `${room}/${nick}` }, xml("x", { xmlns: MUC })));
  await c.next((el) => el.name === "presence" && el.attrs.from === `${room}/${nick}` && statuses(el).includes("110"), `self-presence in ${room}`);
  await c.next((el) => el.name === "message" && el.attrs.from?.startsWith(room) === true && el.getChild("subject") !== undefined, `the subject of ${room}`);
}
async function roomOf(fields: Record<string, string> = {}): Promise<string> {
  const room = `avatar${++n}@${S}`;
  await enter(romeo, room, "romeo");
  const form = xml("x", { xmlns: "jabber:x:data", type: "submit" },
    Object.entries(fields).map(([k, v]) => xml("field", { var: `muc#roomconfig_${k}` }, xml("value", null, v))));
  expect((await romeo.ask(xml("iq", { type: "set", to: room }, xml("query", { xmlns: MUC_OWNER }, form)))).attrs.type).toBe("result");
  return room;
}
const image = () => randomBytes(2048);
const sha1 = (b: Buffer) => createHash("sha1").update(b).digest("hex");
const vcardWith = (png: Buffer | undefined, ...more: Element[]) => xml("vCard", { xmlns: VCARD }, ...more,
  png && xml("PHOTO", null, xml("TYPE", null, "image/png"), xml("BINVAL", null, png.toString("base64").replace(/(.{76})/g, "$1\n"))));
const setVCard = (c: Im, room: string, card: Element) => c.ask(xml("iq", { type: "set", to: room }, card));
const getVCard = async (c: Im, room: string) => (await c.ask(xml("iq", { type: "get", to: room }, xml("vCard", { xmlns: VCARD })))).getChild("vCard", VCARD)!;
async function info(c: Im, to: string): Promise<{ features: string[]; hashes: string[] | undefined }> {
  const q = (await c.ask(xml("iq", { type: "get", to }, xml("query", { xmlns: DISCO })))).getChild("query", DISCO)!;
  const field = q.getChild("x", "jabber:x:data")?.getChildren("field").find((f) => f.attrs.var === "muc#roominfo_avatarhash");
  return { features: q.getChildren("feature").map((f) => f.attrs.var!), hashes: field?.getChildren("value").map((v) => v.getText()) };
}
const roomPresence = (room: string) => (el: Element) => el.name === "presence" && el.attrs.from === room && el.getChild("x", UPDATE) !== undefined;
const photoOf = (p: Element) => p.getChild("x", UPDATE)!.getChildText("photo");
const configChanged = (room: string) => (el: Element) => el.name === "message" && el.attrs.from === room && statuses(el).includes("104");

beforeAll(async () => {
  t = await startServer({ users: { romeo: "pw", juliet: "pw", tybalt: "pw", mercutio: "pw" }, config: { modules: { muc: { maxVCardSize: 8192 } } } });
  [romeo, juliet, tybalt, mercutio] = (await Promise.all(["romeo", "juliet", "tybalt", "mercutio"].map((u) => connect(t, u)))) as [Im, Im, Im, Im];
});
afterAll(async () => {
  await Promise.all([romeo, juliet, tybalt, mercutio].map((c) => c.stop().catch(() => {})));
  await t.stop();
});

describe("room avatars (XEP-0486)", () => {
  it("the service and its rooms advertise vcard-temp; a room without a vCard has no avatar hash and an empty vCard", async () => {
    expect((await info(tybalt, S)).features).toContain(VCARD);
    const room = await roomOf();
    const i = await info(tybalt, room);
    expect(i.features).toContain(VCARD);
    expect(i.hashes).toBeUndefined();
    expect((await getVCard(tybalt, room)).toString()).toBe(`<vCard xmlns="${VCARD}"/>`);
  });

  it("Romeo sets the room's avatar: Juliet inside is told (104, and the room's presence with the hash); disco#info carries it; Tybalt outside reads the vCard; Mercutio entering gets the hash", async () => {
    const room = await roomOf();
    await enter(juliet, room, "juliet");
    const png = image();
    const card = vcardWith(png, xml("FN", null, "The Garden"));
    expect((await setVCard(romeo, room, card)).attrs.type).toBe("result");
    await juliet.next(configChanged(room), "status 104");
    expect(photoOf(await juliet.next(roomPresence(room), "the room's presence"))).toBe(sha1(png));
    expect(photoOf(await romeo.next(roomPresence(room), "the room's presence"))).toBe(sha1(png));

    expect((await info(tybalt, room)).hashes).toEqual([sha1(png)]);
    const got = await getVCard(tybalt, room);
    expect(got.getChildText("FN")).toBe("The Garden");
    expect(Buffer.from(got.getChild("PHOTO")!.getChildText("BINVAL")!, "base64").equals(png)).toBe(true);

    mercutio.send(xml("presence", { to: `${room}/mercutio` }, xml("x", { xmlns: MUC })));
    const subject = await mercutio.next((el) => el.name === "message" && el.attrs.from === room && el.getChild("subject") !== undefined, "the subject");
    expect(subject).toBeDefined();
    expect(photoOf(await mercutio.next(roomPresence(room), "the avatar after entering"))).toBe(sha1(png));
  });

  it("only owners set it (forbidden), within the size limit (not-acceptable)", async () => {
    const room = await roomOf();
    await enter(juliet, room, "juliet");
    expect(errorOf(await setVCard(juliet, room, vcardWith(image())))).toBe("forbidden");
    expect(errorOf(await setVCard(tybalt, room, vcardWith(image())))).toBe("forbidden");
    expect(errorOf(await setVCard(romeo, room, vcardWith(randomBytes(8192))))).toBe("not-acceptable");
    expect((await info(tybalt, room)).hashes).toBeUndefined();
  });

  it("every photo's hash is listed (§4.1); an empty vCard removes the avatar, and the occupants get an empty <photo/>", async () => {
    const room = await roomOf();
    const [a, b] = [image(), image()];
    const two = xml("vCard", { xmlns: VCARD },
      xml("PHOTO", null, xml("TYPE", null, "image/png"), xml("BINVAL", null, a.toString("base64"))),
      xml("PHOTO", null, xml("TYPE", null, "image/jpeg"), xml("BINVAL", null, b.toString("base64"))));
    expect((await setVCard(romeo, room, two)).attrs.type).toBe("result");
    expect((await info(tybalt, room)).hashes).toEqual([sha1(a), sha1(b)]);
    await romeo.next(roomPresence(room));
    expect((await setVCard(romeo, room, xml("vCard", { xmlns: VCARD }))).attrs.type).toBe("result");
    await romeo.next(configChanged(room), "status 104 again");
    expect(photoOf(await romeo.next(roomPresence(room), "the presence without a photo"))).toBe("");
    expect((await info(tybalt, room)).hashes).toBeUndefined();
    expect((await getVCard(tybalt, room)).toString()).toBe(`<vCard xmlns="${VCARD}"/>`);
  });

  it("a persistent room keeps its avatar across a restart", async () => {
    const room = await roomOf({ persistentroom: "1" });
    const png = image();
    expect((await setVCard(romeo, room, vcardWith(png))).attrs.type).toBe("result");
    await Promise.all([romeo, juliet, tybalt, mercutio].map((c) => c.stop()));
    await t.stop(false);
    t = await startServer({ dataDir: t.dataDir });
    [romeo, juliet, tybalt, mercutio] = (await Promise.all(["romeo", "juliet", "tybalt", "mercutio"].map((u) => connect(t, u)))) as [Im, Im, Im, Im];
    expect((await info(tybalt, room)).hashes).toEqual([sha1(png)]);
    expect((await getVCard(tybalt, room)).getChild("PHOTO")).toBeDefined();
  });
});
