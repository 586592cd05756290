// The account key's signatures on ACME requests (RFC 8555 §6.2): JWS in the flattened JSON
// serialization (RFC 7515 §7.2.2) with ES256, ECDSA P-256 and SHA-256 (RFC 7518 §3.4, whose
// signature is R and S side by side, not DER), the key as a JWK (RFC 7517) in the first request
// and the account URL ("kid") after; the JWK thumbprint (RFC 7638) of the key authorizations.
import { createHash, createPrivateKey, generateKeyPairSync, sign, type KeyObject } from "node:crypto";

export interface Jws { protected: string; payload: string; signature: string }

/** The public part of a P-256 key as RFC 7518 §6.2.1 has it. */
export interface EcJwk { kty: "EC"; crv: "P-256"; x: string; y: string }

export function b64u(data: Buffer | string): string {
  return Buffer.from(data).toString("base64url");
}

/** A new account key, PEM (PKCS #8). */
export function newAccountKey(): string {
  return generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }) as string;
}

export class AccountKey {
  readonly key: KeyObject;
  readonly jwk: EcJwk;

  /** From its PEM; throws for a key that is not ECDSA P-256. */
  constructor(pem: string) {
    this.key = createPrivateKey(pem);
    const jwk = this.key.export({ format: "jwk" });
    if (jwk.kty !== "EC" || jwk.crv !== "P-256" || jwk.x === undefined || jwk.y === undefined) throw new Error("the ACME account key is not an ECDSA P-256 key");
    this.jwk = { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y };
  }

  /** RFC 7638 §3: SHA-256 of the required members in lexicographic order, no white space. */
  thumbprint(): string {
    const { crv, kty, x, y } = this.jwk;
    return b64u(createHash("sha256").update(JSON.stringify({ crv, kty, x, y })).digest());
  }

  /**
   * A request's JWS: `payload` undefined is POST-as-GET (§6.3, an empty payload); `kid` the
   * account URL, or undefined for the requests that carry the key itself (newAccount).
   */
  sign(url: string, nonce: string, payload: unknown, kid: string | undefined): Jws {
    const header = { alg: "ES256", nonce, url, ...(kid === undefined ? { jwk: this.jwk } : { kid }) };
    const protectedPart = b64u(JSON.stringify(header));
    const payloadPart = payload === undefined ? "" : b64u(JSON.stringify(payload));
    const signature = sign("sha256", Buffer.from(`${protectedPart}.${payloadPart}`), { key: this.key, dsaEncoding: "ieee-p1363" });
    return { protected: protectedPart, payload: payloadPart, signature: b64u(signature) };
  }
}
