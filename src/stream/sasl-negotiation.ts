// SASL negotiation on the stream (RFC 6120 §6): the XML side of the mechanisms in sasl/, which
// know nothing of streams (so SASL2 and FAST can drive the same mechanisms later). Each attempt
// is counted by the login throttle (login-throttle.ts) when it starts: by address at <auth/>, by
// account when the mechanism looks the user up, which may wait there for the account's turn.
import { setTimeout as sleep } from "node:timers/promises";
import { xml, type Element } from "../xml/element.ts";
import { NS } from "../xml/ns.ts";
import { type JID, jid, JidError } from "../xml/jid.ts";
import type { Logger } from "../core/log.ts";
import { StreamError } from "../core/errors.ts";
import type { Transport } from "../transports/transport.ts";
import type { StreamContext } from "./context.ts";
import { decodeSaslPayload, encodeSaslPayload } from "./sasl/payload.ts";
import type { SaslContext, SaslMechanism, SaslSession, SaslFailure } from "./sasl/mechanism.ts";
import { mechanismsFor } from "./sasl/offer.ts";
import { accountKey, addressKey } from "./login-throttle.ts";

/** RFC 6120 §6.4.5: a reasonable number of retries (at least 2, at most 5), then the stream ends. */
const MAX_CREDENTIAL_FAILURES = 5;
/** Failures of any kind (mechanism negotiation included) one stream may have. */
const MAX_FAILURES = 10;

export class SaslNegotiation {
  private readonly sasl: SaslContext;
  private readonly offered: SaslMechanism[];
  private session: SaslSession | undefined;
  private mechanism = "";
  private credentialFailures = 0;
  private failures = 0;
  /** The throttle's key of the client's address. */
  private readonly address: string;
  /** What the attempt in progress counts against: its address from <auth/>, its account once looked up. */
  private counted: { address: boolean; account: string | undefined } = { address: false, account: undefined };

  private readonly ctx: StreamContext;
  private readonly transport: Transport;
  /** The stream's logger, built on first use. */
  private readonly log: () => Logger;

  constructor(ctx: StreamContext, transport: Transport, log: () => Logger) {
    this.ctx = ctx;
    this.transport = transport;
    this.log = log;
    this.address = addressKey(transport.remoteAddress, ctx.config.auth.ipv6Prefix);
    this.sasl = {
      domain: ctx.domain.domain,
      secure: transport.secure,
      channelBinding: transport.channelBinding(),
      lookup: (username) => this.lookup(username),
      unknown: ctx.unknownUsers,
    };
    this.offered = mechanismsFor(this.sasl, ctx.config.auth.mechanisms);
  }

  features(): Element[] {
    const out = [xml("mechanisms", { xmlns: NS.sasl }, this.offered.map((m) => xml("mechanism", null, m.name)))];
    const cb = this.sasl.channelBinding;
    if (cb) {
      // XEP-0440: which channel-binding types this server can do, so clients pick one that works.
      out.push(xml("sasl-channel-binding", { xmlns: NS.channelBinding }, cb.types().map((type) => xml("channel-binding", { type }))));
    }
    return out;
  }

  /** Handles one SASL element; resolves to the account JID on success. */
  async handle(el: Element): Promise<JID | undefined> {
    switch (el.name) {
      case "auth":
        return this.auth(el);
      case "response":
        if (!this.session) throw new StreamError("not-authorized", "no SASL exchange in progress");
        return this.step(decodeSaslPayload(el.getText()));
      case "abort":
        this.session = undefined;
        this.release();
        this.fail("aborted");
        return undefined;
      default:
        throw new StreamError("unsupported-stanza-type", el.name);
    }
  }

