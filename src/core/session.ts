// A bound client session as the rest of the server sees it: its full JID, its presence state
// (RFC 6121 §4) and a way to send it stanzas. Modules keep their own per-session state behind
// typed keys instead of adding fields here.
import type { Element } from "../xml/element.ts";
import type { JID } from "../xml/jid.ts";
import type { StreamError } from "./errors.ts";
import type { Logger } from "./log.ts";

declare const keyType: unique symbol;
export interface SessionKey<T> {
  readonly name: string;
  /** Other nodes of a cluster see its value (the value must survive JSON). */
  readonly shared?: boolean;
  readonly [keyType]?: T;
}

/** The keys declared shared, by name: what a cluster node publishes of its sessions' state. */
export const sharedKeys = new Map<string, SessionKey<unknown>>();

/**
 * Declares a typed per-session slot: const lastPing = sessionKey<number>("ping.last"). A shared
 * key (carbons enabled) is published to the other nodes of a cluster whenever it is set.
 */
export function sessionKey<T>(name: string, opts: { shared?: boolean } = {}): SessionKey<T> {
  const key = { name, shared: opts.shared === true } as SessionKey<T>;
  if (key.shared) sharedKeys.set(name, key as SessionKey<unknown>);
  return key;
}

/**
 * How long this session waits to be resumed once its connection drops (XEP-0198), in seconds,
 * when a module lengthens it (push, XEP-0357); the stream reads it, modules set it.
 */
export const RESUME_TIMEOUT = sessionKey<number>("sm.resumeTimeout");

export interface Session {
  readonly id: string;
  /** The full JID bound to this session. */
  readonly jid: JID;
  readonly secure: boolean;
  readonly log: Logger;
  /** The last available presence this session broadcast; undefined while unavailable. */
  presence: Element | undefined;
  /** The priority of that presence (RFC 6121 §4.7.2.3), 0 when none was given. */
  priority: number;
  /** When the session last sent anything (ms since epoch): keepalive and idle detection. */
  readonly lastActivity: number;
  /** Has requested the roster: an "interested resource" (RFC 6121 §2.1.6), which gets roster pushes. */
  interested: boolean;
  /**
   * Stream management (XEP-0198) keeps the session while its connection is gone, waiting to be
   * resumed: stanzas sent to it are queued, and it still counts as available.
   */
  readonly detached: boolean;
  /**
   * Detached, and its queue of unacknowledged stanzas is full (sm.maxQueue, sm.maxQueueSize): it
   * takes no more messages until it is resumed; they go to other resources or the offline store.
   */
  readonly full?: boolean;
  /**
   * While set, stanzas it returns true for are held back by their owner instead of written (client
   * state indication, the offline store's flush). Put holds on with addHold (core/session-holds.ts), which stacks them.
   */
  hold: ((stanza: Element) => boolean) | undefined;
  /**
   * Whether the session can take more now without holding too much for its client (its queue of
   * unacknowledged stanzas under its bound), or a promise of it once it can; false once it cannot
   * (it ended, or it waits to be resumed with a full queue). Writers of many stanzas at once (the
   * offline flush) ask before each; the router's single stanzas do not.
   */
  writable?(): boolean | Promise<boolean>;
  /** Writes the stanza to this session's stream, unless `hold` takes it. */
  send(stanza: Element): void;
  /** Writes the stanza, past `hold`. */
  sendNow(stanza: Element): void;
  /**
   * Writes a stanza this server serialised earlier (a stored one: Element#toString, detached),
   * past `hold`, without parsing it. The offline flush writes its batch this way when no hold
   * would look at it (Hold.passSerialized).
   */
  sendSerialized(text: string): void;
  /**
   * Only on a session of another cluster node: writes the stanza there and resolves whether that
   * node took it (false: gone, unreachable, no answer in time), so that a message can go offline.
   */
  deliver?(stanza: Element): Promise<boolean>;
  /** Ends the stream, with this stream error if given. */
  close(error?: StreamError): void;
  get<T>(key: SessionKey<T>): T | undefined;
  set<T>(key: SessionKey<T>, value: T | undefined): void;
}

/** An available resource: one that has sent initial presence and not gone unavailable since. */
export function isAvailable(s: Session): boolean {
  return s.presence !== undefined;
}

/** Per-session module state, kept outside the session object's own fields; its map made on first use (most sessions never set one). */
export class SessionState {
  private values: Map<string, unknown> | undefined = undefined;
  get<T>(key: SessionKey<T>): T | undefined {
    return this.values?.get(key.name) as T | undefined;
  }
  set<T>(key: SessionKey<T>, value: T | undefined): void {
    if (value === undefined) this.values?.delete(key.name);
    else (this.values ??= new Map()).set(key.name, value);
  }
}

