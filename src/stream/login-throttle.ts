// Login throttling (RFC 6120 §13.12, denial of service; §6.4.5 bounds retries on one stream only).
// Two limits, both counted when an attempt starts, before any password is checked, so that
// attempts sent together (pipelined on many connections) cannot all be checked before the first
// failure is known:
// - per address: `failuresPerMinute` attempts per minute may be in progress or have failed; an
//   IPv6 address counts by its prefix (a /64 is one subscriber's network, not 2^64 addresses).
//   Over it, <temporary-auth-failure/>.
// - per account, from any address: past `failuresPerAccount` attempts in progress or failed in
//   15 minutes, each further attempt on the account waits its turn: 1 s after the one before,
//   doubling with each, up to 30 s. A guesser is slowed down, the owner is never locked out.
// An attempt that ends without a password refused (a success, a protocol error, an abort) is
// uncounted again; one abandoned half-way (the connection dropped) stays counted.
import { isIPv4, isIPv6 } from "node:net";
import { normalizeLocal } from "../xml/jid.ts";
import { WindowCounter } from "../core/limits.ts";

export interface LoginThrottle {
  /** An attempt from `address` (an addressKey) starts and is counted; false: the address is over its limit. */
  begin(address: string): boolean | Promise<boolean>;
  /** The attempt from `address` ended without a refused password: it no longer counts. */
  release(address: string): void;
  /**
   * An attempt on `account` (a normalised localpart) starts and is counted: the milliseconds it
   * waits before its password may be checked, or undefined when its turn is too far away.
   */
  account(account: string): number | undefined | Promise<number | undefined>;
  /** The attempt on `account` ended without a refused password. */
  releaseAccount(account: string): void;
}

export interface LoginThrottleOptions {
  /** Attempts per address per ADDRESS_WINDOW_MS. */
  perAddress: number;
  /** Attempts per account per ACCOUNT_WINDOW_MS before they are spaced. */
  perAccount: number;
}

export const ADDRESS_WINDOW_MS = 60_000;
export const ACCOUNT_WINDOW_MS = 15 * 60_000;
/** The first spacing of attempts on an account past its limit; it doubles with each attempt. */
export const ACCOUNT_DELAY_MS = 1000;
/** The longest spacing, and the longest an attempt waits for its turn (else it is refused). */
export const ACCOUNT_MAX_DELAY_MS = 30_000;

/** How long after the attempt before it the `n`th attempt in the window is checked, when `free` pass at once. */
export function accountSpacing(n: number, free: number): number {
  return n <= free ? 0 : Math.min(ACCOUNT_DELAY_MS * 2 ** Math.min(n - free - 1, 30), ACCOUNT_MAX_DELAY_MS);
}

/**
 * The key an address is counted under: an IPv4 address as it is (an IPv4-mapped IPv6 one too),
 * an IPv6 address by its first `prefix` bits, as "2001:db8:0:1:0:0:0:0/64".
 */
export function addressKey(address: string, prefix: number): string {
  if (!isIPv6(address)) return address;
  const groups = expandIPv6(address);
  if (groups === undefined) return address;
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [hi, lo] = [groups[6]!, groups[7]!];
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  const bits = Math.max(0, Math.min(128, prefix));
  const masked = groups.map((g, i) => {
    const keep = Math.max(0, Math.min(16, bits - i * 16));
    return keep === 0 ? 0 : g & ((0xffff << (16 - keep)) & 0xffff);
  });
  return `${masked.map((g) => g.toString(16)).join(":")}/${bits}`;
}

/** The eight 16-bit groups of a valid IPv6 address (with "::", a trailing dotted quad, a zone). */
function expandIPv6(address: string): number[] | undefined {
  let text = address.toLowerCase();
  const zone = text.indexOf("%");
  if (zone >= 0) text = text.slice(0, zone);
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = text.slice(0, quad.index) + ((a << 8) | b).toString(16) + ":" + ((c << 8) | d).toString(16);
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const part = (s: string) => (s === "" ? [] : s.split(":").map((g) => parseInt(g, 16)));
  const head = part(halves[0]!);
  const tail = halves.length === 2 ? part(halves[1]!) : [];
  const fill = 8 - head.length - tail.length;
  if (fill < 0 || (halves.length === 1 && fill !== 0)) return undefined;
  const groups = [...head, ...new Array<number>(fill).fill(0), ...tail];
  return groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}

/**
 * The account key of a SASL authcid on a stream to the hosted `domain`: the account's bare JID
 * (its normalised localpart at the domain: one name on two hosts is two accounts), undefined when
 * it cannot be one.
 */
export function accountKey(username: string, domain: string): string | undefined {
  try {
    return `${normalizeLocal(username)}@${domain}`;
  } catch {
    return undefined;
  }
}

interface AccountTurns {
  /** Attempts in the window, in progress or failed. */
  n: number;
  until: number;
  /** When the latest attempt is (or was) checked. */
  last: number;
}

/** The throttle of one process. A cluster counts in Redis as well (src/cluster/redis.ts). */
export class LocalLoginThrottle implements LoginThrottle {
  private readonly addresses: WindowCounter;
  private readonly accounts = new Map<string, AccountTurns>();
  private readonly perAccount: number;
  private readonly now: () => number;

  constructor(opts: LoginThrottleOptions, now: () => number = Date.now) {
    this.addresses = new WindowCounter(ADDRESS_WINDOW_MS, opts.perAddress);
    this.perAccount = opts.perAccount;
    this.now = now;
  }

  begin(address: string): boolean {
    return this.addresses.take(address, this.now());
  }

  release(address: string): void {
    this.addresses.give(address, this.now());
  }

  account(account: string): number | undefined {
    const now = this.now();
    let t = this.accounts.get(account);
    if (!t || t.until <= now) {
      if (this.accounts.size > 100_000) this.sweep(now);
      t = { n: 0, until: now + ACCOUNT_WINDOW_MS, last: 0 };
      this.accounts.set(account, t);
    }
    const at = Math.max(now, t.last + accountSpacing(t.n + 1, this.perAccount));
    if (at - now > ACCOUNT_MAX_DELAY_MS) return undefined;
    t.n++;
    t.last = at;
    return at - now;
  }

  releaseAccount(account: string): void {
    const t = this.accounts.get(account);
    if (t && t.until > this.now() && t.n > 0) t.n--;
  }

  private sweep(now: number): void {
    for (const [k, t] of this.accounts) if (t.until <= now) this.accounts.delete(k);
  }
}
