// A stream another server opened to this one (RFC 6120 §4-§9, this side the receiving entity):
//   header -> features -> (starttls -> header) -> SASL EXTERNAL -> header -> ready
//                                           \-> dialback (XEP-0220), one domain after another
// The peer proves its domain with a certificate valid for it (XEP-0178) or, where policy allows,
// with a dialback key that its domain's authoritative server confirms (the peers' verify). It may
// also ask this server to confirm a key of ours (<db:verify/>), before it authenticates anything.
// Each stanza must come from a domain the stream authenticated and go to one this server hosts.
// With XEP-0288 the stream also carries this server's stanzas back to the peer.
import { type Element, unprefixTopLevel, xml } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { tryParseJid } from "../../xml/jid.ts";
import { StanzaError, StreamError, type StanzaErrorCondition } from "../../core/errors.ts";
import { randomToken } from "../../core/ids.ts";
import type { Transport } from "../../transports/transport.ts";
import { Stream, limitsOf } from "../stream.ts";
import { certificateRequired, forServer, type S2SContext, type S2SLink } from "./context.ts";
import { DIALBACK, DIALBACK_FEATURE, dialbackElement, validKey } from "./dialback.ts";
import { checkServerHeader, domainOf, serverHeader } from "./header.ts";

/** Dialback keys one stream may present (one per domain it carries: ours and our services). */
const MAX_DIALBACKS = 16;

export const BIDI = "urn:xmpp:bidi";
export const BIDI_FEATURE = "urn:xmpp:features:bidi";

export class S2SInStream extends Stream implements S2SLink {
  private readonly ctx: S2SContext;
  /** The id of our latest header: what the peer's dialback keys are made for. */
  private streamId = "";
  /** The domain of this server the peer's header named. */
  private local = "";
  /** The peer's domain as its header named it, when it did. */
  private peer: string | undefined;
  /** Domains the peer proved, each with the domain of ours it proved it to. */
  private readonly authenticated = new Map<string, Set<string>>();
  /** SASL EXTERNAL succeeded: the stream restarted, authenticated for the header's 'from'. */
  private saslDone = false;
  /** The peer asked for XEP-0288: this stream carries our stanzas to it too. */
  private bidi = false;
  /** Stanzas handled, once the peer enabled XEP-0198 (h). */
  private handled: number | undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;
  /** Dialback keys presented on this stream so far. */
  private dialbacks = 0;

  constructor(transport: Transport, ctx: S2SContext) {
    super(transport, limitsOf(ctx.config.limits, false), ctx.log);
    this.ctx = ctx;
    ctx.open.add(this);
    // Before authentication each connection has its own allowance; after it, the peer's domain.
    this.shapeBy(ctx.shapers, `\0${this.id}`);
    this.handshakeTimer = setTimeout(() => this.close(new StreamError("connection-timeout", "no domain authenticated in time")),
      ctx.config.limits.handshakeTimeout * 1000).unref();
  }

  protected override logFields(): Record<string, string> {
    return { ...super.logFields(), s2s: "in", peer: this.peer ?? "?" };
  }

  protected header(): string {
    this.streamId = randomToken(16, "base64url");
    return serverHeader({ from: this.local || "invalid", to: this.peer, id: this.streamId });
  }

  protected opened(name: string, attrs: Record<string, string>): void {
    const to = domainOf(attrs.to);
    // The header we answer with already went: its 'from' is set from the peer's 'to' when that is known.
    checkServerHeader(name, attrs);
    if (to === undefined || !this.ctx.serves(to)) throw new StreamError("host-unknown", `this server does not serve ${attrs.to ?? "(no 'to')"}`);
    if (this.local !== "" && to !== this.local) throw new StreamError("host-unknown", "a restarted stream names the same domain");
    const from = attrs.from === undefined ? undefined : domainOf(attrs.from);
    if (attrs.from !== undefined && from === undefined) throw new StreamError("invalid-from", `'${attrs.from}' is not a domain`);
    this.local = to;
    this.peer = from ?? this.peer;
    this.relog();
    this.queue(async () => {
      if (!this.closed) this.write(xml("stream:features", null, this.features()).toString());
    });
  }

  /** Our header names the domain the peer asked for: it is written once the peer's header is read. */
  override streamStart(name: string, attrs: Record<string, string>): void {
    const to = domainOf(attrs.to);
    if (to !== undefined && this.ctx.serves(to)) this.local = to;
    const from = attrs.from === undefined ? undefined : domainOf(attrs.from);
    if (from !== undefined) this.peer = from;
    super.streamStart(name, attrs);
  }

