// The closed, typed hook set. Every hook name is a key of EventMap, checked by the compiler.
// Two kinds: "handle" hooks stop at the first handler that returns true; "fold" hooks pass a
// value through every handler. Priorities are named bands that always run in this order.
import type { Element } from "../xml/element.ts";
import type { JID } from "../xml/jid.ts";
import type { Durability } from "./durability.ts";
import type { Session } from "./session.ts";

export const BANDS = ["first", "early", "normal", "late", "last"] as const;
export type Band = (typeof BANDS)[number];

/** A stanza on its way to a local destination. `origin` is the local session that sent it, if any. */
export interface StanzaEvent {
  readonly stanza: Element;
  readonly from: JID;
  readonly to: JID;
  readonly origin: Session | undefined;
  /**
   * Present when the sender acknowledges the stanza (XEP-0198 h): a handler that starts a write
   * and does not wait for it (the archive's batched write) adds it here, and the ack waits for
   * it, so that an ack still means "durable" while delivery does not wait.
   */
  readonly durability?: Durability;
  /**
   * A message the server had written to a session that ended without acknowledging it, routed
   * again (Router.reroute): the stanza-id it carries is this server's, whichever node stamped it.
   */
  readonly returned?: true;
  /** A message timed from routing to its write (Telemetry.sampleStart's reading, ms); 0 or absent when not timed. */
  readonly timedAt?: number;
}

/** A message to a local account and the sessions it is about to reach (none: nobody can take it now). */
export interface MessageDelivery extends StanzaEvent {
  readonly targets: readonly Session[];
  /**
   * Whether the recipient's account exists: true when it has sessions, else asked of the
   * accounts once per message, however many steps ask (the archive, the offline store, the bounce).
   */
  readonly accountExists: () => Promise<boolean>;
}

export interface HandleHooks {
  /** Any stanza sent by a local session, before it is routed anywhere (blocking, sent carbons, the sender's archive). */
  "stanza/out": StanzaEvent;
  /**
   * Any stanza to a local account, before "stanza/in": what its sender may not send is taken out
   * (forged carbons, forged archive results). What goes depends on the sender, not on which of
   * the sender's recipients gets it, so a fan-out of one element to many (a room) runs it once.
   */
  "stanza/clean": StanzaEvent;
  /** Any stanza to a local account (bare or full JID), for each recipient, before the per-kind hooks below (blocking). */
  "stanza/in": StanzaEvent;
  /** Stanzas addressed to the server's domain (iq handlers are tried first, through the iq table). */
  "message/host": StanzaEvent;
  "presence/host": StanzaEvent;
  /** Stanzas addressed to an account's bare JID. */
  "message/bare": StanzaEvent;
  "presence/bare": StanzaEvent;
  "iq/bare": StanzaEvent;
  /** Stanzas addressed to a full JID (the session may or may not exist). */
  "message/full": StanzaEvent;
  "presence/full": StanzaEvent;
  "iq/full": StanzaEvent;
  /** A presence sent by a local session without a 'to' (a broadcast); the presence module keeps the session's state. */
  "presence/broadcast": StanzaEvent;
  /**
   * A message about to be written to its targets: the archive stamps its stanza-id (XEP-0359)
   * here, before any copy leaves. A handler that returns true has taken the message instead.
   */
  "message/deliver": MessageDelivery;
  /**
   * A message no session took (no targets): the offline store keeps it and returns true, or has
   * Router.writeMessage write it to sessions that can take it by now. Unhandled, it bounces.
   */
  "message/offline": MessageDelivery;
  /**
   * A message a session was sent but never acknowledged (XEP-0198) before the session ended; the
   * session is no longer registered. Handlers deliver it another way (offline, re-route) or
   * decide the client has it (it reads the archive); unhandled, it bounces to its sender.
   */
  "message/undelivered": { stanza: Element; session: Session };
}

export interface FoldHooks {
  /** Stream features offered after authentication (bind, session, roster versioning, ...). */
  "stream/features": { account: JID; features: Element[] };
  /** Stream features offered before authentication (registration, ...). */
  "stream/features-preauth": { secure: boolean; domain: string; features: Element[] };
  /**
   * What a Bind 2 <bound/> (XEP-0386) tells the client about its account, read as its session is
   * about to be bound: the archive's XEP-0313 <metadata/>.
   */
  "stream/bound": { account: JID; bound: Element[] };
}

export interface NotifyHooks {
  /** A session has bound a resource and can send stanzas. */
  "session/bound": Session;
  /**
   * A session's connection dropped and stream management (XEP-0198) keeps the session for
   * resumption: what it is sent from now on is queued. `unacked` parses what it was sent and never
   * acknowledged (push tells the app server about unacked messages, XEP-0357).
   */
  "session/detached": { session: Session; unacked(): Element[] };
  /** A session was resumed on a new connection (XEP-0198), after its unacked stanzas were resent (XEP-0352 §5.2: it starts active). */
  "session/resumed": Session;
  /** A bound session is gone (clean close, error, lost connection). */
  "session/closed": { session: Session; reason: string };
  /** A session sent its initial presence (RFC 6121 §4.2), after the server answered it: the offline store flushes here. */
  "presence/initial": Session;
  /** A message was written to its targets (received carbons, push for detached sessions); told by Router.writeMessage only. */
  "message/delivered": MessageDelivery;
  /** An account was deleted: modules drop what they keep for it. */
  "account/deleted": { jid: JID };
  /**
   * The server is stopping: its streams are closed and their listeners have run; storage is still
   * open. Modules write out what they hold in memory (the archive's queued writes) before unloading.
   */
  "server/stopping": { condition: "system-shutdown" | "see-other-host" };
}

