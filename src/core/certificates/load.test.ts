// Reading certificates as operators keep them: certbot's live/ folders of links into archive/,
// Prosody's <name>.crt and <name>.key, tls.cert and tls.key; a bad pair left out (or kept as it
// was read before), the self-signed one only when there is nothing else, and what `check` says.
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestPki, type Issued } from "../../../test/helpers/pki.ts";
import { ConfigError } from "../schema.ts";
import { findCertificateFiles } from "./files.ts";
import { loadCertificates, type CertificateSources } from "./load.ts";
import { certificateReport } from "./report.ts";

let pki: TestPki;
let dir: string;
let domain: Issued;
let wildcard: Issued;
let pubsub: Issued;
beforeAll(() => {
  pki = new TestPki();
  dir = mkdtempSync(join(tmpdir(), "xmppd-certs-"));
  domain = pki.issue({ cn: "example.org", san: ["DNS:example.org"] });
  wildcard = pki.issue({ cn: "example.org", san: ["DNS:*.example.org"] });
  pubsub = pki.issue({ cn: "pubsub.example.org", san: ["DNS:pubsub.example.org"] });
});
afterAll(() => {
  pki.remove();
  rmSync(dir, { recursive: true, force: true });
});

/** A fresh folder under the test's. */
function folder(name: string): string {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  return d;
}

/** certbot's layout: archive/<name>/fullchain1.pem and privkey1.pem, linked from live/<name>/. */
function certbot(root: string, lineage: string, c: Issued): void {
  const archive = join(root, "archive", lineage);
  const live = join(root, "live", lineage);
  mkdirSync(archive, { recursive: true });
  mkdirSync(live, { recursive: true });
  writeFileSync(join(archive, "fullchain1.pem"), c.cert);
  writeFileSync(join(archive, "privkey1.pem"), c.key);
  symlinkSync(join("..", "..", "archive", lineage, "fullchain1.pem"), join(live, "fullchain.pem"));
  symlinkSync(join("..", "..", "archive", lineage, "privkey1.pem"), join(live, "privkey.pem"));
  writeFileSync(join(root, "live", "README"), "certbot's own note");
}

function sources(o: Partial<CertificateSources>): CertificateSources {
  return { cert: undefined, key: undefined, directory: undefined, optionalDirectories: [], dataDir: join(dir, "data"), domain: "example.org", ...o };
}

describe("the layouts of a certificate folder", () => {
  it("finds certbot's lineages through their links, Prosody's pairs, and a lineage folder given itself", () => {
    const root = folder("letsencrypt");
    certbot(root, "example.org", domain);
    const live = join(root, "live");
    writeFileSync(join(live, "*.example.org.crt"), wildcard.cert);
    writeFileSync(join(live, "*.example.org.key"), wildcard.key);
    writeFileSync(join(live, "orphan.key"), wildcard.key);
    symlinkSync(join(live, "nowhere.pem"), join(live, "dangling.crt"));
    expect(findCertificateFiles(live)).toEqual([
      { cert: join(live, "*.example.org.crt"), key: join(live, "*.example.org.key") },
      { cert: join(live, "example.org", "fullchain.pem"), key: join(live, "example.org", "privkey.pem") },
    ]);
    expect(findCertificateFiles(join(live, "example.org"))).toEqual([
      { cert: join(live, "example.org", "fullchain.pem"), key: join(live, "example.org", "privkey.pem") },
    ]);
  });

  it("reads each pair, the names coming from the certificate and not from the file's name", () => {
    const certs = folder("prosody");
    writeFileSync(join(certs, "one.crt"), pubsub.cert);
    writeFileSync(join(certs, "one.key"), pubsub.key);
    writeFileSync(join(certs, "two.crt"), wildcard.cert);
    writeFileSync(join(certs, "two.key"), wildcard.key);
    const loaded = loadCertificates(sources({ directory: certs }), { makeSelfSigned: false });
    expect(loaded.list.map((m) => m.names)).toEqual([["pubsub.example.org"], ["*.example.org"]]);
    expect(loaded.problems).toEqual([]);
    // None names the domain: the default is the best of them.
    expect(loaded.fallback).toBe(loaded.list[0]);
    const report = certificateReport(loaded, ["example.org", "conference.example.org", "pubsub.example.org"], undefined);
    expect(report.lines).toEqual([
      "certificates:",
      "  example.org: none",
      `  conference.example.org: ${join(certs, "two.crt")} (as *.example.org, valid until ${day(loaded.list[1]!.notAfter)})`,
      `  pubsub.example.org: ${join(certs, "one.crt")} (valid until ${day(loaded.list[0]!.notAfter)})`,
    ]);
    // The test CA's certificates are valid for a day: close to their end.
    expect(report.warnings).toEqual([
      `example.org: no certificate covers it; its clients get ${join(certs, "one.crt")}, for pubsub.example.org`,
      `${join(certs, "one.crt")}: expires on ${day(loaded.list[0]!.notAfter)}`,
      `${join(certs, "two.crt")}: expires on ${day(loaded.list[1]!.notAfter)}`,
    ]);
  });
});