  protected finished(): void {
    clearTimeout(this.handshakeTimer);
    this.ctx.open.delete(this);
    this.ctx.peers.detach(this);
  }

  private features(): Element[] {
    const out: Element[] = [];
    const { requireTls } = this.ctx.config.s2s;
    if (!this.secure && this.transport.canStartTls) out.push(xml("starttls", { xmlns: NS.tls }, requireTls ? xml("required") : undefined));
    if (this.saslDone) {
      out.push(xml("sm", { xmlns: NS.sm }));
      return out;
    }
    if (this.secure || !requireTls) {
      if (this.peer !== undefined && this.validCertificate(this.peer)) {
        out.push(xml("mechanisms", { xmlns: NS.sasl }, xml("mechanism", null, "EXTERNAL")));
      }
      out.push(xml("dialback", { xmlns: DIALBACK_FEATURE }, xml("errors")));
      out.push(xml("bidi", { xmlns: BIDI_FEATURE }));
      out.push(xml("sm", { xmlns: NS.sm }));
    }
    return out;
  }

  private validCertificate(domain: string): boolean {
    return this.secure && this.transport.peerIdentity?.(domain)?.valid === true;
  }

  // --- elements ----------------------------------------------------------------------------------

  protected async element(el: Element): Promise<void> {
    unprefixTopLevel(el, NS.server);
    const ns = el.attrs.xmlns;
    if (ns === undefined) return this.inbound(el);
    // RFC 6120 §4.9: the peer ends the stream with an error (a shutdown, say); its closing tag
    // follows, and ours answers it. A stream error is never answered with another.
    if (ns === NS.stream && el.name === "error") {
      this.note("info", { condition: el.children.find((c) => typeof c !== "string")?.name }, "s2s: stream error from the peer");
      return;
    }
    if (ns === NS.tls && el.name === "starttls") return this.startTls();
    if (ns === NS.sasl && el.name === "auth") return this.external(el);
    if (ns === DIALBACK && el.name === "result") return this.dialbackResult(el);
    if (ns === DIALBACK && el.name === "verify") return this.dialbackVerify(el);
    if (ns === BIDI && el.name === "bidi") {
      this.bidi = true;
      return;
    }
    if (ns === NS.sm) return this.sm(el);
    throw new StreamError("unsupported-stanza-type", `{${ns}}${el.name}`);
  }

  private async startTls(): Promise<void> {
    if (!this.transport.canStartTls || this.secure) {
      this.write(xml("failure", { xmlns: NS.tls }).toString());
      this.close();
      return;
    }
    this.write(xml("proceed", { xmlns: NS.tls }).toString());
    await this.upgrade();
  }

  /** SASL EXTERNAL (RFC 6120 §6, XEP-0178): the certificate the peer presented is valid for its domain. */
  private async external(el: Element): Promise<void> {
    const fail = (condition: string) => this.write(xml("failure", { xmlns: NS.sasl }, xml(condition)).toString());
    if (this.saslDone || el.attrs.mechanism !== "EXTERNAL" || !this.secure) return fail("invalid-mechanism");
    const text = el.getText().trim();
    const authzid = text === "" || text === "=" ? this.peer : domainOf(Buffer.from(text, "base64").toString("utf8"));
    if (authzid === undefined || (this.peer !== undefined && authzid !== this.peer)) return fail("invalid-authzid");
    const identity = this.transport.peerIdentity?.(authzid);
    if (!identity?.valid) {
      this.ctx.log.info({ peer: authzid, reason: identity?.reason }, "s2s: certificate refused for SASL EXTERNAL");
      return fail("not-authorized");
    }
    this.write(xml("success", { xmlns: NS.sasl }).toString());
    this.saslDone = true;
    this.peer = authzid;
    this.authenticate(authzid, this.local);
    this.restart(limitsOf(this.ctx.config.limits, true));
  }

