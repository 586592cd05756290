// Certificates in a folder, in the layouts operators already have:
// - certbot's (/etc/letsencrypt/live): a folder per certificate holding fullchain.pem and
//   privkey.pem, symbolic links into ../../archive that are followed;
// - Prosody's (/etc/prosody/certs): <name>.crt with <name>.key beside it (or <name>.pem);
// - the folder of one certificate itself (live/example.org): its fullchain.pem and privkey.pem.
// File and folder names say nothing of the names a certificate is for: its subjectAltName does
// (a certificate in example.org/ may cover conference.example.org, or *.example.org).
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/** A certificate (chain) file and its key file. */
export interface CertificateFiles { cert: string; key: string }

/**
 * The certificate and key pairs in `dir`, in name order. Entries that are no pair (certbot's
 * README, a key without its certificate, a dangling link) are passed over; a folder that cannot
 * be read throws the system's error.
 */
export function findCertificateFiles(dir: string): CertificateFiles[] {
  const entries = readdirSync(dir).sort();
  const out: CertificateFiles[] = [];
  const lineage = lineageFiles(dir, entries);
  if (lineage) out.push(lineage);
  for (const e of entries) {
    const path = join(dir, e);
    const kind = kindOf(path);
    if (kind === "dir") {
      const inner = lineageFiles(path);
      if (inner) out.push(inner);
    } else if (kind === "file" && /\.(crt|pem)$/.test(e) && e !== "fullchain.pem") {
      const key = e.replace(/\.(crt|pem)$/, ".key");
      if (entries.includes(key) && kindOf(join(dir, key)) === "file") out.push({ cert: path, key: join(dir, key) });
    }
  }
  return out;
}

/** fullchain.pem and privkey.pem of a certbot lineage folder, when both are there. */
function lineageFiles(dir: string, entries?: string[]): CertificateFiles | undefined {
  let names = entries;
  if (names === undefined) {
    try {
      names = readdirSync(dir);
    } catch {
      return undefined;
    }
  }
  if (!names.includes("fullchain.pem") || !names.includes("privkey.pem")) return undefined;
  const cert = join(dir, "fullchain.pem");
  const key = join(dir, "privkey.pem");
  return kindOf(cert) === "file" && kindOf(key) === "file" ? { cert, key } : undefined;
}

/** What a path is once links are followed; undefined for nothing there (a dangling link). */
function kindOf(path: string): "file" | "dir" | undefined {
  try {
    const s = statSync(path);
    return s.isDirectory() ? "dir" : s.isFile() ? "file" : undefined;
  } catch {
    return undefined;
  }
}
