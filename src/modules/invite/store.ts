// Invitations (XEP-0401) in the key-value store, shared by the module and the command line. A
// token is random (XEP-0379 §6.1: "at least 80 bits of entropy", encoded for a URI: 120 bits of
// hex), expires (§6.2: "each token MUST have a limited validity time") and is used once (§6.2:
// "each token may only be used once"). Single use holds across nodes: using one starts with an
// atomic add of its claim (KeyValueStore.add), which only one caller anywhere wins.
//
// An invitation belongs to one hosted domain: it registers an account there, and its inviter is
// an account there. Records stored before invitations had a domain are the configuration's
// domain's (the only one that had invitations then).
//
// Stores: "invite" token -> Invitation; "invite.claim" token -> the claim of a use in progress;
// "invite.by" creator -> token -> expiry (each creator's open invitations: quotas, pruning);
// "invite.reserved" username@domain -> token (XEP-0445 §5: a username an invitation is for stays
// reserved "at least until the corresponding token expires").
import { randomToken } from "../../core/ids.ts";
import { StanzaError } from "../../core/errors.ts";
import type { Accounts } from "../../core/accounts.ts";
import { jid } from "../../xml/jid.ts";
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
  /** The hosted domain it registers at and whose account `inviter` is. */
  readonly domain: string;
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
  /** A hosted domain. */
  readonly domain: string;
  readonly creator: string;
  readonly inviter?: string;
  readonly username?: string;
  readonly ttlMs: number;
  /** Open invitations the creator may have, this one included; undefined: no limit. */
  readonly quota?: number;
}

/** The hosted domains as invitations see them (core's Hosts is one). */
export interface InvitationHosts {
  /** The configuration's domain: that of invitations stored without one. */
  readonly primary: { readonly domain: string };
  get(domain: string): { readonly accounts: Pick<Accounts, "exists"> } | undefined;
}

/** As stored: records made before invitations had a domain have none. */
type StoredInvitation = Omit<Invitation, "domain"> & { readonly domain?: string };

export interface InvitationStores {
  readonly invitations: KeyValueStore<StoredInvitation>;
  readonly claims: KeyValueStore<{ at: number }>;
  readonly byCreator: MapStore<number>;
  readonly reserved: KeyValueStore<string>;
}

export function invitationStores(storage: Pick<StorageProvider, "keyval" | "map">): InvitationStores {
  return {
    invitations: storage.keyval<StoredInvitation>("invite"),
    claims: storage.keyval<{ at: number }>("invite.claim"),
    byCreator: storage.map<number>("invite.by"),
    reserved: storage.keyval<string>("invite.reserved"),
  };
}

/** Tokens are 30 characters; anything much longer is not one and is not looked up. */
const MAX_TOKEN = 64;

export class Invitations {
  private readonly stores: InvitationStores;
  private readonly hosts: InvitationHosts;
  private readonly now: () => number;

  constructor(stores: InvitationStores, hosts: InvitationHosts, now: () => number = Date.now) {
    this.stores = stores;
    this.hosts = hosts;
    this.now = now;
  }

  /** Whether `local` is an account of the hosted `domain` (of none that is not hosted). */
  private async exists(local: string, domain: string): Promise<boolean> {
    return (await this.hosts.get(domain)?.accounts.exists(local)) ?? false;
  }

  /** The stored invitation with its domain (the configuration's for a record that has none). */
  private async load(token: string): Promise<Invitation | undefined> {
    const stored = await this.stores.invitations.get(token);
    if (stored === undefined || stored.domain !== undefined) return stored as Invitation | undefined;
    return { ...stored, domain: this.hosts.primary.domain };
  }

