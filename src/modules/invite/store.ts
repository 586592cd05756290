// Invitations (XEP-0401) in the key-value store, shared by the module and the command line. A
// token is random (XEP-0379 §6.1: "at least 80 bits of entropy", encoded for a URI: 120 bits of
// hex), expires (§6.2: "each token MUST have a limited validity time") and is used once (§6.2:
// "each token may only be used once"). Single use holds across nodes: using one starts with an
// atomic add of its claim (KeyValueStore.add), which only one caller anywhere wins.
//
// Stores: "invite" token -> Invitation; "invite.claim" token -> the claim of a use in progress;
// "invite.by" creator -> token -> expiry (each creator's open invitations: quotas, pruning);
// "invite.reserved" username -> token (XEP-0445 §5: a username an invitation is for stays
// reserved "at least until the corresponding token expires").
import { randomToken } from "../../core/ids.ts";
import { StanzaError } from "../../core/errors.ts";
import type { Accounts } from "../../core/accounts.ts";
import type { KeyValueStore, MapStore, StorageProvider } from "../../storage/types.ts";

/**
 * "account": register one account (XEP-0401 §4.5, the administrators' create-account, and the
 * command line's). "contact": become contacts of `inviter`, registering an account on this server
 * first if need be (XEP-0401 §4.1 user invitation, XEP-0379 pre-authenticated subscription).
 */
export type InvitationKind = "account" | "contact";

export interface Invitation {
  readonly token: string;
  readonly kind: InvitationKind;
  /** Who made it: a bare JID, or "" for the command line. */
  readonly creator: string;
  /** The account (localpart) the invitee and who become contacts, if any. */
  readonly inviter?: string;
  /** The one username the invitee may register, if the inviter chose it. */
  readonly username?: string;
  readonly created: number;
  /** ms since the epoch. */
  readonly expires: number;
}

export interface NewInvitation {
  readonly kind: InvitationKind;
  readonly creator: string;
  readonly inviter?: string;
  readonly username?: string;
  readonly ttlMs: number;
  /** Open invitations the creator may have, this one included; undefined: no limit. */
  readonly quota?: number;
}

export interface InvitationStores {
  readonly invitations: KeyValueStore<Invitation>;
  readonly claims: KeyValueStore<{ at: number }>;
  readonly byCreator: MapStore<number>;
  readonly reserved: KeyValueStore<string>;
}

export function invitationStores(storage: Pick<StorageProvider, "keyval" | "map">): InvitationStores {
  return {
    invitations: storage.keyval<Invitation>("invite"),
    claims: storage.keyval<{ at: number }>("invite.claim"),
    byCreator: storage.map<number>("invite.by"),
    reserved: storage.keyval<string>("invite.reserved"),
  };
}

/** Tokens are 30 characters; anything much longer is not one and is not looked up. */
const MAX_TOKEN = 64;

export class Invitations {
  private readonly stores: InvitationStores;
  private readonly accounts: Pick<Accounts, "exists">;
  private readonly now: () => number;

  constructor(stores: InvitationStores, accounts: Pick<Accounts, "exists">, now: () => number = Date.now) {
    this.stores = stores;
    this.accounts = accounts;
    this.now = now;
  }

  /**
   * A new invitation. resource-constraint past the creator's quota; conflict for a username that
   * is an account already or that another open invitation holds.
   */
  async create(spec: NewInvitation): Promise<Invitation> {
    const open = await this.openOf(spec.creator);
    if (spec.quota !== undefined && open.length >= spec.quota) {
      throw new StanzaError("resource-constraint", `${open.length} invitations are open already, the most allowed; revoke one or wait until one is used or expires`, { type: "wait" });
    }
    const now = this.now();
    const invitation: Invitation = {
      token: randomToken(15, "hex"), kind: spec.kind, creator: spec.creator, created: now, expires: now + spec.ttlMs,
      ...(spec.inviter !== undefined ? { inviter: spec.inviter } : {}),
      ...(spec.username !== undefined ? { username: spec.username } : {}),
    };
    if (spec.username !== undefined) await this.reserve(spec.username, invitation.token);
    await this.stores.invitations.set(invitation.token, invitation);
    await this.stores.byCreator.set(spec.creator, invitation.token, invitation.expires);
    return invitation;
  }

