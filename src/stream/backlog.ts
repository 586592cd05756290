// What slow readers make the server hold: output written to a connection that the network has
// not taken yet. Each connection has its own bound (a client that stops reading loses its
// stream), and so do an account's connections together and the whole process, so that many
// connections of one account, or of many, cannot make the server hold their sum. Only connections
// holding more than SLOW bytes are counted; their figures are the ones read at their last write,
// read again from the connections before a bound is said to be passed.

/** A connection is counted once it holds this much unsent output. */
export const SLOW = 64 * 1024;

export interface BacklogLimits {
  /** Unsent output of one account's connections together, in bytes. */
  readonly account: number;
  /** Unsent output of every connection of the process together, in bytes. */
  readonly process: number;
}

interface Entry { readonly account: string; bytes: number; readonly read: () => number }

export class BacklogLedger {
  private readonly entries = new Map<object, Entry>();
  private readonly byAccount = new Map<string, number>();
  private total = 0;
  private readonly limits: BacklogLimits;

  constructor(limits: BacklogLimits) {
    this.limits = limits;
  }

  /** Bytes counted now, in all and for one account. */
  held(account?: string): number {
    return account === undefined ? this.total : this.byAccount.get(account) ?? 0;
  }

  /**
   * The connection `key` of `account` holds `bytes` unsent (read again through `read`); false
   * when that puts its account or the process past its bound (the connection should end).
   */
  note(key: object, account: string, bytes: number, read: () => number): boolean {
    if (bytes <= SLOW) {
      this.forget(key);
      return true;
    }
    const e = this.entries.get(key);
    if (e) this.set(e, bytes);
    else {
      this.entries.set(key, { account, bytes: 0, read });
      this.set(this.entries.get(key)!, bytes);
    }
    if (this.byAccount.get(account)! > this.limits.account) {
      this.refresh((x) => x.account === account && x !== this.entries.get(key));
      if (this.byAccount.get(account)! > this.limits.account) return false;
    }
    if (this.total > this.limits.process) {
      this.refresh((x) => x !== this.entries.get(key));
      if (this.total > this.limits.process) return false;
    }
    return true;
  }

  /** The connection is gone, or holds little. */
  forget(key: object): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.set(e, 0);
    this.entries.delete(key);
  }

  private set(e: Entry, bytes: number): void {
    const delta = bytes - e.bytes;
    e.bytes = bytes;
    this.total += delta;
    const n = (this.byAccount.get(e.account) ?? 0) + delta;
    if (n === 0) this.byAccount.delete(e.account);
    else this.byAccount.set(e.account, n);
  }

  /** Reads again the figures of the entries `which` picks: connections that drained meanwhile count no more. */
  private refresh(which: (e: Entry) => boolean): void {
    for (const [key, e] of this.entries) {
      if (!which(e)) continue;
      const now = e.read();
      if (now <= SLOW) this.forget(key);
      else this.set(e, now);
    }
  }
}
