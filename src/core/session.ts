// A bound client session as the rest of the server sees it: its full JID, its presence state
// (RFC 6121 §4) and a way to send it stanzas. Modules keep their own per-session state behind
// typed keys instead of adding fields here.
import type { Element } from "../xml/element.ts";
import type { JID } from "../xml/jid.ts";
import type { StreamError } from "./errors.ts";
import type { Logger } from "./log.ts";

declare const keyType: unique symbol;
export interface SessionKey<T> { readonly name: string; readonly [keyType]?: T }

/** Declares a typed per-session slot: const lastPing = sessionKey<number>("ping.last"). */
export function sessionKey<T>(name: string): SessionKey<T> {
  return { name } as SessionKey<T>;
}

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
   * While set, stanzas it returns true for are held back by their owner instead of written (client
   * state indication, the offline store's flush). Put holds on with addHold (core/hold.ts), which stacks them.
   */
  hold: ((stanza: Element) => boolean) | undefined;
  /** Writes the stanza to this session's stream, unless `hold` takes it. */
  send(stanza: Element): void;
  /** Writes the stanza, past `hold`. */
  sendNow(stanza: Element): void;
  /** Ends the stream, with this stream error if given. */
  close(error?: StreamError): void;
  get<T>(key: SessionKey<T>): T | undefined;
  set<T>(key: SessionKey<T>, value: T | undefined): void;
}

/** An available resource: one that has sent initial presence and not gone unavailable since. */
export function isAvailable(s: Session): boolean {
  return s.presence !== undefined;
}

/** Per-session module state, kept outside the session object's own fields. */
export class SessionState {
  private readonly values = new Map<string, unknown>();
  get<T>(key: SessionKey<T>): T | undefined {
    return this.values.get(key.name) as T | undefined;
  }
  set<T>(key: SessionKey<T>, value: T | undefined): void {
    if (value === undefined) this.values.delete(key.name);
    else this.values.set(key.name, value);
  }
}

/**
 * Which local sessions hold which full JIDs. The interface a Redis-backed registry implements
 * for scale-out; this class is the in-process one every node keeps for its own sessions.
 */
export class LocalSessions {
  private readonly byBare = new Map<string, Map<string, Session>>();
  private count = 0;

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

  get(full: JID): Session | undefined {
    return this.byBare.get(full.bare.toString())?.get(full.resource);
  }

  /** All sessions of an account (by bare JID), in no particular order. */
  of(bare: JID): Session[] {
    const res = this.byBare.get(bare.bare.toString());
    return res ? [...res.values()] : [];
  }

  hasResource(bare: JID, resource: string): boolean {
    return this.byBare.get(bare.bare.toString())?.has(resource) ?? false;
  }

  get size(): number {
    return this.count;
  }

  all(): IterableIterator<Session> {
    const maps = this.byBare.values();
    return (function* () {
      for (const m of maps) yield* m.values();
    })();
  }
}
