import { describe, expect, it } from "vitest";
import { xml } from "../../xml/element.ts";
import { parseStored } from "../../xml/stored.ts";
import { parseJid } from "../../xml/jid.ts";
import { ArchiveQueue } from "../../storage/archive-queue.ts";
import { MemoryStorage } from "../../storage/memory.ts";
import { findRetracted, isNamed, isTombstone, RETRACT, RETRACT_WINDOW, retractedElement, retractInArchive, retractionOf, tombstone, Tombstones } from "./retract.ts";

const SID = "urn:xmpp:sid:0";
const R = "romeo@montague.lit";
const byRomeo = { author: R, from: `${R}/orchard`, occupantId: undefined };
const ROMEO = parseJid(`${R}/orchard`);
const J = "juliet@capulet.lit";
const chat = (id: string, from: string, ...extra: ReturnType<typeof xml>[]) =>
  xml("message", { from, to: `${J}/balcony`, type: "chat", id }, xml("body", null, `text of ${id}`), ...extra);
const retraction = (named: string, id = "r1") => xml("message", { from: `${R}/orchard`, to: J, type: "chat", id },
  xml("retract", { xmlns: RETRACT, id: named }), xml("fallback", { xmlns: "urn:xmpp:fallback:0", for: RETRACT }), xml("body", null, "/me retracted"));

describe("reading retractions (XEP-0424 §3)", () => {
  it("gives the id a <retract/> names, and nothing for anything else", () => {
    expect(retractionOf(retraction("m1"))).toBe("m1");
    expect(retractionOf(chat("m1", R))).toBeUndefined();
    expect(retractionOf(xml("message", null, xml("retract", { xmlns: "urn:xmpp:message-retract:0", id: "m1" })))).toBeUndefined();
    expect(retractionOf(xml("message", null, xml("retract", { xmlns: RETRACT })))).toBeUndefined();
  });

  it("names a message by its id or, as clients before 0.4 did, by its origin-id", () => {
    const m = chat("m1", R, xml("origin-id", { xmlns: SID, id: "o1" }));
    expect(isNamed(m, "m1")).toBe(true);
    expect(isNamed(m, "o1")).toBe(true);
    expect(isNamed(m, "other")).toBe(false);
  });
});

describe("tombstones (§4)", () => {
  it("keep the attributes, ids, occupant-id and delay; drop the body and everything else; name the retraction and its time", () => {
    const original = chat("m1", R, xml("stanza-id", { xmlns: SID, by: J, id: "s1" }), xml("origin-id", { xmlns: SID, id: "o1" }),
      xml("occupant-id", { xmlns: "urn:xmpp:occupant-id:0", id: "occ" }), xml("delay", { xmlns: "urn:xmpp:delay", stamp: "x" }),
      xml("reference", { xmlns: "urn:xmpp:reference:0", uri: "https://leak" }), xml("html", { xmlns: "http://jabber.org/protocol/xhtml-im" }, "leak"));
    const t = tombstone(original, retractedElement("r1", Date.UTC(2024, 0, 1)));
    expect(t.toString()).toBe(`<message from="${R}" to="${J}/balcony" type="chat" id="m1">` +
      `<stanza-id xmlns="${SID}" by="${J}" id="s1"/><origin-id xmlns="${SID}" id="o1"/>` +
      `<occupant-id xmlns="urn:xmpp:occupant-id:0" id="occ"/><delay xmlns="urn:xmpp:delay" stamp="x"/>` +
      `<retracted xmlns="${RETRACT}" id="r1" stamp="2024-01-01T00:00:00.000Z"/></message>`);
    expect(isTombstone(t)).toBe(true);
    expect(isTombstone(original)).toBe(false);
    expect(isTombstone(xml("message", null, xml("moderated", { xmlns: "urn:xmpp:message-moderate:0" })))).toBe(true);
  });
});

