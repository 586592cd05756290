// XEP-0114: Jabber Component Protocol, the accepting side (jabber:component:accept). A gateway or
// bot opens a stream to one of the domains the configuration lists (components) and proves the
// shared secret with <handshake/>: the lowercase hex SHA-1 of the stream id we sent followed by
// the secret (§3). Wrong: not-authorized; a domain connected already: conflict, or the old stream
// goes (component.onConflict). From then on the domain is the component's: the router hands it
// every stanza to the domain or a JID at it, and routes what it sends (to local accounts, other
// components, the server itself) as from its domain. There are no stream features, no TLS and no
// SASL (§3): the secret is the authentication, the listener on loopback by default.
//   header -> handshake -> ready
// Before the handshake the pre-authentication limits hold and only <handshake/> is read; after it
// the stanza size and depth limits of clients, and the component's own shapers (a gateway carries
// many users' traffic).
import { createHash, timingSafeEqual } from "node:crypto";
import { escapeXML, unprefixTopLevel, type Element } from "../xml/element.ts";
import { JidError, type JID, normalizeDomain, tryParseJid } from "../xml/jid.ts";
import { NS } from "../xml/ns.ts";
import type { ServerConfig } from "../core/config.ts";
import { StanzaError, StreamError } from "../core/errors.ts";
import { randomToken } from "../core/ids.ts";
import type { Logger } from "../core/log.ts";
import type { Router } from "../core/router.ts";
import { errorReply, readdress } from "../core/stanza.ts";
import type { Transport } from "../transports/transport.ts";
import type { ComponentLink, ExternalComponents } from "./components.ts";
import type { OpenStream } from "./context.ts";
import { Stream, limitsOf } from "./stream.ts";

/** Bytes queued for a component that does not read before its stream is closed: a gateway's many users' worth. */
const MAX_BACKLOG = 64 * 1024 * 1024;

/** What a component stream needs from the server. */
export interface ComponentContext {
  readonly config: Pick<ServerConfig, "limits" | "component">;
  readonly router: Pick<Router, "route" | "domain">;
  readonly log: Logger;
  readonly components: ExternalComponents;
  /** Streams open now, for shutdown. */
  readonly streams: Set<OpenStream>;
}

export class ComponentStream extends Stream implements ComponentLink, OpenStream {
  private state: "header" | "handshake" | "ready" = "header";
  /** The configured domain the peer's header asked for (normalised); undefined while none. */
  private domain: string | undefined = undefined;
  /** The id of our header, which the handshake hashes. */
  private streamId = "";
  private handshakeTimer: NodeJS.Timeout | undefined;
  private readonly ctx: ComponentContext;

  constructor(transport: Transport, ctx: ComponentContext) {
    super(transport, limitsOf(ctx.config.limits, false), ctx.log);
    this.ctx = ctx;
    ctx.streams.add(this);
    this.handshakeTimer = setTimeout(() => this.close(new StreamError("connection-timeout", "no handshake in time")),
      ctx.config.component.handshakeTimeout * 1000);
    this.handshakeTimer.unref();
  }

  protected override logFields(): Record<string, string> {
    const fields = super.logFields();
    if (this.domain !== undefined) fields.component = this.domain;
    return fields;
  }

  /** §3: our header names the component's domain (when it is one configured) and carries the stream id. */
  protected header(peer?: Record<string, string>): string {
    this.streamId = randomToken(16, "hex");
    this.domain = configuredDomain(peer?.to, this.ctx.components);
    const from = this.domain === undefined ? "" : ` from='${escapeXML(this.domain)}'`;
    return `<?xml version='1.0'?><stream:stream xmlns='${NS.component}' xmlns:stream='${NS.stream}' id='${this.streamId}'${from}>`;
  }

  protected opened(name: string, attrs: Record<string, string>): void {
    checkRoot(name, attrs);
    if (this.domain === undefined) {
      throw new StreamError("host-unknown", attrs.to === undefined ? "the header has no 'to'" : `no component ${attrs.to} is configured`);
    }
    this.relog();
    this.state = "handshake";
  }

  protected finished(reason: string): void {
    clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    this.ctx.streams.delete(this);
    if (this.state !== "ready") return;
    this.ctx.components.release(this.domain!, this);
    this.note("info", { reason }, "component disconnected");
  }

  protected async element(el: Element): Promise<void> {
    unprefixTopLevel(el, NS.component);
    if (this.state === "ready") return this.fromComponent(el);
    if (el.name === "handshake" && el.attrs.xmlns === undefined) return this.handshake(el);
    throw new StreamError("not-authorized", "the handshake comes first");
  }

