// Elements of an export made ready to store. In the file an element may take its namespace from
// an ancestor; stored on its own it must carry it. Stanzas are stored as the server stores those
// that arrive on a stream: without the jabber:client namespace, which the stream supplies.
import { clone, type Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { stripForged } from "../mam/policy.ts";

/**
 * The element's text on its own: the prefixes its subtree uses that an ancestor binds are
 * declared on it, and no others (an exporter's root declares xmlns:xi, which no stored element needs).
 */
export function detachedText(el: Element): string {
  const used = new Set<string>();
  const walk = (e: Element) => {
    const colon = e.name.indexOf(":");
    if (colon > 0) used.add(e.name.slice(0, colon));
    for (const k of Object.keys(e.attrs)) {
      const c = k.indexOf(":");
      if (c > 0 && !k.startsWith("xmlns") && !k.startsWith("xml:")) used.add(k.slice(0, c));
    }
    for (const c of e.children) if (typeof c !== "string") walk(c);
  };
  walk(el);
  const copy = clone(el);
  for (const p of used) {
    const ns = copy.attrs[`xmlns:${p}`] === undefined ? el.findNS(p) : undefined;
    if (ns !== undefined) copy.attrs[`xmlns:${p}`] = ns;
  }
  return copy.toString();
}

/** The element with its namespace written on it (it is changed in place; the export's tree is read once). */
export function withNamespace(el: Element): Element {
  if (!el.name.includes(":") && el.attrs.xmlns === undefined) {
    const ns = el.getNS();
    if (ns !== undefined) el.attrs.xmlns = ns;
  }
  return el;
}

/** Whether an element of the export is a stanza of this kind in jabber:client. */
export function isClientStanza(el: Element, name: "message" | "presence"): boolean {
  return el.getName() === name && !el.name.includes(":") && el.getNS() === NS.client;
}

/**
 * A message or presence as the server stores it: no jabber:client namespace of its own, and none
 * of the stanza-ids by `by` (the account, its server), which only this server's archive may give
 * (XEP-0359 §3.1); ids the old server gave name messages this archive does not have.
 */
export function storedStanza(el: Element, by: readonly string[]): string {
  delete el.attrs.xmlns;
  stripForged(el, by);
  return detachedText(el);
}
