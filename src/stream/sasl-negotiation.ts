// SASL negotiation on the stream (RFC 6120 §6): the <auth/>, <challenge/>, <response/>,
// <success/>, <failure/> and <abort/> elements around the exchange (sasl-exchange.ts), which runs
// the mechanisms in sasl/ and counts each attempt with the login throttle. The stream's SASL2
// front end (sasl2.ts, XEP-0388) shares that exchange, so both profiles share one cap on failures.
import { xml, type Element } from "../xml/element.ts";
import { NS } from "../xml/ns.ts";
import type { JID } from "../xml/jid.ts";
import type { Logger } from "../core/log.ts";
import { StreamError } from "../core/errors.ts";
import type { Transport } from "../transports/transport.ts";
import type { StreamContext } from "./context.ts";
import { decodeSaslPayload, encodeSaslPayload } from "./sasl/payload.ts";
import type { SaslFailure } from "./sasl/mechanism.ts";
import { SaslExchange, type SaslPayload, type SaslWriter } from "./sasl-exchange.ts";

export class SaslNegotiation {
  /** The stream's attempts, shared with SASL2. */
  readonly exchange: SaslExchange;
  private readonly transport: Transport;
  private readonly writer: SaslWriter;

  constructor(ctx: StreamContext, transport: Transport, domain: string, log: () => Logger) {
    this.transport = transport;
    this.exchange = new SaslExchange(ctx, transport, domain, log);
    this.writer = {
      challenge: (data) => transport.write(xml("challenge", { xmlns: NS.sasl }, encodeSaslPayload(data)).toString()),
      failure: (condition, text) => transport.write(saslFailure(NS.sasl, condition, text).toString()),
    };
  }

  features(): Element[] {
    const out = [xml("mechanisms", { xmlns: NS.sasl }, this.exchange.offered.map((m) => xml("mechanism", null, m.name)))];
    const cb = this.exchange.context.channelBinding;
    if (cb) {
      // XEP-0440: which channel-binding types this server can do, so clients pick one that works.
      out.push(xml("sasl-channel-binding", { xmlns: NS.channelBinding }, cb.types().map((type) => xml("channel-binding", { type }))));
    }
    return out;
  }

  /** Handles one SASL element; resolves to the account JID on success. */
  async handle(el: Element): Promise<JID | undefined> {
    switch (el.name) {
      case "auth": {
        const name = el.attrs.mechanism ?? "";
        const mech = this.exchange.offered.find((m) => m.name === name);
        return this.succeeded(await this.exchange.start(mech, payloadOf(el), this.writer));
      }
      case "response":
        return this.succeeded(await this.exchange.respond(payloadOf(el)));
      case "abort":
        this.exchange.abort(this.writer);
        return undefined;
      default:
        throw new StreamError("unsupported-stanza-type", el.name);
    }
  }

  private succeeded(done: Awaited<ReturnType<SaslExchange["start"]>>): JID | undefined {
    if (!done) return undefined;
    this.transport.write(xml("success", { xmlns: NS.sasl }, encodeSaslPayload(done.data)).toString());
    return done.account;
  }
}

/** RFC 6120 §6.4.2: empty text is no data, "=" is empty data. */
function payloadOf(el: Element): SaslPayload {
  const p = decodeSaslPayload(el.getText());
  return p === "absent" ? null : p;
}

/**
 * A <failure/> with its condition and optional text. SASL2's (XEP-0388 §Failure) carries the
 * RFC 6120 §6.5 condition in the RFC's namespace.
 */
export function saslFailure(ns: string, condition: SaslFailure, text?: string): Element {
  return xml("failure", { xmlns: ns }, xml(condition, ns === NS.sasl ? null : { xmlns: NS.sasl }),
    text ? xml("text", { "xml:lang": "en" }, text) : undefined);
}
