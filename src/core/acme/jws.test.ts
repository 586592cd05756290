// The account key's JWS (RFC 8555 §6.2, RFC 7515 flattened serialization) and its JWK thumbprint
// (RFC 7638), checked against Node's own verification and an independent hash of the JWK.
import { createHash, createPublicKey, verify } from "node:crypto";
import { describe, expect, it } from "vitest";
import { AccountKey, newAccountKey } from "./jws.ts";

const decode = (part: string) => JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as Record<string, unknown>;

describe("AccountKey", () => {
  const key = new AccountKey(newAccountKey());

  it("signs with ES256 (R and S side by side) over protected.payload, the JWK in the first request, the account URL after", () => {
    const first = key.sign("https://ca.test/new-account", "nonce-1", { termsOfServiceAgreed: true }, undefined);
    expect(decode(first.protected)).toEqual({ alg: "ES256", nonce: "nonce-1", url: "https://ca.test/new-account", jwk: key.jwk });
    expect(decode(first.payload)).toEqual({ termsOfServiceAgreed: true });
    const signature = Buffer.from(first.signature, "base64url");
    expect(signature).toHaveLength(64);
    const publicKey = createPublicKey({ key: { ...key.jwk }, format: "jwk" });
    expect(verify("sha256", Buffer.from(`${first.protected}.${first.payload}`), { key: publicKey, dsaEncoding: "ieee-p1363" }, signature)).toBe(true);

    const later = key.sign("https://ca.test/order/1", "nonce-2", undefined, "https://ca.test/acct/7");
    expect(decode(later.protected)).toEqual({ alg: "ES256", nonce: "nonce-2", url: "https://ca.test/order/1", kid: "https://ca.test/acct/7" });
    // POST-as-GET (§6.3): an empty payload.
    expect(later.payload).toBe("");
  });

  it("has the RFC 7638 thumbprint: SHA-256 of crv, kty, x, y in that order without spaces", () => {
    const { x, y } = key.jwk;
    const expected = createHash("sha256").update(`{"crv":"P-256","kty":"EC","x":"${x}","y":"${y}"}`).digest("base64url");
    expect(key.thumbprint()).toBe(expected);
  });

  it("refuses a key that is not ECDSA P-256", () => {
    const rsa = "-----BEGIN PRIVATE KEY-----\n" + "x".repeat(10) + "\n-----END PRIVATE KEY-----\n";
    expect(() => new AccountKey(rsa)).toThrow();
  });
});