  /**
   * A new invitation. resource-constraint past the creator's quota; conflict for a username that
   * is an account of the domain already or that another open invitation holds there;
   * item-not-found for a domain not hosted.
   */
  async create(spec: NewInvitation): Promise<Invitation> {
    if (this.hosts.get(spec.domain) === undefined) throw new StanzaError("item-not-found", `${spec.domain} is not served here`);
    const open = await this.openOf(spec.creator);
    if (spec.quota !== undefined && open.length >= spec.quota) {
      throw new StanzaError("resource-constraint", `${open.length} invitations are open already, the most allowed; revoke one or wait until one is used or expires`, { type: "wait" });
    }
    const now = this.now();
    const invitation: Invitation = {
      token: randomToken(15, "hex"), kind: spec.kind, domain: spec.domain, creator: spec.creator, created: now, expires: now + spec.ttlMs,
      ...(spec.inviter !== undefined ? { inviter: spec.inviter } : {}),
      ...(spec.username !== undefined ? { username: spec.username } : {}),
    };
    if (spec.username !== undefined) await this.reserve(spec.username, spec.domain, invitation.token);
    await this.stores.invitations.set(invitation.token, invitation);
    await this.stores.byCreator.set(spec.creator, invitation.token, invitation.expires);
    return invitation;
  }

  /**
   * The invitation if it can be used at `domain` now: known, of that domain (another host's token
   * is as good as an unknown one there), not expired, not being used (XEP-0445 §4: checked when
   * presented), and with its inviter's account still there (an invitation to become someone's
   * contact goes with that someone's account).
   */
  async valid(token: string, domain: string): Promise<Invitation | undefined> {
    if (!token || token.length > MAX_TOKEN) return undefined;
    const invitation = await this.load(token);
    if (!invitation || invitation.domain !== domain) return undefined;
    if (invitation.expires <= this.now() || (invitation.inviter !== undefined && !(await this.exists(invitation.inviter, invitation.domain)))) {
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
    const invitation = await this.load(token);
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
    const invitation = await this.load(token);
    if (!invitation || (creator !== undefined && invitation.creator !== creator)) return false;
    await this.forget(invitation);
    return true;
  }

  /** Whether an open invitation of `domain` other than `except` holds the username there. */
  async reserved(username: string, domain: string, except?: string): Promise<boolean> {
    for (const token of await this.reservations(username, domain)) {
      if (token === except) continue;
      const holder = await this.load(token);
      if (holder !== undefined && holder.domain === domain && holder.expires > this.now()) return true;
    }
    return false;
  }

  /**
   * The tokens holding username@domain. Compatibility: reservations made before invitations had a
   * domain are keyed by the username alone and are the configuration's domain's; that key can go
   * once every such invitation has expired (modules.invite.expiry after the upgrade).
   */
  private async reservations(username: string, domain: string): Promise<string[]> {
    const keys = domain === this.hosts.primary.domain ? [reservedKey(username, domain), username] : [reservedKey(username, domain)];
    const tokens = await Promise.all(keys.map((k) => this.stores.reserved.get(k)));
    return tokens.filter((t) => t !== undefined);
  }

  /** The creator's open invitations (expired and used ones are pruned from its list on the way). */
  async openOf(creator: string): Promise<Invitation[]> {
    const now = this.now();
    const open: Invitation[] = [];
    for (const token of (await this.stores.byCreator.getAll(creator)).keys()) {
      const invitation = await this.load(token);
      if (!invitation) await this.stores.byCreator.set(creator, token, undefined);
      else if (invitation.expires <= now) await this.forget(invitation);
      else open.push(invitation);
    }
    return open.sort((a, b) => a.created - b.created);
  }

  private async reserve(username: string, domain: string, token: string): Promise<void> {
    const taken = () => new StanzaError("conflict", `${username} is taken`);
    if (await this.exists(username, domain)) throw taken();
    const key = reservedKey(username, domain);
    const added = await this.stores.reserved.add(key, token);
    // Held by another open invitation (one that is gone or expired no longer holds it).
    if (await this.reserved(username, domain, token)) {
      if (added) await this.stores.reserved.set(key, undefined);
      throw taken();
    }
    if (!added) await this.stores.reserved.set(key, token);
  }

  private async forget(invitation: Invitation): Promise<void> {
    await this.stores.invitations.set(invitation.token, undefined);
    await this.stores.byCreator.set(invitation.creator, invitation.token, undefined);
    if (invitation.username === undefined) return;
    for (const key of [reservedKey(invitation.username, invitation.domain), invitation.username]) {
      if ((await this.stores.reserved.get(key)) === invitation.token) await this.stores.reserved.set(key, undefined);
    }
  }
}

/** A reservation's key: the address the username would have (a localpart holds no '@'). */
function reservedKey(username: string, domain: string): string {
  return jid(username, domain).toString();
}
