// The requests of XEP-0060 that PEP and the pubsub service take, read once at the module's edge
// into typed records, or the error XEP-0060 names for them (bad-request with its pubsub-specific
// child, mostly). Whether a request fits the node (an item or a payload required or forbidden)
// depends on the node's configuration and is checked by the engine.
import { elementChildren, type Element } from "../../xml/element.ts";
import { tryParseJid, type JID } from "../../xml/jid.ts";
import { StanzaError } from "../../core/errors.ts";
import { parseSubmission } from "../../core/forms.ts";
import { PUBSUB, pubsubError, unsupported } from "./ns.ts";

export interface PublishRequest {
  readonly kind: "publish";
  readonly node: string;
  /** Whether the request had an <item/> (a notification-only transient node takes none). */
  readonly item: boolean;
  readonly id: string | undefined;
  readonly payload: Element | undefined;
  /** XEP-0223 publish-options: field var -> values, FORM_TYPE left out. */
  readonly options: ReadonlyMap<string, readonly string[]> | undefined;
}

export type PubsubRequest =
  | PublishRequest
  | { readonly kind: "retract"; readonly node: string; readonly id: string; readonly notify: boolean | undefined }
  | { readonly kind: "items"; readonly node: string; readonly max: number | undefined; readonly ids: readonly string[] }
  | { readonly kind: "create"; readonly node: string | undefined; readonly config: ReadonlyMap<string, readonly string[]> | undefined }
  | { readonly kind: "subscribe"; readonly node: string; readonly jid: JID }
  | { readonly kind: "unsubscribe"; readonly node: string; readonly jid: JID; readonly subid: string | undefined }
  | { readonly kind: "subscriptions"; readonly node: string | undefined }
  | { readonly kind: "affiliations"; readonly node: string | undefined };

export type Affiliation = "owner" | "publisher" | "member" | "none" | "outcast";
export const AFFILIATIONS: readonly Affiliation[] = ["owner", "publisher", "member", "none", "outcast"];
export type SubscriptionState = "subscribed" | "none";

export type OwnerRequest =
  | { readonly kind: "configure"; readonly node: string; readonly form: ReadonlyMap<string, readonly string[]> | undefined }
  | { readonly kind: "default" }
  | { readonly kind: "delete"; readonly node: string }
  | { readonly kind: "purge"; readonly node: string }
  /** get: changes undefined (§8.8.1); set: the new states (§8.8.2). */
  | { readonly kind: "subscriptions"; readonly node: string; readonly changes: readonly { jid: JID; state: SubscriptionState }[] | undefined }
  | { readonly kind: "affiliations"; readonly node: string; readonly changes: readonly { jid: JID; affiliation: Affiliation }[] | undefined };

/** Limits checked before any work. */
export const LIMITS = { nodeName: 1024, itemId: 1024, itemIds: 256, changes: 256 } as const;

function jidOf(el: Element): JID {
  const jid = el.attrs.jid ? tryParseJid(el.attrs.jid) : undefined;
  if (!jid) throw pubsubError("bad-request", "jid-required");
  return jid;
}

function optNode(el: Element): string | undefined {
  return el.attrs.node === undefined ? undefined : nodeOf(el);
}

function nodeOf(el: Element): string {
  const node = el.attrs.node;
  if (!node) throw pubsubError("bad-request", "nodeid-required");
  if (node.length > LIMITS.nodeName) throw new StanzaError("not-acceptable", `node names are at most ${LIMITS.nodeName} characters`);
  return node;
}

function itemId(el: Element): string | undefined {
  const id = el.attrs.id;
  if (id !== undefined && (id === "" || id.length > LIMITS.itemId)) throw new StanzaError("bad-request", `an item id is 1 to ${LIMITS.itemId} characters`);
  return id;
}

/** The fields of a submitted form inside `parent`, checked to be of `formType` when it names one. */
function formIn(parent: Element | undefined, formType: string): ReadonlyMap<string, readonly string[]> | undefined {
  const x = parent ? elementChildren(parent).find((c) => c.name === "x") : undefined;
  if (!x) return undefined;
  const sub = parseSubmission(x);
  if (sub instanceof StanzaError) throw sub;
  if (sub.type === "cancel") return undefined;
  if (sub.formType !== undefined && sub.formType !== formType) throw new StanzaError("bad-request", `the form's FORM_TYPE is ${formType}`);
  const fields = new Map(sub.fields);
  fields.delete("FORM_TYPE");
  return fields;
}

