// The TLS material of a listener from certificates openssl makes: RSA and ECDSA keys alike, and
// the tls-server-end-point hash (RFC 5929 §4.1) by the certificate's signature algorithm.
import { execFileSync } from "node:child_process";
import { createHash, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { tlsMaterial } from "./tls.ts";

const dir = mkdtempSync(join(tmpdir(), "xmppd-tls-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A self-signed certificate for example.org with the key and digest given, PEM. */
function selfSigned(name: string, key: string[], digest: string): { cert: string; key: string } {
  execFileSync("openssl", ["req", "-x509", "-newkey", ...key, "-nodes", `-${digest}`, "-days", "1", "-subj", "/CN=example.org",
    "-keyout", join(dir, `${name}.key`), "-out", join(dir, `${name}.pem`)], { stdio: "ignore" });
  return { cert: readFileSync(join(dir, `${name}.pem`), "utf8"), key: readFileSync(join(dir, `${name}.key`), "utf8") };
}

it.each([
  ["RSA, SHA-256", ["rsa:2048"], "sha256", "sha256"],
  ["RSA, SHA-1 (raised to SHA-256)", ["rsa:2048"], "sha1", "sha256"],
  ["ECDSA P-256, SHA-256", ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"], "sha256", "sha256"],
  ["ECDSA P-384, SHA-384", ["ec", "-pkeyopt", "ec_paramgen_curve:P-384"], "sha384", "sha384"],
  ["RSA, SHA-512", ["rsa:2048"], "sha512", "sha512"],
])("takes a certificate of %s, its end point hashed accordingly", (name, key, digest, hash) => {
  const pem = selfSigned(name.replace(/\W+/g, "-"), key, digest);
  const m = tlsMaterial(pem.cert, pem.key, "cert.pem");
  expect(m.endPoint).toEqual(createHash(hash).update(new X509Certificate(pem.cert).raw).digest());
  expect(m.fingerprint).toBe(new X509Certificate(pem.cert).fingerprint256);
});
