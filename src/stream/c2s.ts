// The client-to-server stream (RFC 6120 §4-§7) as an explicit state machine over any transport:
//   header -> features -> (starttls -> header) -> sasl -> header -> authenticated -> bind | resume -> ready
//   SASL2 (XEP-0388, sasl2.ts), no restart: features -> authenticate -> ready (bound or resumed
//   inline) | authenticated
// Limits are tighter before authentication; every violation is a stream error for this stream
// only. Binding a resource creates the session (client-session.ts); resuming one (XEP-0198 §5,
// sm-negotiation.ts) attaches this stream to a session that already exists. Once ready, the
// stream hands what the client sends to the router on its session's behalf, and the session
// writes to the client through the stream.
import { unprefixTopLevel, xml, type Element } from "../xml/element.ts";
import { type JID, tryParseJid } from "../xml/jid.ts";
import { NS } from "../xml/ns.ts";
import { InFlight } from "../core/durability.ts";
import { StanzaError, StreamError } from "../core/errors.ts";
import { randomToken } from "../core/ids.ts";
import { Shapers } from "../core/limits.ts";
import { errorReply } from "../core/stanza.ts";
import type { Transport } from "../transports/transport.ts";
import { bindResource, handleLegacySession } from "./bind.ts";
import { ClientSession } from "./client-session.ts";
import type { OpenStream, StreamContext } from "./context.ts";
import { authenticatedFeatures, featuresElement, preAuthFeatures } from "./features.ts";
import { checkHeader, hostNamed, streamHeader } from "./header.ts";
import { SaslNegotiation } from "./sasl-negotiation.ts";
import { Sasl2Negotiation, type Sasl2Stream } from "./sasl2.ts";
import { resume, smElement, smFailed } from "./sm-negotiation.ts";
import { Stream, limitsOf } from "./stream.ts";

type State = "header" | "features" | "tls" | "authenticated" | "ready";

/** The input shapers, per config: shared by every stream of the server. */
const shapers = new WeakMap<StreamContext["config"]["limits"], Shapers>();
function shapersOf(ctx: StreamContext): Shapers {
  let s = shapers.get(ctx.config.limits);
  if (!s) shapers.set(ctx.config.limits, (s = new Shapers(ctx.config.limits)));
  return s;
}

export class C2SStream extends Stream implements Sasl2Stream, OpenStream {
  private state: State = "header";
  private authenticatedAs: JID | undefined = undefined;
  private sasl: SaslNegotiation | undefined = undefined;
  private sasl2: Sasl2Negotiation | undefined = undefined;
  /** The session this stream carries, once bound or resumed. */
  private session: ClientSession | undefined = undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;
  /** Store writes still running for stanzas of a session without stream management (routeUnacked). */
  private readonly unsettled = new InFlight();
  private readonly ctx: StreamContext;
  /**
   * The hosted domain the client's first header asked for (RFC 6120 §4.7.2 'to'); its headers
   * after a restart must name it again. Accounts authenticated on this stream are its.
   */
  private host: string | undefined = undefined;

  constructor(transport: Transport, ctx: StreamContext) {
    super(transport, limitsOf(ctx.config.limits, false), ctx.log);
    this.ctx = ctx;
    ctx.streams.add(this);
    // Before authentication each connection has its own allowance (src/core/limits.ts).
    this.shapeBy(shapersOf(ctx), `\0${this.id}`);
    this.handshakeTimer = setTimeout(() => this.close(new StreamError("connection-timeout", "no session bound in time")),
      ctx.config.limits.handshakeTimeout * 1000);
    this.handshakeTimer.unref();
    this.note("debug", { secure: transport.secure }, "connection");
  }

  get account(): JID | undefined {
    return this.authenticatedAs;
  }

  get awaitingBind(): boolean {
    return this.state === "authenticated" && !this.closed;
  }

  protected override logFields(): Record<string, string> {
    const fields = super.logFields();
    if (this.session) fields.jid = this.session.jid.toString();
    return fields;
  }

  /** Our header is from the domain the client's names when it is one we serve (RFC 6120 §4.7.1), else from ours. */
  protected header(attrs?: Record<string, string>): string {
    const asked = this.host ?? hostNamed(attrs?.to);
    const from = asked !== undefined && this.ctx.hosts.has(asked) ? asked : this.ctx.domain.toString();
    return streamHeader(from, randomToken(12, "base64url"));
  }

  protected opened(name: string, attrs: Record<string, string>): void {
    const host = this.host;
    this.host = checkHeader(name, attrs, (d) => this.ctx.hosts.has(d) && (host === undefined || d === host));
    this.sendFeatures();
  }

  protected finished(reason: string, dropped: boolean): void {
    clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    this.ctx.streams.delete(this);
    this.session?.streamEnded(this, reason, dropped);
  }

  // --- dispatch by state -------------------------------------------------------------------------