  private async auth(el: Element): Promise<JID | undefined> {
    const name = el.attrs.mechanism ?? "";
    const mech = this.offered.find((m) => m.name === name);
    if (!mech) {
      this.fail("invalid-mechanism");
      return undefined;
    }
    // An exchange left half-way for a new one checked no password.
    this.release();
    const allowed = this.ctx.loginThrottle.begin(this.address);
    if (allowed === false || (allowed !== true && !(await allowed))) {
      this.log().warn("login throttled");
      this.fail("temporary-auth-failure", "too many failed attempts; try again later");
      return undefined;
    }
    this.counted.address = true;
    this.mechanism = name;
    this.session = mech.start(this.sasl);
    return this.step(decodeSaslPayload(el.getText()));
  }

  /** The mechanism's credentials lookup: the account's turn first (a failure there is temporary-auth-failure). */
  private async lookup(username: string) {
    const account = accountKey(username);
    if (account !== undefined && this.counted.account === undefined) {
      const wait = await this.ctx.loginThrottle.account(account);
      if (wait === undefined) throw new Error("the account's next login attempt is too far away");
      this.counted.account = account;
      if (wait > 0) await sleep(wait, undefined, { ref: false });
    }
    return this.ctx.credentials(username);
  }

  /** The attempt in progress ended without a refused password: it no longer counts. */
  private release(): void {
    const { address, account } = this.counted;
    if (address) this.ctx.loginThrottle.release(this.address);
    if (account !== undefined) this.ctx.loginThrottle.releaseAccount(account);
    this.counted = { address: false, account: undefined };
  }

  private async step(payload: Buffer | "absent" | "invalid"): Promise<JID | undefined> {
    if (payload === "invalid") {
      this.session = undefined;
      this.release();
      this.fail("incorrect-encoding");
      return undefined;
    }
    const result = await this.session!.step(payload === "absent" ? null : payload);
    if (result.kind === "challenge") {
      this.transport.write(xml("challenge", { xmlns: NS.sasl }, encodeSaslPayload(result.data)).toString());
      return undefined;
    }
    this.session = undefined;
    if (result.kind === "failure") {
      if (result.verdict === "binding-unavailable") this.sasl.bindingTypeRefused = true;
      this.authFailed(result.condition, result.text, result.verdict === "credentials");
      return undefined;
    }
    let account: JID;
    try {
      account = jid(result.username, this.ctx.domain.domain);
    } catch (e) {
      if (!(e instanceof JidError)) throw e;
      this.authFailed("not-authorized", undefined, true);
      return undefined;
    }
    this.release();
    this.transport.write(xml("success", { xmlns: NS.sasl }, encodeSaslPayload(result.data)).toString());
    if (this.ctx.telemetry !== undefined) this.ctx.telemetry.authOf(this.mechanism).success++;
    if (this.ctx.log.isLevelEnabled("info")) this.log().info({ mechanism: this.mechanism }, "sasl success");
    return account;
  }

  /** Only wrong credentials stay counted by the throttle; every failure counts toward the stream's cap. */
  private authFailed(condition: SaslFailure, text: string | undefined, credentials: boolean): void {
    if (credentials) this.counted = { address: false, account: undefined };
    else this.release();
    if (this.ctx.telemetry !== undefined) this.ctx.telemetry.authOf(this.mechanism).failure++;
    if (this.ctx.log.isLevelEnabled("info")) this.log().info({ mechanism: this.mechanism, condition, credentials }, "sasl failure");
    if (credentials && ++this.credentialFailures >= MAX_CREDENTIAL_FAILURES) {
      this.write(condition, text);
      throw new StreamError("policy-violation", "too many failed authentication attempts");
    }
    this.fail(condition, text);
  }

  /** A <failure/>, counted toward the stream's cap of failures of any kind. */
  private fail(condition: SaslFailure, text?: string): void {
    this.write(condition, text);
    if (++this.failures >= MAX_FAILURES) throw new StreamError("policy-violation", "too many failed authentication attempts");
  }

  private write(condition: SaslFailure, text?: string): void {
    this.transport.write(xml("failure", { xmlns: NS.sasl }, xml(condition),
      text ? xml("text", { "xml:lang": "en" }, text) : undefined).toString());
  }
}
