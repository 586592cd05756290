import { describe, expect, it } from "vitest";
import { xml } from "../../xml/element.ts";
import { parseJid } from "../../xml/jid.ts";
import { condition } from "../../../test/helpers/errors.ts";
import { isModeration, moderatedTombstone, moderationMessage, parseModeration } from "./moderation.ts";
import type { Occupant } from "./occupant.ts";
import type { Room } from "./room.ts";

const M1 = "urn:xmpp:message-moderate:1";
const M0 = "urn:xmpp:message-moderate:0";
const R1 = "urn:xmpp:message-retract:1";
const R0 = "urn:xmpp:message-retract:0";
const FASTEN = "urn:xmpp:fasten:0";
const ROOM = "coven@chat.shakespeare.lit";
const mod = { roomJid: parseJid(`${ROOM}/macbeth`), occupantId: "mod-occ" } as Occupant;
const room = { jid: parseJid(ROOM) } as Room;

describe("moderation requests (XEP-0425)", () => {
  it("reads 0.3's <moderate/> and 0.2's <apply-to/>, with a reason", () => {
    const v1 = xml("moderate", { xmlns: M1, id: "sid-1" }, xml("retract", { xmlns: R1 }), xml("reason", null, "Spam"));
    const v0 = xml("apply-to", { xmlns: FASTEN, id: "sid-1" }, xml("moderate", { xmlns: M0 }, xml("retract", { xmlns: R0 }), xml("reason", null, "Spam")));
    expect(isModeration(v1) && isModeration(v0)).toBe(true);
    expect(parseModeration(v1)).toEqual({ id: "sid-1", reason: "Spam" });
    expect(parseModeration(v0)).toEqual({ id: "sid-1", reason: "Spam" });
    expect(parseModeration(xml("moderate", { xmlns: M1, id: "x" }, xml("retract", { xmlns: R1 })))).toEqual({ id: "x", reason: undefined });
  });

  it.each([
    ["no id", xml("moderate", { xmlns: M1 }, xml("retract", { xmlns: R1 })), "bad-request"],
    ["an apply-to without <moderate/>", xml("apply-to", { xmlns: FASTEN, id: "x" }, xml("retract", { xmlns: R0 })), "bad-request"],
    ["an action other than retraction", xml("moderate", { xmlns: M1, id: "x" }, xml("edit", { xmlns: "urn:example" })), "feature-not-implemented"],
    ["0.3's request with 0.2's <retract/>", xml("moderate", { xmlns: M1, id: "x" }, xml("retract", { xmlns: R0 })), "feature-not-implemented"],
    ["a reason beyond 1024 characters", xml("moderate", { xmlns: M1, id: "x" }, xml("retract", { xmlns: R1 }), xml("reason", null, "x".repeat(1025))), "not-acceptable"],
  ])("refuses %s", (_what, q, cond) => {
    expect(condition(() => parseModeration(q))).toBe(cond);
  });

  it("the room's message carries both versions, the moderator's room JID and occupant-id", () => {
    const m = moderationMessage(room, mod, { id: "sid-1", reason: "Spam" }, "msg-1");
    expect(m.toString()).toBe(`<message from="${ROOM}" type="groupchat" id="msg-1">` +
      `<retract xmlns="${R1}" id="sid-1"><moderated xmlns="${M1}" by="${ROOM}/macbeth"><occupant-id xmlns="urn:xmpp:occupant-id:0" id="mod-occ"/></moderated><reason>Spam</reason></retract>` +
      `<apply-to xmlns="${FASTEN}" id="sid-1"><moderated xmlns="${M0}" by="${ROOM}/macbeth"><occupant-id xmlns="urn:xmpp:occupant-id:0" id="mod-occ"/><retract xmlns="${R0}"/><reason>Spam</reason></moderated></apply-to></message>`);
  });

  it("the tombstone keeps the author's occupant-id and the room's stanza-id, and says who moderated, in both versions", () => {
    const original = xml("message", { from: `${ROOM}/oldhag`, type: "groupchat", id: "m1" }, xml("body", null, "potions"),
      xml("occupant-id", { xmlns: "urn:xmpp:occupant-id:0", id: "hag" }), xml("stanza-id", { xmlns: "urn:xmpp:sid:0", by: ROOM, id: "sid-1" }));
    const t = moderatedTombstone(original, mod, { id: "sid-1", reason: undefined }, "msg-1", Date.UTC(2024, 0, 1));
    expect(t.toString()).toBe(`<message from="${ROOM}/oldhag" type="groupchat" id="m1">` +
      `<occupant-id xmlns="urn:xmpp:occupant-id:0" id="hag"/><stanza-id xmlns="urn:xmpp:sid:0" by="${ROOM}" id="sid-1"/>` +
      `<retracted xmlns="${R1}" id="msg-1" stamp="2024-01-01T00:00:00.000Z"><moderated xmlns="${M1}" by="${ROOM}/macbeth"><occupant-id xmlns="urn:xmpp:occupant-id:0" id="mod-occ"/></moderated></retracted>` +
      `<moderated xmlns="${M0}" by="${ROOM}/macbeth"><occupant-id xmlns="urn:xmpp:occupant-id:0" id="mod-occ"/><retracted xmlns="${R0}" stamp="2024-01-01T00:00:00.000Z"/></moderated></message>`);
  });
});
