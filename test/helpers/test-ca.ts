// A certificate authority of a test's own (openssl from Debian) and the server certificates it
// issues, for server-to-server authentication by certificate (RFC 6120 §13.7, XEP-0178: SASL
// EXTERNAL over TLS) and its failures. A server certificate names its domain and subdomains
// twice, as RFC 6120 §13.7.1.2 lets a server present it: as dNSName entries (RFC 6125) and as
// XmppAddr otherName entries (id-on-xmppAddr, 1.3.6.1.5.5.7.8.5, a UTF8String). A wildcard is a
// dNSName only: an XmppAddr holds no wildcard (RFC 6120 §13.7.1.4). Keys are ECDSA P-256.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface CertFiles {
  /** The server's certificate alone. */
  cert: string;
  key: string;
  /** The certificate followed by its issuer's (what a server sends). */
  fullchain: string;
  /** fullchain then key in one file (ejabberd's certfiles). */
  combined: string;
  /** The certificate to trust for it: the CA's, or itself when self-signed. */
  ca: string;
}

export interface CertRequest {
  /** Subdomains certified with the domain (dNSName and XmppAddr), e.g. ["conference", "upload"]. */
  subdomains?: string[];
  /** Adds the dNSName *.<domain>. */
  wildcard?: boolean;
  /** XmppAddr entries beside the dNSName ones (default true). */
  xmppAddr?: boolean;
  /** Names to certify instead of the domain's (a wrong-name certificate for the domain's server). */
  names?: string[];
  /** Valid from a day ago for ten years (default), or expired a year ago, or valid only from next year. */
  validity?: "valid" | "expired" | "not-yet-valid";
}

export interface TestCa {
  readonly dir: string;
  /** The CA's certificate (PEM): what a server trusts to accept the certificates issued here. */
  readonly cert: string;
  /** Issues a certificate for `domain`; files under dir/<domain>[-<n>]/. */
  issue(domain: string, o?: CertRequest): CertFiles;
  /** Removes the folder, if the CA made it. */
  remove(): void;
}

const stamp = (d: Date): string => d.toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z";
const DAY = 86_400_000;

function period(validity: CertRequest["validity"] = "valid"): [string, string] {
  const now = Date.now();
  if (validity === "expired") return [stamp(new Date(now - 2 * 365 * DAY)), stamp(new Date(now - 365 * DAY))];
  if (validity === "not-yet-valid") return [stamp(new Date(now + 365 * DAY)), stamp(new Date(now + 2 * 365 * DAY))];
  return [stamp(new Date(now - DAY)), stamp(new Date(now + 3650 * DAY))];
}

