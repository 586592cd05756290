// The identity of a peer server in its certificate (RFC 6125 §6, as RFC 6120 §13.7.2 and XEP-0178
// use it): a DNS-ID (subjectAltName dNSName, one wildcard label at most), an SRV-ID
// (id-on-dnsSRV, RFC 4985, for the service _xmpp-server), an XmppAddr (id-on-xmppAddr, RFC 6120
// §13.7.1.4), and the subject's CN only when none of those is present (RFC 6125 §6.4.4). The chain
// is the TLS socket's business: it was verified against the trust store the socket was made with.
import type { X509Certificate } from "node:crypto";
import type { TLSSocket } from "node:tls";
import { domainToASCII } from "node:url";
import { children, element, hex, type Element } from "./der.ts";

export interface PeerIdentity {
  valid: boolean;
  /** Why not: "untrusted: <OpenSSL code>", "expired", "name mismatch", "no certificate". */
  reason?: string;
}

export interface CertificateNames {
  /** subjectAltName dNSName, as presented. */
  dns: string[];
  /** subjectAltName otherName id-on-dnsSRV (1.3.6.1.5.5.7.8.7): "_service.name", as presented. */
  srv: string[];
  /** subjectAltName otherName id-on-xmppAddr (1.3.6.1.5.5.7.8.5), as presented. */
  xmppAddr: string[];
  /** The subject's commonName attributes. */
  cn: string[];
}

// DER encodings (X.690) of the object identifiers looked for, contents only.
const OID_SUBJECT_ALT_NAME = "551d11"; // 2.5.29.17
const OID_COMMON_NAME = "550403"; // 2.5.4.3
const OID_XMPP_ADDR = "2b06010505070805"; // 1.3.6.1.5.5.7.8.5
const OID_DNS_SRV = "2b06010505070807"; // 1.3.6.1.5.5.7.8.7

// DER tags.
const SEQUENCE = 0x30;
const SET = 0x31;
const OID = 0x06;
const OCTET_STRING = 0x04;
const EXPLICIT_0 = 0xa0;
const EXPLICIT_3 = 0xa3;
const DNS_NAME = 0x82; // GeneralName [2] IMPLICIT IA5String
const OTHER_NAME = 0xa0; // GeneralName [0] IMPLICIT OtherName

/** The names a certificate presents; none of a kind where its DER holds none (or is malformed). */
export function certificateNames(cert: X509Certificate): CertificateNames {
  const names: CertificateNames = { dns: [], srv: [], xmppAddr: [], cn: [] };
  const certificate = children(cert.raw, element(cert.raw, 0));
  const tbs = certificate[0]?.tag === SEQUENCE ? children(cert.raw, certificate[0]) : [];
  // TBSCertificate (RFC 5280 §4.1): [0] version, serial, signature, issuer, validity, subject, key, ..., [3] extensions.
  const fields = tbs[0]?.tag === EXPLICIT_0 ? tbs.slice(1) : tbs;
  if (fields[4]?.tag === SEQUENCE) names.cn = commonNames(cert.raw, fields[4]);
  const extensions = fields.find((f) => f.tag === EXPLICIT_3);
  if (extensions !== undefined) {
    for (const ext of children(cert.raw, children(cert.raw, extensions)[0])) {
      // Extension: extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING.
      const [id, ...rest] = children(cert.raw, ext);
      const value = rest.find((r) => r.tag === OCTET_STRING);
      if (id?.tag === OID && hex(cert.raw, id) === OID_SUBJECT_ALT_NAME && value !== undefined) {
        altNames(cert.raw.subarray(value.start, value.end), names);
      }
    }
  }
  return names;
}

/** GeneralNames (RFC 5280 §4.2.1.6): dNSName and the two otherNames of XMPP. */
function altNames(der: Buffer, names: CertificateNames): void {
  for (const name of children(der, element(der, 0))) {
    if (name.tag === DNS_NAME) names.dns.push(der.toString("latin1", name.start, name.end));
    if (name.tag !== OTHER_NAME) continue;
    const [typeId, value] = children(der, name);
    if (typeId?.tag !== OID || value?.tag !== EXPLICIT_0) continue;
    const text = children(der, value)[0];
    if (text === undefined) continue;
    const oid = hex(der, typeId);
    if (oid === OID_XMPP_ADDR) names.xmppAddr.push(der.toString("utf8", text.start, text.end));
    if (oid === OID_DNS_SRV) names.srv.push(der.toString("latin1", text.start, text.end));
  }
}

