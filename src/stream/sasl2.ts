// SASL2 (XEP-0388): the <authentication/> feature, <authenticate/> with its <initial-response/>,
// <user-agent/> and inline requests, <challenge/>/<response/>, <abort/>, and <success/> or
// <failure/>. Offered over TLS only ("SASL2 MUST only be ... offered by Servers after TLS
// negotiation"). The exchange (mechanisms, login throttle, the stream's caps on failures) is the
// one RFC 6120's front end uses (sasl-exchange.ts). No stream restart: once the mechanism
// succeeds the inline requests run, in the XEPs' order:
//   1. FAST (XEP-0484, fast.ts): invalidation, then a <token/> asked for or due for rotation;
//   2. XEP-0198 <resume/>: resumed, the <success/> carries <resumed/> and the stanzas the client
//      had not acknowledged follow it, no features; failed, the <failed/> goes in the <success/>
//      and binding goes on (XEP-0198 §SASL2 and BIND2 interaction);
//   3. Bind 2 (XEP-0386, bind2.ts): a session bound, XEP-0198 enabled inside <bound/> with what
//      modules say of the account (the archive's <metadata/>), the modules' inline features
//      (carbons, CSI) on before anything is routed to the session.
// Then <success/> (the authorization identifier a full JID once bound or resumed) and the features
// of the authenticated stream. No tasks (<continue/>): none is required.
import { xml, type Element } from "../xml/element.ts";
import { NS } from "../xml/ns.ts";
import type { JID } from "../xml/jid.ts";
import { StreamError } from "../core/errors.ts";
import { decodeBase64 } from "./sasl/common.ts";
import type { SaslMechanism } from "./sasl/mechanism.ts";
import type { ClientSession } from "./client-session.ts";
import type { StreamContext } from "./context.ts";
import { authenticatedFeatures, boundFeatures, featuresElement } from "./features.ts";
import { bind2Feature, bind2Jid, enableInline } from "./bind2.ts";
import { FastAttempt, fastFeature, fastMechanisms, parseFastLogin, type FastLogin } from "./fast.ts";
import { SaslExchange, type SaslPayload, type SaslSuccess, type SaslWriter } from "./sasl-exchange.ts";
import { saslFailure } from "./sasl-negotiation.ts";
import { enabling, resume, type SmStream } from "./sm-negotiation.ts";

/** What SASL2 needs of the stream beyond stream management's. */
export interface Sasl2Stream extends SmStream {
  readonly closed: boolean;
  /** Authenticated as `account` from now on, without a stream restart. */
  authenticatedInline(account: JID): void;
  /** A session of `jid` carried by this stream, not registered yet. */
  openSession(jid: JID): ClientSession;
  /** Registers the session (it replaces one with its full JID); `inline` runs before the modules are told it is bound. */
  registerSession(session: ClientSession, inline: () => void): void;
}

/** An <authenticate/> as a record. */
export interface AuthenticateRequest {
  mechanism: string;
  initial: SaslPayload;
  /** The <user-agent/>'s id: the client installation. */
  userAgent: string | undefined;
  bind: Element | undefined;
  resume: Element | undefined;
  fast: FastLogin | undefined;
  /** The mechanism of a <request-token/>. */
  requestToken: string | undefined;
}

/** A user-agent id longer than this is ignored (it "MUST be a UUID v4": 36 characters). */
const MAX_USER_AGENT_ID = 128;

/** XEP-0388 §SASL Data Encoding: base64, "SHOULD NOT include any line wrapping or other whitespace" (tolerated). */
export function decodeSasl2Payload(text: string): Buffer | "invalid" {
  return decodeBase64(text.replace(/[ \t\r\n]+/g, "")) ?? "invalid";
}

/** Reads an <authenticate/>; a string says what is malformed. */
export function parseAuthenticate(el: Element): AuthenticateRequest | string {
  const mechanism = el.attrs.mechanism;
  if (!mechanism) return "no mechanism";
  const ir = el.getChild("initial-response", NS.sasl2);
  const id = el.getChild("user-agent", NS.sasl2)?.attrs.id;
  const fastEl = el.getChild("fast", NS.fast);
  const fast = fastEl ? parseFastLogin(fastEl) : undefined;
  if (fastEl && !fast) return "the FAST count is not a positive integer";
  return {
    mechanism,
    initial: ir ? decodeSasl2Payload(ir.getText()) : null,
    userAgent: id && id.length <= MAX_USER_AGENT_ID ? id : undefined,
    bind: el.getChild("bind", NS.bind2),
    resume: el.getChild("resume", NS.sm),
    fast,
    requestToken: el.getChild("request-token", NS.fast)?.attrs.mechanism,
  };
}

export class Sasl2Negotiation {
  private readonly ctx: StreamContext;
  private readonly stream: Sasl2Stream;
  private readonly exchange: SaslExchange;
  /** SASL2 is offered on this stream (TLS, the config, a mechanism). */
  private readonly offered: boolean;
  /** The HT mechanisms of FAST this connection can do; none with FAST off. */
  private readonly fastOffered: SaslMechanism[];
  /** The <authenticate/> whose exchange is running. */
  private request: AuthenticateRequest | undefined = undefined;
  private fast: FastAttempt | undefined = undefined;
  private readonly writer: SaslWriter;

  constructor(ctx: StreamContext, stream: Sasl2Stream, exchange: SaslExchange) {
    this.ctx = ctx;
    this.stream = stream;
    this.exchange = exchange;
    this.offered = ctx.config.auth.sasl2 && exchange.context.secure && exchange.offered.length > 0;
    this.fastOffered = this.offered && ctx.fastTokens ? fastMechanisms(exchange.context) : [];
    this.writer = {
      challenge: (data) => stream.write(xml("challenge", { xmlns: NS.sasl2 }, data.toString("base64")).toString()),
      failure: (condition, text) => stream.write(saslFailure(NS.sasl2, condition, text).toString()),
    };
  }