  /**
   * The invitation if it can be used now: known, not expired, not being used (XEP-0445 §4: checked
   * when presented), and with its inviter's account still there (an invitation to become someone's
   * contact goes with that someone's account).
   */
  async valid(token: string): Promise<Invitation | undefined> {
    if (!token || token.length > MAX_TOKEN) return undefined;
    const invitation = await this.stores.invitations.get(token);
    if (!invitation) return undefined;
    if (invitation.expires <= this.now() || (invitation.inviter !== undefined && !(await this.accounts.exists(invitation.inviter)))) {
      await this.forget(invitation);
      return undefined;
    }
    if (await this.stores.claims.get(token)) return undefined;
    return invitation;
  }

  /**
   * Takes the invitation for one use: the invitation, or undefined when another use won or it was
   * revoked. Expiry is not looked at again (XEP-0445 §4: "Subsequent actions ... MUST NOT be
   * rejected due to token expiry"). The use ends with spend() or release().
   */
  async claim(token: string): Promise<Invitation | undefined> {
    if (!(await this.stores.claims.add(token, { at: this.now() }))) return undefined;
    const invitation = await this.stores.invitations.get(token);
    if (!invitation) await this.stores.claims.set(token, undefined);
    return invitation;
  }

  /** The use failed: the invitation may be used again. */
  async release(token: string): Promise<void> {
    await this.stores.claims.set(token, undefined);
  }

  /** The use succeeded: the invitation is gone (its claim last, so that no one can claim it in between). */
  async spend(invitation: Invitation): Promise<void> {
    await this.forget(invitation);
    await this.stores.claims.set(invitation.token, undefined);
  }

  /** Revokes an open invitation (of `creator` only, if given); false when there is none. */
  async revoke(token: string, creator?: string): Promise<boolean> {
    if (!token || token.length > MAX_TOKEN) return false;
    const invitation = await this.stores.invitations.get(token);
    if (!invitation || (creator !== undefined && invitation.creator !== creator)) return false;
    await this.forget(invitation);
    return true;
  }

  /** Whether an open invitation other than `except` holds the username. */
  async reserved(username: string, except?: string): Promise<boolean> {
    const token = await this.stores.reserved.get(username);
    if (token === undefined || token === except) return false;
    const holder = await this.stores.invitations.get(token);
    return holder !== undefined && holder.expires > this.now();
  }

  /** The creator's open invitations (expired and used ones are pruned from its list on the way). */
  async openOf(creator: string): Promise<Invitation[]> {
    const now = this.now();
    const open: Invitation[] = [];
    for (const token of (await this.stores.byCreator.getAll(creator)).keys()) {
      const invitation = await this.stores.invitations.get(token);
      if (!invitation) await this.stores.byCreator.set(creator, token, undefined);
      else if (invitation.expires <= now) await this.forget(invitation);
      else open.push(invitation);
    }
    return open.sort((a, b) => a.created - b.created);
  }

  private async reserve(username: string, token: string): Promise<void> {
    const taken = () => new StanzaError("conflict", `${username} is taken`);
    if (await this.accounts.exists(username)) throw taken();
    if (await this.stores.reserved.add(username, token)) return;
    // Held by an invitation that is gone or expired: that reservation is over.
    if (await this.reserved(username)) throw taken();
    await this.stores.reserved.set(username, token);
  }

  private async forget(invitation: Invitation): Promise<void> {
    await this.stores.invitations.set(invitation.token, undefined);
    await this.stores.byCreator.set(invitation.creator, invitation.token, undefined);
    if (invitation.username !== undefined && (await this.stores.reserved.get(invitation.username)) === invitation.token) {
      await this.stores.reserved.set(invitation.username, undefined);
    }
  }
}
