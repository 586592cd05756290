// The certificate of a server that has none of its own (no tls.cert, no certificate in
// tls.directory, none from ACME yet): a self-signed one made with node-forge at first start and
// kept in the data folder (so clients that pin it keep working across restarts), private to the
// server's user.
import { X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import forge from "node-forge";
import { PRIVATE_DIR, PRIVATE_FILE } from "../../storage/data-dir.ts";

/**
 * Makes a 2048-bit RSA self-signed certificate for the domain, each further hosted domain
 * (`hosts`) and their subdomains (the services'), and localhost, valid ten years.
 */
export function makeSelfSigned(domain: string, hosts: readonly string[] = []): { cert: string; key: string } {
  const keys = forge.pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = "01" + forge.util.bytesToHex(forge.random.getBytesSync(15));
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 10 * 365 * 24 * 3600_000);
  const attrs = [{ name: "commonName", value: domain }, { name: "organizationName", value: "xmppd self-signed" }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  const altNames: { type: number; value?: string; ip?: string }[] = [];
  for (const d of new Set([domain, ...hosts])) altNames.push({ type: 2, value: d }, { type: 2, value: `*.${d}` });
  if (!hosts.includes("localhost") && domain !== "localhost") altNames.push({ type: 2, value: "localhost" });
  altNames.push({ type: 7, ip: "127.0.0.1" });
  cert.setExtensions([
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
    { name: "extKeyUsage", serverAuth: true, clientAuth: true },
    { name: "subjectAltName", altNames },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: forge.pki.privateKeyToPem(keys.privateKey) };
}

/**
 * The self-signed certificate and key kept in dataDir/certs, made there (private to the server's
 * user) when missing and `create` says so; undefined when missing and not to be made. One made
 * before a hosted domain of `hosts` was added, which does not cover it, is made again.
 */
export function selfSignedFiles(dataDir: string, domain: string, create: boolean, hosts: readonly string[] = []): { cert: string; key: string } | undefined {
  const dir = join(dataDir, "certs");
  const cert = join(dir, `${domain}.crt`);
  const key = join(dir, `${domain}.key`);
  if (!existsSync(cert) || !existsSync(key) || (create && !coversAll(cert, hosts))) {
    if (!create) return undefined;
    mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR });
    const made = makeSelfSigned(domain, hosts);
    writeFileSync(key, made.key, { mode: PRIVATE_FILE });
    writeFileSync(cert, made.cert, { mode: PRIVATE_FILE });
  }
  return { cert: resolve(cert), key: resolve(key) };
}

/** Whether the certificate in `file` names each of `hosts` (as made above: the name itself). */
function coversAll(file: string, hosts: readonly string[]): boolean {
  if (hosts.length === 0) return true;
  try {
    const names = new X509Certificate(readFileSync(file)).subjectAltName ?? "";
    const listed = new Set(names.split(", ").map((n) => n.replace(/^DNS:/, "")));
    return hosts.every((h) => listed.has(h));
  } catch {
    return false;
  }
}
