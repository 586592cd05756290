// A bound client session (RFC 6120 §7) apart from the stream that carries it: its full JID, its
// presence state (RFC 6121 §4), holds and typed keys, and with stream management (XEP-0198) the
// counters and the stanzas its client has not acknowledged. It is attached to one stream at a
// time. When that stream's connection drops, a resumable session is detached: it keeps queueing
// until a later stream resumes it (§5), which it is then attached to, staying the same object
// that modules may hold, or until its wait runs out. Nothing here depends on the kind of stream.
import type { Element } from "../xml/element.ts";
import { type JID, parseJid } from "../xml/jid.ts";
import { parseStored } from "../xml/stored.ts";
import { StreamError } from "../core/errors.ts";
import type { Events } from "../core/events.ts";
import type { Logger } from "../core/log.ts";
import type { Router } from "../core/router.ts";
import type { ServerConfig } from "../core/config.ts";
import { kindSlot, kindSlotOfText, type Telemetry } from "../core/telemetry.ts";
import { RESUME_TIMEOUT, SessionState, sharedKeys, type Session, type SessionDirectory, type SessionKey } from "../core/session.ts";
import { NS } from "../xml/ns.ts";
import { SLOW, type BacklogLedger } from "./backlog.ts";
import { StreamManagement, type ClaimResult, type ResumptionRegistry, type SessionTransfer } from "./sm.ts";

/** A bulk writer (Session.writable) waits while more than this is queued for the connection. */
const WRITABLE_BACKLOG = 1024 * 1024;
/** How often a writer waiting for room (Session.writable) looks again. */
const WRITABLE_POLL_MS = 20;

/** What a session needs of the server. */
export interface SessionContext {
  readonly config: ServerConfig;
  readonly router: Router;
  readonly sessions: SessionDirectory;
  readonly events: Events;
  readonly log: Logger;
  /** Sessions that can be resumed (XEP-0198), by token. */
  readonly resumption: ResumptionRegistry<ClientSession>;
  /** Counters the streams and sessions add to: stanzas written, logins by mechanism. */
  readonly telemetry?: Telemetry;
  /** Session-closed listeners in flight; shutdown waits for them. */
  readonly closing: Set<Promise<void>>;
  /** Unsent output of slow readers, per account and in all (backlog.ts). */
  readonly backlog: BacklogLedger;
}

/** What a session needs of the stream it is attached to: any transport, any framing. */
export interface SessionStream {
  readonly id: string;
  readonly secure: boolean;
  readonly remoteAddress: string;
  /** When the client last sent anything (ms since epoch). */
  readonly lastActivity: number;
  /** Bytes written and not yet taken by the network (a slow reader's backlog). */
  readonly buffered: number;
  write(text: string): void;
  /** Ends the stream, with this stream error if given; the stream then tells the session (streamEnded). */
  close(error?: StreamError): void;
  /** Ends the connection without a word: the session goes on elsewhere. */
  release(): void;
  /** Resolves once the elements it read are handled (once it ended, no more than the one in hand). */
  settled(): Promise<void>;
}

export class ClientSession implements Session {
  readonly id: string;
  readonly jid: JID;
  presence: Element | undefined = undefined;
  priority = 0;
  interested = false;
  hold: ((stanza: Element) => boolean) | undefined = undefined;
  /** Stream management, once the client enabled it (or as another node handed it over). */
  sm: StreamManagement | undefined = undefined;

  /** Attached to `on`, detached (waiting to be resumed), or closed. */
  private state: "attached" | "detached" | "closed" = "detached";
  /** The stream it is attached to, or was last: a detached session's address, security and last activity are that stream's. */
  private on: SessionStream;
  private detachTimer: NodeJS.Timeout | undefined = undefined;
  /** Detached, its queue was full: what it is sent goes another way until it is resumed (spill). */
  private spilled = false;
  /** Detached by a resumption under way (quiesce), and "session/detached" not told yet. */
  private untold = false;
  /** Its connection was counted as a slow reader at its last write (backlog.ts). */
  private slowNoted = false;
  private readonly values = new SessionState();
  private readonly ctx: SessionContext;
  private logger: Logger | undefined = undefined;

  /** A session of `jid`, bound on `origin` (which it is not attached to yet). */
  constructor(ctx: SessionContext, jid: JID, origin: SessionStream) {
    this.ctx = ctx;
    this.id = origin.id;
    this.jid = jid;
    this.on = origin;
  }

