// The client-to-server stream (RFC 6120 §4-§7) as an explicit state machine over any transport:
//   header -> (starttls -> header) -> sasl -> header -> bind | resume -> ready -> closed
// Limits are tighter before authentication; every violation is a stream error for this stream
// only. Once bound, the stream is the Session the rest of the server sees. With stream
// management (XEP-0198) a session outlives its connection: when the connection drops it is
// detached, keeps queueing, and a later stream that resumes it hands over its connection, so the
// session object (which modules may hold) stays the same.
import { xml, type Element } from "../xml/element.ts";
import { NS } from "../xml/ns.ts";
import { type JID, parseJid, tryParseJid } from "../xml/jid.ts";
import { StreamParser, type ParserErrorCondition, type ParserHandler, type ParserLimits } from "../xml/parser.ts";
import { StanzaError, StreamError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { RESUME_TIMEOUT, SessionState, sharedKeys, type Session, type SessionKey } from "../core/session.ts";
import { Shapers } from "../core/limits.ts";
import { randomToken } from "../core/ids.ts";
import { errorReply } from "../core/stanza.ts";
import type { Transport, TransportEvents } from "../transports/transport.ts";
import type { StreamContext } from "./context.ts";
import { checkHeader, streamHeader } from "./header.ts";
import { SaslNegotiation } from "./sasl-negotiation.ts";
import { bindResource, handleLegacySession } from "./bind.ts";
import { StreamManagement, parseH, type ClaimResult, type SessionTransfer } from "./sm.ts";
import { parseStored } from "../xml/stored.ts";

type State = "header" | "features" | "tls" | "authenticated" | "ready" | "moved" | "closed";

/**
 * A connection and the stream state machine it currently feeds (a resumed session takes it
 * over). It is itself the parser's handler and the transport's listener, rather than six
 * closures per connection.
 */
class Connection implements ParserHandler, TransportEvents {
  readonly transport: Transport;
  readonly parser: StreamParser;
  stream: C2SStream;

  constructor(transport: Transport, stream: C2SStream, limits: ParserLimits) {
    this.transport = transport;
    this.stream = stream;
    this.parser = new StreamParser(this, limits);
  }

  streamStart(name: string, attrs: Record<string, string>): void {
    this.stream.streamStart(name, attrs);
  }

  stanza(el: Element): void {
    this.stream.stanza(el);
  }

  streamEnd(): void {
    this.stream.streamEnd();
  }

  error(condition: ParserErrorCondition, text: string): void {
    this.stream.error(condition, text);
  }

  data(chunk: Buffer): void {
    this.stream.onData(chunk, this);
  }

  close(reason: string): void {
    this.stream.onTransportClose(reason, this);
  }
}

/** The input shapers, per config: shared by every stream of the server. */
const shapers = new WeakMap<StreamContext["config"]["limits"], Shapers>();
function shapersOf(ctx: StreamContext): Shapers {
  let s = shapers.get(ctx.config.limits);
  if (!s) shapers.set(ctx.config.limits, (s = new Shapers(ctx.config.limits)));
  return s;
}

/** Parser limits before and after authentication, per config: shared by every stream. */
const parserLimits = new WeakMap<StreamContext["config"]["limits"], { pre: ParserLimits; post: ParserLimits }>();

let nextId = 0;

/** Bytes queued for a client that does not read before its stream is closed. */
const MAX_BACKLOG = 8 * 1024 * 1024;

export class C2SStream implements Session {
  readonly id: string;
  jid!: JID;
  presence: Element | undefined = undefined;
  priority = 0;
  interested = false;
  lastActivity = Date.now();

  private state: State = "header";
  private headerSent = false;
  private account: JID | undefined;
  hold: ((stanza: Element) => boolean) | undefined = undefined;

  private conn: Connection;
  private readonly values = new SessionState();
  private sm: StreamManagement | undefined;
  /** Settles when the writes of the stanzas handled so far have (they are then counted in h). */
  private durable: Promise<void> | undefined;
  /** The connection dropped and the session waits to be resumed. */
  private lost = false;
  private detachTimer: NodeJS.Timeout | undefined;
  private sasl: SaslNegotiation | undefined;
  /** The shapers' key (src/core/limits.ts): this connection's before authentication, the account's after; undefined when they are off. */
  private shaped: string | undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private pending: Promise<void> = Promise.resolve();
  /** The server is shutting down and reads nothing more from this connection. */
  private draining = false;
  /** Called when the client's acknowledgements cover everything sent, or its connection drops (shutdown waits for it). */
  private ackWaiter: (() => void) | undefined;

  private readonly ctx: StreamContext;
  /** Built on first use: at the usual levels (warn) most sessions never log. */
  private logger: Logger | undefined;

  constructor(transport: Transport, ctx: StreamContext) {
    this.ctx = ctx;
    this.id = `c${(++nextId).toString(36)}${randomToken(4, "hex")}`;
    const conn = new Connection(transport, this, this.limits(false));
    this.conn = conn;
    transport.attach(conn);
    ctx.streams.add(this);
    if (shapersOf(ctx).on) this.shaped = `\0${this.id}`;
    this.handshakeTimer = setTimeout(() => this.close(new StreamError("connection-timeout", "no session bound in time")),
      ctx.config.limits.handshakeTimeout * 1000);
    this.handshakeTimer.unref();
    this.note("debug", { secure: transport.secure }, "connection");
  }

  /** This stream's logger: the connection, its address and, once bound, the session's JID. */
  get log(): Logger {
    this.logger ??= this.ctx.log.child(this.jid === undefined
      ? { conn: this.id, ip: this.transport.remoteAddress }
      : { conn: this.id, ip: this.transport.remoteAddress, jid: this.jid.toString() });
    return this.logger;
  }

  /** Logs at debug or info without building the child logger when that level is off. */
  private note(level: "debug" | "info", obj: object, msg: string): void {
    if (this.ctx.log.isLevelEnabled(level)) this.log[level](obj, msg);
  }

  private get transport(): Transport {
    return this.conn.transport;
  }

  private get parser(): StreamParser {
    return this.conn.parser;
  }

  get secure(): boolean {
    return this.transport.secure;
  }

  get detached(): boolean {
    return this.lost;
  }

  private limits(authenticated: boolean): ParserLimits {
    const l = this.ctx.config.limits;
    let both = parserLimits.get(l);
    if (!both) {
      const of = (maxStanzaSize: number): ParserLimits => ({ maxStanzaSize, maxDepth: l.maxDepth, maxAttributes: 64, maxNameLength: 256 });
      both = { pre: of(l.preAuthStanzaSize), post: of(l.stanzaSize) };
      parserLimits.set(l, both);
    }
    return authenticated ? both.post : both.pre;
  }

  // --- transport input -------------------------------------------------------------------------

  /** From the connection `conn` (ignored unless it is still this stream's). */
  onData(chunk: Buffer, conn: Connection): void {
    if (this.state === "closed" || conn !== this.conn || this.draining) return;
    this.lastActivity = Date.now();
    if (this.shaped !== undefined) this.throttle(shapersOf(this.ctx).bytes(this.shaped, chunk.length));
    this.parser.write(chunk);
  }

  /** Stops reading for `wait` ms (a shaper's answer); what was read meanwhile is still handled. */
  private throttle(wait: number): void {
    if (wait <= 0) return;
    this.transport.pause();
    setTimeout(() => {
      if (!this.draining) this.transport.resume();
    }, wait).unref();
  }

  onTransportClose(reason: string, conn: Connection): void {
    if (this.state === "closed" || conn !== this.conn) return;
    this.ackWaiter?.();
    if (this.state === "ready" && this.sm?.token !== undefined) return this.detach(reason);
    this.state = "closed";
    this.finish(reason);
  }

  // --- parser events (ParserHandler) -------------------------------------------------------------

  streamStart(name: string, attrs: Record<string, string>): void {
    // Every stream (and every restart after STARTTLS and SASL) gets a fresh header and id.
    this.headerSent = true;
    this.transport.write(streamHeader(this.ctx.domain.toString(), this.newStreamId()));
    try {
      checkHeader(name, attrs, this.ctx.domain.toString());
    } catch (e) {
      this.close(e as StreamError);
      return;
    }
    this.sendFeatures();
  }

  private newStreamId(): string {
    return randomToken(12, "base64url");
  }

  stanza(el: Element): void {
    // Stanzas are handled in arrival order: each waits for the one before it. Beyond the stanza
    // shaper's burst, each also waits for its turn (those of a chunk already read included), and
    // reading pauses meanwhile.
    let run = () => this.dispatch(el);
    if (this.shaped !== undefined && (el.name === "message" || el.name === "presence" || el.name === "iq")) {
      const wait = shapersOf(this.ctx).stanza(this.shaped);
      if (wait > 0) {
        this.throttle(wait);
        const due = Date.now() + wait;
        run = () => new Promise<void>((r) => setTimeout(r, due - Date.now())).then(() => this.dispatch(el));
      }
    }
    this.pending = this.pending.then(run).catch((e: unknown) => {
      if (e instanceof StreamError) this.close(e);
      else {
        this.log.error({ err: e }, "stream handler failed");
        this.close(new StreamError("internal-server-error"));
      }
    });
  }

  streamEnd(): void {
    void this.pending.then(() => (this.state === "moved" ? this.conn.stream.streamEnd() : this.close()));
  }

  error(condition: ParserErrorCondition, text: string): void {
    this.note("info", { condition, text }, "bad xml");
    this.close(new StreamError(condition, text));
  }

  // --- dispatch by state -------------------------------------------------------------------------

  private async dispatch(el: Element): Promise<void> {
    // After this stream resumed another session, what arrives on it belongs to that session.
    if (this.state === "moved") return this.conn.stream.stanza(el);
    if (this.state === "closed") return;
    const ns = el.attrs.xmlns;
    switch (this.state) {
      case "features":
        return this.beforeAuth(el, ns);
      case "authenticated":
        return this.beforeBind(el, ns);
      case "ready":
        return this.whenReady(el, ns);
      default:
        throw new StreamError("not-authorized");
    }
  }

  private async beforeAuth(el: Element, ns: string | undefined): Promise<void> {
    if (ns === NS.tls && el.name === "starttls") return this.startTls();
    if (ns === NS.sasl) {
      if (this.ctx.config.c2s.requireTls && !this.secure) {
        this.transport.write(xml("failure", { xmlns: NS.sasl }, xml("encryption-required")).toString());
        return;
      }
      this.sasl ??= new SaslNegotiation(this.ctx, this.transport, () => this.log);
      const account = await this.sasl.handle(el);
      if (account) this.authenticated(account);
      return;
    }
    if (ns === undefined && el.name === "iq") return this.preAuthIq(el, undefined);
    throw new StreamError("not-authorized", "authenticate first");
  }

  private async startTls(): Promise<void> {
    if (!this.transport.canStartTls) {
      this.transport.write(xml("failure", { xmlns: NS.tls }).toString());
      this.close();
      return;
    }
    this.transport.write(xml("proceed", { xmlns: NS.tls }).toString());
    this.state = "tls";
    this.parser.reset();
    try {
      await this.transport.startTls();
      // Mechanisms offered before TLS (no PLAIN, no -PLUS) are not those of the secured stream.
      this.sasl = undefined;
      this.state = "header";
    } catch {
      this.state = "closed";
      this.finish("tls handshake failed");
    }
  }

  private authenticated(account: JID): void {
    this.account = account;
    this.sasl = undefined;
    this.state = "header";
    this.parser.reset();
    this.parser.setLimits(this.limits(true));
    // From now on the account's connections share their shapers: more connections buy no more.
    if (this.shaped !== undefined) this.shaped = account.bare.toString();
    this.note("info", { user: account.toString() }, "authenticated");
  }

  private async beforeBind(el: Element, ns: string | undefined): Promise<void> {
    if (ns === undefined && el.name === "iq") {
      const payload = el.getChild("bind", NS.bind);
      if (payload && el.attrs.type === "set") {
        const jid = await bindResource(this, this.account!, el, payload, this.ctx);
        if (jid) this.bound(jid);
        return;
      }
      return this.preAuthIq(el, this.account);
    }
    if (ns === NS.sm && el.name === "resume") return this.resume(el);
    if (ns === NS.sm && el.name === "enable") return this.smFailed("unexpected-request");
    throw new StreamError("not-authorized", "bind a resource first");
  }

  private bound(jid: JID): void {
    this.jid = jid;
    this.state = "ready";
    clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined; // a cleared Timeout still holds its closure and this stream
    if (this.logger) this.logger = this.logger.child({ jid: jid.toString() });
    const replaced = this.ctx.sessions.add(this);
    if (replaced) replaced.close(new StreamError("conflict", "replaced by a new session with the same resource"));
    this.note("info", {}, "session bound");
    void this.ctx.events.notify("session/bound", this, (e) => this.log.error({ err: e }, "session/bound listener failed"));
  }

  private async whenReady(el: Element, ns: string | undefined): Promise<void> {
    if (ns === NS.sm) return this.smElement(el);
    if (ns !== undefined) {
      const handler = this.ctx.streamElements.get(ns);
      if (!handler) throw new StreamError("unsupported-stanza-type", `{${ns}}${el.name}`);
      return handler(this, el);
    }
    if (el.name !== "message" && el.name !== "presence" && el.name !== "iq") {
      throw new StreamError("unsupported-stanza-type", el.name);
    }
    if (el.name === "iq" && el.getChild("session", NS.session)) {
      handleLegacySession(this, el);
      this.sm?.countHandled();
      return;
    }
    this.stampFrom(el);
    const sm = this.sm;
    if (!sm) return this.ctx.router.route(el, this);
    // h counts the stanza once it is delivered or durably stored: routeAcked() resolves on delivery
    // (or storage); writes still running for it (the archive) settle before it is counted, in order.
    const { durable } = await this.ctx.router.routeAcked(el, this);
    if (durable === undefined && this.durable === undefined) sm.countHandled();
    else {
      // A stanza the server gave up on (Routed.durable rejected) is never counted: h stops before
      // it and the stream ends, so that the client sends it again (XEP-0198 §4).
      const done = (this.durable ?? Promise.resolve()).then(() => durable).then(() => sm.countHandled(),
        () => this.close(new StreamError("resource-constraint", "the server could not store what was sent; send it again later"))).then(() => {
        if (this.durable === done) this.durable = undefined;
      });
      this.durable = done;
    }
  }

  /** RFC 6120 §8.1.2.1: the server stamps the full JID; a 'from' naming another entity is invalid-from. */
  private stampFrom(el: Element): void {
    const from = el.attrs.from;
    if (from !== undefined && from !== this.jid.toString()) {
      const parsed = tryParseJid(from);
      if (!parsed || !(parsed.equals(this.jid) || parsed.equals(this.jid.bare))) {
        throw new StreamError("invalid-from", `'${from}' is not this session`);
      }
    }
    el.attrs.from = this.jid.toString();
  }

  private async preAuthIq(el: Element, account: JID | undefined): Promise<void> {
    const payload = el.children.find((c) => typeof c !== "string");
    const handler = payload ? this.ctx.preAuthIq.get(payload.attrs.xmlns ?? "") : undefined;
    if (!payload || !handler || (el.attrs.type !== "get" && el.attrs.type !== "set")) {
      const reply = errorReply(el, new StanzaError(account ? "not-authorized" : "service-unavailable"));
      if (reply) this.transport.write(reply.toString());
      return;
    }
    await handler({
      stanza: el, payload, secure: this.secure, remoteAddress: this.transport.remoteAddress, account,
      reply: (r) => this.transport.write(r.toString()),
    });
  }

  // --- features --------------------------------------------------------------------------------

  private sendFeatures(): void {
    let build: Promise<Element[]>;
    if (this.account === undefined) {
      this.state = "features";
      build = this.preAuthFeatures();
    } else {
      this.state = "authenticated";
      const features = [xml("bind", { xmlns: NS.bind }), xml("session", { xmlns: NS.session }, xml("optional")), xml("sm", { xmlns: NS.sm })];
      build = this.ctx.events.fold("stream/features", { account: this.account, features }).then((v) => v.features);
    }
    this.pending = this.pending.then(async () => {
      const features = await build;
      if (this.state !== "closed") this.transport.write(xml("stream:features", null, features).toString());
    });
  }

  private async preAuthFeatures(): Promise<Element[]> {
    const out: Element[] = [];
    const { requireTls } = this.ctx.config.c2s;
    if (this.transport.canStartTls) {
      out.push(xml("starttls", { xmlns: NS.tls }, requireTls ? xml("required") : undefined));
    }
    if (this.secure || !requireTls) {
      this.sasl ??= new SaslNegotiation(this.ctx, this.transport, () => this.log);
      out.push(...this.sasl.features());
    }
    const folded = await this.ctx.events.fold("stream/features-preauth", { secure: this.secure, features: out });
    return folded.features;
  }

  // --- stream management (XEP-0198) ------------------------------------------------------------

  private async smElement(el: Element): Promise<void> {
    switch (el.name) {
      case "enable":
        return this.enable(el);
      case "r": {
        const sm = this.sm;
        if (!sm) return this.smFailed("unexpected-request");
        const answer = () => {
          if (this.sm === sm && !this.lost && this.state === "ready") this.transport.write(`<a xmlns='${NS.sm}' h='${sm.handled}'/>`);
        };
        // Stanzas before this <r/> whose writes are still running are counted once they settle.
        if (this.durable) void this.durable.then(answer);
        else answer();
        return;
      }
      case "a": {
        if (!this.sm) return this.smFailed("unexpected-request");
        this.applyAck(el.attrs.h);
        return;
      }
      case "resume":
        return this.smFailed("unexpected-request");
      default:
        throw new StreamError("unsupported-stanza-type", `{${NS.sm}}${el.name}`);
    }
  }

  private smFailed(condition: string, h?: number): void {
    const attrs: Record<string, string> = { xmlns: NS.sm };
    if (h !== undefined) attrs.h = String(h);
    this.transport.write(xml("failed", attrs, xml(condition, { xmlns: NS.stanzas })).toString());
  }

  private enable(el: Element): void {
    if (this.sm) return this.smFailed("unexpected-request");
    const resume = el.attrs.resume === "true" || el.attrs.resume === "1";
    const max = parseH(el.attrs.max);
    this.sm = new StreamManagement(resume, max === 0 ? undefined : max);
    const attrs: Record<string, string> = { xmlns: NS.sm };
    if (this.sm.token !== undefined) {
      this.ctx.resumption.add(this.sm.token, this);
      Object.assign(attrs, { id: this.sm.token, resume: "true", max: String(this.resumeTimeout()) });
    }
    this.transport.write(xml("enabled", attrs).toString());
    this.note("debug", { resume }, "stream management enabled");
  }

  /** Seconds this session waits to be resumed: the config, a module's longer wait (push), at most what the client asked. */
  private resumeTimeout(): number {
    const t = this.get(RESUME_TIMEOUT) ?? this.ctx.config.sm.resumeTimeout;
    return this.sm?.clientMax !== undefined ? Math.min(t, this.sm.clientMax) : t;
  }

  /** The client's <a h/>: drop what it has; an h beyond what was sent ends the stream (§4). */
  private applyAck(value: string | undefined): void {
    const sm = this.sm!;
    const h = parseH(value);
    if (h === undefined) throw new StreamError("bad-format", "h must be an unsigned 32-bit integer");
    sm.awaitingAck = false;
    if (!sm.ack(h)) {
      const err = new StreamError("undefined-condition", `the client acknowledged ${h} stanzas but ${sm.sent} were sent`);
      err.extra = xml("handled-count-too-high", { xmlns: NS.sm, h: String(h), "send-count": String(sm.sent) });
      throw err;
    }
    if (sm.unacked === 0) this.ackWaiter?.();
  }

  /** Asks for an acknowledgement after a burst of stanzas, one request outstanding at a time. */
  private requestAck(): void {
    const sm = this.sm!;
    if (sm.awaitingAck) return;
    sm.awaitingAck = true;
    setImmediate(() => {
      if (this.sm === sm && !this.detached && this.state === "ready") this.transport.write(`<r xmlns='${NS.sm}'/>`);
    });
  }

  /** The connection is gone but the session may be resumed: keep it, queueing, for a while. */
  private detach(reason: string): void {
    this.lost = true;
    this.sm!.awaitingAck = false;
    const wait = this.resumeTimeout();
    this.note("info", { reason, wait }, "connection lost, session detached");
    this.detachTimer = setTimeout(() => {
      this.state = "closed";
      this.lost = false;
      this.finish("not resumed in time");
    }, wait * 1000);
    this.detachTimer.unref();
    const sm = this.sm!;
    const unacked = () => sm.pending().map(parseStored).filter((el) => el !== undefined);
    void this.ctx.events.notify("session/detached", { session: this, unacked }, (e) => this.log.error({ err: e }, "session/detached listener failed"));
  }

  /** <resume previd h/> on a freshly authenticated stream (§5). */
  private async resume(el: Element): Promise<void> {
    const old = this.ctx.resumption.get(el.attrs.previd ?? "");
    const h = parseH(el.attrs.h);
    if (h === undefined) return this.smFailed("bad-request");
    const claim = this.ctx.resumption.claim;
    if (!old && claim !== undefined && el.attrs.previd) {
      // A cluster: the session may be on another node, which hands it over to this stream.
      const r = await claim.call(this.ctx.resumption, el.attrs.previd, this.account!.bare.toString(), h, (t) => this.adopt(t));
      if (r.kind === "not-found") this.smFailed("item-not-found");
      else if (r.kind === "h-too-high") this.smFailed("undefined-condition", r.sent);
      return;
    }
    if (!old || old.state !== "ready" || !old.jid.bare.equals(this.account!.bare)) return this.smFailed("item-not-found");
    // The h we report must count every stanza the server has: otherwise the client sends them again.
    if (old.durable) await old.durable;
    if (old.state !== "ready" || this.state !== "authenticated") return this.smFailed("item-not-found");
    old.takeOver(this, h);
  }

  /** This (old) session continues on the connection of `fresh`, which resumed it. */
  private takeOver(fresh: C2SStream, h: number): void {
    const sm = this.sm!;
    if (!sm.ack(h)) {
      fresh.smFailed("undefined-condition", sm.sent);
      return;
    }
    // The client may resume before the server noticed that the old connection was dead; events
    // from it are ignored from now on, since they no longer come from this.conn.
    if (!this.lost) this.conn.transport.end();
    this.lost = false;
    clearTimeout(this.detachTimer);
    clearTimeout(fresh.handshakeTimer);
    fresh.ctx.streams.delete(fresh);
    fresh.state = "moved";
    fresh.conn.stream = this;
    this.conn = fresh.conn;
    this.ctx.streams.add(this);
    sm.awaitingAck = false;
    const pending = sm.pending();
    this.transport.write(xml("resumed", { xmlns: NS.sm, h: String(sm.handled), previd: sm.token! }).toString());
    for (const text of pending) this.transport.write(text);
    if (pending.length) this.requestAck();
    this.note("info", { resent: pending.length, conn: fresh.id }, "session resumed");
    void this.ctx.events.notify("session/resumed", this, (e) => this.log.error({ err: e }, "session/resumed listener failed"));
  }

  /**
   * A cluster: the client resumed this session on another node, which takes it over. Once the
   * writes of what it handled have settled and the client's h is applied, the session leaves this
   * node quietly (no unavailable presence, nothing re-routed: it lives on over there) and its state
   * is returned; the old connection, if the server had not noticed it was dead, is ended.
   */
  async handOff(bare: string, h: number, waitMs: number): Promise<SessionTransfer | ClaimResult> {
    const sm = this.sm;
    if (this.state !== "ready" || sm?.token === undefined || this.jid.bare.toString() !== bare) return { kind: "not-found" };
    if (this.durable) {
      let timer: NodeJS.Timeout | undefined;
      const settled = await Promise.race([this.durable.then(() => true),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(false), waitMs)))]);
      clearTimeout(timer);
      if (!settled) return { kind: "not-found" };
    }
    if (this.state !== "ready" || this.sm !== sm) return { kind: "not-found" };
    if (!sm.ack(h)) return { kind: "h-too-high", sent: sm.sent };
    if (!this.lost) this.conn.transport.end();
    this.lost = false;
    this.state = "closed";
    clearTimeout(this.detachTimer);
    this.ctx.streams.delete(this);
    this.ctx.sessions.remove(this);
    this.ctx.resumption.delete(sm.token, this);
    const keys: Record<string, unknown> = {};
    for (const [name, key] of sharedKeys) {
      const v = this.values.get(key);
      if (v !== undefined) keys[name] = v;
    }
    this.note("info", { unacked: sm.unacked }, "session handed over to another node");
    return {
      jid: this.jid.toString(), token: sm.token, clientMax: sm.clientMax, handled: sm.handled, acked: sm.ackedCount,
      pending: sm.drain(), keys, presence: this.presence ? this.presence.toString() : null, priority: this.priority, interested: this.interested,
    };
  }

  /** This fresh stream becomes the session another node handed over: <resumed/>, then what the client never acknowledged. */
  private adopt(t: SessionTransfer): void {
    const connected = this.state === "authenticated";
    this.jid = parseJid(t.jid);
    this.logger = undefined;
    const sm = (this.sm = StreamManagement.restore(t));
    this.presence = t.presence === null ? undefined : parseStored(t.presence);
    this.priority = t.priority;
    this.interested = t.interested;
    for (const [name, v] of Object.entries(t.keys)) {
      const key = sharedKeys.get(name);
      if (key) this.values.set(key, v);
    }
    clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    this.state = "ready";
    this.ctx.streams.add(this);
    const replaced = this.ctx.sessions.add(this);
    if (replaced && replaced !== this) replaced.close(new StreamError("conflict", "replaced by a resumed session with the same resource"));
    this.ctx.resumption.add(t.token, this);
    if (connected) {
      const pending = sm.pending();
      this.transport.write(xml("resumed", { xmlns: NS.sm, h: String(sm.handled), previd: t.token }).toString());
      for (const text of pending) this.transport.write(text);
      if (pending.length) this.requestAck();
      this.note("info", { resent: pending.length }, "session resumed from another node");
    } else this.detach("the connection dropped while the session moved here");
    void this.ctx.events.notify("session/resumed", this, (e) => this.log.error({ err: e }, "session/resumed listener failed"));
  }

  // --- Session -----------------------------------------------------------------------------------

  send(stanza: Element): void {
    if (this.hold?.(stanza)) return;
    this.sendNow(stanza);
  }

  sendNow(stanza: Element): void {
    if (this.state !== "ready" && this.state !== "authenticated") return; // the bind result comes before "ready"
    this.writeStanza(stanza.toString());
  }

  sendSerialized(text: string): void {
    if (this.state !== "ready" && this.state !== "authenticated") return;
    this.writeStanza(text);
  }

  /** A stanza's text to the stream, counted and kept by stream management until acknowledged. */
  private writeStanza(text: string): void {
    const sm = this.sm;
    if (sm) {
      if (sm.unacked >= this.ctx.config.sm.maxQueue) {
        this.close(new StreamError("resource-constraint", "too many unacknowledged stanzas"));
        return;
      }
      sm.push(text);
      if (this.detached) return;
      this.requestAck();
    }
    // A reader that stopped reading must not hold unbounded memory of ours.
    if (this.transport.buffered > MAX_BACKLOG) {
      this.close(new StreamError("resource-constraint", "the client is not reading its stream"));
      return;
    }
    this.transport.write(text);
  }

  get<T>(key: SessionKey<T>): T | undefined {
    return this.values.get(key);
  }

  set<T>(key: SessionKey<T>, value: T | undefined): void {
    this.values.set(key, value);
    if (key.shared === true) this.ctx.sessions.changed(this);
  }

  /**
   * The server's drain. A stream-managed client is asked for a last <a/> (waiting at most
   * `ackWaitMs`), so that what it already has does not also go to offline storage. Then nothing
   * more is read; what arrived before is handled and its writes settle; the client learns how much
   * of it the server holds (a last <a/>: XEP-0198 §4 lets either side send one at any time, and
   * without it the client would send again what is already stored); and the stream ends with
   * `error`. What the client never acknowledged goes the undelivered way in finish().
   */
  async shutdown(error: StreamError, ackWaitMs: number): Promise<void> {
    if (this.state === "closed" || this.state === "moved") return;
    const sm = this.sm;
    if (sm && this.state === "ready" && !this.lost && sm.unacked > 0 && ackWaitMs > 0) {
      this.transport.write(`<r xmlns='${NS.sm}'/>`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, ackWaitMs);
        this.ackWaiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.ackWaiter = undefined;
    }
    this.draining = true;
    if (!this.lost) this.transport.pause();
    await this.settle();
    if (sm && this.state === "ready" && !this.lost) this.transport.write(`<a xmlns='${NS.sm}' h='${sm.handled}'/>`);
    this.close(error);
  }

  /** Resolves once every stanza read so far is handled and the writes it started have settled. */
  private async settle(): Promise<void> {
    for (;;) {
      const pending = this.pending;
      const durable = this.durable;
      await pending;
      await durable;
      if (pending === this.pending && (this.durable === undefined || this.durable === durable)) return;
    }
  }

  /** Ends the stream: the stream error if any, then the closing tag (RFC 6120 §4.4). */
  close(error?: StreamError): void {
    if (this.state === "closed" || this.state === "moved") return;
    if (this.lost) {
      this.state = "closed";
      this.lost = false;
      this.finish(error ? error.condition : "closed while detached");
      return;
    }
    if (!this.headerSent) {
      this.headerSent = true;
      this.transport.write(streamHeader(this.ctx.domain.toString(), this.newStreamId()));
    }
    if (error) {
      this.note("info", { condition: error.condition, text: error.text }, "stream error");
      this.transport.write(error.toElement().toString());
    }
    this.transport.write("</stream:stream>");
    this.state = "closed";
    this.transport.end();
    this.finish(error ? error.condition : "closed");
  }

  private finish(reason: string): void {
    clearTimeout(this.handshakeTimer);
    clearTimeout(this.detachTimer);
    this.ctx.streams.delete(this);
    if (this.jid === undefined) return;
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
