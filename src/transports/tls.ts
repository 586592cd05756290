// TLS material: certificates from the config, or a self-signed one made with node-forge at first
// start and kept in the data folder (so clients that pin it keep working across restarts).
import { createHash, X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createSecureContext, type SecureContext, type TLSSocket } from "node:tls";
import forge from "node-forge";
import { ConfigError } from "../core/schema.ts";
import { PRIVATE_DIR, PRIVATE_FILE } from "../storage/data-dir.ts";
import type { ChannelBinding } from "../stream/sasl/mechanism.ts";

export interface TlsMaterial {
  context: SecureContext;
  /** The PEM texts, for listeners that take them rather than a context (direct TLS). */
  pem: { cert: string; key: string };
  /** tls-server-end-point channel binding data (RFC 5929 §4.1): hash of our certificate. */
  endPoint: Buffer;
  certPath: string;
  /** SHA-256 of the (first) certificate, as clients show it to be accepted: "AB:CD:...". */
  fingerprint: string;
}

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
  const cert = readPem("tls.cert", certPath);
  const key = readPem("tls.key", keyPath);
  const context = createSecureContext({ cert, key, minVersion: "TLSv1.2" });
  return { context, pem: { cert, key }, endPoint: endPointHash(cert), certPath: resolve(certPath), fingerprint: new X509Certificate(cert).fingerprint256 };
}

function readPem(option: string, path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(`${option}: cannot read ${resolve(path)} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** RFC 5929 §4.1: the certificate's own signature hash, with MD5 and SHA-1 raised to SHA-256. */
function endPointHash(pem: string): Buffer {
  const x = new X509Certificate(pem);
  const alg = forge.pki.oids[forge.pki.certificateFromPem(pem).siginfo.algorithmOid] ?? "";
  const hash = /sha384/i.test(alg) ? "sha384" : /sha512/i.test(alg) ? "sha512" : "sha256";
  return createHash(hash).update(x.raw).digest();
}

/**
 * The channel bindings a TLS connection offers (RFC 9266, RFC 5929): tls-exporter on TLS 1.3,
 * tls-unique below it, and tls-server-end-point when the certificate's hash is known.
 */
export function tlsChannelBinding(s: TLSSocket, endPoint: Buffer | undefined): ChannelBinding {
  const tls13 = s.getProtocol() === "TLSv1.3";
  const types = [...(tls13 ? ["tls-exporter"] : ["tls-unique"]), ...(endPoint ? ["tls-server-end-point"] : [])];
  return {
    types: () => types,
    data: (type) => {
      if (!types.includes(type)) return undefined;
      if (type === "tls-exporter") return s.exportKeyingMaterial(32, "EXPORTER-Channel-Binding", Buffer.alloc(0));
      // tls-unique (RFC 5929 §3): the first Finished message, which a server that did not resume receives from the client.
      if (type === "tls-unique") return s.getPeerFinished() ?? undefined;
      return endPoint;
    },
  };
}
