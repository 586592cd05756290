// SCRAM-SHA-1, SCRAM-SHA-256 and their -PLUS variants, server side (RFC 5802, RFC 7677), with
// channel binding to TLS (RFC 5929 tls-server-end-point and tls-unique, RFC 9266 tls-exporter).
// Two round trips: client-first -> server-first (challenge), client-final -> server-final (the
// additional data of success, "v=" ServerSignature). Users that do not exist walk the same path
// with stable fake credentials and fail only at the proof, like a wrong password.
import { timingSafeEqual } from "node:crypto";
import { randomToken } from "../../core/ids.ts";
import { authzidAllowed, decodeText, failure } from "./common.ts";
import { PROCESS_UNKNOWN_USERS, decodeCredential, hashSize, scramH, scramHmac, type ScramHash, type ScramKeys } from "../../core/credentials.ts";
import type { SaslContext, SaslMechanism, SaslSession, SaslStep } from "./mechanism.ts";
import { parseClientFinal, parseClientFirst, type ClientFirst } from "./scram-message.ts";

export interface ScramOptions {
  hash: ScramHash;
  plus: boolean;
  /**
   * Whether a -PLUS mechanism was offered beside this one. When it was, a client sending the "y"
   * flag was tricked into thinking the server cannot bind, and "the server MUST fail
   * authentication" (RFC 5802 §6). Defaults to whether the stream has a channel binding.
   */
  plusOffered?: boolean;
  /** For tests: the server's part of the nonce (printable ASCII without ","). */
  serverNonce?: () => string;
}

/** Bytes; real messages are well under 1 KiB. Checked before any parsing. */
const MAX_MESSAGE = 4096;
const NONCE_BYTES = 18;

/** Whether the stream offers at least one channel binding type with data. */
export function channelBindingAvailable(ctx: SaslContext): boolean {
  const cb = ctx.channelBinding;
  return cb !== undefined && cb.types().some((t) => cb.data(t) !== undefined);
}

export function scramMechanism(opts: ScramOptions): SaslMechanism {
  return {
    name: `SCRAM-${opts.hash}${opts.plus ? "-PLUS" : ""}`,
    available: (ctx) => !opts.plus || channelBindingAvailable(ctx),
    start: (ctx) => new ScramSession(ctx, opts),
  };
}

interface AwaitingFinal {
  at: "final";
  username: string;
  bare: string;
  serverFirst: string;
  nonce: string;
  /** The c= the client must send: base64 of gs2-header followed by the channel binding data. */
  channelBinding: Buffer;
  keys: ScramKeys;
  /** False when `keys` are fake: the proof then fails whatever it is. */
  known: boolean;
}

type State = { at: "start" } | { at: "first" } | AwaitingFinal | { at: "done" };

class ScramSession implements SaslSession {
  readonly #ctx: SaslContext;
  readonly #opts: ScramOptions;
  #state: State = { at: "start" };
  #busy = false;

  constructor(ctx: SaslContext, opts: ScramOptions) {
    this.#ctx = ctx;
    this.#opts = opts;
  }

  async step(response: Buffer | null): Promise<SaslStep> {
    if (this.#busy) return failure("malformed-request", "a step is already in progress");
    this.#busy = true;
    const state = this.#state;
    // Any failure ends the exchange; the steps that go on set the next state themselves.
    this.#state = { at: "done" };
    try {
      return await this.#advance(state, response);
    } catch {
      // A failing lookup (or a bug) must not take the stream down: the client may retry later.
      this.#state = { at: "done" };
      return failure("temporary-auth-failure");
    } finally {
      this.#busy = false;
    }
  }

  async #advance(state: State, response: Buffer | null): Promise<SaslStep> {
    switch (state.at) {
      case "start":
        if (response !== null) return this.#first(response);
        // No initial response: an empty challenge asks for client-first (RFC 6120 §6.4.2).
        this.#state = { at: "first" };
        return { kind: "challenge", data: Buffer.alloc(0) };
      case "first":
        return response === null ? failure("malformed-request", "expected client-first-message") : this.#first(response);
      case "final":
        return response === null ? failure("malformed-request", "expected client-final-message") : this.#final(state, response);
      case "done":
        return failure("malformed-request", "the exchange is over");
    }
  }