type Handler<T> = (value: T) => boolean | void | Promise<boolean | void>;
type Folder<T> = (value: T) => T | Promise<T>;
type Notifier<T> = (value: T) => void | Promise<void>;

interface Entry<F> { band: number; fn: F; seq: number }

/** A copy of `list` with `entry` after the entries of its band and those before it. */
function inserted<F>(list: readonly Entry<F>[], entry: Entry<F>): Entry<F>[] {
  let i = list.length;
  while (i > 0 && list[i - 1]!.band > entry.band) i--;
  return [...list.slice(0, i), entry, ...list.slice(i)];
}

let seq = 0;

/**
 * Registration is returned as an unsubscribe function, so module contexts can undo it. A run goes
 * over the handlers registered when it began: (un)registering during a run (a handler that
 * removes itself, a module unloaded while a listener awaits) takes effect from the next run.
 */
export class Events {
  private readonly handles = new Map<keyof HandleHooks, Entry<Handler<never>>[]>();
  private readonly folds = new Map<keyof FoldHooks, Entry<Folder<never>>[]>();
  private readonly notifies = new Map<keyof NotifyHooks, Entry<Notifier<never>>[]>();

  onHandle<K extends keyof HandleHooks>(name: K, fn: Handler<HandleHooks[K]>, band: Band = "normal"): () => void {
    return this.add(this.handles, name, fn as Handler<never>, band);
  }
  onFold<K extends keyof FoldHooks>(name: K, fn: Folder<FoldHooks[K]>, band: Band = "normal"): () => void {
    return this.add(this.folds, name, fn as unknown as Folder<never>, band);
  }
  onNotify<K extends keyof NotifyHooks>(name: K, fn: Notifier<NotifyHooks[K]>, band: Band = "normal"): () => void {
    return this.add(this.notifies, name, fn as Notifier<never>, band);
  }

  /** True when some handler took the event. */
  async handle<K extends keyof HandleHooks>(name: K, value: HandleHooks[K]): Promise<boolean> {
    const list = this.handles.get(name);
    if (!list) return false;
    for (const e of list) {
      const r = (e.fn as Handler<HandleHooks[K]>)(value);
      if (r === true || (r !== undefined && r !== false && (await r) === true)) return true;
    }
    return false;
  }

  /**
   * As handle, but synchronous for as long as every handler answers synchronously: a boolean then,
   * a promise from the first handler that returns one. For hot paths (a room's fan-out) that
   * must not pay a turn of the event loop per recipient when the answer is at hand.
   */
  handleNow<K extends keyof HandleHooks>(name: K, value: HandleHooks[K]): boolean | Promise<boolean> {
    const list = this.handles.get(name);
    if (!list) return false;
    for (let i = 0; i < list.length; i++) {
      const r = (list[i]!.fn as Handler<HandleHooks[K]>)(value);
      if (r === true) return true;
      if (r !== undefined && r !== false) return this.handleRest(list as Entry<Handler<HandleHooks[K]>>[], i, r, value);
    }
    return false;
  }

  private async handleRest<T>(list: Entry<Handler<T>>[], from: number, first: Promise<boolean | void>, value: T): Promise<boolean> {
    if ((await first) === true) return true;
    for (let i = from + 1; i < list.length; i++) {
      const r = list[i]!.fn(value);
      if (r === true || (r !== undefined && r !== false && (await r) === true)) return true;
    }
    return false;
  }

  async fold<K extends keyof FoldHooks>(name: K, value: FoldHooks[K]): Promise<FoldHooks[K]> {
    const list = this.folds.get(name);
    if (!list) return value;
    for (const e of list) value = await (e.fn as unknown as Folder<FoldHooks[K]>)(value);
    return value;
  }

  /** Runs every listener; one listener's failure is reported, not propagated to the others. */
  async notify<K extends keyof NotifyHooks>(name: K, value: NotifyHooks[K], onError: (e: unknown) => void): Promise<void> {
    const list = this.notifies.get(name);
    if (!list) return;
    for (const e of list) {
      try {
        await (e.fn as Notifier<NotifyHooks[K]>)(value);
      } catch (err) {
        onError(err);
      }
    }
  }

  // Lists are replaced, never changed in place: a run holds on to the one it began with.
  private add<K, F>(map: Map<K, Entry<F>[]>, name: K, fn: F, band: Band): () => void {
    const entry: Entry<F> = { band: BANDS.indexOf(band), fn, seq: seq++ };
    map.set(name, inserted(map.get(name) ?? [], entry));
    return () => {
      const list = map.get(name);
      if (list?.includes(entry)) map.set(name, list.filter((e) => e !== entry));
    };
  }
}
