// The photo hash of each account's vCard (XEP-0153), which every available presence it sends
// carries (XEP-0398 §4): read from the vCard once, then cached (bounded, for a minute, so that a
// change made through another node of a cluster applies within that time; one made here at once).
import type { JID } from "../../xml/jid.ts";

export class PhotoHashes {
  private readonly entries = new Map<string, { hash: string; at: number }>();
  private readonly read: (owner: JID) => Promise<string>;
  private readonly size: number;
  private readonly ttlMs: number;

  /** `read` gives the hash of the account's vCard photo, "" when it has none. */
  constructor(read: (owner: JID) => Promise<string>, size = 10_000, ttlMs = 60_000) {
    this.read = read;
    this.size = size;
    this.ttlMs = ttlMs;
  }

  /** The account's hash ("" for none): at once when cached, else a read of its vCard. */
  get(owner: JID, now = Date.now()): string | Promise<string> {
    const key = owner.toString();
    const e = this.entries.get(key);
    if (e && now - e.at <= this.ttlMs) return e.hash;
    return this.read(owner).then((hash) => {
      // A change told meanwhile (set) is newer than what was read.
      if ((this.entries.get(key)?.at ?? -Infinity) <= now) this.set(owner, hash, now);
      return hash;
    });
  }

  set(owner: JID, hash: string, now = Date.now()): void {
    const key = owner.toString();
    this.entries.delete(key);
    // Oldest first in a Map's order: drop the oldest when full.
    if (this.entries.size >= this.size) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { hash, at: now });
  }

  forget(owner: JID): void {
    this.entries.delete(owner.toString());
  }
}
