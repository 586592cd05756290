// Namespaces in XML 1.0: prefix declarations (§3), their scopes (§6), the reserved xml and
// xmlns prefixes (§3) and unique expanded attribute names (§6.3); plus the normalisation that
// makes each top-level element stand alone: a prefix only the root binds (`stream:`, `db:`) is
// declared on the element, and an `xmlns` equal to the root's default namespace is dropped
// (that one by attribute() in attributes.ts, which notes declarations as it reads them).
import type { Element } from "../element.ts";
import type { ParserState } from "./state.ts";

const XML_NS = "http://www.w3.org/XML/1998/namespace";
const XMLNS_NS = "http://www.w3.org/2000/xmlns/";

/** The URI bound to `prefix` in a flat [prefix, uri, ...] list of declarations. */
const lookup = (decls: string[] | null | undefined, prefix: string): string | undefined => {
  if (decls) for (let k = 0; k < decls.length; k += 2) if (decls[k] === prefix) return decls[k + 1];
  return undefined;
};

/** Namespaces in XML 1.0 §3 constraints on an xmlns:prefix declaration; a message if it breaks one. */
const badDeclaration = (prefix: string, uri: string): string | undefined => {
  if (prefix === "xmlns") return "the xmlns prefix must not be declared";
  if (prefix === "xml") return uri === XML_NS ? undefined : "the xml prefix must not be rebound";
  if (uri === "") return `prefix ${prefix} cannot be undeclared in XML 1.0`;
  if (uri === XML_NS || uri === XMLNS_NS) return `prefix ${prefix} cannot be bound to a reserved namespace`;
  return undefined;
};

/** The namespace bound to `prefix`; a prefix only the root binds is declared on the stanza. */
const resolve = (p: ParserState, prefix: string, decls: string[] | null, own: Record<string, string>): string | undefined => {
  if (prefix === "xml") return XML_NS;
  let uri = lookup(decls, prefix);
  if (uri !== undefined) return uri;
  for (let k = p.level - 1; k >= 0; k--) {
    uri = lookup(p.scopes[k], prefix);
    if (uri !== undefined) return uri;
  }
  uri = lookup(p.rootDecls, prefix);
  if (uri !== undefined && p.level >= 0) {
    const top = p.level === 0 ? own : (p.stack[0] as Element).attrs;
    const key = "xmlns:" + prefix;
    if (top[key] === undefined) top[key] = uri;
  }
  return uri;
};

/** Resolves prefixed attribute names; two may not share an expanded name (Namespaces §6.3). */
const resolveAttrs = (p: ParserState, attrs: Record<string, string>, decls: string[] | null, count: number): number => {
  let seen: string[] | null = null;
  for (const key in attrs) {
    const c = key.indexOf(":");
    if (c <= 0) continue;
    const prefix = key.slice(0, c);
    if (prefix === "xmlns") continue;
    const uri = resolve(p, prefix, decls, attrs);
    if (uri === undefined) return p.fail("not-well-formed", `unbound prefix in attribute ${key}`);
    if (count < 2) continue;
    const expanded = uri + "\u0000" + key.slice(c + 1);
    if (seen === null) seen = [];
    else if (seen.includes(expanded)) return p.fail("not-well-formed", `duplicate attribute ${key}`);
    seen.push(expanded);
  }
  return 0;
};

/** This module's functions, for importers to destructure into module-local consts (see state.ts). */
export const NAMESPACES = { badDeclaration, resolve, resolveAttrs };
