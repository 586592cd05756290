// XEP-0227 §4.10: a user's PEP nodes (XEP-0163): their configuration in
// <pubsub xmlns='http://jabber.org/protocol/pubsub#owner'> (one <configure node=''/> each, with a
// XEP-0004 pubsub#node_config form), their items in <pubsub xmlns='http://jabber.org/protocol/pubsub'>
// (one <items node=''/> each). Bookmarks (XEP-0402), avatars (XEP-0084) and OMEMO keys (XEP-0384)
// travel this way.
//
// A form's fields become the PEP module's node configuration one by one: an empty field keeps the
// default (Prosody writes every field of its form, empty where the node has the default), a field
// this server has no setting for (pubsub#description, pubsub#publish_model...) is noted and left
// out. A node that does not say how many items it keeps gets room for the items it has. The
// items keep their file order as publish order; sizes and counts are held to the PEP module's limits.
import { elementChildren, xml, type Element } from "../../xml/element.ts";
import { parseStored } from "../../xml/stored.ts";
import { StanzaError } from "../../core/errors.ts";
import type { IdGenerator } from "../../storage/ids.ts";
import { applyConfig, configForm, DEFAULT_CONFIG, type NodeConfig } from "../pubsub/config.ts";
import { PUBSUB } from "../pubsub/ns.ts";
import { LIMITS } from "../pubsub/parse.ts";
import type { StoredItem } from "../pubsub/store.ts";
import { detachedText, withNamespace } from "./xml.ts";

export interface PepLimits {
  /** Items one node keeps at most (max_items "max"). */
  maxItems: number;
  maxItemSize: number;
  maxNodes: number;
}

export interface PepNode {
  config: NodeConfig;
  items: StoredItem[];
}

export interface PepRead {
  nodes: Map<string, PepNode>;
  errors: string[];
  notes: string[];
  /** Form fields of node configurations that this server has no setting for. */
  ignoredFields: Set<string>;
}

/** Reads the two <pubsub/> elements of a user (either may be absent). */
export function readPep(owner: Element | undefined, items: Element | undefined, publisher: string, ids: IdGenerator, limits: PepLimits): PepRead {
  const out: PepRead = { nodes: new Map(), errors: [], notes: [], ignoredFields: new Set() };
  const given = new Map<string, Map<string, readonly string[]>>();
  for (const el of owner ? elementChildren(owner) : []) {
    const node = el.attrs.node;
    if (el.getName() === "configure" && node) {
      const form = elementChildren(el).find((c) => c.getName() === "x" && c.getNS() === "jabber:x:data");
      given.set(node, form ? formFields(form) : new Map());
    } else if (el.getName() === "affiliations" || el.getName() === "subscriptions") {
      out.notes.push(`PEP: the ${el.getName()} of node ${node ?? "?"} were left out (in PEP they follow from the roster)`);
    } else {
      out.errors.push(`PEP: an element <${el.name}/> in the node configurations`);
    }
  }
  const nodeItems = new Map<string, Element[]>();
  for (const el of items ? elementChildren(items) : []) {
    const node = el.attrs.node;
    if (el.getName() !== "items" || !node) {
      out.errors.push(`PEP: an element <${el.name}/> where <items node=''/> belong`);
      continue;
    }
    nodeItems.set(node, elementChildren(el).filter((i) => i.getName() === "item"));
  }
  for (const node of new Set([...given.keys(), ...nodeItems.keys()])) {
    if (node.length > LIMITS.nodeName) {
      out.errors.push(`PEP: a node name longer than ${LIMITS.nodeName} characters`);
      continue;
    }
    const stored = storedItems(node, nodeItems.get(node) ?? [], publisher, ids, limits, out);
    out.nodes.set(node, { config: nodeConfig(node, given.get(node), stored.length, limits, out), items: stored });
  }
  if (out.nodes.size > limits.maxNodes) out.errors.push(`PEP: ${out.nodes.size} nodes, more than ${limits.maxNodes} (modules.pep.maxNodes)`);
  return out;
}