  protected async element(el: Element): Promise<void> {
    unprefixTopLevel(el, NS.client);
    const ns = el.attrs.xmlns;
    switch (this.state) {
      case "features":
        return this.beforeAuth(el, ns);
      case "authenticated":
        return this.beforeBind(el, ns);
      case "ready":
        return this.whenReady(this.session!, el, ns);
      default:
        throw new StreamError("not-authorized");
    }
  }

  private async beforeAuth(el: Element, ns: string | undefined): Promise<void> {
    // XEP-0388: "Servers MUST disconnect Clients immediately if any other traffic is received".
    if (this.sasl2?.inProgress && ns !== NS.sasl2) throw new StreamError("policy-violation", "only SASL2 elements during its exchange");
    if (ns === NS.sasl2) return this.sasl2Negotiation().handle(el);
    if (ns === NS.tls && el.name === "starttls") return this.startTls();
    if (ns === NS.sasl) {
      if (this.ctx.config.c2s.requireTls && !this.secure) {
        this.write(xml("failure", { xmlns: NS.sasl }, xml("encryption-required")).toString());
        return;
      }
      const account = await this.saslNegotiation().handle(el);
      if (account) this.authenticated(account);
      return;
    }
    if (ns === undefined && el.name === "iq") return this.preAuthIq(el, undefined);
    throw new StreamError("not-authorized", "authenticate first");
  }

  private saslNegotiation(): SaslNegotiation {
    this.sasl ??= new SaslNegotiation(this.ctx, this.transport, this.host!, () => this.log);
    return this.sasl;
  }

  private sasl2Negotiation(): Sasl2Negotiation {
    this.sasl2 ??= new Sasl2Negotiation(this.ctx, this, this.saslNegotiation().exchange);
    return this.sasl2;
  }

  private async startTls(): Promise<void> {
    if (!this.transport.canStartTls) {
      this.write(xml("failure", { xmlns: NS.tls }).toString());
      this.close();
      return;
    }
    this.write(xml("proceed", { xmlns: NS.tls }).toString());
    this.state = "tls";
    if (!(await this.upgrade())) return;
    // Mechanisms offered before TLS (no PLAIN, no -PLUS, no SASL2) are not those of the secured stream.
    this.sasl = undefined;
    this.sasl2 = undefined;
    this.state = "header";
  }

  /** RFC 6120 §6.4.6: after <success/> the stream restarts. */
  private authenticated(account: JID): void {
    this.state = "header";
    this.restart(limitsOf(this.ctx.config.limits, true));
    this.becameAuthenticated(account);
  }

  /** XEP-0388: after SASL2's <success/> the stream goes on; it is bound or resumed inline, or binds next. */
  authenticatedInline(account: JID): void {
    this.state = "authenticated";
    this.relimit(limitsOf(this.ctx.config.limits, true));
    this.becameAuthenticated(account);
  }

  private becameAuthenticated(account: JID): void {
    this.authenticatedAs = account;
    this.sasl = undefined;
    this.sasl2 = undefined;
    // From now on the account's connections share their shapers: more connections buy no more.
    this.shapeBy(shapersOf(this.ctx), account.bare.toString());
    this.note("info", { user: account.toString() }, "authenticated");
  }

  private async beforeBind(el: Element, ns: string | undefined): Promise<void> {
    if (ns === undefined && el.name === "iq") {
      const payload = el.getChild("bind", NS.bind);
      if (payload && el.attrs.type === "set") {
        const jid = await bindResource(this, this.authenticatedAs!, el, payload, this.ctx);
        if (jid) this.bound(jid);
        return;
      }
      return this.preAuthIq(el, this.authenticatedAs);
    }
    if (ns === NS.sm && el.name === "resume") {
      await resume(this, el, this.ctx);
      return;
    }
    if (ns === NS.sm && el.name === "enable") return smFailed(this, "unexpected-request");
    throw new StreamError("not-authorized", "bind a resource first");
  }

  /** A resource is bound (RFC 6120 §7): a new session, which replaces one with the same full JID. */
  private bound(jid: JID): void {
    this.registerSession(this.openSession(jid));
  }

  openSession(jid: JID): ClientSession {
    const session = new ClientSession(this.ctx, jid, this);
    session.attach(this);
    this.bindTo(session);
    return session;
  }

  registerSession(session: ClientSession, inline?: () => void): void {
    const replaced = this.ctx.sessions.add(session);
    if (replaced) replaced.close(new StreamError("conflict", "replaced by a new session with the same resource"));
    inline?.();
    session.note("info", {}, "session bound");
    void this.ctx.events.notify("session/bound", session, (e) => session.log.error({ err: e }, "session/bound listener failed"));
  }

  bindTo(session: ClientSession): void {
    this.session = session;
    this.state = "ready";
    clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined; // a cleared Timeout still holds its closure and this stream
    this.relog();
  }

