// SASL mechanisms as seen by the server (RFC 6120 §6, RFC 4422): transport-free and XML-free.
// A mechanism consumes and produces bytes; the <auth/>, <challenge/>, <response/> elements of
// RFC 6120 and the <authenticate/> of SASL2 (XEP-0388) are the caller's business, so the same
// sessions serve both, and FAST (XEP-0484) adds mechanisms without touching these. This file is
// the interface the mechanisms (plain.ts, scram.ts) implement; offer.ts picks those a stream offers.
import type { ChannelBinding } from "../../transports/transport.ts";
import type { Credentials, UnknownUsers } from "../../core/credentials.ts";

/** RFC 6120 §6.5 failure conditions. */
export type SaslFailure =
  | "aborted" | "account-disabled" | "credentials-expired" | "encryption-required"
  | "incorrect-encoding" | "invalid-authzid" | "invalid-mechanism" | "malformed-request"
  | "mechanism-too-weak" | "not-authorized" | "temporary-auth-failure";

export type SaslStep =
  | { kind: "challenge"; data: Buffer }
  /** `username` is the authcid as sent (SCRAM escapes undone), not yet normalised. */
  | { kind: "success"; data: Buffer | null; username: string }
  | { kind: "failure"; condition: SaslFailure; text?: string; verdict?: FailureVerdict };

/**
 * Why a failure happened, where the caller treats causes differently: "credentials" is a wrong
 * password or unknown user (what login throttling counts); "binding-unavailable" is a -PLUS
 * attempt with a channel-binding type this connection cannot provide (the client may then fall
 * back to plain SCRAM with the "y" flag without that being a downgrade). Others are protocol errors.
 */
export type FailureVerdict = "credentials" | "binding-unavailable";

export interface SaslContext {
  /** TLS is on. */
  secure: boolean;
  /** Undefined on plain TCP. */
  channelBinding: ChannelBinding | undefined;
  /**
   * The server's domain, against which an authzid is checked: one is accepted only when it is
   * the authcid's own bare JID. Without it, any non-empty authzid is refused.
   */
  domain?: string;
  /**
   * The client already tried a -PLUS mechanism on this stream with a binding type the server
   * could not provide. Its later "y" flag then means "I know you cannot bind the way I can",
   * not a downgrade (slixmpp 1.8 knows only tls-unique, which TLS 1.3 does not have).
   */
  bindingTypeRefused?: boolean;
  /** `username` is the authcid; the callee normalises it. */
  lookup(username: string): Promise<Credentials | undefined>;
  /** The stand-ins for users that do not exist (default: ones of this process, see credentials.ts). */
  unknown?: UnknownUsers;
  /** The tokens a client may authenticate with (FAST, XEP-0484), for the HT mechanisms (ht.ts). */
  tokens?: TokenVerifier;
}

/** Where the HT mechanisms find the token a client proves it holds. */
export interface TokenVerifier {
  /**
   * The HMAC key of `username`'s stored token for `mechanism` with which `proves` holds; "expired"
   * when one such token is no longer trusted (expired, or its account's password changed since);
   * undefined when none proves it. `username` is the authcid as sent.
   */
  verify(username: string, mechanism: string, proves: (key: Buffer) => boolean): Promise<Buffer | "expired" | undefined>;
}

export interface SaslSession {
  /** `null` = the client sent no initial response. Never throws; errors come back as failures. */
  step(response: Buffer | null): Promise<SaslStep>;
}

export interface SaslMechanism {
  readonly name: string;
  available(ctx: SaslContext): boolean;
  start(ctx: SaslContext): SaslSession;
}
