// Parsers for the client's SCRAM messages (RFC 5802 §7 grammar) with the GS2 header (RFC 5801
// §4). They return a typed record or a failure, never throw. Attribute values never contain ","
// (saslname escapes it as "=2C", nonces and base64 exclude it), so messages split on commas.
import { decodeBase64 } from "./common.ts";
import type { SaslFailure } from "./mechanism.ts";

export interface ParseError {
  error: SaslFailure;
  text: string;
}

export interface ClientFirst {
  /** gs2-header verbatim, trailing comma included: echoed inside c= of the final message. */
  gs2Header: string;
  /** "n": no channel binding; "y": client could bind but thinks the server cannot; "p": binds. */
  cbFlag: "n" | "y" | "p";
  /** The cb-name after "p=". */
  cbName: string | undefined;
  /** The "a=" authzid, escapes undone. */
  authzid: string | undefined;
  /** client-first-message-bare verbatim, for AuthMessage. */
  bare: string;
  /** The "n=" username, escapes undone. */
  username: string;
  nonce: string;
}

export interface ClientFinal {
  /** client-final-message-without-proof verbatim, for AuthMessage. */
  withoutProof: string;
  channelBinding: Buffer;
  nonce: string;
  proof: Buffer;
}

const CB_NAME = /^[A-Za-z0-9.-]+$/;
/** printable = %x21-2B / %x2D-7E */
const NONCE = /^[\x21-\x2b\x2d-\x7e]+$/;
/** attr-val = ALPHA "=" value */
const ATTR = /^[A-Za-z]=[^,\0]+$/;
const SASLNAME = /^(?:[^=,\0]|=2C|=3D)+$/;

function bad(text: string): ParseError {
  return { error: "malformed-request", text };
}

/** saslname with "=2C" and "=3D" turned back into "," and "="; undefined when ill-formed. */
export function unescapeSaslname(value: string): string | undefined {
  if (!SASLNAME.test(value)) return undefined;
  return value.replace(/=2C|=3D/g, (m) => (m === "=2C" ? "," : "="));
}

export function escapeSaslname(value: string): string {
  return value.replace(/[=,]/g, (c) => (c === "," ? "=2C" : "=3D"));
}

export function parseClientFirst(message: string): ClientFirst | ParseError {
  const c1 = message.indexOf(",");
  const c2 = c1 < 0 ? -1 : message.indexOf(",", c1 + 1);
  if (c2 < 0) return bad("missing GS2 header");
  const flag = message.slice(0, c1);
  const authzPart = message.slice(c1 + 1, c2);
  let cbFlag: ClientFirst["cbFlag"];
  let cbName: string | undefined;
  if (flag === "n" || flag === "y") cbFlag = flag;
  else if (flag.startsWith("p=") && CB_NAME.test(flag.slice(2))) [cbFlag, cbName] = ["p", flag.slice(2)];
  else return bad("invalid channel binding flag");
  let authzid: string | undefined;
  if (authzPart !== "") {
    authzid = authzPart.startsWith("a=") ? unescapeSaslname(authzPart.slice(2)) : undefined;
    if (authzid === undefined) return bad("invalid authzid");
  }
  const bare = message.slice(c2 + 1);
  const attrs = bare.split(",");
  // "m" is reserved for mandatory extensions; none is defined, so one cannot be honoured.
  if (attrs[0]?.startsWith("m=")) return { error: "malformed-request", text: "unsupported mandatory extension" };
  const [user, nonce, ...extensions] = attrs;
  if (!user?.startsWith("n=")) return bad("missing username");
  const username = unescapeSaslname(user.slice(2));
  if (username === undefined) return bad("invalid username");
  if (!nonce?.startsWith("r=") || !NONCE.test(nonce.slice(2))) return bad("missing or invalid nonce");
  if (!extensions.every((e) => ATTR.test(e))) return bad("invalid extension");
  return { gs2Header: message.slice(0, c2 + 1), cbFlag, cbName, authzid, bare, username, nonce: nonce.slice(2) };
}

export function parseClientFinal(message: string): ClientFinal | ParseError {
  const attrs = message.split(",");
  if (attrs.length < 3) return bad("missing attributes");
  const [cb, nonce] = attrs as [string, string];
  const last = attrs[attrs.length - 1] as string;
  if (!cb.startsWith("c=")) return bad("missing channel binding");
  if (!nonce.startsWith("r=") || !NONCE.test(nonce.slice(2))) return bad("missing or invalid nonce");
  if (!last.startsWith("p=")) return bad("missing proof");
  if (!attrs.slice(2, -1).every((e) => ATTR.test(e))) return bad("invalid extension");
  const channelBinding = decodeBase64(cb.slice(2));
  const proof = decodeBase64(last.slice(2));
  if (channelBinding === undefined || channelBinding.length === 0) return bad("invalid channel binding encoding");
  if (proof === undefined || proof.length === 0) return bad("invalid proof encoding");
  return { withoutProof: message.slice(0, message.length - last.length - 1), channelBinding, nonce: nonce.slice(2), proof };
}