  private async whenReady(session: ClientSession, el: Element, ns: string | undefined): Promise<void> {
    if (ns === NS.sm) return smElement(this, session, el);
    if (ns !== undefined) {
      const handler = this.ctx.streamElements.get(ns);
      if (!handler) throw new StreamError("unsupported-stanza-type", `{${ns}}${el.name}`);
      return handler(session, el);
    }
    if (el.name !== "message" && el.name !== "presence" && el.name !== "iq") {
      throw new StreamError("unsupported-stanza-type", el.name);
    }
    if (el.name === "iq" && el.getChild("session", NS.session)) {
      handleLegacySession(session, el);
      session.sm?.countHandled();
      return;
    }
    stampFrom(el, session.jid);
    const sm = session.sm;
    if (!sm) return this.routeUnacked(el, session);
    // h counts the stanza once it is delivered or durably stored: routeAcked() resolves on delivery
    // (or storage); writes still running for it (the archive) settle before it is counted, in order.
    const { durable } = await this.ctx.router.routeAcked(el, session);
    sm.countWhenDurable(durable, () => this.close(new StreamError("resource-constraint", "the server could not store what was sent; send it again later")));
  }

  /**
   * Routes a stanza of a session without stream management. A request (iq) waits for the store
   * writes still running for what the session sent before it, so that its answer means they are
   * stored, as when each was awaited in turn; messages go on without waiting.
   */
  private async routeUnacked(el: Element, session: ClientSession): Promise<void> {
    if (el.name === "iq" && this.unsettled.size > 0) await this.unsettled.settled();
    const { durable } = await this.ctx.router.routeUnacked(el, session);
    if (durable !== undefined) this.unsettled.add(durable);
  }

  private async preAuthIq(el: Element, account: JID | undefined): Promise<void> {
    const payload = el.children.find((c) => typeof c !== "string");
    const handler = payload ? this.ctx.preAuthIq.get(payload.attrs.xmlns ?? "") : undefined;
    if (!payload || !handler || (el.attrs.type !== "get" && el.attrs.type !== "set")) {
      const reply = errorReply(el, new StanzaError(account ? "not-authorized" : "service-unavailable"));
      if (reply) this.write(reply.toString());
      return;
    }
    await handler({
      stanza: el, payload, secure: this.secure, domain: this.host!, remoteAddress: this.remoteAddress, account, stream: this,
      reply: (r) => this.write(r.toString()),
    });
  }

  private sendFeatures(): void {
    let build: Promise<Element[]>;
    if (this.authenticatedAs === undefined) {
      this.state = "features";
      build = preAuthFeatures(this.ctx, this.transport, this.host!, () => [...this.saslNegotiation().features(), ...this.sasl2Negotiation().features()]);
    } else {
      this.state = "authenticated";
      build = authenticatedFeatures(this.ctx, this.authenticatedAs);
    }
    this.queue(async () => {
      const features = await build;
      if (!this.closed) this.write(featuresElement(features));
    });
  }

  // --- the server's drain ------------------------------------------------------------------------

  /**
   * A stream-managed client is asked for a last <a/> (waiting at most `ackWaitMs`), so that what
   * it already has does not also go to offline storage. Then nothing more is read; what arrived
   * before is handled and its writes settle; the client learns how much of it the server holds (a
   * last <a/>: XEP-0198 §4 lets either side send one at any time, and without it the client would
   * send again what is already stored); and the stream ends with `error`. What the client never
   * acknowledged goes the undelivered way when the session ends.
   */
  async shutdown(error: StreamError, ackWaitMs: number): Promise<void> {
    if (this.closed) return;
    const session = this.session;
    const sm = session?.sm;
    if (sm && sm.unacked > 0 && ackWaitMs > 0) {
      this.write(`<r xmlns='${NS.sm}'/>`);
      await sm.untilAcked(ackWaitMs);
    }
    this.stopReading();
    await this.settle();
    if (sm && session!.stream === this) this.write(`<a xmlns='${NS.sm}' h='${sm.handled}'/>`);
    this.close(error);
    // Its connection dropped meanwhile: the session waited detached, and ends with the server.
    if (session?.detached) session.close(error);
  }

  /** Resolves once every element read so far is handled and the writes it started have settled. */
  private async settle(): Promise<void> {
    for (;;) {
      const pending = this.settled();
      const durable = this.session?.sm?.durable;
      await pending;
      await durable;
      const now = this.session?.sm?.durable;
      if (pending === this.settled() && (now === undefined || now === durable)) return;
    }
  }
}

/** RFC 6120 §8.1.2.1: the server stamps the full JID; a 'from' naming another entity is invalid-from. */
function stampFrom(el: Element, jid: JID): void {
  const from = el.attrs.from;
  if (from !== undefined && from !== jid.toString()) {
    const parsed = tryParseJid(from);
    if (!parsed || !(parsed.equals(jid) || parsed.equals(jid.bare))) {
      throw new StreamError("invalid-from", `'${from}' is not this session`);
    }
  }
  el.attrs.from = jid.toString();
}
