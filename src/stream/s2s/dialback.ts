// Server Dialback (XEP-0220): the keys, made as XEP-0185 recommends, and the elements. A key
// binds the receiving domain, the originating domain and the stream id to a secret only the
// originating domain's servers know, so that the receiving server can ask the originating
// domain's authoritative server (found through DNS) whether the key is its own.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { escapeXML } from "../../xml/element.ts";

export const DIALBACK = "jabber:server:dialback";
/** The stream feature of XEP-0220 §2.1, with <errors/> (the server reports dialback errors as stanzas). */
export const DIALBACK_FEATURE = "urn:xmpp:features:dialback";

/** XEP-0185 §3: HMAC-SHA256 keyed with the hex SHA-256 of the secret, of "receiving originating id", in hex. */
export function dialbackKey(secret: string, receiving: string, originating: string, streamId: string): string {
  const key = createHash("sha256").update(secret).digest("hex");
  return createHmac("sha256", key).update(`${receiving} ${originating} ${streamId}`).digest("hex");
}

/** Whether `key` is the one this secret makes for the three values, compared in constant time. */
export function validKey(secret: string, receiving: string, originating: string, streamId: string, key: string): boolean {
  const want = Buffer.from(dialbackKey(secret, receiving, originating, streamId));
  const got = Buffer.from(key.trim());
  return got.length === want.length && timingSafeEqual(got, want);
}

/** <db:result/> or <db:verify/>, with a key (a request) or a type (an answer). */
export function dialbackElement(name: "result" | "verify", attrs: { from: string; to: string; id?: string; type?: string }, key?: string): string {
  let out = `<db:${name} from='${escapeXML(attrs.from)}' to='${escapeXML(attrs.to)}'`;
  if (attrs.id !== undefined) out += ` id='${escapeXML(attrs.id)}'`;
  if (attrs.type !== undefined) out += ` type='${attrs.type}'`;
  return key === undefined ? `${out}/>` : `${out}>${escapeXML(key)}</db:${name}>`;
}
