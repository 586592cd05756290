// One stream's SASL attempts, whichever profile's elements carry them: RFC 6120 §6's <auth/>
// (sasl-negotiation.ts) or XEP-0388's <authenticate/> (sasl2.ts). The mechanisms (sasl/) know
// nothing of XML; this runs them, counts each attempt with the login throttle (login-throttle.ts)
// when it starts (by address at the start, by account when the mechanism looks the user up, which
// may wait there for the account's turn), and caps the failures one stream may have. What an
// element looks like is the profile's: it hands in a writer for challenges and failures.
import { setTimeout as sleep } from "node:timers/promises";
import { type JID, jid, JidError } from "../xml/jid.ts";
import type { Logger } from "../core/log.ts";
import { StreamError } from "../core/errors.ts";
import type { Credentials } from "../core/credentials.ts";
import type { Transport } from "../transports/transport.ts";
import type { StreamContext } from "./context.ts";
import type { SaslContext, SaslFailure, SaslMechanism, SaslSession } from "./sasl/mechanism.ts";
import { mechanismsFor } from "./sasl/offer.ts";
import { accountKey, addressKey } from "./login-throttle.ts";

/** RFC 6120 §6.4.5: a reasonable number of retries (at least 2, at most 5), then the stream ends. */
const MAX_CREDENTIAL_FAILURES = 5;
/** Failures of any kind (mechanism negotiation included) one stream may have. */
const MAX_FAILURES = 10;

/** How a profile writes what the exchange says to the client. */
export interface SaslWriter {
  challenge(data: Buffer): void;
  failure(condition: SaslFailure, text?: string): void;
}

/** An attempt that succeeded: the account, the mechanism's additional data, the mechanism's name. */
export interface SaslSuccess {
  account: JID;
  data: Buffer | null;
  mechanism: string;
}

/** A payload as the profile decoded it: data, none (no initial response), or not base64. */
export type SaslPayload = Buffer | null | "invalid";

export class SaslExchange {
  /** The connection's properties and the throttled credentials lookup, for every mechanism. */
  readonly context: SaslContext;
  /** The password mechanisms this stream offers (RFC 6120 §6.3.3 order). */
  readonly offered: SaslMechanism[];
  private session: SaslSession | undefined;
  private writer: SaslWriter | undefined;
  private mechanism = "";
  private credentialFailures = 0;
  private failures = 0;
  /** The throttle's key of the client's address. */
  private readonly address: string;
  /** What the attempt in progress counts against: its address from the start, its account once looked up. */
  private counted: { address: boolean; account: string | undefined } = { address: false, account: undefined };
  private readonly ctx: StreamContext;
  /** The stream's logger, built on first use. */
  private readonly log: () => Logger;

  /** The hosted domain the stream is to: the accounts looked up and authenticated are its. */
  readonly domain: string;

  constructor(ctx: StreamContext, transport: Transport, domain: string, log: () => Logger) {
    this.ctx = ctx;
    this.domain = domain;
    this.log = log;
    this.address = addressKey(transport.remoteAddress, ctx.config.auth.ipv6Prefix);
    this.context = {
      domain,
      secure: transport.secure,
      channelBinding: transport.channelBinding(),
      lookup: (username) => this.lookup(username),
      unknown: ctx.unknownUsers,
    };
    this.offered = mechanismsFor(this.context, ctx.config.auth.mechanisms);
  }

  /** An exchange waits for the client's response. */
  get inProgress(): boolean {
    return this.session !== undefined;
  }

  /**
   * Starts an attempt with `mech` (undefined: the client named one that is not offered) and its
   * initial response; `extra` adds to the mechanism's context (FAST's token verifier). Resolves
   * to the account once the mechanism succeeds.
   */
  async start(mech: SaslMechanism | undefined, payload: SaslPayload, writer: SaslWriter, extra?: Partial<SaslContext>): Promise<SaslSuccess | undefined> {
    this.writer = writer;
    if (!mech) {
      this.fail("invalid-mechanism");
      return undefined;
    }
    // An exchange left half-way for a new one checked no password.
    this.session = undefined;
    this.release();
    const allowed = this.ctx.loginThrottle.begin(this.address);
    if (allowed === false || (allowed !== true && !(await allowed))) {
      this.log().warn("login throttled");
      this.fail("temporary-auth-failure", "too many failed attempts; try again later");
      return undefined;
    }
    this.counted.address = true;
    this.mechanism = mech.name;
    this.session = mech.start(extra ? { ...this.context, ...extra } : this.context);
    return this.step(payload);
  }