/** The commonName values of a Name: SEQUENCE OF SET OF AttributeTypeAndValue. */
function commonNames(der: Buffer, name: Element): string[] {
  const out: string[] = [];
  for (const rdn of children(der, name)) {
    if (rdn.tag !== SET) continue;
    for (const atv of children(der, rdn)) {
      const [type, value] = children(der, atv);
      if (type?.tag === OID && hex(der, type) === OID_COMMON_NAME && value !== undefined) out.push(directoryString(der, value));
    }
  }
  return out;
}

/** A DirectoryString's text: BMPString (0x1e) is UTF-16BE, UTF8String and the ASCII ones read as UTF-8. */
function directoryString(der: Buffer, e: Element): string {
  if (e.tag !== 0x1e) return der.toString("utf8", e.start, e.end);
  const be = Buffer.from(der.subarray(e.start, e.end));
  return be.swap16().toString("utf16le");
}

/** Whether the certificate names `domain` for XMPP server-to-server (RFC 6125 §6.4, §6.4.4). */
export function matchesDomain(cert: X509Certificate, domain: string): boolean {
  const reference = asciiDomain(domain);
  if (reference === undefined || reference.includes("*")) return false;
  const names = certificateNames(cert);
  if (names.dns.some((d) => dnsIdMatches(d, reference))) return true;
  if (names.srv.some((s) => srvIdMatches(s, reference))) return true;
  if (names.xmppAddr.some((x) => asciiDomain(x) === reference)) return true;
  // RFC 6125 §6.4.4: the CN only when the certificate presents none of the identifiers above.
  const typed = names.dns.length + names.srv.length + names.xmppAddr.length;
  return typed === 0 && names.cn.some((c) => dnsIdMatches(c, reference));
}

/**
 * RFC 6125 §6.4.3 as XMPP servers apply it: "*" may only be the whole left-most label, it stands
 * for exactly one label, and at least two labels follow it (no "*.com").
 */
function dnsIdMatches(presented: string, reference: string): boolean {
  if (presented.startsWith("*.")) {
    const parent = asciiDomain(presented.slice(2));
    if (parent === undefined || !parent.includes(".") || parent.includes("*")) return false;
    const dot = reference.indexOf(".");
    return dot > 0 && reference.slice(dot + 1) === parent;
  }
  return !presented.includes("*") && asciiDomain(presented) === reference;
}

/** RFC 6125 §6.4.1 / RFC 4985: "_xmpp-server." then the domain; no wildcards. */
function srvIdMatches(presented: string, reference: string): boolean {
  const dot = presented.indexOf(".");
  if (dot < 0 || presented.slice(0, dot).toLowerCase() !== "_xmpp-server") return false;
  const name = presented.slice(dot + 1);
  return !name.includes("*") && asciiDomain(name) === reference;
}

/** A domain in lower-case A-label form without a trailing dot; undefined if it is none. */
function asciiDomain(domain: string): string | undefined {
  const ascii = domainToASCII(domain.endsWith(".") ? domain.slice(0, -1) : domain);
  return ascii === "" ? undefined : ascii;
}

/**
 * The verdict on the peer of a TLS socket for `domain`: its chain as the socket verified it (a
 * server socket must have asked for the certificate, requestCert), then its names.
 */
export function peerIdentity(socket: TLSSocket, domain: string): PeerIdentity {
  const cert = socket.getPeerX509Certificate();
  if (cert === undefined) return { valid: false, reason: "no certificate" };
  if (!socket.authorized) {
    // Node types it as an Error; it is OpenSSL's code ("CERT_HAS_EXPIRED").
    const code = String(socket.authorizationError ?? "UNVERIFIED");
    return { valid: false, reason: code === "CERT_HAS_EXPIRED" ? "expired" : `untrusted: ${code}` };
  }
  return matchesDomain(cert, domain) ? { valid: true } : { valid: false, reason: "name mismatch" };
}
