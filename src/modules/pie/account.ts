// XEP-0227 §4.2-4.3: a user's credentials. <scram-credentials xmlns='urn:xmpp:pie:0#scram'
// mechanism='SCRAM-SHA-1'> carries RFC 5802's salted keys (base64 salt, StoredKey and ServerKey, an
// iteration count), which are kept as they are, so the users keep their passwords without the
// server ever seeing them; a 'password' attribute (what ejabberd writes when it stores passwords
// in plain) is turned into SCRAM keys at once, for both hashes, and is not kept.
//
// Prosody 0.12 exports SCRAM-SHA-1 only (its default), with its salt as the bytes of a UUID's
// text; ejabberd exports the one hash it stores (auth_scram_hash: sha, sha256 or sha512).
import { childText, elementChildren, type Element } from "../../xml/element.ts";
import { decodeCredential, deriveCredentials, preparePassword, type Credentials, type ScramCredential, type ScramHash } from "../../core/credentials.ts";

export const PIE_SCRAM = "urn:xmpp:pie:0#scram";

const MECHANISMS: Record<string, ScramHash> = { "SCRAM-SHA-1": "SHA-1", "SCRAM-SHA-256": "SHA-256" };

/** What a user's credentials came to: the keys, or why not. */
export type CredentialsRead =
  | { kind: "keys"; credentials: Credentials; hashes: ScramHash[] }
  | { kind: "password"; credentials: Credentials }
  | { kind: "none" }
  | { kind: "error"; text: string }
  /** Only mechanisms this server does not have (SCRAM-SHA-512): the account could not log in. */
  | { kind: "unsupported"; mechanisms: string[] };

/** The SCRAM keys of one <scram-credentials/>, checked as a login would decode them; a string says what is wrong. */
export function readScram(el: Element): { hash: ScramHash; credential: ScramCredential } | { unsupported: string } | string {
  const mechanism = el.attrs.mechanism ?? "";
  const hash = MECHANISMS[mechanism];
  if (!hash) return { unsupported: mechanism || "(no mechanism)" };
  const seen = new Set<string>();
  for (const c of elementChildren(el)) {
    if (seen.has(c.name)) return `<${c.name}/> is given twice in ${mechanism}`;
    seen.add(c.name);
  }
  const text = (name: string) => childText(el, name)?.trim();
  const count = text("iter-count") ?? "";
  // §4.3: "a positive integer without leading zeros".
  if (!/^[1-9][0-9]{0,9}$/.test(count)) return `${mechanism}: <iter-count/> is not a positive integer ('${count}')`;
  const credential: ScramCredential = {
    iterations: Number(count),
    salt: text("salt") ?? "",
    storedKey: text("stored-key") ?? "",
    serverKey: text("server-key") ?? "",
  };
  for (const [name, value] of [["salt", credential.salt], ["stored-key", credential.storedKey], ["server-key", credential.serverKey]] as const) {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return `${mechanism}: <${name}/> is missing or not base64`;
  }
  if (!decodeCredential(hash, credential)) return `${mechanism}: the keys do not have the sizes of ${hash} (or the iteration count is out of range)`;
  // Stored in the server's canonical base64, whatever padding or line breaks the file had.
  const canon = (b: string) => Buffer.from(b, "base64").toString("base64");
  return { hash, credential: { ...credential, salt: canon(credential.salt), storedKey: canon(credential.storedKey), serverKey: canon(credential.serverKey) } };
}

/**
 * The credentials of a user: a plain password wins (both hashes are made from it, with fresh
 * salts and the configured iteration count); otherwise the SCRAM keys of the mechanisms this server has.
 */
export async function readCredentials(user: Element, scram: readonly Element[], iterations: number): Promise<CredentialsRead> {
  const password = user.attrs.password;
  if (password !== undefined && password !== "") {
    if (preparePassword(password) === undefined) return { kind: "error", text: "its password is not usable (control characters)" };
    return { kind: "password", credentials: await deriveCredentials(password, { iterations }) };
  }
  const credentials: Credentials = {};
  const unsupported: string[] = [];
  for (const el of scram) {
    const r = readScram(el);
    if (typeof r === "string") return { kind: "error", text: r };
    if ("unsupported" in r) {
      unsupported.push(r.unsupported);
      continue;
    }
    if (credentials[r.hash]) return { kind: "error", text: `two sets of ${el.attrs.mechanism} credentials (§4.3: each mechanism once)` };
    credentials[r.hash] = r.credential;
  }
  const hashes = Object.keys(credentials) as ScramHash[];
  if (hashes.length > 0) return { kind: "keys", credentials, hashes };
  if (unsupported.length > 0) return { kind: "unsupported", mechanisms: unsupported };
  return { kind: "none" };
}

/** §4.3 for the export: one <scram-credentials/> per hash the account has keys for. */
export function scramElements(credentials: Credentials): { mechanism: string; credential: ScramCredential }[] {
  const out: { mechanism: string; credential: ScramCredential }[] = [];
  for (const [mechanism, hash] of Object.entries(MECHANISMS)) {
    const c = credentials[hash];
    if (c && decodeCredential(hash, c)) out.push({ mechanism, credential: c });
  }
  return out;
}
