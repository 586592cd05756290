// FAST tokens (XEP-0484) in storage: per account (the map store's owner, so an account's removal
// purges them) and per client installation (the SASL2 user-agent id, XEP-0388, stored hashed),
// the two slots of the XEP's §Implementation Notes:
//   - a token made now goes to `next`, replacing one made before and never used ("SHOULD
//     invalidate any tokens previously generated that have not been used");
//   - a login checks `next`, then `current`; a match in `next` moves it to `current`, dropping
//     the older one ("MUST invalidate all tokens issued to the same client with an earlier expiry");
//   - a rotation token waits in `next` while `current` goes on working until `next` is used.
// A token also carries the mechanism it was asked for ("MUST bind tokens to the mechanism"), its
// expiry, the highest 'count' processed with it (replays of a counted login fail), and a tag of the
// account's credentials when it was made: a password changed since (by any path, on any node)
// leaves the tag behind, and the token is refused as no longer trusted.
//
// What is stored is not the token but SHA-256 of it. Tokens are longer than SHA-256's 64-byte
// block, and RFC 2104 §2 keys HMAC with H(key) for such keys, so the stored hash is the very key
// the HT mechanisms' HMAC uses (sasl/ht.ts): the token text never reaches storage or the logs.
// That key still proves possession to this server (HT is symmetric, no verifier can be weaker).
//
// Updates of one client's tokens take turns in this process (a keyed lock); two nodes of a cluster
// updating the same client's tokens at the same instant may lose one update (the map store has no
// compare-and-set), which at worst costs that client a password login.
import { createHash, randomBytes } from "node:crypto";
import type { Credentials } from "../core/credentials.ts";
import { KeyedLock } from "../core/keyed-lock.ts";
import type { MapStore } from "../storage/types.ts";

export interface StoredToken {
  /** SHA-256 of the token's UTF-8 octets, base64: its HMAC key. */
  key: string;
  mechanism: string;
  /** When it stops being accepted, ms since the epoch. */
  expires: number;
  /** The highest 'count' a login with it presented; -1 before any. */
  count: number;
  /** credentialsTag() of the account when the token was made. */
  creds: string;
}

/** One client installation's tokens. */
export interface ClientTokens {
  current?: StoredToken;
  next?: StoredToken;
}

/** A token handed to a client. */
export interface IssuedToken {
  token: string;
  expires: number;
}

/** A login that a stored token proved: its key (for the responder message) and expiry. */
export interface UsedToken {
  key: Buffer;
  expires: number;
}

/** Random bytes of a token: 528 bits, 88 base64url characters, longer than the hash's 64-byte block. */
const TOKEN_BYTES = 66;
const HMAC_BLOCK = 64;

/** A short fingerprint of an account's stored credentials: new ones (any password change) give another. */
export function credentialsTag(creds: Credentials): string {
  const parts = Object.keys(creds).sort().map((h) => {
    const c = creds[h as keyof Credentials]!;
    return `${h}:${c.salt}:${c.iterations}:${c.storedKey}`;
  });
  return createHash("sha256").update(parts.join("\n")).digest("base64url").slice(0, 22);
}

/** The map key of a client installation: its user-agent id, hashed (it is never shown to anyone, XEP-0388). */
function clientKey(userAgent: string): string {
  return createHash("sha256").update(userAgent).digest("base64url");
}

export class FastTokens {
  private readonly store: MapStore<ClientTokens>;
  private readonly lock = new KeyedLock();
  /** How long a token is accepted, ms. */
  readonly lifetime: number;
  private readonly now: () => number;

  constructor(store: MapStore<ClientTokens>, lifetimeMs: number, now: () => number = Date.now) {
    this.store = store;
    this.lifetime = lifetimeMs;
    this.now = now;
  }

  /** A new token for `account`'s client `userAgent`, to be used with `mechanism`; it waits in `next`. */
  issue(account: string, userAgent: string, mechanism: string, creds: Credentials): Promise<IssuedToken> {
    const client = clientKey(userAgent);
    return this.lock.run(`${account}\0${client}`, async () => {
      const token = randomBytes(TOKEN_BYTES).toString("base64url");
      if (Buffer.byteLength(token) <= HMAC_BLOCK) throw new Error("a FAST token must be longer than the HMAC block");
      const expires = this.now() + this.lifetime;
      const next: StoredToken = { key: createHash("sha256").update(token).digest("base64"), mechanism, expires, count: -1, creds: credentialsTag(creds) };
      const held = (await this.store.get(account, client)) ?? {};
      await this.store.set(account, client, { ...held, next });
      return { token, expires };
    });
  }

  /**
   * The login of `account`'s client `userAgent` with `mechanism`: the stored token whose key makes
   * `proves` true, checked for expiry, the account's credentials (`creds`, undefined when the
   * account is gone) and the replay counter, and then recorded as used. "expired": it matched but
   * is no longer trusted (and is dropped).
   */
  verify(account: string, userAgent: string, mechanism: string, proves: (key: Buffer) => boolean,
    creds: Credentials | undefined, count: number | undefined): Promise<UsedToken | "expired" | undefined> {
    const client = clientKey(userAgent);
    return this.lock.run(`${account}\0${client}`, async () => {
      const held = await this.store.get(account, client);
      if (held === undefined || creds === undefined) return undefined;
      const slot = (["next", "current"] as const).find((s) => {
        const t = held[s];
        return t !== undefined && t.mechanism === mechanism && proves(Buffer.from(t.key, "base64"));
      });
      if (slot === undefined) return undefined;
      const used = held[slot]!;
      if (used.expires <= this.now() || used.creds !== credentialsTag(creds)) {
        await this.store.set(account, client, dropped(held, slot));
        return "expired";
      }
      // XEP-0484: "reject any authentication requests ... where the count is less than or equal to
      // a count that has already been processed for this token".
      if (count !== undefined && count <= used.count) return undefined;
      // Written only when something changed: a new count, or "next" taking the place of "current".
      // A login with the current token and no count costs no write.
      if (slot === "next" || (count !== undefined && count !== used.count)) {
        const current = { ...used, count: count ?? used.count };
        await this.store.set(account, client, slot === "next" ? { current } : { current, next: held.next });
      }
      return { key: Buffer.from(used.key, "base64"), expires: used.expires };
    });
  }

  /** Forgets every token of the client (XEP-0484 §Client requests token invalidation). */
  revoke(account: string, userAgent: string): Promise<void> {
    const client = clientKey(userAgent);
    return this.lock.run(`${account}\0${client}`, () => this.store.set(account, client, undefined));
  }

  /** A token used now that expires at `expires` is replaced by a new one: less than half of its lifetime is left. */
  dueForRotation(expires: number): boolean {
    return expires - this.now() < this.lifetime / 2;
  }
}

function dropped(held: ClientTokens, slot: keyof ClientTokens): ClientTokens | undefined {
  const rest = { ...held };
  delete rest[slot];
  return rest.current === undefined && rest.next === undefined ? undefined : rest;
}
