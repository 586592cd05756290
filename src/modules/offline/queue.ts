// The offline queue of each account (XEP-0160 §2) over the "offline" log store: append with a
// XEP-0203 delay stamp, read back oldest first, remove what was delivered, expire what waited too
// long. Entry ids are time-ordered, so the store's order is arrival order; a message the archive
// stamped (XEP-0359 stanza-id by the account) is kept under that id, so that a message which comes
// back from a session that never acknowledged it sorts before the ones stored since.
import { clone, xml, type Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { parseStored, serializeDetached } from "../../xml/stored.ts";
import { idTime, type IdGenerator } from "../../storage/ids.ts";
import type { LogStore } from "../../storage/types.ts";
import { InFlight } from "../../core/durability.ts";
import { stanzaIdBy } from "../mam/policy.ts";

/** The log store of the offline queues (owner: the recipient's bare JID). */
export const OFFLINE_STORE = "offline";

/** Entries read per storage query while flushing. */
export const PAGE = 100;
const DAY = 86_400_000;

/** What became of a stored message handed to a session: written, unreadable (removed unsent), or not taken because the session is gone. */
export type Delivery = "sent" | "unreadable" | "gone";

export interface QueueOptions {
  /** Days before an undelivered message is deleted; 0 keeps it until delivered. */
  expireDays: number;
  /** Messages one account may have waiting. */
  quota: number;
}

/** The <delay/> this server put on a message it stored, if any (XEP-0203 §3: 'from' names who delayed it). */
export function ourDelay(stanza: Element, domain: string): Element | undefined {
  for (const c of stanza.children) {
    if (typeof c !== "string" && c.name === "delay" && c.attrs.xmlns === NS.delay && c.attrs.from === domain) return c;
  }
  return undefined;
}

export class OfflineQueue {
  private readonly log: LogStore;
  private readonly ids: IdGenerator;
  private readonly opts: QueueOptions;
  private readonly now: () => number;
  /** Entries per account as last counted, kept up to date by this process (the quota check). */
  private readonly counts = new Map<string, number>();
  /** Per account, the writes of add() on their way. */
  private readonly writing = new Map<string, InFlight>();

  constructor(log: LogStore, ids: IdGenerator, opts: QueueOptions, now: () => number = Date.now) {
    this.log = log;
    this.ids = ids;
    this.opts = opts;
    this.now = now;
  }

  /**
   * Stores a message for `owner` (a bare JID) from `sender`: false when the owner's queue is full,
   * else the write, once it is on its way. The caller serialises calls per owner (the count is
   * read, then written) but need not wait for the write within its turn: the store takes writes
   * in the order they are made, and a flush waits for those on their way (written()).
   */
  async add(owner: string, stanza: Element, sender: string): Promise<false | { written: Promise<void> }> {
    const count = this.counts.get(owner) ?? (await this.log.count(owner, {}));
    if (count >= this.opts.quota) {
      this.counts.set(owner, count);
      return false;
    }
    const at = this.now();
    const archived = stanzaIdBy(stanza, owner);
    const id = archived !== undefined && idTime(archived) !== undefined ? archived : this.ids.next();
    const copy = clone(stanza);
    // XEP-0160 §3 RECOMMENDS the delay, from the owner's server (its host); one that came back
    // from a session keeps its first stamp.
    const domain = owner.slice(owner.indexOf("@") + 1);
    if (!ourDelay(stanza, domain)) {
      copy.append(xml("delay", { xmlns: NS.delay, from: domain, stamp: new Date(at).toISOString() }, "Offline Storage"));
    }
    const expires = this.opts.expireDays > 0 ? at + this.opts.expireDays * DAY : 0;
    this.counts.set(owner, count + 1);
    const written = this.log.append([{ owner, id, at, with: sender, value: serializeDetached(copy), expires }]);
    // Not stored after all: counted again from the store next time.
    written.catch(() => this.counts.delete(owner));
    this.track(owner, written);
    return { written };
  }

  /** Resolves once the owner's writes on their way have settled (succeeded or not). */
  written(owner: string): Promise<void> {
    return this.writing.get(owner)?.settled() ?? Promise.resolve();
  }

  private track(owner: string, write: Promise<void>): void {
    let writes = this.writing.get(owner);
    if (!writes) this.writing.set(owner, (writes = new InFlight()));
    writes.add(write);
    if (writes.size > 1) return;
    // The first of a run: once the run has landed, the account's counter goes.
    const mine = writes;
    void mine.settled().then(() => {
      if (this.writing.get(owner) === mine && mine.size === 0) this.writing.delete(owner);
    });
  }

  /**
   * Hands the owner's messages to `deliver`, oldest first, as stored: the text this server
   * serialised, and the element when the flush had to read it anyway. Expired entries are
   * removed unsent; with `archived` (the client reads its archive, XEP-0313), entries the archive
   * stamped are removed unsent too. `deliver` says "gone" when the session is: what was not
   * handed over stays; it may take its time (a promise), when the session has no room yet.
   * Returns how many were delivered.
   *
   * The removal is one write at the end, not one per page: a durable write waits for its fsync,
   * and with a removal per page the client waited for ten of them between its presence and the
   * last of 1,000 messages. Pages are read past what was handed over (`after`), so they need not
   * wait for it either. Should the process die within the flush, the client gets the batch again
   * at its next login (at least once, never lost); a session that ends without acknowledging
   * them brings them back under their ids behind this removal, since the caller holds the
   * owner's turn until it resolves.
   */
  async flush(owner: string, deliver: (text: string, parsed: Element | undefined) => Delivery | Promise<Delivery>, archived: boolean): Promise<number> {
    let sent = 0;
    let after: string | undefined;
    const done: string[] = [];
    // A store that reads what it has committed only (Cassandra) would miss writes still on their way.
    await this.written(owner);
    try {
      for (;;) {
        const page = await this.log.query(owner, { limit: PAGE, after });
        const now = this.now();
        for (const e of page.entries) {
          if (e.expires === 0 || e.expires > now) {
            let parsed: Element | undefined;
            if (archived) parsed = parseStored(e.value);
            if (!archived || (parsed !== undefined && stanzaIdBy(parsed, owner) === undefined)) {
              const handed = deliver(e.value, parsed);
              // A promise: the session had no room and the caller waited for it (Session.writable).
              const outcome = typeof handed === "string" ? handed : await handed;
              if (outcome === "gone") return sent;
              if (outcome === "sent") sent++;
            }
          }
          done.push(e.id);
          after = e.id;
        }
        if (page.complete || page.entries.length === 0) return sent;
        // A synchronous backend (the embedded one) would otherwise hold every other connection
        // until the whole queue is written.
        await new Promise((r) => setImmediate(r));
      }
    } finally {
      this.counts.delete(owner);
      if (done.length) await this.log.remove(owner, done);
    }
  }

  /** Deletes expired entries of every account (the hourly sweep). */
  async sweep(): Promise<number> {
    this.counts.clear();
    return this.log.expire(this.now());
  }

  /** Forgets what this process counted for an account (deleted, or changed behind its back). */
  forget(owner: string): void {
    this.counts.delete(owner);
  }
}
