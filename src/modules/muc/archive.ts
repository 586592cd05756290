// XEP-0313 on the room's JID (§3.3.2 "MUC archives"): each groupchat message worth keeping is
// stored once, under the room (owner = the room's bare JID), not once per occupant, with the
// XEP-0359 stanza-id the room assigns (by = the room's JID) on every copy delivered. Queries
// (§4) go to the room's bare JID and are answered from the room; the query parser, the paging
// and the result messages are the account archive's (../mam/), and so is the kind of write
// queue (src/storage/archive-queue.ts), one for the rooms.
//
// Retractions (XEP-0424) and moderation (XEP-0425, moderation.ts) rewrite an archived message
// into its tombstone in place (../mam/retract.ts); a query waits for the rewrites started before it.
//
// Who may read (§8.1 style, as the XEP leaves rooms to the service): anyone who may enter —
// in a members-only room its members (member, admin, owner) and occupants; in a
// password-protected one its occupants and affiliated users; never an outcast (forbidden).
import type { Element } from "../../xml/element.ts";
import { MODERATE_0, MODERATE_1 } from "./moderation.ts";
import { NS } from "../../xml/ns.ts";
import { parseStored } from "../../xml/stored.ts";
import type { JID } from "../../xml/jid.ts";
import { StanzaError } from "../../core/errors.ts";
import { type IdGenerator, idTime } from "../../storage/ids.ts";
import type { LogStore } from "../../storage/types.ts";
import { finElement, readPage, resultMessage } from "../mam/archive.ts";
import { worthKeeping, stanzaIdElement } from "../mam/policy.ts";
import { RETRACT, TOMBSTONE, Tombstones } from "../mam/retract.ts";
import { parseMamQuery, queryForm } from "../mam/query.ts";
import type { ArchiveQueue } from "../../storage/archive-queue.ts";
import type { Fanout } from "./fanout.ts";
import type { Occupant } from "./occupant.ts";
import type { Room, RoomArchiving } from "./room.ts";

const DAY = 86_400_000;

export interface RoomArchiveDeps {
  log: LogStore;
  queue: ArchiveQueue;
  ids: IdGenerator;
  /** Days an entry is kept; 0 archives nothing. */
  retention: number;
  maxPage: number;
  /** A tombstone (XEP-0424, XEP-0425) could not be written. */
  onError?(err: unknown, room: string): void;
}

let results = 0;
const resultId = () => `muc-mam-${(++results).toString(36)}`;

export class RoomArchive implements RoomArchiving {
  private readonly deps: RoomArchiveDeps;
  private readonly tombstones: Tombstones;

  constructor(deps: RoomArchiveDeps) {
    this.deps = deps;
    this.tombstones = new Tombstones(deps.log, deps.queue, (err, room) => deps.onError?.(err, room));
  }

  on(room: Room): boolean {
    return room.config.archive && this.deps.retention > 0;
  }

  /**
   * Before the message leaves: stamps the room's stanza-id on it and queues its one copy. Returns
   * the pending write when the queue is full (the sender waits for room, nobody else).
   */
  record(room: Room, m: Fanout, sender: Occupant | undefined): Promise<void> | undefined {
    if (!this.on(room) || !worthKeeping(m, false)) return undefined;
    const owner = room.jid.toString();
    const id = this.deps.ids.next();
    m.append(stanzaIdElement(owner, id));
    const at = idTime(id)!;
    // 'with' is the sender's occupant JID, so that a query's 'with' (room@service/nick) finds what it said.
    const withJid = sender?.roomJid.toString() ?? owner;
    return this.deps.queue.push({ owner, id, at, with: withJid, value: m.toString(), expires: at + this.deps.retention * DAY });
  }

  retract(room: Room, id: string, make: (original: Element) => Element | undefined): Promise<Element | undefined> {
    const owner = room.jid.toString();
    return this.tombstones.run(owner, async () => {
      const [e] = (await this.deps.log.query(owner, { ids: [id], limit: 1 })).entries;
      const message = e && parseStored(e.value);
      return message && { id: e.id, message };
    }, make);
  }

  /** Writes of the room's not yet done: the sender's XEP-0198 ack waits for them. */
  pending(room: Room): Promise<void> | undefined {
    return this.deps.queue.pendingFor(room.jid.toString());
  }

  /** §4: a query of the room's archive; results go through `send`, before the returned <fin/>. */
  async query(room: Room, from: JID, iq: Element, send: (m: Element) => void): Promise<Element | undefined> {
    this.mayRead(room, from);
    const q = iq.getChildElements()[0]!;
    if (iq.attrs.type === "get") return queryForm();
    const query = parseMamQuery(q, this.deps.maxPage);
    const owner = room.jid.toString();
    await this.deps.queue.readable(owner);
    await this.tombstones.settled(owner);
    const page = await readPage(this.deps.log, owner, query);
    const to = from.toString();
    for (const e of query.flip ? [...page.entries].reverse() : page.entries) {
      const m = resultMessage(e, to, owner, query.queryid, resultId());
      if (m) send(m);
    }
    return finElement(page);
  }

  /** The last `n` messages of the room (history on entry after a restart), oldest first. */
  async recent(room: Room, n: number): Promise<{ at: number; message: Element }[]> {
    if (n === 0) return [];
    const page = await this.deps.log.query(room.jid.toString(), { limit: n, fromEnd: true });
    const out: { at: number; message: Element }[] = [];
    for (const e of page.entries) {
      const message = parseStored(e.value);
      if (message) out.push({ at: e.at, message });
    }
    return out.sort((a, b) => a.at - b.at);
  }

  /** Entries past retention (the hourly sweep). */
  expire(now: number): Promise<number> {
    return this.deps.log.expire(now);
  }

  /** A destroyed room's archive goes with it. */
  async clear(room: Room): Promise<void> {
    const owner = room.jid.toString();
    await this.deps.queue.discard(owner);
  }

  private mayRead(room: Room, from: JID): void {
    if (!this.on(room)) throw new StanzaError("service-unavailable", "this room is not archived");
    const aff = room.affiliation(from.bare);
    if (aff === "outcast") throw new StanzaError("forbidden", "you are banned from this room");
    if (room.occupantOf(from) || aff !== "none") return;
    if (room.config.membersOnly) throw new StanzaError("forbidden", "the archive of a members-only room is for its members");
    if (room.config.passwordProtected) throw new StanzaError("forbidden", "the archive of a password-protected room is for its occupants");
  }
}

/**
 * The room's disco#info features for its archive (XEP-0313 §7), and what needs the room's
 * stanza-ids: retractions it keeps with tombstones (XEP-0424 §2, §4) and moderation (XEP-0425 §2,
 * and 0.2's namespace, which clients still send).
 */
export function archiveFeatures(on: boolean): string[] {
  return on ? [NS.mam, `${NS.mam}#extended`, NS.sid, RETRACT, TOMBSTONE, MODERATE_1, MODERATE_0] : [];
}
