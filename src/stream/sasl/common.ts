// Small pieces every mechanism shares: failure steps, bounded text and base64 decoding that never
// throw, and the authzid rule (RFC 6120 §6.3.8: the server accepts an authorization identity only
// when it may act for it; this server lets an account act only for itself).
import { isUtf8 } from "node:buffer";
import type { FailureVerdict, SaslFailure, SaslStep } from "./mechanism.ts";

export function failure(condition: SaslFailure, text?: string, verdict?: FailureVerdict): SaslStep {
  const step: SaslStep = { kind: "failure", condition };
  if (text !== undefined) step.text = text;
  if (verdict !== undefined) step.verdict = verdict;
  return step;
}

/** The bytes as UTF-8 text, or undefined when longer than `max` bytes or not valid UTF-8. */
export function decodeText(data: Buffer, max: number): string | undefined {
  if (data.length > max || !isUtf8(data)) return undefined;
  return data.toString("utf8");
}

/** Strict base64 (RFC 4648 §4, padded, canonical): undefined for anything else. */
export function decodeBase64(text: string): Buffer | undefined {
  if (text.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(text, "base64");
  // Node's decoder skips junk; re-encoding exposes it, and non-zero trailing bits too.
  return bytes.toString("base64") === text ? bytes : undefined;
}

/**
 * Whether `authzid` may be used by `authcid`: it must be empty or the authcid's own bare JID
 * (localpart compared case-insensitively after NFC, domain case-insensitively, a trailing dot
 * ignored). Without a known domain only the empty authzid passes.
 */
export function authzidAllowed(authzid: string, authcid: string, domain: string | undefined): boolean {
  if (authzid === "") return true;
  if (domain === undefined) return false;
  const at = authzid.indexOf("@");
  if (at <= 0 || authzid.includes("/")) return false;
  return foldLocal(authzid.slice(0, at)) === foldLocal(authcid)
    && foldDomain(authzid.slice(at + 1)) === foldDomain(domain);
}

function foldLocal(s: string): string {
  return s.normalize("NFC").toLowerCase();
}

function foldDomain(s: string): string {
  return s.normalize("NFC").toLowerCase().replace(/\.$/, "");
}
