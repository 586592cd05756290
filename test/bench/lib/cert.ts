// One self-signed certificate for all three servers (openssl from Debian), so TLS costs the same
// key size everywhere: RSA 2048, SHA-256, for the domain and its MUC service.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface CertFiles { cert: string; key: string; combined: string }

export function makeCert(dir: string, domain: string): CertFiles {
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "3650",
    "-keyout", key, "-out", cert, "-subj", `/CN=${domain}`,
    "-addext", `subjectAltName=DNS:${domain},DNS:conference.${domain},DNS:*.${domain}`], { stdio: "ignore" });
  const combined = join(dir, "combined.pem");
  writeFileSync(combined, readFileSync(cert, "utf8") + readFileSync(key, "utf8"));
  return { cert, key, combined };
}
