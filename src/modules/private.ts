// XEP-0049: Private XML Storage. Each child of <query xmlns='jabber:iq:private'/> is stored under
// its (namespace, element name), serialised, in a MapStore owned by the account.
//
// Choices (section numbers of XEP-0049 1.2):
// - Only the account itself: a 'to' other than the sender's bare JID gets <forbidden/> (§2.3:
//   "Forbidden or Service Unavailable ... the former is preferable").
// - A query without a child element: <not-acceptable/> (§2.3: "At least one child element with a
//   proper namespace MUST be included; otherwise the server MUST respond with Not Acceptable").
// - A child must declare its own namespace with xmlns (§2.1: "scoped by its own namespace"); one
//   without (or with only a prefix), or in jabber:client, jabber:server, jabber:iq:private or
//   vcard-temp, gets <not-acceptable/> (§2.3 reserved namespaces; the refusal is OPTIONAL there,
//   so the rest of 'jabber:' and 'http://jabber.org/' stays open).
// - Several children per set or get are accepted (§2.3: "an IQ set or result MAY contain
//   multiple elements qualified by the same namespace"; different namespaces are accepted too),
//   each under its own key; a get returns the stored element or, when nothing is stored, the
//   requested empty element. Storing an empty element deletes the key.
// - Discovery: jabber:iq:private on the server's disco#info, not on accounts' (others cannot use it).
// - Limits: each element's serialised size and the number of keys per account, both
//   <not-acceptable/> with a text, checked before anything is written.
import { xml, elementChildren, type Element } from "../xml/element.ts";
import { NS } from "../xml/ns.ts";
import { defineModule, serviceKey } from "../core/module.ts";
import { StanzaError } from "../core/errors.ts";
import { int } from "../core/schema.ts";
import type { IqRequest } from "../core/iq.ts";
import { isEmptyElement } from "./vcard/index.ts";
import { parseStored, serializeDetached } from "../xml/stored.ts";

/** The stores: each element under its key, and the list of an account's keys. */
export const PRIVATE_STORES = { items: "private", keys: "private-keys" } as const;

const RESERVED = new Set(["", NS.client, NS.server, NS.private, NS.vcard]);

export interface PrivateItem {
  /** The storage key, in Clark notation: {namespace}name. */
  readonly key: string;
  readonly el: Element;
}

/** The children of a jabber:iq:private query as storage items, or the StanzaError the XEP names. */
export function parsePrivateQuery(query: Element, maxItems: number): PrivateItem[] | StanzaError {
  const children = elementChildren(query);
  if (children.length === 0) return new StanzaError("not-acceptable", "the query needs a child element in its own namespace");
  if (children.length > maxItems) return new StanzaError("not-acceptable", `at most ${maxItems} elements per request`);
  const items: PrivateItem[] = [];
  for (const el of children) {
    const ns = el.attrs.xmlns ?? "";
    if (el.name.includes(":")) return new StanzaError("not-acceptable", "declare the element's namespace with xmlns, not a prefix");
    if (RESERVED.has(ns)) return new StanzaError("not-acceptable", ns ? `'${ns}' is a reserved namespace` : "the element needs its own namespace");
    items.push({ key: `{${ns}}${el.name}`, el });
  }
  return items;
}

function itemsOf(req: IqRequest, maxItems: number): PrivateItem[] {
  if (!req.from.bare.equals(req.to)) throw new StanzaError("forbidden", "private data belongs to its account only");
  const items = parsePrivateQuery(req.payload, maxItems);
  if (items instanceof StanzaError) throw items;
  return items;
}

/**
 * Private XML for other modules (XEP-0402's compatibility with XEP-0048): read and write an
 * account's element by key, and hear of the changes its clients make.
 */
export interface PrivateApi {
  get(owner: string, key: string): Promise<Element | undefined>;
  /** Writes (undefined deletes) without telling the onChange listeners. */
  set(owner: string, key: string, el: Element | undefined): Promise<void>;
  /** Runs `fn` after a client stores the key, before its reply; until the listening module unloads. */
  onChange(key: string, fn: (owner: string) => Promise<void>): void;
}

export const PRIVATE = serviceKey<PrivateApi>("private");

export default defineModule({
  name: "private",
  specs: [{ spec: "XEP-0049", version: "1.2" }],
  options: {
    maxItemSize: int("Largest element stored, in bytes of its XML.", 65_536, 256),
    maxItems: int("Elements (namespace and name pairs) one account may store.", 64, 1),
  },
  setup(ctx) {
    const items = ctx.map<string>(PRIVATE_STORES.items);
    const index = ctx.keyval<string[]>(PRIVATE_STORES.keys);
    const { maxItemSize, maxItems } = ctx.options;
    // On the server only: the XEP (historical) defines no discovery; the feature is listed where
    // clients look for server services, and the data is answered to its owner alone.
    ctx.feature(NS.private);

    async function get(owner: string, wanted: PrivateItem[]): Promise<Element> {
      const out = xml("query", { xmlns: NS.private });
      for (const { key, el } of wanted) {
        const text = await items.get(owner, key);
        out.append((text !== undefined && parseStored(text)) || xml(el.name, { xmlns: el.attrs.xmlns }));
      }
      return out;
    }

    async function set(owner: string, given: PrivateItem[]): Promise<void> {
      const writes = given.map(({ key, el }) => ({ key, text: isEmptyElement(el) ? undefined : serializeDetached(el) }));
      for (const { key, text } of writes) {
        if (text !== undefined && Buffer.byteLength(text, "utf8") > maxItemSize) {
          throw new StanzaError("not-acceptable", `${key} is larger than ${maxItemSize} bytes`);
        }
      }
      const keys = new Set((await index.get(owner)) ?? []);
      for (const { key, text } of writes) {
        if (text === undefined) keys.delete(key);
        else keys.add(key);
      }
      if (keys.size > maxItems) throw new StanzaError("not-acceptable", `at most ${maxItems} private elements per account`);
      for (const { key, text } of writes) await items.set(owner, key, text);
      await index.set(owner, keys.size ? [...keys] : undefined);
    }

    const listeners = new Map<string, Set<(owner: string) => Promise<void>>>();
    ctx.provideEach(PRIVATE, (user) => ({
      get: async (owner, key) => {
        const text = await items.get(owner, key);
        return text === undefined ? undefined : parseStored(text);
      },
      set: (owner, key, el) => {
        const name = /^\{[^}]*\}(.+)$/.exec(key)?.[1] ?? "";
        const ns = key.slice(1, key.length - name.length - 1);
        return set(owner, [{ key, el: el ?? xml(name, { xmlns: ns }) }]);
      },
      onChange: (key, fn) => {
        let list = listeners.get(key);
        if (!list) listeners.set(key, (list = new Set()));
        list.add(fn);
        user.own(() => list.delete(fn));
      },
    }));
    async function changed(owner: string, given: PrivateItem[]): Promise<void> {
      for (const { key } of given) for (const fn of listeners.get(key) ?? []) await fn(owner);
    }

    ctx.iq("account", NS.private, "query", {
      get: (req) => get(req.to.toString(), itemsOf(req, maxItems)),
      set: async (req) => {
        const given = itemsOf(req, maxItems);
        await set(req.to.toString(), given);
        await changed(req.to.toString(), given);
      },
    });
  },
});
