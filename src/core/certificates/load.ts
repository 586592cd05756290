// Reading the server's certificates: tls.cert and tls.key (one certificate for every name), the
// pairs found in tls.directory and in the ACME client's folder (files.ts), each read and checked
// (a certificate, its key, the two belonging together), and the self-signed one when there is
// nothing else. What comes out is the default certificate and those chosen by name.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { CertificateStore } from "../../transports/certificate-store.ts";
import { tlsMaterial, type TlsMaterial } from "../../transports/tls.ts";
import { ConfigError } from "../schema.ts";
import { findCertificateFiles, type CertificateFiles } from "./files.ts";
import { selfSignedFiles } from "./self-signed.ts";

export interface CertificateSources {
  /** tls.cert and tls.key. */
  cert: string | undefined;
  key: string | undefined;
  /** tls.directory: must be readable. */
  directory: string | undefined;
  /** Folders read when they exist (the ACME client's). */
  optionalDirectories: readonly string[];
  dataDir: string;
  domain: string;
  /** The further hosted domains (virtual hosts), which a self-signed certificate names too. */
  hosts?: readonly string[];
}

export interface LoadedCertificates {
  /**
   * The certificate of a handshake without a name, or with one nothing covers: tls.cert, else the
   * one covering the domain, else the best one found, else the self-signed one (undefined when
   * that was not to be made and is not there).
   */
  fallback: TlsMaterial | undefined;
  /** The certificates chosen by name (never the self-signed one). */
  list: TlsMaterial[];
  /** The pairs left out, one line each: unreadable, not a certificate, a key of another one. */
  problems: string[];
  /** Every file read (links as configured), to watch. */
  files: string[];
}

export interface LoadOptions {
  /** What was loaded before: a pair that cannot be read now keeps the certificate it had (a file half written). */
  previous?: readonly TlsMaterial[];
  /** Make the self-signed certificate if it is needed and missing (false: `check`, which makes nothing). */
  makeSelfSigned: boolean;
}

/**
 * Reads every certificate. Throws ConfigError when tls.cert or tls.key cannot be used, or
 * tls.directory cannot be read: a start stops, a reload changes nothing. A bad pair in a folder
 * is only left out (LoadedCertificates.problems).
 */
export function loadCertificates(src: CertificateSources, o: LoadOptions): LoadedCertificates {
  if ((src.cert === undefined) !== (src.key === undefined)) throw new ConfigError("tls.cert and tls.key: give both, or neither");
  const out: LoadedCertificates = { fallback: undefined, list: [], problems: [], files: [] };
  let explicit: TlsMaterial | undefined;
  if (src.cert !== undefined && src.key !== undefined) {
    const cert = readPem("tls.cert", src.cert);
    const key = readPem("tls.key", src.key);
    try {
      explicit = tlsMaterial(cert, key, resolve(src.cert));
    } catch (e) {
      throw new ConfigError(`tls.cert: ${resolve(src.cert)}: ${(e as Error).message}`);
    }
    out.list.push(explicit);
    out.files.push(src.cert, src.key);
  }
  const folders: { path: string; required: boolean }[] = [
    ...(src.directory === undefined ? [] : [{ path: src.directory, required: true }]),
    ...src.optionalDirectories.map((path) => ({ path, required: false })),
  ];
  for (const f of folders) {
    let pairs: CertificateFiles[];
    try {
      pairs = findCertificateFiles(f.path);
    } catch (e) {
      if (!f.required) continue;
      throw new ConfigError(`tls.directory: cannot read ${resolve(f.path)} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    for (const pair of pairs) readPair(pair, o.previous, out);
  }
  if (explicit !== undefined) out.fallback = explicit;
  else if (out.list.length > 0) {
    const chosen = new CertificateStore(out.list[0]!, out.list);
    out.fallback = chosen.covering(src.domain) ?? chosen.certificates[0];
  } else {
    const own = selfSignedFiles(src.dataDir, src.domain, o.makeSelfSigned, src.hosts);
    if (own !== undefined) {
      out.fallback = tlsMaterial(readPem("tls.cert", own.cert), readPem("tls.key", own.key), own.cert);
      out.files.push(own.cert, own.key);
    }
  }
  return out;
}

/** One pair of a folder into `out`: its material, or the one it had before and a problem. */
function readPair(pair: CertificateFiles, previous: readonly TlsMaterial[] | undefined, out: LoadedCertificates): void {
  const certPath = resolve(pair.cert);
  out.files.push(pair.cert, pair.key);
  try {
    out.list.push(tlsMaterial(readFileSync(pair.cert, "utf8"), readFileSync(pair.key, "utf8"), certPath));
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    const before = previous?.find((m) => m.certPath === certPath);
    out.problems.push(`${certPath}: ${reason}${before ? " (the certificate read before stays)" : ""}`);
    if (before) out.list.push(before);
  }
}

function readPem(option: string, path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(`${option}: cannot read ${resolve(path)} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}
