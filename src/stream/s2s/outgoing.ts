// A stream this server opened to another (RFC 6120 §4-§9, this side the initiating entity):
//   header -> features -> (starttls -> header) -> SASL EXTERNAL -> header -> ready
//                                           \-> dialback <db:result/> -> ready
// It authenticates our domain to the peer with our certificate when the peer offers EXTERNAL,
// else with a dialback key (XEP-0220), and checks the peer's certificate as policy says. Before
// it is ready it already carries our <db:verify/> questions about keys the peer's servers
// presented to us. With XEP-0288 the peer may send its stanzas back on it.
import { type Element, unprefixTopLevel, xml } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { tryParseJid } from "../../xml/jid.ts";
import { StreamError } from "../../core/errors.ts";
import type { Transport } from "../../transports/transport.ts";
import { Stream, limitsOf } from "../stream.ts";
import { certificateRequired, forServer, type S2SContext, type S2SLink } from "./context.ts";
import { DIALBACK, DIALBACK_FEATURE, dialbackElement, dialbackKey } from "./dialback.ts";
import { checkServerHeader, domainOf, serverHeader } from "./header.ts";
import { BIDI, BIDI_FEATURE } from "./incoming.ts";

/** What the route that made the stream hears from it. */
export interface OutgoingEvents {
  /** Authenticated: stanzas may go. Called again with `sm` once the peer enabled XEP-0198: it acknowledges them. */
  ready(sm: boolean): void;
  /** XEP-0198 <a/>: the peer has handled `h` stanzas of this stream. */
  acked(h: number): void;
  /** The stream is over; `reason` says why when it never became ready. */
  ended(reason: string, wasReady: boolean): void;
}

type State = "header" | "features" | "tls" | "sasl" | "dialback" | "ready";

export class S2SOutStream extends Stream implements S2SLink {
  readonly local: string;
  readonly remote: string;
  private readonly ctx: S2SContext;
  private readonly events: OutgoingEvents;
  private state: State = "header";
  private streamId = "";
  private authenticatedBySasl = false;
  private bidi = false;
  private wasReady = false;
  private failure: string | undefined;
  /** db:verify questions sent, by stream id: their answers resolve them. */
  private readonly verifying = new Map<string, (valid: boolean) => void>();
  /** db:verify questions waiting for the stream to be secure. */
  private readonly verifyQueue: string[] = [];
  /** The peer may read our <db:verify/> now (TLS is up, or not required). */
  private canVerify = false;
  /** The peer's header declared the dialback namespace. */
  private headerDialback = false;
  /** The features offered XEP-0198: it is enabled once the stream is authenticated. */
  private smOffered = false;
  /** Stanzas received over XEP-0288, counted for the peer's <r/>. */
  private received = 0;

  /** TLS from the first byte (XEP-0368), not by STARTTLS. */
  readonly directTls: boolean;

  constructor(transport: Transport, ctx: S2SContext, local: string, remote: string, events: OutgoingEvents) {
    super(transport, limitsOf(ctx.config.limits, true), ctx.log, true);
    this.directTls = transport.secure;
    this.ctx = ctx;
    this.local = local;
    this.remote = remote;
    this.events = events;
    ctx.open.add(this);
    this.shapeBy(ctx.shapers, remote);
    this.openStream();
  }

  get ready(): boolean {
    return this.state === "ready" && !this.closed;
  }

  /** How our domain was authenticated to the peer, once it was. */
  get authenticatedBy(): "SASL EXTERNAL" | "dialback" | undefined {
    if (!this.wasReady) return undefined;
    return this.authenticatedBySasl ? "SASL EXTERNAL" : "dialback";
  }

  protected override logFields(): Record<string, string> {
    return { ...super.logFields(), s2s: "out", peer: this.remote };
  }

  protected header(): string {
    return serverHeader({ from: this.local, to: this.remote });
  }

  protected opened(name: string, attrs: Record<string, string>): void {
    checkServerHeader(name, attrs);
    if (attrs.id === undefined || attrs.id === "") throw new StreamError("undefined-condition", "the peer's header has no id");
    this.streamId = attrs.id;
    this.headerDialback = attrs["xmlns:db"] === DIALBACK;
    if (this.state === "header") this.state = "features";
  }

