// The server's certificate: the files the config names (tls.cert, tls.key), or a self-signed one
// made with node-forge at first start and kept in the data folder (so clients that pin it keep
// working across restarts), private to the server's user.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import forge from "node-forge";
import { PRIVATE_DIR, PRIVATE_FILE } from "../storage/data-dir.ts";
import { tlsMaterial, type TlsMaterial } from "../transports/tls.ts";
import { ConfigError } from "./schema.ts";

/** Makes a 2048-bit RSA self-signed certificate for the domain (and localhost), valid ten years. */
export function makeSelfSigned(domain: string): { cert: string; key: string } {
  const keys = forge.pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = "01" + forge.util.bytesToHex(forge.random.getBytesSync(15));
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 10 * 365 * 24 * 3600_000);
  const attrs = [{ name: "commonName", value: domain }, { name: "organizationName", value: "xmppd self-signed" }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  const altNames: { type: number; value?: string; ip?: string }[] = [
    { type: 2, value: domain }, { type: 2, value: `*.${domain}` },
  ];
  if (domain !== "localhost") altNames.push({ type: 2, value: "localhost" });
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

export function loadTls(opts: { cert: string | undefined; key: string | undefined; dataDir: string; domain: string }): TlsMaterial {
  let certPath: string;
  let keyPath: string;
  if (opts.cert && opts.key) {
    certPath = opts.cert;
    keyPath = opts.key;
  } else {
    const dir = join(opts.dataDir, "certs");
    certPath = join(dir, `${opts.domain}.crt`);
    keyPath = join(dir, `${opts.domain}.key`);
    if (!existsSync(certPath) || !existsSync(keyPath)) {
      mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR });
      const made = makeSelfSigned(opts.domain);
      writeFileSync(keyPath, made.key, { mode: PRIVATE_FILE });
      writeFileSync(certPath, made.cert, { mode: PRIVATE_FILE });
    }
  }
  return tlsMaterial(readPem("tls.cert", certPath), readPem("tls.key", keyPath), resolve(certPath));
}

function readPem(option: string, path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(`${option}: cannot read ${resolve(path)} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}