describe("finding what a retraction names in an account's archive", () => {
  const ids = { n: 0 };
  const entry = (owner: string, withJid: string, m: ReturnType<typeof xml>) =>
    ({ owner, id: `id${String(++ids.n).padStart(6, "0")}`, at: ids.n, with: withJid, value: m.toString(), expires: 0 });

  it("takes the newest message with that id from the retraction's author in the conversation, never another's", async () => {
    const log = new MemoryStorage().log("mam");
    await log.append([
      entry(J, `${R}/orchard`, chat("m1", `${R}/orchard`)),
      entry(J, "tybalt@capulet.lit/x", chat("m1", "tybalt@capulet.lit/x")), // another conversation
      entry(J, `${R}/garden`, chat("m1", `${R}/garden`, xml("thread", null, "newest"))),
      entry(J, `${R}/orchard`, chat("m2", `${J}/balcony`)), // Juliet's own m2
    ]);
    const found = await findRetracted(log, J, R, "m1", byRomeo);
    expect(found?.message.getChildText("thread")).toBe("newest");
    expect(await findRetracted(log, J, R, "m2", byRomeo)).toBeUndefined(); // not Romeo's to retract
    expect(await findRetracted(log, J, "tybalt@capulet.lit", "m1", byRomeo)).toBeUndefined();
    expect(await findRetracted(log, J, R, "nope", byRomeo)).toBeUndefined();
  });

  it("a private message through a room is retracted by the occupant who sent it, not by another of the room", async () => {
    const log = new MemoryStorage().log("mam");
    const ROOM = "garden@chat.lit";
    const pm = (nick: string, occ?: string) => xml("message", { from: `${ROOM}/${nick}`, to: `${J}/balcony`, type: "chat", id: "pm1" },
      xml("body", null, "psst"), xml("x", { xmlns: "http://jabber.org/protocol/muc#user" }), occ && xml("occupant-id", { xmlns: "urn:xmpp:occupant-id:0", id: occ }));
    await log.append([entry(J, `${ROOM}/nurse`, pm("nurse", "occ-nurse")), entry(J, `${ROOM}/tybalt`, pm("tybalt"))]);
    const as = (nick: string, occupantId?: string) => ({ author: ROOM, from: `${ROOM}/${nick}`, occupantId });
    expect(await findRetracted(log, J, ROOM, "pm1", as("mallory", "occ-mallory"))).toBeUndefined();
    expect((await findRetracted(log, J, ROOM, "pm1", as("nurse", "occ-nurse")))?.message.attrs.from).toBe(`${ROOM}/nurse`);
    // Without occupant-ids, by the occupant JID.
    expect((await findRetracted(log, J, ROOM, "pm1", as("tybalt")))?.message.attrs.from).toBe(`${ROOM}/tybalt`);
  });

  it("counts an entry without 'from' as the owner's own, and looks back RETRACT_WINDOW entries at most", async () => {
    const log = new MemoryStorage().log("mam");
    await log.append([entry(R, J, xml("message", { to: J, type: "chat", id: "old" }, xml("body", null, "old")))]);
    expect(await findRetracted(log, R, J, "old", byRomeo)).toBeDefined();
    await log.append(Array.from({ length: RETRACT_WINDOW }, (_, i) => entry(R, J, chat(`n${i}`, R))));
    expect(await findRetracted(log, R, J, "old", byRomeo)).toBeUndefined();
    expect(await findRetracted(log, R, J, "n0", byRomeo)).toBeDefined();
  });

  it("rewrites the entry once the queue has written it, and a reader waiting on settled() sees the tombstone", async () => {
    const log = new MemoryStorage().log("mam");
    const queue = new ArchiveQueue(log, { bound: 10, batch: 10, linger: 50 });
    const errors: unknown[] = [];
    const tombstones = new Tombstones(log, queue, (e) => errors.push(e));
    queue.push(entry(J, `${R}/orchard`, chat("m1", `${R}/orchard`)));
    // The original is still lingering in the queue when the retraction comes.
    void retractInArchive(tombstones, log, J, R, ROMEO, retraction("m1", "r9"), Date.UTC(2024, 0, 2));
    expect(retractInArchive(tombstones, log, J, R, ROMEO, chat("x", R))).toBeUndefined();
    await tombstones.settled(J);
    const [e] = (await log.query(J, { limit: 9 })).entries;
    const m = parseStored(e!.value)!;
    expect(m.getChild("body")).toBeUndefined();
    expect(m.getChild("retracted", RETRACT)?.attrs).toMatchObject({ id: "r9", stamp: "2024-01-02T00:00:00.000Z" });
    // A second retraction of the same message finds no message to retract (it is a tombstone).
    await retractInArchive(tombstones, log, J, R, ROMEO, retraction("m1", "r10"));
    expect(parseStored((await log.query(J, { limit: 9 })).entries[0]!.value)!.getChild("retracted", RETRACT)?.attrs.id).toBe("r9");
    expect(errors).toEqual([]);
  });

  it("reports a store that fails, and resolves all the same", async () => {
    const log = new MemoryStorage().log("mam");
    const queue = new ArchiveQueue(log, { bound: 10, batch: 10 });
    const errors: unknown[] = [];
    const broken = { ...log, query: () => Promise.reject(new Error("disk on fire")) };
    const tombstones = new Tombstones(broken, queue, (e) => errors.push(e));
    expect(await retractInArchive(tombstones, broken, J, R, ROMEO, retraction("m1"))).toBeUndefined();
    expect(errors).toHaveLength(1);
  });
});
