// What `xmppd check` says of the certificates: for each name the server serves, the certificate
// that covers it (and until when), and a warning for a name none covers (its clients would be
// shown the default one, which does not name it), for one expired or close to its end, and for
// each file left out.
import { CertificateStore } from "../../transports/certificate-store.ts";
import type { TlsMaterial } from "../../transports/tls.ts";
import type { LoadedCertificates } from "./load.ts";

/** Days before its end from which a certificate is warned about. */
const SOON_DAYS = 14;
const DAY_MS = 86_400_000;

export interface CertificateReport { lines: string[]; warnings: string[] }

/**
 * `names`: the names served; `acme`: those the ACME client orders a certificate for (a name
 * waiting for it is no warning), undefined when it is off.
 */
export function certificateReport(loaded: LoadedCertificates, names: readonly string[], acme: readonly string[] | undefined, now = Date.now()): CertificateReport {
  const fallback = loaded.fallback;
  if (loaded.list.length === 0 && acme === undefined) {
    return {
      lines: [fallback === undefined ? "certificates: none; a self-signed one is made at first start, for every name"
        : `certificates: the self-signed ${fallback.certPath} (SHA-256 ${fallback.fingerprint}), for every name`],
      warnings: ["no certificate from a CA (tls.directory, tls.cert or acme): clients ask their users to accept the self-signed one"],
    };
  }
  const out: CertificateReport = { lines: ["certificates:"], warnings: [] };
  const store = loaded.list.length === 0 ? undefined : new CertificateStore(loaded.list[0]!, loaded.list);
  for (const name of names) {
    const m = store?.covering(name);
    if (m !== undefined) out.lines.push(`  ${name}: ${m.certPath} (${describe(m, name)})`);
    else if (acme?.includes(name)) out.lines.push(`  ${name}: none yet, the ACME client orders one at start`);
    else {
      out.lines.push(`  ${name}: none`);
      out.warnings.push(store === undefined || fallback === undefined
        ? `${name}: no certificate covers it; its clients get the self-signed one`
        : `${name}: no certificate covers it; its clients get ${fallback.certPath}, for ${fallback.names.join(", ")}`);
    }
  }
  for (const m of loaded.list) {
    if (m.notAfter <= now) out.warnings.push(`${m.certPath}: expired on ${day(m.notAfter)}`);
    else if (m.notAfter - now < SOON_DAYS * DAY_MS) out.warnings.push(`${m.certPath}: expires on ${day(m.notAfter)}`);
  }
  for (const p of loaded.problems) out.warnings.push(`left out: ${p}`);
  return out;
}

/** How a certificate covers a name, and until when. */
function describe(m: TlsMaterial, name: string): string {
  const wildcard = m.names.includes(name) ? undefined : m.names.find((n) => n.startsWith("*.") && name.endsWith(n.slice(1)));
  return `${wildcard === undefined ? "" : `as ${wildcard}, `}valid until ${day(m.notAfter)}`;
}

function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
