// What the ACME client keeps in dataDir/acme, private to the server's user: the account key
// (account.key), and the certificate with its key in certbot's layout (live/<first name>/
// fullchain.pem and privkey.pem), a folder the certificate loader reads like tls.directory.
import { X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PRIVATE_DIR, PRIVATE_FILE } from "../../storage/data-dir.ts";
import { certificateNames } from "../../transports/tls.ts";
import { newAccountKey } from "./jws.ts";

export function acmeFolder(dataDir: string): string {
  return join(dataDir, "acme");
}

/** The folder of the certificates obtained, which the certificate loader reads. */
export function acmeCertificates(dataDir: string): string {
  return join(acmeFolder(dataDir), "live");
}

/** The account key's PEM, made (and kept) on first use. */
export function accountKeyPem(dataDir: string): string {
  const file = join(acmeFolder(dataDir), "account.key");
  if (!existsSync(file)) {
    mkdirSync(acmeFolder(dataDir), { recursive: true, mode: PRIVATE_DIR });
    writeAtomically(file, newAccountKey());
  }
  return readFileSync(file, "utf8");
}

/** The certificate obtained for these names, if it is there and readable: its names and when it is valid. */
export function installedCertificate(dataDir: string, names: readonly string[]): { path: string; names: string[]; notBefore: number; notAfter: number } | undefined {
  const path = join(acmeCertificates(dataDir), names[0]!, "fullchain.pem");
  try {
    const x509 = new X509Certificate(readFileSync(path));
    return { path, names: certificateNames(x509), notBefore: Date.parse(x509.validFrom), notAfter: Date.parse(x509.validTo) };
  } catch {
    return undefined;
  }
}

/**
 * Puts a certificate chain and its key in live/<first name>/, each file replaced whole (written
 * aside, then renamed), the key first; removes the folders of earlier certificates for other names.
 */
export function installCertificate(dataDir: string, names: readonly string[], chain: string, key: string): string {
  const live = acmeCertificates(dataDir);
  const folder = join(live, names[0]!);
  mkdirSync(folder, { recursive: true, mode: PRIVATE_DIR });
  writeAtomically(join(folder, "privkey.pem"), key);
  writeAtomically(join(folder, "fullchain.pem"), chain);
  for (const other of readdirSync(live)) {
    if (other !== names[0]) rmSync(join(live, other), { recursive: true, force: true });
  }
  return join(folder, "fullchain.pem");
}

function writeAtomically(file: string, text: string): void {
  const aside = `${file}.new`;
  writeFileSync(aside, text, { mode: PRIVATE_FILE });
  renameSync(aside, file);
}
