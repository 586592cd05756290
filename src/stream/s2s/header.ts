// Server-to-server stream headers (RFC 6120 §4.7, with the dialback prefix of XEP-0220) and the
// checks on a peer's header: jabber:server content, version 1.0, a 'to' this server hosts and a
// 'from' (when given) that is a domain.
import { escapeXML } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { normalizeDomain } from "../../xml/jid.ts";
import { StreamError } from "../../core/errors.ts";
import { DIALBACK } from "./dialback.ts";

/** Our header on a server-to-server stream. */
export function serverHeader(attrs: { from: string; to?: string; id?: string }): string {
  let out = `<?xml version='1.0'?><stream:stream xmlns='${NS.server}' xmlns:stream='${NS.stream}' xmlns:db='${DIALBACK}'`;
  if (attrs.id !== undefined) out += ` id='${attrs.id}'`;
  out += ` from='${escapeXML(attrs.from)}'`;
  if (attrs.to !== undefined) out += ` to='${escapeXML(attrs.to)}'`;
  return `${out} version='1.0' xml:lang='en'>`;
}

/** A domain as it is compared: normalised (RFC 7622), or undefined when it is not one. */
export function domainOf(s: string | undefined): string | undefined {
  if (s === undefined || s === "" || s.includes("@") || s.includes("/")) return undefined;
  try {
    return normalizeDomain(s.replace(/\.$/, ""));
  } catch {
    return undefined;
  }
}

/** Checks the peer's header; the stream error of RFC 6120 §4.9.3 when it is wrong. */
export function checkServerHeader(name: string, attrs: Record<string, string>): void {
  const colon = name.indexOf(":");
  const prefix = colon < 0 ? "" : name.slice(0, colon);
  const local = colon < 0 ? name : name.slice(colon + 1);
  const ns = prefix ? attrs[`xmlns:${prefix}`] : attrs.xmlns;
  if (ns === undefined) throw new StreamError("bad-namespace-prefix");
  if (local !== "stream" || ns !== NS.stream) throw new StreamError("invalid-namespace", "the root must be {http://etherx.jabber.org/streams}stream");
  if ((prefix ? attrs.xmlns : undefined) !== NS.server) throw new StreamError("invalid-namespace", "the content namespace must be jabber:server");
  const version = attrs.version;
  if (version === undefined || !/^1\.\d+$/.test(version)) throw new StreamError("unsupported-version", "this server speaks XMPP 1.0");
}
