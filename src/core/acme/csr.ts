// The certificate signing request of an order's finalization (RFC 8555 §7.4: PKCS #10, RFC 2986)
// for a new key: the names in a subjectAltName extension request (RFC 5280 §4.2.1.6), the first
// one as the subject's CN too. Written in DER (X.690) here, as Node's crypto makes keys and
// signatures but no requests; ECDSA P-256 or RSA keys alike.
import { createPublicKey, generateKeyPairSync, sign, type KeyObject } from "node:crypto";

export type KeyType = "ec256" | "rsa2048";

/** A new private key for a certificate. */
export function newCertificateKey(type: KeyType): KeyObject {
  return type === "ec256"
    ? generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey
    : generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
}

/** A DER element: tag, definite length (X.690 §8.1.3), contents. */
function tlv(tag: number, ...contents: Buffer[]): Buffer {
  const body = Buffer.concat(contents);
  const n = body.length;
  const length = n < 0x80 ? Buffer.from([n])
    : n < 0x100 ? Buffer.from([0x81, n])
    : n < 0x10000 ? Buffer.from([0x82, n >> 8, n & 0xff])
    : Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, body]);
}

const seq = (...c: Buffer[]) => tlv(0x30, ...c);
const set = (...c: Buffer[]) => tlv(0x31, ...c);

/** An object identifier from its dotted form (X.690 §8.19). */
function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split(".").map(Number) as [number, number, ...number[]];
  const bytes = [a * 40 + b];
  for (const n of rest) {
    const sevens = [n & 0x7f];
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) sevens.unshift((v & 0x7f) | 0x80);
    bytes.push(...sevens);
  }
  return tlv(0x06, Buffer.from(bytes));
}

const OID = {
  commonName: "2.5.4.3",
  extensionRequest: "1.2.840.113549.1.9.14",
  subjectAltName: "2.5.29.17",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  sha256WithRsa: "1.2.840.113549.1.1.11",
};

/** The CSR's DER for `names` (A-labels), signed with `key`. */
export function makeCsr(key: KeyObject, names: readonly string[]): Buffer {
  if (names.length === 0) throw new Error("a certificate request needs a name");
  const first = names[0]!;
  // RFC 5280's upper bound on a CN is 64 characters; a longer first name is in the SAN only.
  const subject = first.length <= 64 ? seq(set(seq(oid(OID.commonName), tlv(0x0c, Buffer.from(first, "utf8"))))) : seq();
  if (key.asymmetricKeyType !== "ec" && key.asymmetricKeyType !== "rsa") throw new Error(`no certificate request with a ${key.asymmetricKeyType} key`);
  const spki = createPublicKey(key).export({ type: "spki", format: "der" });
  // GeneralName dNSName is [2] IA5String, implicitly tagged (RFC 5280 §4.2.1.6).
  const altNames = seq(...names.map((n) => tlv(0x82, Buffer.from(n, "ascii"))));
  const extensions = seq(seq(oid(OID.subjectAltName), tlv(0x04, altNames)));
  const attributes = tlv(0xa0, seq(oid(OID.extensionRequest), set(extensions)));
  const info = seq(tlv(0x02, Buffer.from([0])), subject, spki, attributes);
  const ec = key.asymmetricKeyType === "ec";
  const algorithm = ec ? seq(oid(OID.ecdsaWithSha256)) : seq(oid(OID.sha256WithRsa), tlv(0x05));
  // X.509 signatures of ECDSA are DER (Ecdsa-Sig-Value), Node's default; a BIT STRING with no unused bits.
  const signature = sign("sha256", info, key);
  return seq(info, algorithm, tlv(0x03, Buffer.from([0]), signature));
}
