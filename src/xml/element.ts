// The one XML layer: ltx's element tree (the model @xmpp/xml builds on) and small helpers.
// Stanzas are built and read through these, never through strings.
import { Element, clone, escapeXML, escapeXMLText } from "ltx";
import { FastElement } from "./serialize.ts";

export { Element, FastElement, clone, escapeXML, escapeXMLText };

type Attrs = Record<string, string | number | undefined>;
type Child = Element | string | undefined | null | false;

/** Builds an element: xml("iq", { type: "result" }, xml("query", { xmlns })). Undefined attrs are dropped. */
export function xml(name: string, attrs?: Attrs | null, ...children: (Child | Child[])[]): Element {
  const clean: Record<string, string> = {};
  if (attrs) {
    for (const k in attrs) {
      const v = attrs[k];
      if (v !== undefined) clean[k] = typeof v === "string" ? v : String(v);
    }
  }
  const el = new FastElement(name, clean);
  // No children.flat(): a new array per element built (2% of a login's samples with the rest of xml()).
  for (const c of children) {
    if (Array.isArray(c)) for (const d of c) appendChild(el, d);
    else appendChild(el, c);
  }
  return el;
}

function appendChild(el: Element, c: Child): void {
  if (c !== undefined && c !== null && c !== false && c !== "") el.append(c);
}

/** The first child element with this local name whose own xmlns is `ns` (or inherits none when ns is omitted). */
export function child(el: Element, name: string, ns?: string): Element | undefined {
  for (const c of el.children) {
    if (typeof c !== "string" && c.name === name && (ns === undefined || c.attrs.xmlns === ns)) return c;
  }
  return undefined;
}

/** The first child element in namespace `ns`, whatever its name (the payload of an iq). */
export function firstChildIn(el: Element, ns?: string): Element | undefined {
  for (const c of el.children) {
    if (typeof c !== "string" && (ns === undefined || c.attrs.xmlns === ns)) return c;
  }
  return undefined;
}

export function elementChildren(el: Element): Element[] {
  const out: Element[] = [];
  for (const c of el.children) if (typeof c !== "string") out.push(c);
  return out;
}

/** Text of a child element, or undefined when the child is absent. */
export function childText(el: Element, name: string, ns?: string): string | undefined {
  const c = child(el, name, ns);
  return c ? c.getText() : undefined;
}

/**
 * A top-level element written with a prefix (<stream:message xmlns:stream='jabber:client'>) as
 * the unprefixed element of its namespace, since what names an element is its namespace and local
 * name, not its prefix (Namespaces in XML 1.0 §6). Renamed in place to its local name with its
 * namespace as default (none when that is `content`, the stream's, as the parser leaves stanzas);
 * its unprefixed children without an xmlns of their own keep the namespace they were in. The
 * parser declares on a top-level element the prefix it is named with.
 */
export function unprefixTopLevel(el: Element, content: string): void {
  const colon = el.name.indexOf(":");
  if (colon < 0) return;
  const uri = el.attrs[`xmlns:${el.name.slice(0, colon)}`];
  if (uri === undefined) return;
  const inherited = el.attrs.xmlns ?? content;
  el.name = el.name.slice(colon + 1);
  if (uri === content) delete el.attrs.xmlns;
  else el.attrs.xmlns = uri;
  if (inherited === uri) return;
  for (const c of el.children) {
    if (typeof c !== "string" && c.attrs.xmlns === undefined && !c.name.includes(":")) c.attrs.xmlns = inherited;
  }
}

/** The namespace a child element is written in: its prefix's, else its own xmlns (undefined: its parent's default). */
export function nsOf(el: Element): string | undefined {
  return el.name.includes(":") ? el.getNS() : el.attrs.xmlns;
}

/**
 * Takes out of `el` the child elements named one of `locals` (their local names, whatever prefix
 * they are written with) whose namespace `drop` picks; how many went. Every message on its way to
 * a recipient passes here, most with nothing to take: nothing is allocated then, and a child's
 * namespace is looked up only when its name is one of `locals`.
 */
export function removeChildren(el: Element, locals: ReadonlySet<string>, drop: (ns: string | undefined, local: string) => boolean): number {
  const picked = (c: Element | string): boolean => {
    if (typeof c === "string") return false;
    const local = c.getName();
    return locals.has(local) && drop(nsOf(c), local);
  };
  let removed = 0;
  for (const c of el.children) if (picked(c)) removed++;
  if (removed > 0) el.children = el.children.filter((c) => !picked(c));
  return removed;
}
