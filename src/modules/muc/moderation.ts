// Retractions in a room: an occupant's own (XEP-0424 in groupchat: the room relays it like any
// message, and the message it names, by the room's stanza-id, becomes a tombstone if the same
// occupant said it, XEP-0421's occupant-id telling), and a moderator's of anyone's (XEP-0425
// Moderated Message Retraction): an iq set of <moderate/> to the room's bare JID, answered with
// forbidden for a non-moderator and item-not-found for a stanza-id the room's archive does not
// have; the room tells every occupant with a message of its own, which it archives (XEP-0424 §5:
// the retraction "MUST also be stored"), and the archive and the history keep a tombstone.
//
// Both versions of XEP-0425 are taken: 0.3's <moderate id xmlns='urn:xmpp:message-moderate:1'>
// and 0.2's <apply-to xmlns='urn:xmpp:fasten:0'><moderate xmlns='urn:xmpp:message-moderate:0'/>,
// which Conversations and Gajim still send; the room's message and the tombstone carry both forms,
// so that clients of either version in the same room understand them. (0.2's form can go once
// those clients send 0.3's.)
//
// Retractions need the room's stanza-ids, which only an archived room gives its messages: in a
// room that is not archived there is nothing to name, and its disco#info does not offer them.
import { randomUUID } from "node:crypto";
import { xml, type Element } from "../../xml/element.ts";
import type { JID } from "../../xml/jid.ts";
import { StanzaError } from "../../core/errors.ts";
import { stanzaIdBy } from "../mam/policy.ts";
import { isTombstone, RETRACT, retractedElement, retractionOf, tombstone } from "../mam/retract.ts";
import { Fanout } from "./fanout.ts";
import { OCCUPANT_ID, type Occupant } from "./occupant.ts";
import type { Room } from "./room.ts";

export const MODERATE_1 = "urn:xmpp:message-moderate:1";
export const MODERATE_0 = "urn:xmpp:message-moderate:0";
export const FASTEN = "urn:xmpp:fasten:0";
const RETRACT_0 = "urn:xmpp:message-retract:0";
const MAX_REASON = 1024;

export interface Moderation {
  /** The room's stanza-id of the message to retract. */
  id: string;
  reason: string | undefined;
}

function reasonOf(el: Element): string | undefined {
  const r = el.getChildText("reason");
  if (r !== null && r.length > MAX_REASON) throw new StanzaError("not-acceptable", `a reason has at most ${MAX_REASON} characters`);
  return r ?? undefined;
}

/** The payload of a moderation iq set, either version; throws the error its fault calls for. */
export function parseModeration(q: Element): Moderation {
  const [moderate, retractNs] = q.name === "apply-to" && q.attrs.xmlns === FASTEN
    ? [q.getChild("moderate", MODERATE_0), RETRACT_0]
    : q.name === "moderate" && q.attrs.xmlns === MODERATE_1 ? [q, RETRACT] : [undefined, ""];
  if (!moderate) throw new StanzaError("bad-request", "expected <moderate/>");
  // The stanza-id is on <moderate/> (0.3), or on <apply-to/> around it (0.2): on `q` either way.
  const id = q.attrs.id?.trim();
  if (!id) throw new StanzaError("bad-request", "name the message by the room's stanza-id");
  // §1: other moderator actions (editing) may come; retraction is the one this room takes.
  if (!moderate.getChild("retract", retractNs)) throw new StanzaError("feature-not-implemented", "a moderator may retract a message, nothing else");
  return { id, reason: reasonOf(moderate) };
}

/** Whether the element is a moderation request of either version (the room's iq dispatch). */
export function isModeration(q: Element): boolean {
  return (q.name === "moderate" && q.attrs.xmlns === MODERATE_1) || (q.name === "apply-to" && q.attrs.xmlns === FASTEN);
}

const occupantIdOf = (m: Element) => m.getChild("occupant-id", OCCUPANT_ID)?.attrs.id;

