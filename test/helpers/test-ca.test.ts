// The test CA (test-ca.ts): what its certificates name, when they are valid, and that they
// chain to it (checked by Node's X509Certificate and by `openssl verify`).
import { execFileSync, spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { makeTestCa, selfSignedCert, type TestCa } from "./test-ca.ts";

const missing = spawnSync("sh", ["-c", "command -v openssl"]).status === 0 ? undefined : "openssl not found";
const x509 = (file: string) => new X509Certificate(readFileSync(file));
/** `openssl verify` of a certificate against a CA, as a TLS client would check a server's. */
const verify = (ca: string, cert: string): string => {
  const r = spawnSync("openssl", ["verify", "-CAfile", ca, "-purpose", "sslserver", cert], { encoding: "utf8" });
  return r.stdout + r.stderr;
};

describe.skipIf(missing)("the test CA", () => {
  let ca: TestCa;
  afterAll(() => ca?.remove());

  it("issues a certificate naming the domain and its services as dNSName and XmppAddr, a wildcard as dNSName only", () => {
    ca = makeTestCa();
    const c = ca.issue("prosody.test", { subdomains: ["conference", "upload"], wildcard: true });
    const cert = x509(c.cert);
    expect(cert.subject).toBe("CN=prosody.test");
    expect(cert.subjectAltName!.split(", ")).toEqual([
      "DNS:prosody.test", "DNS:conference.prosody.test", "DNS:upload.prosody.test", "DNS:*.prosody.test",
      "othername:XmppAddr:prosody.test", "othername:XmppAddr:conference.prosody.test", "othername:XmppAddr:upload.prosody.test",
    ]);
    expect(cert.checkIssued(x509(ca.cert))).toBe(true);
    expect(cert.verify(x509(ca.cert).publicKey)).toBe(true);
    expect(verify(ca.cert, c.cert)).toContain(": OK");
    // Usable by a server, and by one that connects out (s2s) as a TLS client.
    expect(execFileSync("openssl", ["x509", "-in", c.cert, "-noout", "-ext", "extendedKeyUsage"], { encoding: "utf8" }))
      .toMatch(/TLS Web Server Authentication, TLS Web Client Authentication/);
    expect(readFileSync(c.fullchain, "utf8")).toBe(readFileSync(c.cert, "utf8") + readFileSync(ca.cert, "utf8"));
    expect(readFileSync(c.combined, "utf8")).toContain("PRIVATE KEY");
    expect(c.ca).toBe(ca.cert);
  });

  it("issues expired, not yet valid, wrong-name and dNSName-only certificates", () => {
    const expired = ca.issue("prosody.test", { validity: "expired" });
    expect(x509(expired.cert).validToDate.getTime()).toBeLessThan(Date.now());
    expect(verify(ca.cert, expired.cert)).toMatch(/certificate has expired/);
    const early = ca.issue("prosody.test", { validity: "not-yet-valid" });
    expect(x509(early.cert).validFromDate.getTime()).toBeGreaterThan(Date.now());
    expect(verify(ca.cert, early.cert)).toMatch(/not yet valid/);
    const wrong = ca.issue("prosody.test", { names: ["elsewhere.test"] });
    expect(x509(wrong.cert).checkHost("prosody.test")).toBeUndefined();
    expect(x509(wrong.cert).subjectAltName).toBe("DNS:elsewhere.test, othername:XmppAddr:elsewhere.test");
    expect(x509(ca.issue("ejabberd.test", { xmppAddr: false }).cert).subjectAltName).toBe("DNS:ejabberd.test");
    expect(() => ca.issue("bad name.test")).toThrow(/not a domain name/);
  });

  it("makes a self-signed certificate, its own CA", () => {
    const s = selfSignedCert(ca.dir, "ejabberd.test", { subdomains: ["conference"] });
    expect(s.ca).toBe(s.cert);
    expect(x509(s.cert).checkHost("conference.ejabberd.test")).toBe("conference.ejabberd.test");
    expect(verify(ca.cert, s.cert)).not.toContain(": OK");
  });
});
