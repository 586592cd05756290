// TLS material of the listeners (a secure context, the PEM texts, the certificate's fingerprint)
// and the channel bindings a TLS connection offers. Where the certificate comes from is the
// server's business (src/core/certificates.ts).
import { createHash, X509Certificate } from "node:crypto";
import { createSecureContext, type SecureContext, type TLSSocket } from "node:tls";
import forge from "node-forge";
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
}

/** The material of a listener from a certificate (chain) and its key, both PEM. */
export function tlsMaterial(cert: string, key: string, certPath: string): TlsMaterial {
  const context = createSecureContext({ cert, key, minVersion: "TLSv1.2" });
  return { context, pem: { cert, key }, endPoint: endPointHash(cert), certPath, fingerprint: new X509Certificate(cert).fingerprint256 };
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
