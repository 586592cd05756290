// The roster of every account: items (RFC 6121 §2), stored subscription requests (§3.1.3) and the
// version counter of roster versioning (XEP-0237, RFC 6121 §2.6). Every change goes through
// change(), which serialises per account, bumps the version only on a change a client can see,
// and pushes it to each interested resource (§2.1.6). The presence module shares this service.
import { xml } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import type { JID } from "../../xml/jid.ts";
import type { Sessions } from "../../core/capabilities.ts";
import { serviceKey } from "../../core/module.ts";
import type { KeyValueStore, MapStore, StorageProvider } from "../../storage/types.ts";
import { itemElement, removedElement, sameItem, type RosterItem } from "./item.ts";
import { KeyedLock } from "../../core/keyed-lock.ts";
import type { PendingRequest } from "./pending.ts";

export interface RosterStores {
  items: MapStore<RosterItem>;
  pending: MapStore<PendingRequest>;
  versions: KeyValueStore<number>;
}

/** The roster's stores, by the names they have in storage (the import and export use them too). */
export function rosterStores(storage: Pick<StorageProvider, "keyval" | "map">): RosterStores {
  return { items: storage.map("roster"), pending: storage.map("roster.pending"), versions: storage.keyval("roster.version") };
}

/** What a change decides: the new item and stored request (undefined: none), and a result. */
export interface RosterDecision<T> {
  item: RosterItem | undefined;
  pending: PendingRequest | undefined;
  result: T;
}

export interface RosterSnapshot {
  version: number;
  items: RosterItem[];
}

let pushes = 0;

/**
 * The version after `current`. A roster's first version is the clock, not 1: an account deleted
 * and registered again must not hand a client's cached version of the old roster an "unchanged".
 */
export function nextVersion(current: number | undefined, now = Date.now()): number {
  return current === undefined ? now : current + 1;
}

export class RosterService {
  private readonly stores: RosterStores;
  private readonly sessions: Pick<Sessions, "of">;
  private readonly lock = new KeyedLock();

  constructor(stores: RosterStores, sessions: Pick<Sessions, "of">) {
    this.stores = stores;
    this.sessions = sessions;
  }

  /** The items and their version, read consistently (no change in between). */
  snapshot(owner: JID): Promise<RosterSnapshot> {
    const key = owner.bare.toString();
    return this.lock.run(key, async () => {
      const version = (await this.stores.versions.get(key)) ?? 0;
      const items = [...(await this.stores.items.getAll(key)).values()].sort((a, b) => (a.jid < b.jid ? -1 : 1));
      return { version, items };
    });
  }

  /** Items without the lock: for presence fan-out, where a change in flight is pushed anyway. */
  async items(owner: JID): Promise<RosterItem[]> {
    return [...(await this.stores.items.getAll(owner.bare.toString())).values()];
  }

  item(owner: JID, contact: string): Promise<RosterItem | undefined> {
    return this.stores.items.get(owner.bare.toString(), contact);
  }

  async count(owner: JID): Promise<number> {
    return (await this.stores.items.getAll(owner.bare.toString())).size;
  }

  async hasPending(owner: JID, contact: string): Promise<boolean> {
    return (await this.stores.pending.get(owner.bare.toString(), contact)) !== undefined;
  }

  async pendingRequests(owner: JID): Promise<PendingRequest[]> {
    return [...(await this.stores.pending.getAll(owner.bare.toString())).values()].sort((a, b) => a.at - b.at);
  }

  /**
   * Reads the item and stored request for `contact`, lets `decide` choose the new ones, writes
   * what differs and pushes a visible change. `decide` must be synchronous and free of I/O:
   * the account's lock is held meanwhile, so routing is done by the caller afterwards.
   */
  change<T>(owner: JID, contact: string, decide: (item: RosterItem | undefined, pending: PendingRequest | undefined) => RosterDecision<T>): Promise<T> {
    const key = owner.bare.toString();
    return this.lock.run(key, async () => {
      const item = await this.stores.items.get(key, contact);
      const pending = await this.stores.pending.get(key, contact);
      const d = decide(item, pending);
      if (d.pending !== pending) await this.stores.pending.set(key, contact, d.pending);
      if (!sameItem(item, d.item)) {
        await this.stores.items.set(key, contact, d.item);
        const version = nextVersion(await this.stores.versions.get(key));
        await this.stores.versions.set(key, version);
        this.push(owner, contact, d.item, version);
      }
      return d.result;
    });
  }

  /** §2.1.6: a roster push to every interested resource, including the one that caused it. */
  private push(owner: JID, contact: string, item: RosterItem | undefined, version: number): void {
    const payload = item ? itemElement(item) : removedElement(contact);
    for (const s of this.sessions.of(owner)) {
      if (!s.interested) continue;
      s.send(xml("iq", { type: "set", id: `push${(++pushes).toString(36)}`, to: s.jid.toString() },
        xml("query", { xmlns: NS.roster, ver: String(version) }, payload)));
    }
  }
}

/** The roster, as the presence and last-activity modules use it. */
export const ROSTER = serviceKey<RosterService>("roster");
