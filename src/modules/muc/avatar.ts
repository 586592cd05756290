// XEP-0486 MUC Avatars: a room's vcard-temp (XEP-0054) on its bare JID. Its owners (and the
// server's admins, §6: "room owners or service administrators") set it with an iq set, anyone
// gets it with an iq get; setting an empty vCard removes it (§3.2). The room advertises the
// SHA-1 of each photo in its muc#roominfo form (muc#roominfo_avatarhash, §3.3, config.ts) and,
// on a change, tells its occupants with status 104 (§3.2: "The room should then broadcast a
// notification that the configuration changed").
//
// Rooms also show their avatar the way clients knew before this XEP (§5.2): a presence from the
// room's bare JID carrying XEP-0153's <x xmlns='vcard-temp:x:update'><photo>hash</photo></x>, to
// each occupant when the avatar changes (an empty <photo/> once it is gone) and to each newcomer
// once it has entered (Room.welcome).
//
// The vCard is kept in a key-value store of its own (by the room's bare JID), not in the room's
// record; the room keeps its photos' hashes (persistent rooms in their record, so that they are
// known at start without reading every vCard).
import { xml, type Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import type { JID } from "../../xml/jid.ts";
import { parseStored, serializeDetached } from "../../xml/stored.ts";
import { StanzaError } from "../../core/errors.ts";
import type { KeyValueStore } from "../../storage/types.ts";
import { photosOf } from "../vcard/photo.ts";
import type { Room } from "./room.ts";

export interface RoomVCards {
  /** Room vCards serialised, by the room's bare JID. */
  readonly store: KeyValueStore<string>;
  /** Bytes of a vCard's XML at most. */
  readonly maxSize: number;
  isAdmin(jid: JID): boolean;
}

/** No child elements and no text but whitespace: XEP-0486 §3.2's removal. */
const empty = (el: Element) => el.getChildElements().length === 0 && el.getText().trim() === "";

/** The room's vCard (an empty one when it has none, as XEP-0054 §3.1 allows). */
export async function getRoomVCard(room: Room, vcards: RoomVCards): Promise<Element> {
  const stored = room.avatar === undefined ? undefined : await vcards.store.get(room.jid.toString());
  return (stored === undefined ? undefined : parseStored(stored)) ?? xml("vCard", { xmlns: NS.vcard });
}

/** §3.2: an owner sets (or, with an empty vCard, removes) the room's vCard; the occupants are told. */
export async function setRoomVCard(room: Room, from: JID, vcard: Element, vcards: RoomVCards): Promise<void> {
  if (room.affiliation(from.bare) !== "owner" && !vcards.isAdmin(from)) throw new StanzaError("forbidden", "only owners set the room's avatar");
  const key = room.jid.toString();
  if (empty(vcard)) {
    await vcards.store.set(key, undefined);
    room.setAvatar(undefined);
    return;
  }
  const text = serializeDetached(vcard);
  const size = Buffer.byteLength(text, "utf8");
  if (size > vcards.maxSize) throw new StanzaError("not-acceptable", `the vCard is ${size} bytes; the limit is ${vcards.maxSize}`);
  await vcards.store.set(key, text);
  room.setAvatar(photosOf(vcard).map((p) => p.hash));
}
