// Accounts: the only thing stored about a password is its SCRAM salted keys (RFC 5802).
import { randomBytes } from "node:crypto";
import { UnknownUsers, deriveCredentials, type Credentials } from "./credentials.ts";
import { normalizeLocal } from "../xml/jid.ts";
import type { StorageProvider, KeyValueStore } from "../storage/types.ts";

export interface AccountRecord {
  credentials: Credentials;
  created: number;
  /**
   * The account is being written by an import (src/modules/pie/): its name is taken, it has no
   * credentials yet, so nobody logs in to half of it. An import that did not finish leaves this set.
   */
  importing?: true;
}

/** What reserving a name for an import found: it is now ours, a real account has it, or an unfinished import left it. */
export type Reservation = "reserved" | "exists" | "leftover";

export class AccountError extends Error {}

/** The server's secret for the stand-ins of unknown users, kept in storage (every node shares it). */
const SECRETS = "secrets";
const UNKNOWN_USERS_SECRET = "sasl-unknown-users";

export class Accounts {
  private readonly store: KeyValueStore<AccountRecord>;
  private readonly storage: StorageProvider;
  private readonly domain: string;
  private readonly iterations: number;
  /** Accounts being deleted: they can no longer log in while their sessions close. */
  private readonly deleting = new Set<string>();

  /** Owners are bare JIDs, so stores of every kind share one key space. */
  constructor(storage: StorageProvider, domain: string, iterations: number) {
    this.storage = storage;
    this.domain = domain;
    this.iterations = iterations;
    this.store = storage.keyval<AccountRecord>("accounts");
  }

  private key(local: string): string {
    return `${local}@${this.domain}`;
  }

  async exists(local: string): Promise<boolean> {
    return (await this.store.get(this.key(local))) !== undefined;
  }

  async credentials(username: string): Promise<Credentials | undefined> {
    let local: string;
    try {
      local = normalizeLocal(username);
    } catch {
      return undefined;
    }
    if (this.deleting.has(local)) return undefined;
    return (await this.store.get(this.key(local)))?.credentials;
  }

  async create(local: string, password: string): Promise<void> {
    local = normalizeLocal(local);
    const record = { credentials: await this.derive(password), created: Date.now() };
    // Insert-if-absent: two registrations of one name at once cannot both win.
    if (!(await this.store.add(this.key(local), record))) throw new AccountError(`account ${this.key(local)} already exists`);
  }

  async setPassword(local: string, password: string): Promise<void> {
    local = normalizeLocal(local);
    const rec = await this.store.get(this.key(local));
    if (!rec) throw new AccountError(`no account ${this.key(local)}`);
    await this.store.set(this.key(local), { ...rec, credentials: await this.derive(password) });
  }

  /**
   * Deletes the account and everything stored for it. `first` runs once new logins are refused
   * and before anything is removed (ending the account's sessions).
   */
  async delete(local: string, first?: () => Promise<void>): Promise<void> {
    local = normalizeLocal(local);
    if (this.deleting.has(local) || !(await this.exists(local))) throw new AccountError(`no account ${this.key(local)}`);
    this.deleting.add(local);
    try {
      await first?.();
      await this.storage.purgeOwner(this.key(local));
    } finally {
      this.deleting.delete(local);
    }
  }

  /**
   * Takes the name for an import (insert-if-absent, like create): "reserved" when it was free, so
   * that neither registration nor another import can take it meanwhile; "leftover" when an import
   * that never finished holds it (its data is to be purged before it is reserved again).
   */
  async reserveForImport(local: string, now = Date.now()): Promise<Reservation> {
    local = normalizeLocal(local);
    if (await this.store.add(this.key(local), { credentials: {}, created: now, importing: true })) return "reserved";
    return (await this.store.get(this.key(local)))?.importing ? "leftover" : "exists";
  }

  /** Ends an import of the account: it gets its credentials (and may log in from now on). */
  async completeImport(local: string, credentials: Credentials, created = Date.now()): Promise<void> {
    local = normalizeLocal(local);
    const rec = await this.store.get(this.key(local));
    if (!rec?.importing) throw new AccountError(`account ${this.key(local)} is not being imported`);
    await this.store.set(this.key(local), { credentials, created });
  }

  /** The stored record (export: the SCRAM keys as they are). */
  record(local: string): Promise<AccountRecord | undefined> {
    return this.store.get(this.key(normalizeLocal(local)));
  }

  /** The accounts of this domain (the store holds those of every host the server serves). */
  async list(): Promise<string[]> {
    const suffix = `@${this.domain}`;
    return (await this.storage.owners("accounts")).filter((u) => u.endsWith(suffix));
  }

  /** The accounts, each one an import left without credentials (it cannot log in) marked so. */
  async listMarked(): Promise<string[]> {
    const out: string[] = [];
    for (const u of await this.list()) {
      const half = (await this.store.get(u))?.importing === true;
      out.push(half ? `${u} (an import did not finish: it cannot log in; import it again, or deluser)` : u);
    }
    return out;
  }

  /**
   * The stand-ins for users that do not exist (UnknownUsers): this server's secret, made at the
   * first start and kept (the first node to store one wins), and the iteration count new accounts get.
   */
  async unknownUsers(): Promise<UnknownUsers> {
    const store = this.storage.keyval<{ secret: string }>(SECRETS);
    await store.add(UNKNOWN_USERS_SECRET, { secret: randomBytes(32).toString("base64") });
    const kept = await store.get(UNKNOWN_USERS_SECRET);
    if (kept === undefined) throw new Error("the server secret could not be stored");
    return new UnknownUsers(Buffer.from(kept.secret, "base64"), this.iterations);
  }

  private derive(password: string): Promise<Credentials> {
    if (password.length === 0) throw new AccountError("the password is empty");
    return deriveCredentials(password, { iterations: this.iterations });
  }
}