  protected finished(reason: string): void {
    this.ctx.open.delete(this);
    this.ctx.peers.detach(this);
    for (const resolve of this.verifying.values()) resolve(false);
    this.verifying.clear();
    this.events.ended(this.failure ?? reason, this.wasReady);
  }

  /** Ends the stream as a failure to set it up: what waits for it bounces with `reason`. */
  private fail(reason: string, error = new StreamError("policy-violation", reason)): void {
    this.failure ??= reason;
    this.ctx.log.info({ peer: this.remote, reason }, "s2s: outgoing stream failed");
    this.close(error);
  }

  protected async element(el: Element): Promise<void> {
    unprefixTopLevel(el, NS.server);
    const ns = el.attrs.xmlns;
    if (ns === NS.stream && el.name === "features") return this.features(el);
    if (ns === NS.stream && el.name === "error") {
      this.failure = `stream error from the peer: ${el.children.find((c) => typeof c !== "string")?.name ?? "unknown"}`;
      return;
    }
    if (ns === NS.tls) return el.name === "proceed" ? this.startTls() : this.fail("the peer refused STARTTLS");
    if (ns === NS.sasl) return this.saslAnswer(el);
    if (ns === DIALBACK && el.name === "result") return this.dialbackResult(el);
    if (ns === DIALBACK && el.name === "verify") return this.verifyAnswer(el);
    if (ns === NS.sm) return this.sm(el);
    if (ns === undefined) return this.inbound(el);
    throw new StreamError("unsupported-stanza-type", `{${ns}}${el.name}`);
  }

  private features(el: Element): void {
    const { requireTls } = this.ctx.config.s2s;
    this.smOffered = el.getChild("sm", NS.sm) !== undefined;
    if (this.state === "ready" || this.authenticatedBySasl) {
      // After SASL the stream restarted: what is offered now comes with being ready.
      this.becomeReady();
      return;
    }
    if (!this.secure && el.getChild("starttls", NS.tls) && this.ctx.tls() !== undefined) {
      this.state = "tls";
      this.write(xml("starttls", { xmlns: NS.tls }).toString());
      return;
    }
    if (!this.secure && requireTls) return this.fail(`${this.remote} offers no TLS`);
    if (this.secure) {
      const identity = this.transport.peerIdentity?.(this.remote);
      if (!identity?.valid && certificateRequired(this.ctx.config.s2s, this.remote)) {
        return this.fail(`${this.remote}'s certificate is not valid for it (${identity?.reason ?? "none"})`);
      }
    }
    this.canVerify = true;
    for (const q of this.verifyQueue.splice(0)) this.write(q);
    if (el.getChild("bidi", BIDI_FEATURE)) {
      this.write(xml("bidi", { xmlns: BIDI }).toString());
      this.bidi = true;
    }
    const mechanisms = el.getChild("mechanisms", NS.sasl)?.getChildren("mechanism").map((m) => m.getText().trim()) ?? [];
    if (this.secure && mechanisms.includes("EXTERNAL") && this.ctx.tls() !== undefined) {
      this.state = "sasl";
      this.write(xml("auth", { xmlns: NS.sasl, mechanism: "EXTERNAL" }, Buffer.from(this.local).toString("base64")).toString());
      return;
    }
    this.dialback(el);
  }

  private dialback(features: Element | undefined): void {
    // A header that declares the dialback namespace offers it too (servers from before the feature).
    if (features && !features.getChild("dialback", DIALBACK_FEATURE) && !this.headerDialback) {
      return this.fail(`${this.remote} offers neither SASL EXTERNAL nor dialback`);
    }
    this.state = "dialback";
    const key = dialbackKey(this.ctx.dialbackSecret, this.remote, this.local, this.streamId);
    this.write(dialbackElement("result", { from: this.local, to: this.remote }, key));
  }


