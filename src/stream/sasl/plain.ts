// PLAIN (RFC 4616), server side: one message, [authzid] NUL authcid NUL passwd, each at most 255
// bytes of UTF-8. Offered only under TLS (RFC 6120 §13.8: PLAIN "MUST NOT" be used without
// confidentiality). The password is checked against the stored SCRAM keys; an unknown user pays
// for the same key derivation with fake credentials.
import { authzidAllowed, decodeText, failure } from "./common.ts";
import { PROCESS_UNKNOWN_USERS, SCRAM_HASHES, decodeCredential, verifyPassword, type Credentials } from "../../core/credentials.ts";
import type { SaslContext, SaslMechanism, SaslSession, SaslStep } from "./mechanism.ts";

const MAX_FIELD = 255;
const STRONGEST = SCRAM_HASHES.slice(0, 1);

export const PLAIN: SaslMechanism = {
  name: "PLAIN",
  available: (ctx) => ctx.secure,
  start: (ctx) => new PlainSession(ctx),
};

export interface PlainMessage {
  authzid: string;
  authcid: string;
  password: string;
}

/** Splits the PLAIN message; undefined when it does not have RFC 4616's shape. */
export function parsePlain(data: Buffer): PlainMessage | undefined {
  const text = decodeText(data, 3 * MAX_FIELD + 2);
  const parts = text?.split("\0");
  if (parts === undefined || parts.length !== 3) return undefined;
  const [authzid, authcid, password] = parts as [string, string, string];
  if (authcid === "" || password === "") return undefined;
  if ([authzid, authcid, password].some((p) => Buffer.byteLength(p, "utf8") > MAX_FIELD)) return undefined;
  return { authzid, authcid, password };
}

class PlainSession implements SaslSession {
  readonly #ctx: SaslContext;
  #state: "start" | "awaiting" | "done" = "start";

  constructor(ctx: SaslContext) {
    this.#ctx = ctx;
  }

  async step(response: Buffer | null): Promise<SaslStep> {
    const state = this.#state;
    this.#state = "done";
    if (state === "done") return failure("malformed-request", "the exchange is over");
    if (!this.#ctx.secure) return failure("encryption-required");
    if (response === null) {
      if (state === "awaiting") return failure("malformed-request", "expected the PLAIN message");
      // No initial response: an empty challenge asks for it (RFC 6120 §6.4.2).
      this.#state = "awaiting";
      return { kind: "challenge", data: Buffer.alloc(0) };
    }
    try {
      return await this.#check(response);
    } catch {
      return failure("temporary-auth-failure");
    }
  }

  async #check(response: Buffer): Promise<SaslStep> {
    const msg = parsePlain(response);
    if (msg === undefined) return failure("malformed-request");
    if (!authzidAllowed(msg.authzid, msg.authcid, this.#ctx.domain)) return failure("invalid-authzid");
    const found = await this.#ctx.lookup(msg.authcid);
    // An unknown user's stand-in has the strongest hash, the one a real account's password is checked with.
    const creds = found !== undefined && usable(found) ? found : (this.#ctx.unknown ?? PROCESS_UNKNOWN_USERS).credentials(msg.authcid, STRONGEST);
    if (!(await verifyPassword(creds, msg.password))) return failure("not-authorized", undefined, "credentials");
    return { kind: "success", data: null, username: msg.authcid };
  }
}

function usable(creds: Credentials): boolean {
  return SCRAM_HASHES.some((hash) => decodeCredential(hash, creds[hash]) !== undefined);
}
