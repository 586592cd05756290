// The Hashed Token mechanisms (draft-schmaus-kitten-sasl-ht-10), server side, with SHA-256:
// HT-SHA-256-NONE, and bound to the TLS channel -EXPR (tls-exporter, RFC 9266), -UNIQ
// (tls-unique) and -ENDP (tls-server-end-point, RFC 5929). One message each way, the client's first:
//   initiator-msg = authcid NUL HMAC(token, "Initiator" || cb-data)
//   responder-msg = HMAC(token, "Responder" || cb-data)      (the success's additional data)
// The token is one FAST (XEP-0484) issued; the context's `tokens` says which stored token, if
// any, made the proof ("MUST be performed using constant-time comparison functions").
import { createHmac, timingSafeEqual } from "node:crypto";
import { decodeText, failure } from "./common.ts";
import type { SaslContext, SaslMechanism, SaslSession, SaslStep } from "./mechanism.ts";

/** The draft's channel-binding suffixes and the RFC 5929 / RFC 9266 types they name (NONE: no binding). */
export const HT_BINDINGS = {
  EXPR: "tls-exporter",
  UNIQ: "tls-unique",
  ENDP: "tls-server-end-point",
  NONE: undefined,
} as const;
export type HtSuffix = keyof typeof HT_BINDINGS;

/** "authcid = 1*SAFE ; MUST accept up to 255 octets" */
const MAX_AUTHCID = 255;
const HMAC_SIZE = 32;

/** The draft's HMAC: SHA-256, keyed with the token's UTF-8 octets (or the key they stand for). */
export function htHmac(key: Buffer | string, label: "Initiator" | "Responder", cbData: Buffer): Buffer {
  return createHmac("sha256", key).update(label).update(cbData).digest();
}

export function htMechanism(suffix: HtSuffix): SaslMechanism {
  const type = HT_BINDINGS[suffix];
  return {
    name: `HT-SHA-256-${suffix}`,
    // Only over TLS (the draft's §Applicability), and with the channel's binding when it names one.
    available: (ctx) => ctx.secure && (type === undefined || bindingData(ctx, type) !== undefined),
    start: (ctx) => new HtSession(ctx, `HT-SHA-256-${suffix}`, type),
  };
}

function bindingData(ctx: SaslContext, type: string): Buffer | undefined {
  const cb = ctx.channelBinding;
  return cb?.types().includes(type) ? cb.data(type) : undefined;
}

class HtSession implements SaslSession {
  readonly #ctx: SaslContext;
  readonly #name: string;
  readonly #type: string | undefined;
  #done = false;

  constructor(ctx: SaslContext, name: string, type: string | undefined) {
    this.#ctx = ctx;
    this.#name = name;
    this.#type = type;
  }

  async step(response: Buffer | null): Promise<SaslStep> {
    if (this.#done) return failure("malformed-request", "the exchange is over");
    this.#done = true;
    if (!this.#ctx.secure) return failure("encryption-required");
    // "HT is a client-first mechanism": there is nothing to challenge for.
    if (response === null) return failure("malformed-request", "expected the initiator message");
    const nul = response.indexOf(0);
    const authcid = nul > 0 ? decodeText(response.subarray(0, nul), MAX_AUTHCID) : undefined;
    const proof = response.subarray(nul + 1);
    if (authcid === undefined || proof.length !== HMAC_SIZE) return failure("malformed-request");
    const cbData = this.#type === undefined ? Buffer.alloc(0) : bindingData(this.#ctx, this.#type);
    if (cbData === undefined) return failure("not-authorized", `channel binding type ${this.#type} is not available`, "binding-unavailable");
    const tokens = this.#ctx.tokens;
    if (tokens === undefined) return failure("not-authorized", undefined, "credentials");
    let key: Buffer | "expired" | undefined;
    try {
      key = await tokens.verify(authcid, this.#name, (k) => timingSafeEqual(htHmac(k, "Initiator", cbData), proof));
    } catch {
      return failure("temporary-auth-failure");
    }
    // XEP-0484 §Server responsibilities: a token the server no longer trusts is credentials-expired.
    if (key === "expired") return failure("credentials-expired", "the token is no longer valid; authenticate with the password", "credentials");
    if (key === undefined) return failure("not-authorized", undefined, "credentials");
    return { kind: "success", data: htHmac(key, "Responder", cbData), username: authcid };
  }
}
