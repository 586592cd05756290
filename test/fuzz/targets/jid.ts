// Fuzz target: JIDs (src/xml/jid.ts, RFC 7622). Any string parses or is refused with a JidError;
// what parses is canonical: its parts normalise to themselves and split again the same way.
import { JidError, jid, normalizeDomain, normalizeLocal, normalizeResource, parseJid } from "../../../src/xml/jid.ts";

export function fuzz(data: Buffer): void {
  const s = data.toString("utf8");
  let j;
  try {
    j = parseJid(s);
  } catch (e) {
    if (e instanceof JidError) return;
    throw e;
  }
  const text = j.toString();
  const slash = text.indexOf("/");
  const head = slash < 0 ? text : text.slice(0, slash);
  const at = head.indexOf("@");
  const parts = [at < 0 ? "" : head.slice(0, at), at < 0 ? head : head.slice(at + 1), slash < 0 ? "" : text.slice(slash + 1)];
  if (parts.join("\n") !== [j.local, j.domain, j.resource].join("\n")) throw new Error(`${JSON.stringify(text)} splits differently`);
  if (j.local !== "" && normalizeLocal(j.local) !== j.local) throw new Error("localpart not canonical");
  if (normalizeDomain(j.domain) !== j.domain) throw new Error("domainpart not canonical");
  if (j.resource !== "" && normalizeResource(j.resource) !== j.resource) throw new Error("resourcepart not canonical");
  if (!jid(j.local, j.domain, j.resource).equals(j)) throw new Error("parts do not rebuild the JID");
}

export const seeds = ["juliet@example.com/balcony", "Σ@Example.COM./♚", "xn--mnchen-3ya.de", "[::1]", "a@127.0.0.1/ ", "ﬀ@ｅｘａｍｐｌｅ.com"];
export const dictionary = ["@", "/", ".", "xn--", "[", "]", ":", "\u0301", "\u00B7", "\u0660", "\u06F0", "\u05D0", "\u200D", "\u3002", "Σ", "ß", "İ"];