/** The verb of a <pubsub xmlns='http://jabber.org/protocol/pubsub'/> request. */
export function parsePubsub(pubsub: Element, type: "get" | "set"): PubsubRequest {
  const children = elementChildren(pubsub);
  const verb = children.find((c) => c.name !== "publish-options" && c.name !== "configure");
  if (!verb) {
    if (children.some((c) => c.name === "configure")) throw unsupported("config-node");
    throw new StanzaError("bad-request", "the pubsub request names no action");
  }
  if (verb.name === "options") throw unsupported("subscription-options");
  if (type === "set" && verb.name === "subscribe") return { kind: "subscribe", node: nodeOf(verb), jid: jidOf(verb) };
  if (type === "set" && verb.name === "unsubscribe") return { kind: "unsubscribe", node: nodeOf(verb), jid: jidOf(verb), subid: verb.attrs.subid };
  if (type === "get" && verb.name === "subscriptions") return { kind: "subscriptions", node: optNode(verb) };
  if (type === "get" && verb.name === "affiliations") return { kind: "affiliations", node: optNode(verb) };
  if (type === "get" && verb.name === "items") {
    const max = verb.attrs.max_items;
    const n = max === undefined ? undefined : /^\d{1,9}$/.test(max) ? Number(max) : NaN;
    if (n !== undefined && !(n >= 1)) throw new StanzaError("bad-request", "max_items is a positive integer");
    const ids = verb.getChildren("item").map((i) => itemId(i)).filter((i) => i !== undefined);
    if (ids.length > LIMITS.itemIds) throw new StanzaError("policy-violation", `at most ${LIMITS.itemIds} item ids per request`);
    return { kind: "items", node: nodeOf(verb), max: n, ids };
  }
  if (type === "set" && verb.name === "publish") return parsePublish(verb, pubsub);
  if (type === "set" && verb.name === "retract") {
    const node = nodeOf(verb);
    const items = verb.getChildren("item");
    if (items.length !== 1) throw pubsubError("bad-request", "item-required", "retract one item at a time");
    const id = itemId(items[0]!);
    if (id === undefined) throw pubsubError("bad-request", "item-required");
    const n = verb.attrs.notify;
    return { kind: "retract", node, id, notify: n === undefined ? undefined : n === "true" || n === "1" };
  }
  if (type === "set" && verb.name === "create") {
    return { kind: "create", node: optNode(verb), config: formIn(pubsub.getChild("configure"), PUBSUB.nodeConfig) };
  }
  throw new StanzaError("bad-request", `no ${type} of <${verb.name}/>`);
}

function parsePublish(verb: Element, pubsub: Element): PublishRequest {
  const node = nodeOf(verb);
  const items = verb.getChildren("item");
  if (items.length > 1) throw pubsubError("bad-request", "invalid-payload", "publish one item at a time");
  const item = items[0];
  const payloads = item ? elementChildren(item) : [];
  // XEP-0060 §7.1.3.5: an item has one payload element at most.
  if (payloads.length > 1) throw pubsubError("bad-request", "invalid-payload", "an item has one payload element");
  const options = formIn(pubsub.getChild("publish-options"), PUBSUB.publishOptions);
  return { kind: "publish", node, item: item !== undefined, id: item && itemId(item), payload: payloads[0], options };
}

/** The verb of a <pubsub xmlns='http://jabber.org/protocol/pubsub#owner'/> request. */
export function parseOwner(pubsub: Element, type: "get" | "set"): OwnerRequest {
  const verb = elementChildren(pubsub)[0];
  if (!verb) throw new StanzaError("bad-request", "the pubsub request names no action");
  switch (`${type} ${verb.name}`) {
    case "get configure":
      return { kind: "configure", node: nodeOf(verb), form: undefined };
    case "set configure": {
      const form = formIn(verb, PUBSUB.nodeConfig);
      if (!verb.getChild("x")) throw new StanzaError("bad-request", "a configuration needs a submitted form");
      return { kind: "configure", node: nodeOf(verb), form: form ?? new Map() };
    }
    case "get default":
      return { kind: "default" };
    case "set delete":
      return { kind: "delete", node: nodeOf(verb) };
    case "set purge":
      return { kind: "purge", node: nodeOf(verb) };
    case "get subscriptions":
      return { kind: "subscriptions", node: nodeOf(verb), changes: undefined };
    case "get affiliations":
      return { kind: "affiliations", node: nodeOf(verb), changes: undefined };
    case "set subscriptions":
      return { kind: "subscriptions", node: nodeOf(verb), changes: changes(verb, "subscription").map((c) => {
        const state = c.attrs.subscription;
        if (state !== "subscribed" && state !== "none") throw new StanzaError("bad-request", "a subscription is subscribed or none");
        return { jid: jidOf(c), state };
      }) };
    case "set affiliations":
      return { kind: "affiliations", node: nodeOf(verb), changes: changes(verb, "affiliation").map((c) => {
        const affiliation = c.attrs.affiliation as Affiliation;
        if (!AFFILIATIONS.includes(affiliation)) throw new StanzaError("bad-request", `an affiliation is one of ${AFFILIATIONS.join(", ")}`);
        return { jid: jidOf(c).bare, affiliation };
      }) };
  }
  throw new StanzaError("bad-request", `no ${type} of <${verb.name}/>`);
}

function changes(verb: Element, name: string): Element[] {
  const list = verb.getChildren(name);
  if (list.length > LIMITS.changes) throw new StanzaError("policy-violation", `at most ${LIMITS.changes} changes per request`);
  return list;
}