  /** §3: SHA-1 of the stream id and the secret, in lowercase hex; compared in constant time. */
  private handshake(el: Element): void {
    const domain = this.domain!;
    const expected = Buffer.from(createHash("sha1").update(this.streamId + this.ctx.components.secret(domain)!, "utf8").digest("hex"));
    const given = Buffer.from(el.getText().trim().toLowerCase());
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new StreamError("not-authorized", "the handshake does not prove the component's secret");
    }
    this.ctx.components.attach(domain, this);
    this.state = "ready";
    clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    this.relimit(limitsOf(this.ctx.config.limits, true));
    this.shapeBy(this.ctx.components.shapers, domain);
    this.write("<handshake/>");
    this.note("info", {}, "component connected");
  }

  /** A stanza of the component: from its domain, to someone, routed as any other. */
  private async fromComponent(el: Element): Promise<void> {
    const ns = el.attrs.xmlns;
    // Some components write their stanzas in jabber:client (slixmpp's use_jc_ns): the same stanzas.
    if (ns === NS.client) delete el.attrs.xmlns;
    else if (ns !== undefined) throw new StreamError("unsupported-stanza-type", `{${ns}}${el.name}`);
    if (el.name !== "message" && el.name !== "presence" && el.name !== "iq") throw new StreamError("unsupported-stanza-type", el.name);
    this.checkFrom(el);
    if (el.attrs.to === undefined) {
      const reply = errorReply(el, new StanzaError("bad-request", "a component's stanzas need a 'to'"));
      if (reply) this.write(readdress(reply, reply.attrs.to, this.ctx.router.domain.toString()).toString());
      return;
    }
    await this.ctx.router.route(el);
  }

  /** The 'from' must be the component's domain or an address at it (any local part or resource); else invalid-from. */
  private checkFrom(el: Element): void {
    const from = el.attrs.from;
    // Without one, the stanza is the component's own. Compatibility with components that leave it
    // out, which XEP-0114 does not forbid.
    if (from === undefined) {
      el.attrs.from = this.domain!;
      return;
    }
    const jid = tryParseJid(from);
    if (!jid || jid.domain !== this.domain) throw new StreamError("invalid-from", `'${from}' is not at ${this.domain}`);
    el.attrs.from = jid.toString();
  }

  /** A stanza routed to the component's domain (ComponentLink); false when the stream is over. */
  deliver(stanza: Element, from: JID): boolean {
    if (this.closed) return false;
    // A component that stopped reading must not hold unbounded memory of ours.
    if (this.buffered > MAX_BACKLOG) {
      this.close(new StreamError("resource-constraint", "the component is not reading its stream"));
      return false;
    }
    // Stanzas of the server itself may come without a 'from'; a component is told who sent it.
    this.write((stanza.attrs.from === undefined ? readdress(stanza, stanza.attrs.to, from.toString()) : stanza).toString());
    return true;
  }

  /** The server's drain: what was read is handled, then the stream ends with `error`. */
  async shutdown(error: StreamError): Promise<void> {
    if (this.closed) return;
    this.stopReading();
    await this.settled();
    this.close(error);
  }
}

/** The configured component domain a header's 'to' names, normalised (RFC 7622); undefined for any other. */
function configuredDomain(to: string | undefined, components: ExternalComponents): string | undefined {
  if (to === undefined) return undefined;
  try {
    const domain = normalizeDomain(to);
    return components.secret(domain) === undefined ? undefined : domain;
  } catch (e) {
    if (e instanceof JidError) return undefined;
    throw e;
  }
}

/** The root is {http://etherx.jabber.org/streams}stream and the content namespace jabber:component:accept (RFC 6120 §4.9.3). */
function checkRoot(name: string, attrs: Record<string, string>): void {
  const colon = name.indexOf(":");
  const prefix = colon < 0 ? "" : name.slice(0, colon);
  const ns = prefix ? attrs[`xmlns:${prefix}`] : attrs.xmlns;
  if (ns === undefined) throw new StreamError("bad-namespace-prefix");
  if (name.slice(colon + 1) !== "stream" || ns !== NS.stream) throw new StreamError("invalid-namespace", "the root must be {http://etherx.jabber.org/streams}stream");
  if (!prefix || attrs.xmlns !== NS.component) throw new StreamError("invalid-namespace", `the content namespace must be ${NS.component}`);
}