  features(): Element[] {
    if (!this.offered) return [];
    const inline = [bind2Feature(this.ctx), xml("sm", { xmlns: NS.sm })];
    if (this.fastOffered.length > 0) inline.push(fastFeature(this.fastOffered));
    return [xml("authentication", { xmlns: NS.sasl2 },
      this.exchange.offered.map((m) => xml("mechanism", null, m.name)), xml("inline", null, inline))];
  }

  /** A SASL2 exchange waits for the client's <response/>: nothing else may come (§During Authentication). */
  get inProgress(): boolean {
    return this.request !== undefined && this.exchange.inProgress;
  }

  async handle(el: Element): Promise<void> {
    switch (el.name) {
      case "authenticate":
        return this.authenticate(el);
      case "response": {
        const req = this.request;
        if (!req || !this.exchange.inProgress) throw new StreamError("not-authorized", "no SASL2 exchange in progress");
        const done = await this.exchange.respond(decodeSasl2Payload(el.getText()));
        return done ? this.succeed(done, req) : undefined;
      }
      case "abort":
        this.request = undefined;
        return this.exchange.abort(this.writer);
      default:
        throw new StreamError("unsupported-stanza-type", `{${NS.sasl2}}${el.name}`);
    }
  }

  private async authenticate(el: Element): Promise<void> {
    if (!this.offered) return this.exchange.refuse(this.writer, this.exchange.context.secure ? "invalid-mechanism" : "encryption-required");
    const req = parseAuthenticate(el);
    if (typeof req === "string") return this.exchange.refuse(this.writer, "malformed-request", req);
    const ht = this.fastOffered.find((m) => m.name === req.mechanism);
    if (ht && !req.fast) return this.exchange.refuse(this.writer, "malformed-request", "a FAST login carries <fast xmlns='urn:xmpp:fast:0'/>");
    const mech = ht ?? this.exchange.offered.find((m) => m.name === req.mechanism);
    this.request = req;
    this.fast = this.ctx.fastTokens ? new FastAttempt(this.ctx.fastTokens, this.exchange.domain, req.userAgent) : undefined;
    const extra = ht && this.fast ? { tokens: this.fast.verifier(this.exchange.context.lookup, req.fast!) } : undefined;
    const done = await this.exchange.start(mech, req.initial, this.writer, extra);
    if (done) await this.succeed(done, req);
  }

  private async succeed(done: SaslSuccess, req: AuthenticateRequest): Promise<void> {
    this.request = undefined;
    const { ctx, stream } = this;
    const { account } = done;
    stream.authenticatedInline(account);
    const data = done.data ? xml("additional-data", null, done.data.toString("base64")) : undefined;
    const children: Element[] = [];
    const requested = this.fastOffered.some((m) => m.name === req.requestToken) ? req.requestToken : undefined;
    const token = await this.token(account, req, requested, done.mechanism);
    if (token) children.push(token);
    if (stream.closed) return;
    if (req.resume) {
      let failed: Element | undefined;
      const resumed = await resume(stream, req.resume, ctx, {
        resumed: (el, session) => stream.write(success(session.jid, data, [...children, el])),
        failed: (el) => void (failed = el),
      });
      if (resumed || stream.closed) return;
      if (failed) children.push(failed);
    }
    if (req.bind && (await this.bind(account, req.bind, req.userAgent, data, children))) return;
    const features = await authenticatedFeatures(ctx, account);
    if (!stream.closed) stream.write(success(account, data, children) + featuresElement(features));
  }

  /** FAST's part of the <success/>; a store that fails costs the client its new token, not its login. */
  private async token(account: JID, req: AuthenticateRequest, requested: string | undefined, mechanism: string): Promise<Element | undefined> {
    try {
      return await this.fast?.afterSuccess(account, req.fast, requested, mechanism, () => this.ctx.credentials(account.local, account.domain));
    } catch (err) {
      this.ctx.log.error({ err, user: account.toString() }, "FAST token not stored");
      return undefined;
    }
  }

  /** Bind 2; false when no resource could be bound (the client may still bind the RFC 6120 way). */
  private async bind(account: JID, bind: Element, userAgent: string | undefined, data: Element | undefined, children: Element[]): Promise<boolean> {
    const { ctx, stream } = this;
    const smEnable = bind.getChild("enable", NS.sm);
    const [features, { bound: about }] = await Promise.all([
      boundFeatures(ctx, account, smEnable !== undefined),
      ctx.events.fold("stream/bound", { account, bound: [] }),
    ]);
    if (stream.closed) return true;
    const jid = bind2Jid(ctx, account, bind, userAgent);
    if (!jid) return false;
    // From here to the modules' inline features nothing waits: no stanza can reach the session
    // before the client has its <success/>, nor before carbons or CSI are on.
    const session = stream.openSession(jid);
    const bound = smEnable ? [enabling(session, smEnable), ...about] : about;
    stream.write(success(jid, data, [...children, xml("bound", { xmlns: NS.bind2 }, bound)]) + featuresElement(features));
    stream.registerSession(session, () => enableInline(ctx, session, bind));
    return true;
  }
}

/** XEP-0388 §Success: the mechanism's additional data, the authorization identifier, the inline results. */
function success(jid: JID, data: Element | undefined, children: Element[]): string {
  return xml("success", { xmlns: NS.sasl2 }, data, xml("authorization-identifier", null, jid.toString()), children).toString();
}
