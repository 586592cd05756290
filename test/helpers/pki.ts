// Certificates for tests of TLS between servers, made with openssl in a temporary folder: a test
// CA the tests trust, a second CA they do not, and leaf certificates issued by either with the
// subjectAltName a test asks for (DNS names, XMPP's otherNames), valid for a day or expired in
// 2020. Keys are ECDSA P-256 (quick to make), and every leaf shares one.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";

export interface Issued {
  cert: string;
  key: string;
  certPath: string;
  keyPath: string;
}

export interface IssueOptions {
  /** The subject's CN; no subjectAltName unless `san` is given. */
  cn: string;
  /** subjectAltName entries in openssl's syntax: "DNS:example.org", "otherName:1.3.6.1.5.5.7.8.5;UTF8:bücher.example". */
  san?: string[];
  /** Which CA signs: the trusted one (default) or the unknown one. */
  ca?: "trusted" | "unknown";
  /** Valid from 1 to 2 January 2020 only. */
  expired?: boolean;
}

const CA_CONFIG = `[ca]
default_ca = test
[test]
database = index.txt
new_certs_dir = .
rand_serial = yes
default_md = sha256
default_days = 1
policy = any
unique_subject = no
[any]
commonName = supplied
`;

export class TestPki {
  readonly dir: string;
  /** The trusted CA's certificate, PEM, and its file. */
  readonly caPem: string;
  readonly caPath: string;
  private readonly leafKey: string;
  private serial = 0;

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), "xmppd-pki-"));
    for (const ca of ["trusted", "unknown"]) {
      const d = join(this.dir, ca);
      mkdirSync(d);
      writeFileSync(join(d, "ca.cnf"), CA_CONFIG);
      writeFileSync(join(d, "index.txt"), "");
      openssl(d, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", `/CN=${ca === "trusted" ? "xmppd Test CA" : "Unknown CA"}`);
    }
    this.caPath = join(this.dir, "trusted", "ca.pem");
    this.caPem = readFileSync(this.caPath, "utf8");
    this.leafKey = join(this.dir, "leaf.key");
    openssl(this.dir, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", this.leafKey);
  }

  issue(o: IssueOptions): Issued {
    const n = ++this.serial;
    const ca = join(this.dir, o.ca ?? "trusted");
    const csr = join(this.dir, `leaf${n}.csr`);
    const certPath = join(this.dir, `leaf${n}.pem`);
    const ext = join(this.dir, `leaf${n}.ext`);
    writeFileSync(ext, extensions(o.san));
    openssl(this.dir, "req", "-new", "-key", this.leafKey, "-out", csr, "-subj", `/CN=${o.cn}`);
    openssl(ca, "ca", "-batch", "-notext", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key", "-in", csr, "-out", certPath,
      "-extfile", ext, "-extensions", "leaf",
      ...(o.expired === true ? ["-startdate", "20200101000000Z", "-enddate", "20200102000000Z"] : []));
    return { cert: readFileSync(certPath, "utf8"), key: readFileSync(this.leafKey, "utf8"), certPath, keyPath: this.leafKey };
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * The leaf's extensions as an openssl configuration section; a UTF8 otherName is marked as UTF-8
 * input (FORMAT:UTF8), which the command line's -addext cannot say.
 */
function extensions(san: string[] | undefined): string {
  const lines = ["[leaf]", "basicConstraints = CA:FALSE"];
  if (san === undefined) return lines.join("\n") + "\n";
  lines.push("subjectAltName = @alt", "[alt]");
  san.forEach((entry, i) => {
    const colon = entry.indexOf(":");
    const type = entry.slice(0, colon);
    const value = entry.slice(colon + 1).replace(/;UTF8:/, ";FORMAT:UTF8,UTF8:");
    lines.push(`${type}.${i + 1} = ${value}`);
  });
  return lines.join("\n") + "\n";
}

function openssl(cwd: string, ...args: string[]): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

/** The SHA-256 fingerprint of the certificate a TLS listener on loopback presents for `servername` (SNI) and `alpn`. */
export async function presented(port: number, servername?: string, alpn?: string): Promise<string> {
  const s = tlsConnect({ host: "127.0.0.1", port, rejectUnauthorized: false, ...(servername ? { servername } : {}), ...(alpn ? { ALPNProtocols: [alpn] } : {}) });
  await new Promise<void>((resolve, reject) => {
    s.once("secureConnect", resolve);
    s.once("error", reject);
  });
  const f = s.getPeerCertificate().fingerprint256;
  s.destroy();
  return f;
}