  /** The session another node handed over (a cluster): its state, on the stream that resumed it. */
  static restore(ctx: SessionContext, t: SessionTransfer, origin: SessionStream): ClientSession {
    const s = new ClientSession(ctx, parseJid(t.jid), origin);
    s.sm = StreamManagement.restore(t);
    s.presence = t.presence === null ? undefined : parseStored(t.presence);
    s.priority = t.priority;
    s.interested = t.interested;
    for (const [name, v] of Object.entries(t.keys)) {
      const key = sharedKeys.get(name);
      if (key) s.values.set(key, v);
    }
    return s;
  }

  get log(): Logger {
    this.logger ??= this.ctx.log.child({ conn: this.id, ip: this.on.remoteAddress, jid: this.jid.toString() });
    return this.logger;
  }

  /** Logs at debug or info without building the child logger when that level is off. */
  note(level: "debug" | "info", obj: object, msg: string): void {
    if (this.ctx.log.isLevelEnabled(level)) this.log[level](obj, msg);
  }

  /** The stream it is attached to; undefined while detached or once closed. */
  get stream(): SessionStream | undefined {
    return this.state === "attached" ? this.on : undefined;
  }

  get closed(): boolean {
    return this.state === "closed";
  }

  get detached(): boolean {
    return this.state === "detached";
  }

  get secure(): boolean {
    return this.on.secure;
  }

  get lastActivity(): number {
    return this.on.lastActivity;
  }

  // --- writing to the client ---------------------------------------------------------------------

  // The kind is taken from the element where there is one: the text toString() builds is a
  // rope, which reading a character of would flatten (a copy per stanza, then another when the
  // connection's writes are joined).
  send(stanza: Element): void {
    if (this.hold?.(stanza)) return;
    this.writeStanza(stanza.toString(), kindSlot(stanza.name));
  }

  sendNow(stanza: Element): void {
    this.writeStanza(stanza.toString(), kindSlot(stanza.name));
  }

  sendSerialized(text: string): void {
    this.writeStanza(text, kindSlotOfText(text));
  }

  /** Detached with its queue full (by count or by size): what it is sent goes another way until it is resumed. */
  get full(): boolean {
    const sm = this.sm;
    return this.state === "detached" && sm !== undefined
      && (this.spilled || sm.unacked >= this.ctx.config.sm.maxQueue || sm.size >= this.ctx.config.sm.maxQueueSize);
  }

  /** A stanza's text to the stream, counted and kept by stream management until acknowledged. */
  private writeStanza(text: string, slot: number): void {
    if (this.state === "closed") return;
    const t = this.ctx.telemetry;
    if (t !== undefined) t.stanzasOut[slot]!++;
    const sm = this.sm;
    if (sm) {
      if (this.full) return this.spill(text);
      if (sm.unacked >= this.ctx.config.sm.maxQueue || sm.size >= 2 * this.ctx.config.sm.maxQueueSize) {
        this.close(new StreamError("resource-constraint", "too many unacknowledged stanzas"));
        return;
      }
      sm.push(text);
      if (this.state !== "attached") return;
      this.requestAck();
    }
    if (this.state !== "attached") return;
    const stream = this.on;
    // A reader that stopped reading must not hold unbounded memory of ours, nor can its
    // account's other connections, nor all of them together (backlog.ts).
    const buffered = stream.buffered;
    if (buffered > SLOW) {
      const limits = this.ctx.config.limits;
      if (buffered > limits.connectionBacklog) {
        this.close(new StreamError("resource-constraint", "the client is not reading its stream"));
        return;
      }
      if (!this.ctx.backlog.note(this, this.jid.bare.toString(), buffered, () => (this.state === "attached" ? this.on.buffered : 0))) {
        this.close(new StreamError("resource-constraint", "the account's connections are not reading what is written to them"));
        return;
      }
    } else if (this.slowNoted) this.ctx.backlog.forget(this);
    this.slowNoted = buffered > SLOW;
    stream.write(text);
  }

