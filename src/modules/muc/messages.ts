// XEP-0045 messages: groupchat to everyone (§7.4), subject changes (§8.1), private messages
// between occupants (§7.5), mediated invitations and declines (§7.8.2, §7.8.2.1), and the
// statuses a room sends. A groupchat message that retracts one of the sender's own (XEP-0424)
// goes out like any other, and leaves a tombstone where it names (moderation.ts). A room message is built once and written to each occupant with only
// its 'to' changed (fanout.ts).
import { xml, type Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { tryParseJid, type JID } from "../../xml/jid.ts";
import { StanzaError } from "../../core/errors.ts";
import { Fanout } from "./fanout.ts";
import { retractOwn } from "./moderation.ts";
import { OCCUPANT_ID, type Occupant } from "./occupant.ts";
import type { Room } from "./room.ts";

/** Invitations one message may carry (each is a message the room sends). */
const MAX_INVITES = 20;

/**
 * The sender's payload for the room: no forged occupant-id (XEP-0421 §4: the room MUST remove
 * them), no muc#user, no stanza-id claiming to be the room's (XEP-0359 §5: "MUST delete").
 */
function payloadOf(stanza: Element, room: string): Element[] {
  const out: Element[] = [];
  for (const c of stanza.children) {
    if (typeof c === "string") continue;
    if (c.attrs.xmlns === OCCUPANT_ID || c.attrs.xmlns === NS.mucUser) continue;
    if (c.name === "stanza-id" && c.attrs.xmlns === NS.sid && c.attrs.by === room) continue;
    out.push(c);
  }
  return out;
}

/**
 * A message to the room's bare JID from `from`. Returns what the sender must wait for: room in
 * the archive's queue when it is full, and with `acked` (the sender's stream counts it in an
 * XEP-0198 ack) the room's pending archive write. Delivery waits for neither.
 */
export function toRoom(room: Room, stanza: Element, from: JID, acked = true): Promise<void> | undefined {
  const type = stanza.attrs.type ?? "normal";
  if (type === "error") return;
  const x = stanza.getChild("x", NS.mucUser);
  if (type !== "groupchat" && x && (x.getChild("invite") || x.getChild("decline"))) {
    mediated(room, x, from);
    return undefined;
  }
  if (type !== "groupchat") throw new StanzaError("bad-request", "messages to a room are of type groupchat");
  const o = room.occupantOf(from);
  if (!o) throw new StanzaError("not-acceptable", "only occupants may send messages to the room");
  const subject = stanza.getChild("subject");
  if (subject && !stanza.getChild("body")) {
    changeSubject(room, o, subject.getText(), stanza);
    return undefined;
  }
  if (o.role === "visitor" || o.role === "none") throw new StanzaError("forbidden", "visitors may not speak in a moderated room");
  const m = new Fanout("message", { from: o.roomJid.toString(), type: "groupchat", id: stanza.attrs.id });
  m.children = payloadOf(stanza, room.jid.toString());
  m.append(xml("occupant-id", { xmlns: OCCUPANT_ID, id: o.occupantId }));
  const archive = room.host.archive;
  const full = archive?.record(room, m, o);
  room.history.add(m, room.jid.toString());
  for (const r of room.occupants.values()) room.deliver(m, r);
  room.host.posted?.(room, m, o);
  // XEP-0424: the sender's ack waits for the tombstone of what it retracted, too.
  const retracted = retractOwn(room, o, stanza, m);
  const written = full ?? (acked ? archive?.pending(room) : undefined);
  return retracted && acked ? Promise.all([written, retracted]).then(() => undefined) : written;
}

/** §8.1: moderators, or anyone when the room allows it, change the subject. */
function changeSubject(room: Room, o: Occupant, text: string, stanza: Element): void {
  if (o.role !== "moderator" && !(room.config.changeSubject && o.role === "participant")) {
    throw new StanzaError("forbidden", "you may not change the subject");
  }
  room.subject = { text, by: o.nick };
  const m = new Fanout("message", { from: o.roomJid.toString(), type: "groupchat", id: stanza.attrs.id });
  m.children = payloadOf(stanza, room.jid.toString());
  for (const r of room.occupants.values()) room.deliver(m, r);
  room.host.changed(room);
}

/** §7.5: a private message to another occupant, from the sender's room JID. */
export function toOccupant(room: Room, stanza: Element, from: JID, nick: string): void {
  const type = stanza.attrs.type ?? "normal";
  if (type === "error") return;
  if (type === "groupchat") throw new StanzaError("bad-request", "a private message is not of type groupchat");
  const o = room.occupantOf(from);
  if (!o) throw new StanzaError("not-acceptable", "only occupants may send private messages");
  const allow = room.config.allowPm;
  const may = allow === "anyone" || (allow === "participants" && o.role !== "visitor") || (allow === "moderators" && o.role === "moderator");
  if (!may) throw new StanzaError("forbidden", "private messages are not allowed in this room");
  const target = room.occupants.get(nick);
  if (!target) throw new StanzaError("item-not-found", "no such occupant");
  const m = xml("message", { ...stanza.attrs, from: o.roomJid.toString(), to: target.jid.toString() });
  m.children = payloadOf(stanza, room.jid.toString());
  m.append(xml("x", { xmlns: NS.mucUser }));
  m.append(xml("occupant-id", { xmlns: OCCUPANT_ID, id: o.occupantId }));
  room.host.route(m);
}

/** §7.8.2: the room sends each invitee the invitation; §7.8.2.1: a decline goes back to the inviter. */
function mediated(room: Room, x: Element, from: JID): void {
  const decline = x.getChild("decline");
  if (decline) {
    const to = tryParseJid(decline.attrs.to ?? "");
    if (!to) throw new StanzaError("jid-malformed", "a decline needs the inviter's JID in 'to'");
    const reason = decline.getChildText("reason");
    room.host.route(xml("message", { from: room.jid.toString(), to: to.toString() },
      xml("x", { xmlns: NS.mucUser }, xml("decline", { from: from.bare.toString() }, reason !== null ? xml("reason", null, reason) : undefined))));
    return;
  }
  const o = room.occupantOf(from);
  if (!o) throw new StanzaError("not-acceptable", "only occupants may invite");
  const aff = room.affiliation(from.bare);
  const privileged = aff === "owner" || aff === "admin";
  // Anyone in an open room may invite; in a members-only one, admins and owners, or anyone the room allows.
  if (room.config.membersOnly && !privileged && !room.config.allowInvites) {
    throw new StanzaError("forbidden", "you may not invite others to this room");
  }
  const invites = x.getChildren("invite");
  if (invites.length > MAX_INVITES) throw new StanzaError("policy-violation", `at most ${MAX_INVITES} invitations at once`);
  const targets = invites.map((i) => ({ to: tryParseJid(i.attrs.to ?? ""), reason: i.getChildText("reason") }));
  if (targets.some((t) => !t.to)) throw new StanzaError("jid-malformed", "an invitation needs the invitee's JID in 'to'");
  for (const t of targets) {
    const to = t.to!;
    // §9.3: in a members-only room, an admin's or owner's invitation makes the invitee a member.
    if (room.config.membersOnly && room.affiliation(to.bare) === "none") room.setAffiliation(to.bare, "member");
    room.host.route(xml("message", { from: room.jid.toString(), to: to.toString() },
      xml("x", { xmlns: NS.mucUser },
        xml("invite", { from: from.toString() }, t.reason !== null ? xml("reason", null, t.reason) : undefined),
        room.config.passwordProtected ? xml("password", null, room.config.password) : undefined),
      xml("body", null, `${from.bare.toString()} invites you to the room ${room.jid.toString()}${t.reason ? ` (${t.reason})` : ""}`)));
  }
}