function checkName(name: string): string {
  if (!/^(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/.test(name)) throw new Error(`not a domain name: ${JSON.stringify(name)}`);
  return name;
}

/** The subjectAltName section of an openssl configuration: dNSName and XmppAddr entries. */
function altNames(domain: string, o: CertRequest): string[] {
  const names = o.names ?? [domain, ...(o.subdomains ?? []).map((s) => `${s}.${domain}`)];
  const lines = names.map((n, i) => `DNS.${i + 1} = ${checkName(n)}`);
  if (o.wildcard) lines.push(`DNS.${names.length + 1} = *.${checkName(domain)}`);
  if (o.xmppAddr ?? true) names.forEach((n, i) => lines.push(`otherName.${i + 1} = 1.3.6.1.5.5.7.8.5;UTF8:${n}`));
  return lines;
}

/** The extensions of a server certificate: usable by a server and, on outgoing s2s, as a client. */
function serverExtensions(domain: string, o: CertRequest): string {
  return [
    "[server]",
    "basicConstraints = critical, CA:FALSE",
    "keyUsage = critical, digitalSignature, keyEncipherment",
    "extendedKeyUsage = serverAuth, clientAuth",
    "subjectKeyIdentifier = hash",
    "subjectAltName = @alt",
    "[alt]",
    ...altNames(domain, o),
    "",
  ].join("\n");
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync("openssl", args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as { stderr?: Buffer };
    throw new Error(`openssl ${args[0]} failed: ${err.stderr?.toString() ?? String(e)}`);
  }
}

function newKey(file: string, cwd: string): void {
  openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", file], cwd);
}

function bundle(dir: string, cert: string, key: string, issuer: string): CertFiles {
  const fullchain = join(dir, "fullchain.pem");
  const combined = join(dir, "combined.pem");
  const chain = readFileSync(cert, "utf8") + (issuer === cert ? "" : readFileSync(issuer, "utf8"));
  writeFileSync(fullchain, chain);
  writeFileSync(combined, chain + readFileSync(key, "utf8"));
  return { cert, key, fullchain, combined, ca: issuer };
}

let folders = 0;
function freshFolder(parent: string, domain: string): string {
  let dir = join(parent, checkName(domain).replace("*", "_"));
  try {
    mkdirSync(dir);
  } catch {
    dir = join(parent, `${domain}-${++folders}`);
    mkdirSync(dir);
  }
  return dir;
}

/** Makes a CA (ECDSA P-256, ten years) in `dir`, or in a temporary folder that remove() deletes. */
export function makeTestCa(o: { dir?: string; name?: string } = {}): TestCa {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), "xmppd-ca-"));
  const cert = join(dir, "ca.pem");
  const key = join(dir, "ca.key");
  newKey(key, dir);
  writeFileSync(join(dir, "ca.cnf"), [
    "[req]", "distinguished_name = dn", "[dn]",
    "[ca]",
    "basicConstraints = critical, CA:TRUE",
    "keyUsage = critical, keyCertSign, cRLSign",
    "subjectKeyIdentifier = hash",
    "",
  ].join("\n"));
  openssl(["req", "-x509", "-new", "-key", key, "-sha256", "-days", "3650", "-subj", `/O=xmppd tests/CN=${o.name ?? "xmppd test CA"}`,
    "-config", "ca.cnf", "-extensions", "ca", "-out", cert], dir);
  // `openssl ca` (unlike `x509 -req` of OpenSSL 3.0) takes explicit start and end dates.
  writeFileSync(join(dir, "index.txt"), "");
  writeFileSync(join(dir, "openssl.cnf"), [
    "[ca]", "default_ca = test", "[test]",
    `dir = ${dir}`, "database = $dir/index.txt", "new_certs_dir = $dir", "serial = $dir/serial",
    "certificate = $dir/ca.pem", "private_key = $dir/ca.key", "default_md = sha256",
    "policy = any", "unique_subject = no", "copy_extensions = none", "[any]", "commonName = supplied", "",
  ].join("\n"));
  openssl(["rand", "-hex", "-out", "serial", "16"], dir);
  return {
    dir,
    cert,
    issue(domain, r = {}) {
      const out = freshFolder(dir, domain);
      const leafKey = join(out, "key.pem");
      const leaf = join(out, "cert.pem");
      newKey(leafKey, out);
      writeFileSync(join(out, "ext.cnf"), serverExtensions(domain, r));
      const cn = (r.names ?? [domain])[0]!;
      openssl(["req", "-new", "-key", leafKey, "-subj", `/CN=${cn}`, "-config", join(dir, "ca.cnf"), "-out", join(out, "req.csr")], out);
      const [start, end] = period(r.validity);
      openssl(["ca", "-batch", "-notext", "-config", join(dir, "openssl.cnf"), "-in", join(out, "req.csr"), "-out", leaf,
        "-extfile", join(out, "ext.cnf"), "-extensions", "server", "-startdate", start, "-enddate", end], out);
      return bundle(out, leaf, leafKey, cert);
    },
    remove() {
      if (!o.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A self-signed server certificate (trusted by no one unless given as its own CA), in `dir`. */
export function selfSignedCert(dir: string, domain: string, r: CertRequest = {}): CertFiles {
  const out = freshFolder(dir, domain);
  const key = join(out, "key.pem");
  const cert = join(out, "cert.pem");
  newKey(key, out);
  writeFileSync(join(out, "req.cnf"), ["[req]", "distinguished_name = dn", "[dn]", serverExtensions(domain, r)].join("\n"));
  const cn = (r.names ?? [domain])[0]!;
  openssl(["req", "-x509", "-new", "-key", key, "-sha256", "-days", "3650", "-subj", `/CN=${cn}`,
    "-config", "req.cnf", "-extensions", "server", "-out", cert], out);
  return bundle(out, cert, key, cert);
}
