// XEP-0077 operations on accounts: create (§3.1), change the password (§3.3), cancel (§3.2).
// Each throws the StanzaError the XEP names; the callers (pre-auth stream, routed iq) reply.
// Registration also runs for streams that presented an invitation (gate.ts, XEP-0445).
import { StanzaError } from "../../core/errors.ts";
import { AccountError, type Accounts } from "../../core/accounts.ts";
import type { ServerSettings } from "../../core/capabilities.ts";
import { WindowCounter } from "../../core/limits.ts";
import type { Logger } from "../../core/log.ts";
import { type JID, jid, normalizeLocal, tryParseJid } from "../../xml/jid.ts";
import { preparePassword, verifyPassword } from "../../core/credentials.ts";
import { removeAccount, type AccountRemoval } from "../../core/account-removal.ts";
import type { Admission, RegistrationGate } from "./gate.ts";

const HOUR = 3_600_000;

export interface Fields { readonly username: string | undefined; readonly password: string | undefined; readonly oldPassword?: string }

type RegistrarAccounts = Pick<Accounts, "exists" | "create" | "setPassword" | "delete" | "credentials">;

/** What registration uses of the server. */
export interface RegistrarHost extends AccountRemoval {
  /** Each hosted domain's registration policy. */
  readonly hosts: { get(domain: string): { readonly registration: { enabled: boolean; perHourPerAddress: number } } | undefined };
  accountsOf(domain: string): RegistrarAccounts | undefined;
  readonly settings: Pick<ServerSettings, "c2s">;
}

export class Registrar {
  private readonly server: RegistrarHost;
  private readonly log: Logger;
  /** Accounts created per address in the hour, by hosted domain (each host has its own limit). */
  private readonly created = new Map<string, WindowCounter>();
  private readonly gates: RegistrationGate[] = [];

  constructor(server: RegistrarHost, log: Logger) {
    this.server = server;
    this.log = log;
  }

  /** Whether public registration is open on the hosted domain `domain` (its registration.enabled). */
  enabled(domain: string): boolean {
    return this.server.hosts.get(domain)?.registration.enabled ?? false;
  }

  /** The accounts of a hosted domain. */
  private accounts(domain: string): RegistrarAccounts {
    const accounts = this.server.accountsOf(domain);
    if (accounts === undefined) throw new StanzaError("service-unavailable", `${domain} is not served here`);
    return accounts;
  }

  private counter(domain: string): WindowCounter {
    let c = this.created.get(domain);
    if (c === undefined) this.created.set(domain, (c = new WindowCounter(HOUR, this.server.hosts.get(domain)?.registration.perHourPerAddress ?? 0)));
    return c;
  }

  /** Adds a gate (an invitation mechanism); returns its removal. */
  addGate(gate: RegistrationGate): () => void {
    this.gates.push(gate);
    return () => void this.gates.splice(this.gates.indexOf(gate), 1);
  }

  /** Whether invitations can open registration on `domain` at all (a gate is there and the domain is hosted). */
  invitable(domain: string): boolean {
    return this.gates.length > 0 && this.server.hosts.get(domain) !== undefined;
  }

  /** The invitation the stream (to `domain`) presented, if any. */
  admission(stream: object, domain: string): Admission | undefined {
    if (!this.invitable(domain)) return undefined;
    for (const g of this.gates) {
      const a = g.admission(stream, domain);
      if (a) return a;
    }
    return undefined;
  }

  /** Security Considerations: registration and password changes only over an encrypted stream (unless TLS is not required). */
  secureEnough(secure: boolean): boolean {
    return secure || !this.server.settings.c2s.requireTls;
  }

  /**
   * §3.1 for an unauthenticated stream from `address`, with the invitation it presented if any.
   * An invitation stands for one account its issuer allowed: the hourly limit per address, which
   * guards open registration, does not count it.
   */
  async register({ username, password }: Fields, address: string, domain: string, admission?: Admission): Promise<JID> {
    const key = rateKey(address);
    const created = this.counter(domain);
    // Taken when the attempt starts, given back when it fails: requests sent at once from one
    // address cannot all pass the check before any of them is counted.
    if (!admission && !created.take(key)) {
      // ejabberd's answer too; Conversations shows "try again later" for resource-constraint/wait.
      throw new StanzaError("resource-constraint", "too many accounts created from your address; try again later", { type: "wait" });
    }
    let local: string;
    try {
      local = await this.create(username, password, domain, admission);
    } catch (e) {
      if (!admission) created.give(key);
      throw e;
    }
    const account = jid(local, domain);
    this.log.info({ user: account.toString(), address, invited: admission !== undefined }, "account registered in-band");
    if (admission) {
      // The account is made: what the invitation adds (subscriptions) failing does not undo it.
      await admission.completed(account).catch((e: unknown) => this.log.error({ err: e, user: account.toString() }, "invitation follow-up failed"));
    }
    return account;
  }

