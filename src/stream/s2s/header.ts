// Server-to-server stream headers (RFC 6120 §4.7, with the dialback prefix of XEP-0220) and the
// checks on a peer's header: jabber:server content, version 1.0, a 'to' this server hosts and a
// 'from' (when given) that is a domain.
import { escapeXML } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { normalizeDomain } from "../../xml/jid.ts";
import { checkRoot } from "../header.ts";
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
  checkRoot(name, attrs, NS.server);
}
