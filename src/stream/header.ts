// Stream headers (RFC 6120 §4.7) and the checks on the initiating entity's header.
import { escapeXML } from "../xml/element.ts";
import { NS } from "../xml/ns.ts";
import { StreamError } from "../core/errors.ts";

/** Our response header; the stream's default namespace is jabber:client. */
export function streamHeader(from: string, id: string, to?: string): string {
  const toAttr = to ? ` to='${escapeXML(to)}'` : "";
  return `<?xml version='1.0'?><stream:stream xmlns='${NS.client}' xmlns:stream='${NS.stream}' id='${id}' from='${escapeXML(from)}'${toAttr} version='1.0' xml:lang='en'>`;
}

/**
 * The root of a stream whose content namespace is `content` (jabber:client, jabber:server), in
 * version 1: otherwise the stream error RFC 6120 §4.9.3 names (bad-namespace-prefix,
 * invalid-namespace, unsupported-version).
 */
export function checkRoot(name: string, attrs: Record<string, string>, content: string): void {
  const colon = name.indexOf(":");
  const prefix = colon < 0 ? "" : name.slice(0, colon);
  const local = colon < 0 ? name : name.slice(colon + 1);
  const ns = prefix ? attrs[`xmlns:${prefix}`] : attrs.xmlns;
  if (ns === undefined) throw new StreamError("bad-namespace-prefix");
  if (local !== "stream" || ns !== NS.stream) throw new StreamError("invalid-namespace", "the root must be {http://etherx.jabber.org/streams}stream");
  if ((prefix ? attrs.xmlns : undefined) !== content) throw new StreamError("invalid-namespace", `the content namespace must be ${content}`);
  const version = attrs.version;
  if (version === undefined || !/^1\.\d+$/.test(version)) throw new StreamError("unsupported-version", "this server speaks XMPP 1.0");
}

/**
 * Validates the initiating entity's stream header. Throws the stream error RFC 6120 §4.9.3 names:
 * invalid-namespace for a wrong stream or content namespace, bad-namespace-prefix for an unbound
 * prefix, unsupported-version for a major version other than 1, host-unknown for a domain we do
 * not serve.
 */
export function checkHeader(name: string, attrs: Record<string, string>, serves: (domain: string) => boolean): string {
  checkRoot(name, attrs, NS.client);
  const domain = hostNamed(attrs.to);
  if (domain === undefined || !serves(domain)) {
    throw new StreamError("host-unknown", attrs.to === undefined ? "the header has no 'to'" : `this server does not serve ${attrs.to}`);
  }
  return domain;
}

/** The domain a header's 'to' names, as hosts are kept (lower case, no trailing dot). */
export function hostNamed(to: string | undefined): string | undefined {
  return to?.toLowerCase().replace(/\.$/, "");
}