  /** The account's checks (§3.1) and its creation; its local part. */
  private async create(username: string | undefined, password: string | undefined, domain: string, admission: Admission | undefined): Promise<string> {
    const accounts = this.accounts(domain);
    // §3.1: "If the requesting entity does not provide all of the requested information (this
    // includes providing an empty password element) ... MUST return a <not-acceptable/> error".
    if (!username || !password) throw new StanzaError("not-acceptable", "a username and a non-empty password are required");
    const local = validLocal(username);
    usablePassword(password);
    if (admission?.username !== undefined && admission.username !== local) {
      throw new StanzaError("not-acceptable", `this invitation is for the username ${admission.username}`);
    }
    if (await accounts.exists(local) || await this.reserved(local, admission, domain)) throw new StanzaError("conflict", "that username is taken");
    if (admission && !(await admission.claim())) throw new StanzaError("forbidden", "this invitation was used or revoked meanwhile");
    try {
      await accounts.create(local, password);
    } catch (e) {
      await admission?.release();
      if (e instanceof AccountError) throw new StanzaError("conflict", "that username is taken");
      throw e;
    }
    return local;
  }

  /** Whether an invitation other than `admission` holds the username at `domain`. */
  private async reserved(local: string, admission: Admission | undefined, domain: string): Promise<boolean> {
    for (const g of this.gates) if (await g.reserved(local, admission, domain)) return true;
    return false;
  }

  /** §3.3. The account comes from the stream, never from the request. */
  async changePassword(account: JID, { username, password, oldPassword }: Fields, secure: boolean): Promise<void> {
    if (!this.secureEnough(secure)) throw new StanzaError("not-authorized", "change the password over TLS", { type: "modify" });
    // §3.3: an empty password "MUST NOT change the password to a null value"; the table's
    // bad-request is "does not contain complete information".
    if (!password) throw new StanzaError("bad-request", "a non-empty <password/> is required; the password is unchanged");
    if (username && !namesAccount(username, account)) throw new StanzaError("forbidden", "you can change only your own password");
    usablePassword(password);
    // §3.3's form asks for the old password; one given must be right (the same error as the
    // XEP's example of a server that wants more before it changes the password).
    if (oldPassword !== undefined && !(await this.oldPasswordIs(account, oldPassword))) {
      throw new StanzaError("not-authorized", "the old password is not right; the password is unchanged", { type: "modify" });
    }
    await this.accounts(account.domain).setPassword(account.local, password);
    this.log.info({ user: account.toString() }, "password changed in-band");
  }

  private async oldPasswordIs(account: JID, oldPassword: string): Promise<boolean> {
    const creds = await this.accounts(account.domain).credentials(account.local);
    return creds !== undefined && (await verifyPassword(creds, oldPassword));
  }

  /**
   * §3.2: once the caller's result is out, "the server SHOULD then return a <not-authorized/>
   * stream error and terminate all active sessions for the entity"; then the account and
   * everything stored for it go. Sessions close first so that their contacts get the
   * unavailable presence while the roster still exists.
   */
  async cancel(account: JID): Promise<void> {
    if (!(await this.server.accountsOf(account.domain)?.exists(account.local))) throw new StanzaError("registration-required", "no such account");
    // setImmediate: after the router (or stream) has written the result for this request.
    setImmediate(() => void this.deleteAfterClosing(account));
  }

  private async deleteAfterClosing(account: JID): Promise<void> {
    try {
      if (await removeAccount(this.server, account)) this.log.info({ user: account.toString() }, "account deleted in-band");
    } catch (e) {
      this.log.error({ err: e }, "account deletion failed");
    }
  }
}

/**
 * What the hourly limit counts by: the IPv4 address, or the /64 of an IPv6 one (the block one
 * subscriber gets, so rotating through it does not reset the limit). IPv4-mapped IPv6 is IPv4.
 */
export function rateKey(address: string): string {
  const v4 = /^(?:::ffff:)?(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (v4) return v4[1]!;
  if (!address.includes(":")) return address;
  const [head = "", tail] = address.split("%")[0]!.split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right];
  return groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, "")).join(":") + "::/64";
}

/** A username as a localpart (RFC 7622 §3.3); a JID that cannot exist is jid-malformed (RFC 6120 §8.3.3.8). */
export function validLocal(username: string): string {
  try {
    return normalizeLocal(username);
  } catch {
    throw new StanzaError("jid-malformed", "that username is not a valid JID localpart");
  }
}

/** SCRAM needs a password that survives OpaqueString preparation (RFC 8265 §4.2): no control characters. */
export function usablePassword(password: string): void {
  if (preparePassword(password) === undefined) throw new StanzaError("not-acceptable", "the password may not contain control characters");
}

/** "bill" or "bill@example.com" naming this account. */
export function namesAccount(username: string, account: JID): boolean {
  const named = tryParseJid(username.includes("@") ? username : `${username}@${account.domain}`);
  return named !== undefined && named.equals(account.bare);
}