/**
 * The sessions of other cluster nodes, as this node knows them: a synchronous view, so that
 * looking an account up costs no round trip (src/cluster/ keeps it current).
 */
export interface RemoteSessions {
  of(bare: string): Iterable<Session> | undefined;
  get(bare: string, resource: string): Session | undefined;
  /** Runs fn while holding the account's cluster-wide lock, its sessions fresh from the shared directory. */
  exclusive<T>(bare: string, fn: () => Promise<T>): Promise<T>;
}

/**
 * Which sessions hold which full JIDs: this node's own, and with `remote` set (a cluster), the
 * other nodes' as well. Without a cluster the lookups are the in-process maps and nothing more.
 */
export class SessionDirectory {
  private readonly byBare = new Map<string, Map<string, Session>>();
  private count = 0;
  /** The other nodes' sessions; undefined on a single node. */
  remote: RemoteSessions | undefined;
  /** Told when a local session's shared state (a shared key) changes; the cluster publishes it. */
  onChange: ((session: Session) => void) | undefined;

  /** Binds a session; returns the session it replaces (same full JID), if any. */
  add(session: Session): Session | undefined {
    const bare = session.jid.bare.toString();
    let res = this.byBare.get(bare);
    if (!res) this.byBare.set(bare, (res = new Map()));
    const old = res.get(session.jid.resource);
    res.set(session.jid.resource, session);
    if (!old) this.count++;
    return old;
  }

  remove(session: Session): boolean {
    const bare = session.jid.bare.toString();
    const res = this.byBare.get(bare);
    if (!res || res.get(session.jid.resource) !== session) return false;
    res.delete(session.jid.resource);
    if (res.size === 0) this.byBare.delete(bare);
    this.count--;
    return true;
  }

  /** The session of this full JID, on this node or (in a cluster) another. */
  get(full: JID): Session | undefined {
    const bare = full.bare.toString();
    const s = this.byBare.get(bare)?.get(full.resource);
    return s !== undefined || this.remote === undefined ? s : this.remote.get(bare, full.resource);
  }

  /** The session of this full JID on this node only. */
  local(full: JID): Session | undefined {
    return this.byBare.get(full.bare.toString())?.get(full.resource);
  }

  /** All sessions of an account (by bare JID), in no particular order; other nodes' too in a cluster. */
  of(bare: JID): Session[] {
    const key = bare.bare.toString();
    const res = this.byBare.get(key);
    const out = res ? [...res.values()] : [];
    if (this.remote !== undefined) {
      const more = this.remote.of(key);
      if (more) for (const s of more) if (res?.get(s.jid.resource) === undefined) out.push(s);
    }
    return out;
  }

  /** Whether an account (by bare JID) has more than one session, here or (in a cluster) on other nodes. */
  several(bare: JID): boolean {
    const key = bare.bare.toString();
    const here = this.byBare.get(key);
    let n = here?.size ?? 0;
    if (n > 1 || this.remote === undefined) return n > 1;
    for (const s of this.remote.of(key) ?? []) if (here?.get(s.jid.resource) === undefined && ++n > 1) return true;
    return false;
  }

  hasResource(bare: JID, resource: string): boolean {
    const key = bare.bare.toString();
    if (this.byBare.get(key)?.has(resource) === true) return true;
    return this.remote !== undefined && this.remote.get(key, resource) !== undefined;
  }

  /**
   * Runs fn as the only holder of the account's turn across the cluster (the offline store and its
   * flush take turns this way on every node); on a single node, fn at once (callers serialise
   * locally as they did).
   */
  exclusive<T>(bare: string, fn: () => Promise<T>): Promise<T> {
    return this.remote === undefined ? fn() : this.remote.exclusive(bare, fn);
  }

  /**
   * Whether exclusive() is a turn across nodes: then the next holder may be another process, which
   * sees only what the store has committed, so a write made in a turn must land before it ends.
   */
  get shared(): boolean {
    return this.remote !== undefined;
  }

  /** A local session's shared state changed (called by the stream when a shared key is set). */
  changed(session: Session): void {
    this.onChange?.(session);
  }

  /** Sessions on this node. */
  get size(): number {
    return this.count;
  }

  /** Sessions on this node (keepalive, statistics, shutdown work on these). */
  all(): IterableIterator<Session> {
    const maps = this.byBare.values();
    return (function* () {
      for (const m of maps) yield* m.values();
    })();
  }
}
