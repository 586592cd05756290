// XEP-0077 operations on accounts: create (§3.1), change the password (§3.3), cancel (§3.2).
// Each throws the StanzaError the XEP names; the callers (pre-auth stream, routed iq) reply.
import { StanzaError } from "../../core/errors.ts";
import { AccountError, type Accounts } from "../../core/accounts.ts";
import type { ServerSettings } from "../../core/capabilities.ts";
import { WindowCounter } from "../../core/limits.ts";
import type { Logger } from "../../core/log.ts";
import { type JID, jid, normalizeLocal, tryParseJid } from "../../xml/jid.ts";
import { preparePassword } from "../../core/credentials.ts";
import { removeAccount, type AccountRemoval } from "../../core/account-removal.ts";

const HOUR = 3_600_000;

export interface Fields { readonly username: string | undefined; readonly password: string | undefined }

/** What registration uses of the server. */
export interface RegistrarHost extends AccountRemoval {
  readonly domain: JID;
  readonly accounts: Pick<Accounts, "exists" | "create" | "setPassword" | "delete">;
  readonly settings: Pick<ServerSettings, "registration" | "c2s">;
}

export class Registrar {
  private readonly server: RegistrarHost;
  private readonly log: Logger;
  private readonly created: WindowCounter;

  constructor(server: RegistrarHost, log: Logger) {
    this.server = server;
    this.log = log;
    this.created = new WindowCounter(HOUR, server.settings.registration.perHourPerAddress);
  }

  /** Security Considerations: registration and password changes only over an encrypted stream (unless TLS is not required). */
  secureEnough(secure: boolean): boolean {
    return secure || !this.server.settings.c2s.requireTls;
  }

  /** §3.1 for an unauthenticated stream from `address`. */
  async register({ username, password }: Fields, address: string): Promise<JID> {
    const key = rateKey(address);
    if (!this.created.allowed(key)) {
      // ejabberd's answer too; Conversations shows "try again later" for resource-constraint/wait.
      throw new StanzaError("resource-constraint", "too many accounts created from your address; try again later", { type: "wait" });
    }
    // §3.1: "If the requesting entity does not provide all of the requested information (this
    // includes providing an empty password element) ... MUST return a <not-acceptable/> error".
    if (!username || !password) throw new StanzaError("not-acceptable", "a username and a non-empty password are required");
    const local = validLocal(username);
    usablePassword(password);
    if (await this.server.accounts.exists(local)) throw new StanzaError("conflict", "that username is taken");
    try {
      await this.server.accounts.create(local, password);
    } catch (e) {
      if (e instanceof AccountError) throw new StanzaError("conflict", "that username is taken");
      throw e;
    }
    this.created.hit(key);
    const account = jid(local, this.server.domain.domain);
    this.log.info({ user: account.toString(), address }, "account registered in-band");
    return account;
  }

  /** §3.3. The account comes from the stream, never from the request. */
  async changePassword(account: JID, { username, password }: Fields, secure: boolean): Promise<void> {
    if (!this.secureEnough(secure)) throw new StanzaError("not-authorized", "change the password over TLS", { type: "modify" });
    // §3.3: an empty password "MUST NOT change the password to a null value"; the table's
    // bad-request is "does not contain complete information".
    if (!password) throw new StanzaError("bad-request", "a non-empty <password/> is required; the password is unchanged");
    if (username && !namesAccount(username, account)) throw new StanzaError("forbidden", "you can change only your own password");
    usablePassword(password);
    await this.server.accounts.setPassword(account.local, password);
    this.log.info({ user: account.toString() }, "password changed in-band");
  }

  /**
   * §3.2: once the caller's result is out, "the server SHOULD then return a <not-authorized/>
   * stream error and terminate all active sessions for the entity"; then the account and
   * everything stored for it go. Sessions close first so that their contacts get the
   * unavailable presence while the roster still exists.
   */
  async cancel(account: JID): Promise<void> {
    if (!(await this.server.accounts.exists(account.local))) throw new StanzaError("registration-required", "no such account");
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