  async #first(response: Buffer): Promise<SaslStep> {
    const text = decodeText(response, MAX_MESSAGE);
    if (text === undefined) return failure("malformed-request", "message too long or not UTF-8");
    const msg = parseClientFirst(text);
    if ("error" in msg) return failure(msg.error, msg.text);
    const cbData = this.#bindingData(msg);
    if (!Buffer.isBuffer(cbData)) return cbData;
    if (msg.authzid !== undefined && !authzidAllowed(msg.authzid, msg.username, this.#ctx.domain)) {
      return failure("invalid-authzid");
    }
    const { hash } = this.#opts;
    const real = decodeCredential(hash, (await this.#ctx.lookup(msg.username))?.[hash]);
    const keys = real ?? (decodeCredential(hash, (this.#ctx.unknown ?? PROCESS_UNKNOWN_USERS).credentials(msg.username, [hash])[hash]) as ScramKeys);
    const nonce = msg.nonce + (this.#opts.serverNonce?.() ?? randomToken(NONCE_BYTES, "base64"));
    const serverFirst = `r=${nonce},s=${keys.salt.toString("base64")},i=${keys.iterations}`;
    this.#state = {
      at: "final", username: msg.username, bare: msg.bare, serverFirst, nonce,
      channelBinding: Buffer.concat([Buffer.from(msg.gs2Header, "utf8"), cbData]),
      keys, known: real !== undefined,
    };
    return { kind: "challenge", data: Buffer.from(serverFirst, "utf8") };
  }

  /** The channel binding data this GS2 header commits to, or the failure it deserves. */
  #bindingData(msg: ClientFirst): Buffer | SaslStep {
    const ctx = this.#ctx;
    if (this.#opts.plus) {
      if (msg.cbFlag !== "p") return failure("malformed-request", "a -PLUS mechanism needs channel binding");
      const type = msg.cbName as string;
      const data = ctx.channelBinding?.types().includes(type) ? ctx.channelBinding.data(type) : undefined;
      return data ?? failure("not-authorized", `channel binding type ${type} is not available`, "binding-unavailable");
    }
    if (msg.cbFlag === "p") return failure("malformed-request", "channel binding needs a -PLUS mechanism");
    if (msg.cbFlag === "y" && !ctx.bindingTypeRefused && (this.#opts.plusOffered ?? channelBindingAvailable(ctx))) {
      return failure("not-authorized", "channel binding downgrade detected");
    }
    return Buffer.alloc(0);
  }

  async #final(state: AwaitingFinal, response: Buffer): Promise<SaslStep> {
    const text = decodeText(response, MAX_MESSAGE);
    if (text === undefined) return failure("malformed-request", "message too long or not UTF-8");
    const msg = parseClientFinal(text);
    if ("error" in msg) return failure(msg.error, msg.text);
    if (msg.nonce !== state.nonce) return failure("malformed-request", "nonce mismatch");
    if (!sameBytes(msg.channelBinding, state.channelBinding)) return failure("not-authorized", "channel binding mismatch");
    const { hash } = this.#opts;
    if (msg.proof.length !== hashSize(hash)) return failure("malformed-request", "proof has the wrong length");
    const authMessage = `${state.bare},${state.serverFirst},${msg.withoutProof}`;
    const clientSignature = scramHmac(hash, state.keys.storedKey, authMessage);
    const clientKey = xor(msg.proof, clientSignature);
    const proven = timingSafeEqual(scramH(hash, clientKey), state.keys.storedKey);
    if (!proven || !state.known) return failure("not-authorized", undefined, "credentials");
    const serverSignature = scramHmac(hash, state.keys.serverKey, authMessage);
    return { kind: "success", data: Buffer.from(`v=${serverSignature.toString("base64")}`, "utf8"), username: state.username };
  }
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = (a[i] as number) ^ (b[i] as number);
  return out;
}