/** The values of a form's fields by var (a field without var is skipped). */
function formFields(form: Element): Map<string, readonly string[]> {
  const fields = new Map<string, readonly string[]>();
  for (const f of elementChildren(form)) {
    if (f.getName() !== "field" || !f.attrs.var || f.attrs.var === "FORM_TYPE") continue;
    fields.set(f.attrs.var, elementChildren(f).filter((v) => v.getName() === "value").map((v) => v.getText()));
  }
  return fields;
}

function nodeConfig(node: string, fields: Map<string, readonly string[]> | undefined, items: number, limits: PepLimits, out: PepRead): NodeConfig {
  let config: NodeConfig = DEFAULT_CONFIG;
  let maxItemsGiven = false;
  for (const [name, values] of fields ?? []) {
    if (values.length === 0 || (values.length === 1 && values[0] === "")) continue;
    const next = applyConfig(config, new Map([[name, values]]), limits.maxItems);
    if (next instanceof StanzaError) {
      if (/has no option/.test(next.text ?? "")) out.ignoredFields.add(name);
      else out.errors.push(`PEP: node ${node}: ${next.text ?? name}`);
      continue;
    }
    config = next;
    if (name === "pubsub#max_items") maxItemsGiven = true;
  }
  if (!maxItemsGiven && items > (config.maxItems === "max" ? limits.maxItems : config.maxItems)) {
    config = { ...config, maxItems: "max" };
  }
  return config;
}

function storedItems(node: string, items: Element[], publisher: string, ids: IdGenerator, limits: PepLimits, out: PepRead): StoredItem[] {
  const byId = new Map<string, StoredItem>();
  for (const item of items) {
    const id = item.attrs.id;
    if (!id || id.length > LIMITS.itemId) {
      out.errors.push(`PEP: node ${node} has an item ${id ? "with an id longer than " + LIMITS.itemId + " characters" : "without an id"}`);
      continue;
    }
    const payloads = elementChildren(item);
    if (payloads.length > 1) {
      out.errors.push(`PEP: item ${id} of node ${node} has ${payloads.length} payloads (XEP-0060: one)`);
      continue;
    }
    const text = payloads[0] ? detachedText(withNamespace(payloads[0])) : "";
    if (Buffer.byteLength(text, "utf8") > limits.maxItemSize) {
      out.errors.push(`PEP: item ${id} of node ${node} is larger than ${limits.maxItemSize} bytes (modules.pep.maxItemSize)`);
      continue;
    }
    // A repeated id replaces the earlier item, as a publish with that id does.
    byId.delete(id);
    byId.set(id, { node, id, seq: ids.next(), xml: text, publisher });
  }
  const stored = [...byId.values()];
  if (stored.length > limits.maxItems) {
    out.notes.push(`PEP: node ${node} has ${stored.length} items; the newest ${limits.maxItems} are kept (modules.pep.maxItems)`);
    return stored.slice(stored.length - limits.maxItems);
  }
  return stored;
}

/** §4.10 for the export: the configurations, and the items of the nodes that have some. */
export function pepElements(nodes: ReadonlyMap<string, PepNode>): Element[] {
  if (nodes.size === 0) return [];
  const names = [...nodes.keys()].sort();
  const config = xml("pubsub", { xmlns: PUBSUB.owner }, names.map((node) => {
    const form = configForm(nodes.get(node)!.config);
    form.attrs.type = "submit";
    return xml("configure", { node }, form);
  }));
  const withItems = names.filter((n) => nodes.get(n)!.items.length > 0);
  const items = withItems.length === 0 ? undefined : xml("pubsub", { xmlns: PUBSUB.main }, withItems.map((node) =>
    xml("items", { node }, nodes.get(node)!.items.map((i) => xml("item", { id: i.id }, i.xml ? parseStored(i.xml) : undefined)))));
  return items ? [config, items] : [config];
}