/** Who moderated, in both versions' <moderated/>: the moderator's room JID and occupant-id (XEP-0425 §4). */
function moderated(ns: string, mod: Occupant, ...inside: (Element | undefined)[]): Element {
  return xml("moderated", { xmlns: ns, by: mod.roomJid.toString() }, xml("occupant-id", { xmlns: OCCUPANT_ID, id: mod.occupantId }), ...inside);
}

const reasonElement = (reason: string | undefined) => (reason === undefined ? undefined : xml("reason", null, reason));

/** The room's message to every occupant (XEP-0425 §3.1), with 0.2's <apply-to/> beside 0.3's <retract/>. */
export function moderationMessage(room: Room, mod: Occupant, m: Moderation, messageId: string): Fanout {
  const out = new Fanout("message", { from: room.jid.toString(), type: "groupchat", id: messageId });
  out.append(xml("retract", { xmlns: RETRACT, id: m.id }, moderated(MODERATE_1, mod), reasonElement(m.reason)));
  out.append(xml("apply-to", { xmlns: FASTEN, id: m.id }, moderated(MODERATE_0, mod, xml("retract", { xmlns: RETRACT_0 }), reasonElement(m.reason))));
  return out;
}

/** The tombstone of a moderated message (XEP-0425 §4, and 0.2's <moderated><retracted/></moderated>). */
export function moderatedTombstone(original: Element, mod: Occupant, m: Moderation, messageId: string, at: number): Element {
  return tombstone(original,
    retractedElement(messageId, at, moderated(MODERATE_1, mod), reasonElement(m.reason)),
    moderated(MODERATE_0, mod, xml("retracted", { xmlns: RETRACT_0, stamp: new Date(at).toISOString() }), reasonElement(m.reason)));
}

/**
 * XEP-0425: a moderator retracts a message of the room. Resolves once every occupant has been
 * told (the iq result follows); the archived message is a tombstone by then.
 */
export async function moderate(room: Room, from: JID, q: Element, now = Date.now()): Promise<void> {
  const request = parseModeration(q);
  const mod = room.occupantOf(from);
  if (mod?.role !== "moderator") throw new StanzaError("forbidden", "only moderators may retract other occupants' messages");
  const archive = room.host.archive;
  if (!archive?.on(room)) throw new StanzaError("item-not-found", "this room keeps no archive: its messages have no stanza-ids");
  const messageId = randomUUID();
  const make = (original: Element) => (isTombstone(original) ? undefined : moderatedTombstone(original, mod, request, messageId, now));
  const original = await archive.retract(room, request.id, make);
  if (!original) throw new StanzaError("item-not-found", "the room's archive has no message with that stanza-id");
  const by = room.jid.toString();
  room.history.rewrite(by, request.id, make);
  const told = moderationMessage(room, mod, request, messageId);
  // Archived like any message of the room, so that clients catching up learn of it (XEP-0424 §5).
  void archive.record(room, told, undefined);
  room.history.add(told, by);
  for (const r of room.occupants.values()) room.deliver(told, r);
}

/**
 * XEP-0424 in a room: `m`, which `o` just said, retracts one of its own messages (named by the
 * room's stanza-id): the archived one and the one in the history become tombstones. Another
 * occupant's message stays as it is (§7: only its author's retraction counts). Undefined when
 * `stanza` retracts nothing; else the archive's rewrite, which never rejects.
 */
export function retractOwn(room: Room, o: Occupant, stanza: Element, m: Element, now = Date.now()): Promise<unknown> | undefined {
  const named = retractionOf(stanza);
  const archive = room.host.archive;
  if (named === undefined || !archive?.on(room)) return undefined;
  const by = room.jid.toString();
  const retractionId = stanza.attrs.id ?? stanzaIdBy(m, by);
  const make = (original: Element) =>
    (occupantIdOf(original) === o.occupantId && retractionOf(original) === undefined && !isTombstone(original)
      ? tombstone(original, retractedElement(retractionId, now)) : undefined);
  room.history.rewrite(by, named, make);
  return archive.retract(room, named, make).catch(() => undefined);
}