  private async startTls(): Promise<void> {
    if (this.state !== "tls") return this.fail("unexpected <proceed/>");
    if (!(await this.upgrade())) return;
    this.state = "header";
    this.openStream();
  }

  private saslAnswer(el: Element): void {
    if (this.state !== "sasl") return this.fail("unexpected SASL answer");
    if (el.name === "success") {
      this.authenticatedBySasl = true;
      this.state = "header";
      this.restart();
      this.openStream();
      return;
    }
    // EXTERNAL refused: dialback, when the peer allows it, is the other way (XEP-0178 §3).
    this.ctx.log.info({ peer: this.remote, answer: el.children.find((c) => typeof c !== "string")?.name }, "s2s: SASL EXTERNAL refused, trying dialback");
    this.dialback(undefined);
  }

  private dialbackResult(el: Element): void {
    if (this.state !== "dialback" || domainOf(el.attrs.from) !== this.remote) return;
    const type = el.attrs.type;
    if (type === "valid") return this.becomeReady();
    const condition = el.getChild("error")?.children.find((c) => typeof c !== "string")?.name;
    this.fail(`${this.remote} refused our dialback key (${type}${condition ? `: ${condition}` : ""})`, new StreamError("not-authorized"));
  }

  /** Authenticated: XEP-0198 is asked for when offered (everything written from here on counts), and stanzas may go. */
  private becomeReady(): void {
    if (this.state === "ready" && this.wasReady) return;
    this.state = "ready";
    this.wasReady = true;
    if (this.smOffered) this.write(`<enable xmlns='${NS.sm}'/>`);
    this.note("info", { peer: this.remote, sasl: this.authenticatedBySasl }, "s2s: outgoing stream ready");
    this.events.ready(false);
  }

  // --- dialback verification of keys the peer's domain presented ---------------------------------

  /** XEP-0220 §2.2.1: asks this peer (the authoritative server of its domain) whether `key` is its own. */
  verify(streamId: string, key: string): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.verifying.get(streamId)?.(false);
      this.verifying.set(streamId, resolve);
      const q = dialbackElement("verify", { from: this.local, to: this.remote, id: streamId }, key);
      if (this.canVerify) this.write(q);
      else this.verifyQueue.push(q);
    });
  }

  private verifyAnswer(el: Element): void {
    const id = el.attrs.id ?? "";
    const resolve = this.verifying.get(id);
    if (!resolve) return;
    this.verifying.delete(id);
    resolve(el.attrs.type === "valid");
  }

  // --- stanzas -----------------------------------------------------------------------------------

  /** When a stanza was last written (ms since epoch): with lastActivity, what the idle check reads. */
  lastSent = 0;

  sendStanza(stanza: Element): boolean {
    this.lastSent = Date.now();
    if (!this.ready) return false;
    this.write(forServer(stanza).toString());
    return true;
  }

  /** XEP-0198: asks the peer how much it has handled. */
  requestAck(): void {
    if (this.ready) this.write(`<r xmlns='${NS.sm}'/>`);
  }

  private sm(el: Element): void {
    if (el.name === "enabled") {
      this.events.ready(true);
    } else if (el.name === "a") {
      const h = Number(el.attrs.h);
      if (Number.isSafeInteger(h)) this.events.acked(h);
    } else if (el.name === "r") {
      this.write(`<a xmlns='${NS.sm}' h='${this.received % 2 ** 32}'/>`);
    }
  }

  /** XEP-0288: the peer's stanzas on our stream, from its domain to one of ours. */
  private async inbound(el: Element): Promise<void> {
    if (!this.bidi || this.state !== "ready") throw new StreamError("not-authorized", "this stream carries no stanzas to this server");
    const from = tryParseJid(el.attrs.from ?? "");
    const to = tryParseJid(el.attrs.to ?? "");
    if (!from || !to) throw new StreamError("improper-addressing");
    if (from.domain !== this.remote) throw new StreamError("invalid-from", `${from.domain} is not authenticated on this stream`);
    if (!this.ctx.serves(to.domain)) throw new StreamError("host-unknown");
    await this.ctx.route(el);
    this.received++;
  }
}