  /** The client's response to a challenge. */
  respond(payload: SaslPayload): Promise<SaslSuccess | undefined> {
    if (!this.session) throw new StreamError("not-authorized", "no SASL exchange in progress");
    return this.step(payload);
  }

  /** The client gave up the exchange (RFC 6120 §6.4.4, XEP-0388 §Aborting). */
  abort(writer: SaslWriter): void {
    this.writer = writer;
    this.session = undefined;
    this.release();
    this.fail("aborted");
  }

  /** A failure decided before any mechanism ran (a request the profile refuses), counted toward the stream's cap. */
  refuse(writer: SaslWriter, condition: SaslFailure, text?: string): void {
    this.writer = writer;
    this.fail(condition, text);
  }

  /** The mechanism's credentials lookup: the account's turn first (a failure there is temporary-auth-failure). */
  private async lookup(username: string): Promise<Credentials | undefined> {
    const account = accountKey(username, this.domain);
    if (account !== undefined && this.counted.account === undefined) {
      const wait = await this.ctx.loginThrottle.account(account);
      if (wait === undefined) throw new Error("the account's next login attempt is too far away");
      this.counted.account = account;
      if (wait > 0) await sleep(wait, undefined, { ref: false });
    }
    return this.ctx.credentials(username, this.domain);
  }

  /** The attempt in progress ended without a refused password: it no longer counts. */
  private release(): void {
    const { address, account } = this.counted;
    if (address) this.ctx.loginThrottle.release(this.address);
    if (account !== undefined) this.ctx.loginThrottle.releaseAccount(account);
    this.counted = { address: false, account: undefined };
  }

  private async step(payload: SaslPayload): Promise<SaslSuccess | undefined> {
    if (payload === "invalid") {
      this.session = undefined;
      this.release();
      this.fail("incorrect-encoding");
      return undefined;
    }
    const result = await this.session!.step(payload);
    if (result.kind === "challenge") {
      this.writer!.challenge(result.data);
      return undefined;
    }
    this.session = undefined;
    if (result.kind === "failure") {
      if (result.verdict === "binding-unavailable") this.context.bindingTypeRefused = true;
      this.authFailed(result.condition, result.text, result.verdict === "credentials");
      return undefined;
    }
    let account: JID;
    try {
      account = jid(result.username, this.domain);
    } catch (e) {
      if (!(e instanceof JidError)) throw e;
      this.authFailed("not-authorized", undefined, true);
      return undefined;
    }
    this.release();
    if (this.ctx.telemetry !== undefined) this.ctx.telemetry.authOf(this.mechanism).success++;
    if (this.ctx.log.isLevelEnabled("info")) this.log().info({ mechanism: this.mechanism }, "sasl success");
    return { account, data: result.data, mechanism: this.mechanism };
  }

  /** Only wrong credentials stay counted by the throttle; every failure counts toward the stream's cap. */
  private authFailed(condition: SaslFailure, text: string | undefined, credentials: boolean): void {
    if (credentials) this.counted = { address: false, account: undefined };
    else this.release();
    if (this.ctx.telemetry !== undefined) this.ctx.telemetry.authOf(this.mechanism).failure++;
    if (this.ctx.log.isLevelEnabled("info")) this.log().info({ mechanism: this.mechanism, condition, credentials }, "sasl failure");
    if (credentials && ++this.credentialFailures >= MAX_CREDENTIAL_FAILURES) {
      this.writer!.failure(condition, text);
      throw new StreamError("policy-violation", "too many failed authentication attempts");
    }
    this.fail(condition, text);
  }

  /** A failure, counted toward the stream's cap of failures of any kind. */
  private fail(condition: SaslFailure, text?: string): void {
    this.writer!.failure(condition, text);
    if (++this.failures >= MAX_FAILURES) throw new StreamError("policy-violation", "too many failed authentication attempts");
  }
}
