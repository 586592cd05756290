// Who a room message wakes by push (XEP-0357), so that groups reach phones the way one-to-one
// messages do. XEP-0045 delivers only to occupants; a phone asleep is either not an occupant any
// more (its session ended) or an occupant whose stream-managed session is detached (XEP-0198),
// waiting to be resumed. The rule follows what Conversations shows to its user, since a push
// that leads to no notification only drains the battery:
// - a private group (members-only room): every message, as Conversations notifies every message
//   of a private group. Occupants asleep are woken in any members-only room; members who are not
//   occupants at all only in persistent ones (a temporary room is gone when its last occupant is).
// - any other room (a public channel): only a message that names the occupant's nickname, as
//   Conversations notifies only highlights in channels by default. Someone not in a public room
//   is not woken: nothing tells the server they care about it.
// Never the sender's own account, and never an account with an occupant that is awake (its
// client has the message and notifies if it wants to).
import type { Element } from "../../xml/element.ts";
import type { Occupant } from "./occupant.ts";
import type { Room } from "./room.ts";

/** Whether `body` names `nick` as a word of its own (case-insensitive, as clients highlight). */
export function mentions(body: string, nick: string): boolean {
  if (nick === "") return false;
  const text = body.toLowerCase();
  const name = nick.toLowerCase();
  const wordChar = (c: string | undefined) => c !== undefined && /[\p{L}\p{N}_]/u.test(c);
  for (let i = text.indexOf(name); i >= 0; i = text.indexOf(name, i + 1)) {
    if (!wordChar(text[i - 1]) && !wordChar(text[i + name.length])) return true;
  }
  return false;
}

/**
 * The bare JIDs a groupchat message from `sender` should wake. `asleep(o)` says whether the
 * occupant's session is detached.
 */
export function toWake(room: Room, message: Element, sender: Occupant, asleep: (o: Occupant) => boolean): string[] {
  const sleeping = new Map<string, Occupant[]>();
  const awake = new Set<string>([sender.jid.bare.toString()]);
  for (const o of room.occupants.values()) {
    const bare = o.jid.bare.toString();
    if (!asleep(o)) awake.add(bare);
    else {
      const list = sleeping.get(bare);
      if (list) list.push(o);
      else sleeping.set(bare, [o]);
    }
  }
  const out: string[] = [];
  const body = message.getChildText("body");
  for (const [bare, occupants] of sleeping) {
    if (awake.has(bare)) continue;
    if (room.config.membersOnly || (body !== null && occupants.some((o) => mentions(body, o.nick)))) out.push(bare);
  }
  if (room.config.membersOnly && room.config.persistent) {
    for (const [bare, aff] of room.affiliations) {
      if (aff !== "outcast" && !awake.has(bare) && !sleeping.has(bare)) out.push(bare);
    }
  }
  return out;
}
