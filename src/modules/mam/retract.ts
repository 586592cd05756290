// XEP-0424 Message Retraction (urn:xmpp:message-retract:1) in archives, and the tombstones XEP-0425
// moderation leaves: a retraction is archived like any message (§5: "The archiving service MUST
// store the retraction message"), and the message it names is replaced in the archive by a
// tombstone (§4): its attributes and what identifies it are kept, everything it said goes, and a
// <retracted/> names the retraction ("MUST include an 'id' attribute that's set to the value of
// the retraction's <message/> element's 'id' attribute") and its time. The account archives
// (index.ts) and the room archives (../muc/) both use what is here.
//
// Which message a retraction names (§7.1): in one-to-one chats the 'id' of the original <message/>
// (clients before 0.4 named its XEP-0359 origin-id; either is taken), sent by the same bare JID
// as the retraction (§7: "MUST only be processed when both the original message and the
// retraction request are received from the same bare-JID"; a private message through a room, from
// the same occupant); in a room, the stanza-id the room gave it.
import { xml, type Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { tryParseJid, type JID } from "../../xml/jid.ts";
import { parseStored } from "../../xml/stored.ts";
import type { ArchiveQueue } from "../../storage/archive-queue.ts";
import type { LogStore } from "../../storage/types.ts";
import { dateTime } from "./query.ts";

export const RETRACT = "urn:xmpp:message-retract:1";
/** §4: "A service which supports tombstones MUST advertise the 'urn:xmpp:message-retract:1#tombstone' feature". */
export const TOMBSTONE = `${RETRACT}#tombstone`;
/** XEP-0421: kept on a room message's tombstone (XEP-0425 §4: "for the original (retracted) message author"). */
const OCCUPANT_ID = "urn:xmpp:occupant-id:0";
/** XEP-0425 0.2's tombstone (urn:xmpp:message-moderate:0), which still counts as one. */
const MODERATE_0 = "urn:xmpp:message-moderate:0";

/** Entries of one conversation looked at, newest first, for the message a retraction names; older ones stay as they are. */
export const RETRACT_WINDOW = 1000;
const PAGE = 100;

/** The id a retraction names, if the message is one. */
export function retractionOf(stanza: Element): string | undefined {
  for (const c of stanza.children) {
    if (typeof c !== "string" && c.name === "retract" && c.attrs.xmlns === RETRACT) return c.attrs.id || undefined;
  }
  return undefined;
}

/** Whether the message is a tombstone already (of this XEP, or of XEP-0425 0.2). */
export function isTombstone(message: Element): boolean {
  return message.children.some((c) => typeof c !== "string" &&
    ((c.name === "retracted" && c.attrs.xmlns === RETRACT) || (c.name === "moderated" && c.attrs.xmlns === MODERATE_0)));
}

/** Whether `id` names this message in a one-to-one chat: its 'id', or its origin-id. */
export function isNamed(message: Element, id: string): boolean {
  if (message.attrs.id === id) return true;
  return message.children.some((c) => typeof c !== "string" && c.name === "origin-id" && c.attrs.xmlns === NS.sid && c.attrs.id === id);
}

/** §4's <retracted/>: the retraction's message id, when it happened, and what a moderation adds inside. */
export function retractedElement(id: string | undefined, at: number, ...inside: (Element | undefined)[]): Element {
  return xml("retracted", { xmlns: RETRACT, id, stamp: dateTime(at) }, ...inside);
}

/**
 * What of the original stays in its tombstone: what identifies it (stanza-ids, origin-id, the
 * author's occupant-id) and when it was sent (a delay); nothing of what it said.
 */
function identifies(c: Element): boolean {
  const ns = c.attrs.xmlns;
  return (ns === NS.sid && (c.name === "stanza-id" || c.name === "origin-id")) || ns === OCCUPANT_ID || (ns === NS.delay && c.name === "delay");
}

/** The original with its content replaced by `marks` (a <retracted/>, and XEP-0425 0.2's <moderated/>). */
export function tombstone(original: Element, ...marks: Element[]): Element {
  const kept = original.children.filter((c): c is Element => typeof c !== "string" && identifies(c));
  return xml("message", { ...original.attrs }, ...kept, ...marks);
}

/** Who sent a retraction: its bare JID, its full JID, and the occupant-id a room gave it (a private message through a room). */
export interface Retractor {
  readonly author: string;
  readonly from: string;
  readonly occupantId: string | undefined;
}

export function retractorOf(stanza: Element, from: string, author: string): Retractor {
  return { author, from, occupantId: stanza.getChild("occupant-id", OCCUPANT_ID)?.attrs.id };
}

/**
 * Whether `by` sent the message (of `owner`'s archive). The bare JID must be the same (§7); a
 * private message someone else sent through a room (XEP-0045 §7.5: from the room's bare JID with
 * the occupant's nick) must come from the same occupant, by its occupant-id (XEP-0421) or else
 * its occupant JID, as all occupants share the room's bare JID.
 */
function sentBy(m: Element, owner: string, by: Retractor): boolean {
  if (m.attrs.from === undefined) return owner === by.author; // stored without 'from': the owner's own
  if (tryParseJid(m.attrs.from)?.bare.toString() !== by.author) return false;
  if (by.author === owner) return true;
  const occupant = m.getChild("occupant-id", OCCUPANT_ID)?.attrs.id;
  if (occupant !== undefined) return occupant === by.occupantId;
  return m.getChild("x", NS.mucUser) === undefined || m.attrs.from === by.from;
}

/**
 * The message of a one-to-one conversation that `id` names, sent by `by`: the newest of the last
 * RETRACT_WINDOW entries with `peer` (a bare JID) in `owner`'s archive, not a tombstone nor a
 * retraction itself.
 */
export async function findRetracted(log: LogStore, owner: string, peer: string, id: string, by: Retractor): Promise<{ id: string; message: Element } | undefined> {
  let before: string | undefined;
  for (let seen = 0; seen < RETRACT_WINDOW;) {
    const page = await log.query(owner, { with: peer, before, limit: PAGE, fromEnd: true });
    for (let i = page.entries.length - 1; i >= 0; i--) {
      const e = page.entries[i]!;
      seen++;
      if (!e.value.includes(id)) continue; // no parse for the many entries that cannot be it
      const m = parseStored(e.value);
      if (!m || !isNamed(m, id) || retractionOf(m) !== undefined || isTombstone(m)) continue;
      if (sentBy(m, owner, by)) return { id: e.id, message: m };
    }
    if (page.complete || page.entries.length === 0) return undefined;
    before = page.entries[0]!.id;
  }
  return undefined;
}

/**
 * Rewrites of an archive's entries into tombstones, one after another per archive, each once the
 * writes queued for the archive before it have landed (the original is among them). Readers of the
 * archive wait for those started before them (settled), so that a query after a retraction sees
 * its tombstone. A failure is reported, never thrown: the retraction itself is archived anyway.
 */
export class Tombstones {
  private readonly log: LogStore;
  private readonly queue: ArchiveQueue;
  private readonly onError: (err: unknown, owner: string) => void;
  private readonly running = new Map<string, Promise<unknown>>();

  constructor(log: LogStore, queue: ArchiveQueue, onError: (err: unknown, owner: string) => void) {
    this.log = log;
    this.queue = queue;
    this.onError = onError;
  }

  /**
   * Runs `find` once the owner's queued writes are readable, and replaces what it found with
   * `make`'s tombstone of it (undefined: left as it is). Resolves with the original found; rejects
   * when the store fails (reported already).
   */
  run(owner: string, find: () => Promise<{ id: string; message: Element } | undefined>, make: (original: Element) => Element | undefined): Promise<Element | undefined> {
    const job = (this.running.get(owner) ?? Promise.resolve())
      .then(() => this.queue.readable(owner))
      .then(async () => {
        const found = await find();
        const dead = found && make(found.message);
        if (dead) await this.log.replace(owner, found.id, dead.toString());
        return found?.message;
      });
    const done = job.catch((err: unknown) => this.onError(err, owner));
    this.running.set(owner, done);
    void done.then(() => {
      if (this.running.get(owner) === done) this.running.delete(owner);
    });
    return job;
  }

  /** Resolves once the rewrites started so far for `owner` are done. */
  settled(owner: string): Promise<void> {
    return (this.running.get(owner) ?? Promise.resolve()).then(() => undefined);
  }
}

/**
 * §4 in an account's archive: when `owner`'s archive sees a retraction from `from` in its
 * conversation with `peer` (a bare JID), the message it names becomes a tombstone there.
 * Undefined when the message is no retraction.
 */
export function retractInArchive(tombstones: Tombstones, log: LogStore, owner: string, peer: string, from: JID, stanza: Element, now = Date.now()): Promise<unknown> | undefined {
  const named = retractionOf(stanza);
  if (named === undefined) return undefined;
  const by = retractorOf(stanza, from.toString(), from.bare.toString());
  return tombstones.run(owner, () => findRetracted(log, owner, peer, named, by),
    (original) => tombstone(original, retractedElement(stanza.attrs.id, now))).catch(() => undefined);
}