describe("a pair that cannot be used", () => {
  it("is left out with its reason, or keeps the certificate read before it", () => {
    const certs = folder("bad");
    writeFileSync(join(certs, "example.org.crt"), domain.cert);
    writeFileSync(join(certs, "example.org.key"), domain.key);
    const before = loadCertificates(sources({ directory: certs }), { makeSelfSigned: false });
    expect(before.list).toHaveLength(1);
    // Half written: the certificate is new, its key not yet.
    const other = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    writeFileSync(join(certs, "example.org.key"), other);
    writeFileSync(join(certs, "broken.crt"), "-----BEGIN CERTIFICATE-----\nnot one\n");
    writeFileSync(join(certs, "broken.key"), other);
    const after = loadCertificates(sources({ directory: certs }), { previous: before.list, makeSelfSigned: false });
    expect(after.list).toEqual(before.list);
    expect(after.problems).toEqual([
      `${join(certs, "broken.crt")}: not a PEM certificate`,
      `${join(certs, "example.org.crt")}: the key is not the certificate's (the certificate read before stays)`,
    ]);
    expect(loadCertificates(sources({ directory: certs }), { makeSelfSigned: false }).list).toEqual([]);
  });

  it("stops a start when it is tls.cert, or tls.directory cannot be read", () => {
    expect(() => loadCertificates(sources({ cert: join(dir, "missing.pem"), key: domain.keyPath }), { makeSelfSigned: false }))
      .toThrow(new ConfigError(`tls.cert: cannot read ${join(dir, "missing.pem")} (ENOENT)`));
    expect(() => loadCertificates(sources({ cert: wildcard.certPath }), { makeSelfSigned: false })).toThrow(/give both, or neither/);
    expect(() => loadCertificates(sources({ directory: join(dir, "nowhere") }), { makeSelfSigned: false }))
      .toThrow(new ConfigError(`tls.directory: cannot read ${join(dir, "nowhere")} (ENOENT)`));
    // The ACME client's folder may not be there yet.
    expect(loadCertificates(sources({ cert: domain.certPath, key: domain.keyPath, optionalDirectories: [join(dir, "nowhere")] }), { makeSelfSigned: false }).list).toHaveLength(1);
  });
});

describe("the default certificate", () => {
  it("is tls.cert when given, else the one naming the domain", () => {
    const certs = folder("default");
    certbot(certs, "example.org", domain);
    const live = join(certs, "live");
    writeFileSync(join(live, "wild.crt"), wildcard.cert);
    writeFileSync(join(live, "wild.key"), wildcard.key);
    const byName = loadCertificates(sources({ directory: live }), { makeSelfSigned: false });
    expect(byName.fallback?.names).toEqual(["example.org"]);
    const explicit = loadCertificates(sources({ directory: live, cert: pubsub.certPath, key: pubsub.keyPath }), { makeSelfSigned: false });
    expect(explicit.fallback?.names).toEqual(["pubsub.example.org"]);
    expect(explicit.list).toHaveLength(3);
  });

  it("is the self-signed one when there is nothing else, made only when asked", () => {
    const data = folder("selfsigned");
    const none = loadCertificates(sources({ dataDir: data }), { makeSelfSigned: false });
    expect(none.fallback).toBeUndefined();
    const warning = "no certificate from a CA (tls.directory, tls.cert or acme): clients ask their users to accept the self-signed one";
    expect(certificateReport(none, ["example.org"], undefined)).toEqual({
      lines: ["certificates: none; a self-signed one is made at first start, for every name"], warnings: [warning],
    });
    expect(certificateReport(none, ["example.org", "elsewhere.org"], ["example.org"])).toEqual({
      lines: ["certificates:", "  example.org: none yet, the ACME client orders one at start", "  elsewhere.org: none"],
      warnings: ["elsewhere.org: no certificate covers it; its clients get the self-signed one"],
    });
    const made = loadCertificates(sources({ dataDir: data }), { makeSelfSigned: true });
    expect(made.fallback?.names).toEqual(["example.org", "*.example.org", "localhost"]);
    expect(made.list).toEqual([]);
    expect(certificateReport(made, ["example.org"], undefined)).toEqual({
      lines: [`certificates: the self-signed ${join(data, "certs", "example.org.crt")} (SHA-256 ${made.fallback!.fingerprint}), for every name`], warnings: [warning],
    });
  });
});

function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