  writable(): boolean | Promise<boolean> {
    if (this.state !== "attached") return this.state === "detached" && !this.full;
    if (this.roomToWrite()) return true;
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.state !== "attached") resolve(this.state === "detached" && !this.full);
        else if (this.roomToWrite()) resolve(true);
        else setTimeout(check, WRITABLE_POLL_MS).unref();
      };
      setTimeout(check, WRITABLE_POLL_MS).unref();
    });
  }

  /**
   * An attached session's room for more: what its connection has not taken yet well under the
   * backlog that ends a stream, and its unacknowledged stanzas (XEP-0198) under the bound of a
   * detached one.
   */
  private roomToWrite(): boolean {
    if (this.on.buffered > WRITABLE_BACKLOG) return false;
    const sm = this.sm;
    return sm === undefined || (sm.unacked < this.ctx.config.sm.maxQueue / 2 && sm.size < this.ctx.config.sm.maxQueueSize);
  }

  /**
   * A stanza for this detached session when its queue is full: not kept in memory. The router no
   * longer picks it for messages (Session.full), which go to the offline store and follow the
   * queue once it is resumed; what still reaches it (a room's message, a copy) is routed again
   * without it; a carbon copy is dropped (the original went elsewhere), an iq request bounces.
   */
  private spill(text: string): void {
    if (!this.spilled) this.note("info", { unacked: this.sm!.unacked, size: this.sm!.size }, "detached session full: its stanzas go another way");
    this.spilled = true;
    const stanza = parseStored(text);
    if (stanza === undefined) return;
    if (stanza.name === "message" && stanza.attrs.from !== this.jid.bare.toString()) void this.ctx.router.reroute(stanza);
    else if (stanza.name !== "message") void this.ctx.router.undelivered(stanza, this);
  }

  /** Asks for an acknowledgement after a burst of stanzas, one request outstanding at a time (XEP-0198 §4). */
  requestAck(): void {
    const sm = this.sm!;
    if (sm.awaitingAck) return;
    sm.awaitingAck = true;
    setImmediate(() => {
      if (this.sm === sm && this.state === "attached") this.on.write(`<r xmlns='${NS.sm}'/>`);
    });
  }

  get<T>(key: SessionKey<T>): T | undefined {
    return this.values.get(key);
  }

  set<T>(key: SessionKey<T>, value: T | undefined): void {
    this.values.set(key, value);
    if (key.shared === true) this.ctx.sessions.changed(this);
  }

  // --- stream management (XEP-0198) --------------------------------------------------------------

  /** Turns stream management on (§3); a resumable session is registered under its token. */
  enableSm(resumable: boolean, clientMax: number | undefined): StreamManagement {
    const sm = (this.sm = new StreamManagement(resumable, clientMax));
    if (sm.token !== undefined) this.ctx.resumption.add(sm.token, this);
    return sm;
  }

  /** Seconds this session waits to be resumed: the config, a module's longer wait (push), at most what the client asked. */
  resumeTimeout(): number {
    const t = this.get(RESUME_TIMEOUT) ?? this.ctx.config.sm.resumeTimeout;
    return this.sm?.clientMax !== undefined ? Math.min(t, this.sm.clientMax) : t;
  }

  // --- streams come and go -----------------------------------------------------------------------

  /**
   * Goes on over `stream` (bound there, or resumed there, §5). A resumed session is detached by
   * then: quiesce let go of any stream it was still attached to.
   */
  attach(stream: SessionStream): void {
    this.on = stream;
    this.state = "attached";
    this.spilled = false;
    this.untold = false;
    clearTimeout(this.detachTimer);
    this.detachTimer = undefined;
    if (this.sm) this.sm.awaitingAck = false;
  }

  /** Its stream ended: dropped with a resumable session, the session waits to be resumed; otherwise it ends too. */
  streamEnded(stream: SessionStream, reason: string, dropped: boolean): void {
    if (this.stream !== stream) return;
    if (this.slowNoted) this.ctx.backlog.forget(this);
    this.slowNoted = false;
    this.state = "detached";
    this.sm?.stopWaiting();
    if (dropped && this.sm?.token !== undefined) this.detach(reason);
    else this.finish(reason);
  }

  /**
   * The connection is gone but the session may be resumed (§5): it is kept, queueing, for a while.
   * `quiet`: a resumption is already under way, so nobody is told (no push for what it queues).
   */
  detach(reason: string, quiet = false): void {
    const sm = this.sm!;
    sm.awaitingAck = false;
    const wait = this.resumeTimeout();
    this.note("info", { reason, wait }, "connection lost, session detached");
    this.detachTimer = setTimeout(() => this.finish("not resumed in time"), wait * 1000);
    this.detachTimer.unref();
    this.untold = quiet;
    if (!quiet) this.tellDetached();
  }

  /** The resumption that detached it quietly did not take it over: it waits as any detached session does, and that is told now. */
  resumptionFailed(): void {
    if (this.untold && this.state === "detached") this.tellDetached();
  }

  private tellDetached(): void {
    this.untold = false;
    const sm = this.sm!;
    const unacked = () => sm.pending().map(parseStored).filter((el) => el !== undefined);
    void this.ctx.events.notify("session/detached", { session: this, unacked }, (e) => this.log.error({ err: e }, "session/detached listener failed"));
  }

  /**
   * A resumption (§5) is about to take this session over and tell the client its h, from which
   * the client sends again what h leaves out: a stanza of the old stream still being handled must
   * be counted before, not after (it would be handled twice and h would count one too many). The
   * stream it is attached to, if the server has not noticed its connection is dead, is let go
   * (the session waits detached meanwhile); then the element that stream has in hand and the
   * writes of what it handled settle. False when that takes longer than `ms`.
   */
  async quiesce(ms: number): Promise<boolean> {
    if (this.state === "attached") {
      const old = this.on;
      this.state = "detached";
      this.detach("resumed on another connection", true);
      old.release();
    }
    const deadline = Date.now() + ms;
    if (!(await settlesWithin(this.on.settled(), ms))) return false;
    const durable = this.sm?.durable;
    return durable === undefined || settlesWithin(durable, Math.max(0, deadline - Date.now()));
  }

  /**
   * A cluster: the client resumed this session on another node, which takes it over. Once the
   * stream it was attached to is let go and what it handled has settled (quiesce) and the client's
   * h is applied, the session leaves this node quietly (no unavailable presence, nothing
   * re-routed: it lives on over there) and its state is returned.
   */
  async handOff(bare: string, h: number, waitMs: number): Promise<SessionTransfer | ClaimResult> {
    const sm = this.sm;
    if (this.closed || sm?.token === undefined || this.jid.bare.toString() !== bare) return { kind: "not-found" };
    if (!(await this.quiesce(waitMs)) || this.closed || this.sm !== sm) {
      this.resumptionFailed();
      return { kind: "not-found" };
    }
    if (!sm.ack(h)) {
      this.resumptionFailed();
      return { kind: "h-too-high", sent: sm.sent };
    }
    this.state = "closed";
    clearTimeout(this.detachTimer);
    this.ctx.sessions.remove(this);
    this.ctx.resumption.delete(sm.token, this);
    this.note("info", { unacked: sm.unacked }, "session handed over to another node");
    return this.transfer(sm);
  }

  /** Its state as another node takes it over; what was not acknowledged leaves with it. */
  private transfer(sm: StreamManagement): SessionTransfer {
    const keys: Record<string, unknown> = {};
    for (const [name, key] of sharedKeys) {
      const v = this.values.get(key);
      if (v !== undefined) keys[name] = v;
    }
    return {
      jid: this.jid.toString(), token: sm.token!, clientMax: sm.clientMax, handled: sm.handled, acked: sm.ackedCount,
      pending: sm.drain(), keys, presence: this.presence ? this.presence.toString() : null, priority: this.priority, interested: this.interested,
    };
  }

  /** Ends the session: its stream with `error` if attached, at once if detached. */
  close(error?: StreamError): void {
    if (this.state === "closed") return;
    if (this.state === "attached") this.on.close(error);
    else this.finish(error ? error.condition : "closed while detached");
  }

  private finish(reason: string): void {
    this.state = "closed";
    clearTimeout(this.detachTimer);
    // A session replaced by a newer one with the same resource is no longer registered, but its
    // contacts still need its unavailable presence: listeners run for it all the same.
    this.ctx.sessions.remove(this);
    const sm = this.sm;
    if (sm?.token !== undefined) this.ctx.resumption.delete(sm.token, this);
    const unacked = sm ? sm.drain() : [];
    this.note("info", { reason, unacked: unacked.length }, "session closed");
    const done = (async () => {
      // What the client never acknowledged goes another way (offline, re-routed) before its
      // contacts see it leave.
      for (const text of unacked) {
        const stanza = parseStored(text);
        if (stanza) await this.ctx.router.undelivered(stanza, this);
      }
      await this.ctx.events.notify("session/closed", { session: this, reason }, (e) => this.log.error({ err: e }, "session/closed listener failed"));
    })();
    this.ctx.closing.add(done);
    void done.finally(() => this.ctx.closing.delete(done));
  }
}

/** Whether `p` settles within `ms`. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([p.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
  clearTimeout(timer);
  return settled;
}
