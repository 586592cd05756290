// The finalization's CSR (RFC 2986, RFC 8555 §7.4) as openssl reads it: a valid self-signature,
// the first name as CN and every name in the subjectAltName request, for ECDSA and RSA keys.
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { makeCsr, newCertificateKey } from "./csr.ts";

describe("makeCsr", () => {
  it.each(["ec256", "rsa2048"] as const)("makes a request openssl verifies, with a %s key", (type) => {
    const long = `${"a".repeat(60)}.example.org`;
    const der = makeCsr(newCertificateKey(type), ["example.org", "conference.example.org", long]);
    const text = execFileSync("openssl", ["req", "-inform", "der", "-verify", "-noout", "-text"], { input: der, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
    expect(text).toMatch(/Subject: CN ?= ?example\.org/);
    expect(text).toContain(`DNS:example.org, DNS:conference.example.org, DNS:${long}`);
    expect(text).toContain(type === "ec256" ? "ecdsa-with-SHA256" : "sha256WithRSAEncryption");
  });

  it("leaves the CN out when the first name is longer than a CN may be (64)", () => {
    const long = `${"b".repeat(70)}.example.org`;
    const text = execFileSync("openssl", ["req", "-inform", "der", "-noout", "-text"], { input: makeCsr(newCertificateKey("ec256"), [long]), encoding: "utf8" });
    expect(text).not.toMatch(/Subject: CN/);
    expect(text).toContain(`DNS:${long}`);
  });
});
