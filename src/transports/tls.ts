// TLS material of the listeners (a secure context, the PEM texts, the certificate's names and
// fingerprint), the channel bindings a TLS connection offers, and the trust store peer servers'
// certificates are verified against (RFC 6120 §13.7.2). Which certificate a connection gets is
// certificate-store.ts's; where the certificates come from is the server's business
// (src/core/certificates/).
import { createHash, createPrivateKey, X509Certificate } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { createSecureContext, getCACertificates, type SecureContext, type TLSSocket } from "node:tls";
import { children, element, hex } from "./der.ts";
import type { ChannelBinding } from "./transport.ts";

export interface TlsMaterial {
  context: SecureContext;
  /** The PEM texts, for listeners that take them rather than a context (direct TLS). */
  pem: { cert: string; key: string };
  /** tls-server-end-point channel binding data (RFC 5929 §4.1): hash of our certificate. */
  endPoint: Buffer;
  certPath: string;
  /** SHA-256 of the (first) certificate, as clients show it to be accepted: "AB:CD:...". */
  fingerprint: string;
  /**
   * The DNS names the certificate is for, in lower case: its subjectAltName's dNSNames, wildcards
   * ("*.example.org") as they are; the subject's CN only when it has none (RFC 6125 §6.4.4).
   */
  names: string[];
  /** When it is valid, in ms since the epoch. */
  notBefore: number;
  notAfter: number;
}

/**
 * The material of a listener from a certificate (chain) and its key, both PEM. Throws a one-line
 * Error for a text that is not a certificate or a key, or a key that is not the certificate's.
 */
export function tlsMaterial(cert: string, key: string, certPath: string): TlsMaterial {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new Error("not a PEM certificate");
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new Error("not a PEM private key");
  }
  if (!x509.checkPrivateKey(privateKey)) throw new Error("the key is not the certificate's");
  const context = createSecureContext({ cert, key, minVersion: "TLSv1.2" });
  return {
    context, pem: { cert, key }, endPoint: endPointHash(x509.raw), certPath, fingerprint: x509.fingerprint256,
    names: certificateNames(x509), notBefore: Date.parse(x509.validFrom), notAfter: Date.parse(x509.validTo),
  };
}

/** A certificate's DNS names (TlsMaterial.names). */
export function certificateNames(x509: X509Certificate): string[] {
  const dns = (x509.subjectAltName ?? "").split(/,\s*/).filter((n) => n.startsWith("DNS:")).map((n) => n.slice(4).toLowerCase());
  if (dns.length > 0) return dns;
  const cn = /^CN=(.+)$/m.exec(x509.subject)?.[1];
  return cn === undefined ? [] : [cn.toLowerCase()];
}

/** Signature algorithms hashing with SHA-384 and SHA-512, by their OIDs' DER: with RSA (RFC 4055), ECDSA (RFC 5758). */
const SHA384_SIGNATURES = new Set(["2a864886f70d01010c", "2a8648ce3d040303"]);
const SHA512_SIGNATURES = new Set(["2a864886f70d01010d", "2a8648ce3d040304"]);

/**
 * RFC 5929 §4.1: the certificate's own signature hash, with MD5 and SHA-1 raised to SHA-256 (and
 * SHA-256 for signatures without one of their own, Ed25519). Read from the DER's
 * signatureAlgorithm, whatever the key (RSA, ECDSA).
 */
function endPointHash(raw: Buffer): Buffer {
  const algorithm = children(raw, element(raw, 0))[1];
  const oid = children(raw, algorithm)[0];
  const id = oid === undefined ? "" : hex(raw, oid);
  const hash = SHA384_SIGNATURES.has(id) ? "sha384" : SHA512_SIGNATURES.has(id) ? "sha512" : "sha256";
  return createHash(hash).update(raw).digest();
}

/**
 * The channel bindings a TLS connection of the accepting side offers (RFC 9266, RFC 5929):
 * tls-exporter on TLS 1.3, tls-unique below it, and tls-server-end-point: the hash of the
 * certificate this connection presented (the one chosen for its name, the one of before a reload).
 */
export function tlsChannelBinding(s: TLSSocket): ChannelBinding {
  const tls13 = s.getProtocol() === "TLSv1.3";
  const ours = s.getX509Certificate();
  const types = [...(tls13 ? ["tls-exporter"] : ["tls-unique"]), ...(ours ? ["tls-server-end-point"] : [])];
  return {
    types: () => types,
    data: (type) => {
      if (!types.includes(type)) return undefined;
      if (type === "tls-exporter") return s.exportKeyingMaterial(32, "EXPORTER-Channel-Binding", Buffer.alloc(0));
      // tls-unique (RFC 5929 §3): the first Finished message, which a server that did not resume receives from the client.
      if (type === "tls-unique") return s.getPeerFinished() ?? undefined;
      return endPointHash(ours!.raw);
    },
  };
}

/** The CAs a peer server's certificate chain must lead to. */
export interface TrustStore {
  /** PEM texts; undefined: Node's default root CAs. */
  ca: string[] | undefined;
}

/**
 * The trust store in a PEM file (one or more certificates) or a folder of .pem/.crt files; without
 * a path, the root CAs Node ships and those of the system (on Linux OpenSSL's default store,
 * /etc/ssl/certs). Throws a one-line Error for a path that holds no certificate.
 */
export function loadTrustStore(path?: string): TrustStore {
  if (path === undefined) return { ca: [...new Set([...getCACertificates("bundled"), ...getCACertificates("system")])] };
  let files: string[];
  try {
    files = statSync(path).isDirectory()
      ? readdirSync(path).filter((f) => /\.(pem|crt)$/i.test(f)).sort().map((f) => join(path, f))
      : [path];
  } catch (e) {
    throw new Error(`trust store ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const ca = files.flatMap((f) => pemCertificates(f));
  if (ca.length === 0) throw new Error(`trust store ${path}: no certificate`);
  return { ca };
}

/** The CERTIFICATE blocks of a PEM file, each checked to be one. */
function pemCertificates(file: string): string[] {
  const blocks = readFileSync(file, "utf8").match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  for (const b of blocks) {
    try {
      new X509Certificate(b);
    } catch {
      throw new Error(`trust store ${file}: a CERTIFICATE block that is not a certificate`);
    }
  }
  return blocks.map((b) => `${b}\n`);
}

/** Peer contexts by trust store, then by our material (NO_MATERIAL without one). */
const peerContexts = new WeakMap<TrustStore, WeakMap<object, SecureContext>>();
const NO_MATERIAL = {};

/**
 * The secure context of a connection to or from a peer server: our certificate and key (if any),
 * presented to the peer, and the trust store's CAs, that the peer's chain is verified against.
 * Made once per pair (a context of the system's 200-odd roots costs some 10 ms).
 */
export function peerContext(tls: TlsMaterial | undefined, trust: TrustStore): SecureContext {
  let byMaterial = peerContexts.get(trust);
  if (byMaterial === undefined) peerContexts.set(trust, (byMaterial = new WeakMap()));
  let context = byMaterial.get(tls ?? NO_MATERIAL);
  if (context === undefined) {
    context = createSecureContext({ ...(tls === undefined ? {} : tls.pem), ...(trust.ca === undefined ? {} : { ca: trust.ca }), minVersion: "TLSv1.2" });
    byMaterial.set(tls ?? NO_MATERIAL, context);
  }
  return context;
}