  /** XEP-0220 §2.1.2: the peer claims a domain with a key; its authoritative server is asked. */
  private dialbackResult(el: Element): void {
    const from = domainOf(el.attrs.from);
    const to = domainOf(el.attrs.to);
    const key = el.getText().trim();
    const answer = (type: string, error?: Element) => {
      if (this.closed) return;
      const attrs = { from: el.attrs.to ?? this.local, to: el.attrs.from ?? "", type };
      this.write(error ? xml("db:result", attrs, error).toString() : dialbackElement("result", attrs));
    };
    if (from === undefined || key === "") return answer("error", stanzaError("bad-request"));
    // Each key makes this server connect to the domain it names: a peer gets a few, not a flood.
    if (++this.dialbacks > MAX_DIALBACKS) return answer("error", stanzaError("policy-violation"));
    if (to === undefined || !this.ctx.serves(to)) return answer("error", stanzaError("item-not-found"));
    if (this.ctx.config.s2s.requireTls && !this.secure) return answer("error", stanzaError("policy-violation"));
    if (certificateRequired(this.ctx.config.s2s, from) && !this.validCertificate(from)) {
      this.ctx.log.info({ peer: from }, "s2s: dialback refused, a valid certificate is required");
      return answer("error", stanzaError("not-authorized"));
    }
    // The key is checked with the domain's authoritative server (found through DNS), even when
    // the certificate is valid: it costs one round trip on a connection that is usually open.
    void this.ctx.peers.verify(to, from, this.streamId, key).then((valid) => {
      if (valid) {
        this.authenticate(from, to);
        answer("valid");
      } else {
        this.ctx.log.info({ peer: from }, "s2s: dialback key refused");
        answer("invalid");
        this.close(new StreamError("not-authorized", `the dialback key for ${from} was refused`));
      }
    }, () => answer("error", stanzaError("remote-server-not-found")));
  }

  /** XEP-0220 §2.2.2: another server asks whether a key is ours; answered at once, authenticated or not. */
  private dialbackVerify(el: Element): void {
    const asker = el.attrs.from ?? "";
    const ours = domainOf(el.attrs.to);
    const id = el.attrs.id ?? "";
    const attrs = { from: el.attrs.to ?? "", to: asker, id };
    if (ours === undefined || !this.ctx.serves(ours)) {
      this.write(xml("db:verify", { ...attrs, type: "error" }, stanzaError("item-not-found")).toString());
      return;
    }
    const valid = validKey(this.ctx.dialbackSecret, domainOf(asker) ?? asker, ours, id, el.getText());
    this.write(dialbackElement("verify", { ...attrs, type: valid ? "valid" : "invalid" }));
  }

  private authenticate(peer: string, local: string): void {
    let locals = this.authenticated.get(peer);
    if (!locals) this.authenticated.set(peer, (locals = new Set()));
    locals.add(local);
    clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    this.shapeBy(this.ctx.shapers, peer);
    // Past authentication a peer's stanzas may be as large as a client's.
    this.relimit(limitsOf(this.ctx.config.limits, true));
    this.note("info", { peer, local }, "s2s: peer authenticated");
    if (this.bidi) this.ctx.peers.attachBidi(local, peer, this);
  }

  // --- stanzas -----------------------------------------------------------------------------------

  private async inbound(el: Element): Promise<void> {
    if (el.name !== "message" && el.name !== "presence" && el.name !== "iq") throw new StreamError("unsupported-stanza-type", el.name);
    if (this.authenticated.size === 0) throw new StreamError("not-authorized", "no domain is authenticated on this stream");
    const from = tryParseJid(el.attrs.from ?? "");
    const to = tryParseJid(el.attrs.to ?? "");
    if (!from || !to) throw new StreamError("improper-addressing", "a stanza between servers has a 'from' and a 'to'");
    const locals = this.authenticated.get(from.domain);
    if (!locals) throw new StreamError("invalid-from", `${from.domain} is not authenticated on this stream`);
    if (!this.ctx.serves(to.domain)) throw new StreamError("host-unknown", `this server does not serve ${to.domain}`);
    await this.ctx.route(el);
    if (this.handled !== undefined) this.handled++;
  }

  private sm(el: Element): void {
    if (el.name === "enable") {
      if (this.authenticated.size === 0 || this.handled !== undefined) {
        this.write(xml("failed", { xmlns: NS.sm }, xml("unexpected-request", { xmlns: NS.stanzas })).toString());
        return;
      }
      this.handled = 0;
      this.write(xml("enabled", { xmlns: NS.sm }).toString());
    } else if (el.name === "r" && this.handled !== undefined) {
      this.write(`<a xmlns='${NS.sm}' h='${this.handled % 2 ** 32}'/>`);
    }
    // <a/> would acknowledge what we sent over XEP-0288; this side asks for none.
  }

  // --- XEP-0288: our stanzas to the peer -----------------------------------------------------------

  /** When a stanza was last written (ms since epoch): with lastActivity, what the idle check reads. */
  lastSent = 0;

  sendStanza(stanza: Element): boolean {
    this.lastSent = Date.now();
    if (this.closed) return false;
    this.write(forServer(stanza).toString());
    return true;
  }
}

/** The <error/> of a dialback answer (XEP-0220 §2.4), with RFC 6120's type for the condition. */
function stanzaError(condition: StanzaErrorCondition): Element {
  return new StanzaError(condition).toElement();
}
