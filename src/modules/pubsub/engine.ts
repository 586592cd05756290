// The node engine of XEP-0060 that PEP (XEP-0163, one service per account) and the pubsub service
// (pubsub.<domain>) share: publish (with XEP-0223 publish-options), retract, items, create, and the
// owner's configure, default, delete and purge, on a NodeStore. What differs between the two is a
// NodeHost: who owns the nodes a request addresses, who may do what, and who is notified.
// Publishing to a node that does not exist creates it (#auto-create) with the publish-options as
// its configuration; to one that exists, the options are preconditions (conflict +
// <precondition-not-met/> when one differs).
import { xml, type Element } from "../../xml/element.ts";
import type { JID } from "../../xml/jid.ts";
import { NS } from "../../xml/ns.ts";
import { StanzaError } from "../../core/errors.ts";
import type { IqRequest } from "../../core/iq.ts";
import type { Send } from "../../core/capabilities.ts";
import { idTime, type IdGenerator } from "../../storage/ids.ts";
import { parseStored, serializeDetached } from "../../xml/stored.ts";
import { applyConfig, configForm, itemLimit, unmetPrecondition, type NodeConfig } from "./config.ts";
import { PUBSUB, pubsubError } from "./ns.ts";
import type { OwnerRequest, PublishRequest } from "./parse.ts";
import type { NodeStore, StoredItem } from "./store.ts";

/** What a requester does to a node; "create" is asked with the node absent. */
export type Act = "publish" | "retract" | "create" | "configure" | "delete" | "purge";

export interface NodeHost {
  /** Sends the event notifications. */
  readonly send: Send;
  /** Item ids and their order. */
  readonly ids: IdGenerator;
  readonly store: NodeStore;
  /** The configuration of a new node, before its creator's fields. */
  readonly defaults: NodeConfig;
  /** Most items a node keeps (max_items "max"), bytes of one payload. */
  readonly limits: { readonly items: number; readonly itemSize: number };
  /**
   * Under the owner's lock, before a node is added: the error when `creator` may not add one more
   * to `owner`'s nodes (the owner's node limit, the service's and the creator's quotas).
   */
  mayAdd(owner: JID, creator: JID): Promise<StanzaError | undefined>;
  /** The error when `requester` may not do `act` (config undefined: the node does not exist yet). */
  mayAct(act: Act, owner: JID, node: string, config: NodeConfig | undefined, requester: JID): Promise<StanzaError | undefined>;
  /** The error when `requester` may not read the node's items. */
  mayRead(owner: JID, node: string, config: NodeConfig, requester: JID): Promise<StanzaError | undefined>;
  /** Who an event notification about the node goes to. */
  recipients(owner: JID, node: string, config: NodeConfig): Promise<JID[]>;
  /** The error when the service does not take a configuration (an access model it has no use for). */
  refuse?(config: NodeConfig): StanzaError | undefined;
  /** Under the owner's lock, after a node is created (the service makes its creator the owner). */
  created?(owner: JID, node: string, creator: JID): Promise<void>;
  /** After a requester's publish, retract, purge or delete (not a quiet one), before the reply. */
  changed?(owner: JID, node: string): Promise<void>;
  /** Under the owner's lock, after a node is deleted. */
  deleted?(owner: JID, node: string): Promise<void>;
}

/** An item as XEP-0060 shows it: <item id='...'>payload</item>, the payload left out on request. */
export function itemElement(item: StoredItem, payload = true): Element {
  return xml("item", { id: item.id }, payload && item.xml ? parseStored(item.xml) : undefined);
}

let sent = 0;

/** The event notification message (XEP-0060 §7.1.2.1) from the node's owner (the service, or the account: XEP-0163 §4.3.2). */
export function eventMessage(owner: JID, to: JID, config: NodeConfig, body: Element, delayed?: StoredItem): Element {
  const at = delayed ? idTime(delayed.seq) : undefined;
  return xml("message", { from: owner.toString(), to: to.toString(), type: config.notificationType, id: `ps${(++sent).toString(36)}` },
    xml("event", { xmlns: PUBSUB.event }, body),
    at !== undefined ? xml("delay", { xmlns: NS.delay, from: owner.toString(), stamp: new Date(at).toISOString() }) : undefined);
}

/** Sends `body` (<items/>, <delete/>, <purge/>) to each of `to`, through the router (blocking applies). */
export async function notifyAll(send: Send, owner: JID, to: readonly JID[], config: NodeConfig, body: () => Element): Promise<void> {
  for (const jid of to) await send(eventMessage(owner, jid, config, body()));
}

const pubsub = (...children: Element[]) => xml("pubsub", { xmlns: PUBSUB.main }, ...children);
const owned = (...children: Element[]) => xml("pubsub", { xmlns: PUBSUB.owner }, ...children);

async function check(e: Promise<StanzaError | undefined>): Promise<void> {
  const err = await e;
  if (err) throw err;
}

export class NodeEngine {
  private readonly host: NodeHost;

  constructor(host: NodeHost) {
    this.host = host;
  }

  async existing(owner: JID, node: string): Promise<NodeConfig> {
    const config = await this.host.store.config(owner.toString(), node);
    if (!config) throw new StanzaError("item-not-found", `no node ${node}`);
    return config;
  }

  async items(owner: JID, requester: JID, node: string, max: number | undefined, ids: readonly string[]): Promise<Element> {
    const config = await this.existing(owner, node);
    await check(this.host.mayRead(owner, node, config, requester));
    let items = await this.host.store.list(owner.toString(), node);
    if (ids.length > 0) items = items.filter((i) => ids.includes(i.id));
    if (max !== undefined) items = items.slice(-max);
    return pubsub(xml("items", { node }, items.map((i) => itemElement(i))));
  }

  /** Publishes (§7.1); `quiet` for the server's own publications, which tell no changed() listener. */
  async publish(owner: JID, requester: JID, r: PublishRequest, quiet = false): Promise<Element> {
    const { store, ids, limits } = this.host;
    const key = owner.toString();
    const text = r.payload ? serializeDetached(r.payload) : "";
    if (Buffer.byteLength(text, "utf8") > limits.itemSize) throw pubsubError("not-acceptable", "payload-too-big", `items are at most ${limits.itemSize} bytes`);
    const item = { node: r.node, id: r.id ?? ids.next(), seq: ids.next(), xml: text, publisher: requester.toString() };
    const config = await store.exclusive(key, async () => {
      let c = await store.config(key, r.node);
      await check(this.host.mayAct("publish", owner, r.node, c, requester));
      if (c && r.options) {
        const unmet = unmetPrecondition(c, r.options, limits.items);
        if (unmet) throw pubsubError("conflict", "precondition-not-met", `the node's ${unmet} differs from the publish-options`);
      }
      if (!c) {
        await check(this.host.mayAct("create", owner, r.node, undefined, requester));
        c = await this.newNode(owner, r.node, r.options, true, requester);
      }
      fitsNode(c, r);
      if (c.persist && r.item) await store.put(key, item, itemLimit(c, limits.items));
      return c;
    });
    const body = () => xml("items", { node: r.node }, r.item ? itemElement(item, config.deliverPayloads) : undefined);
    await notifyAll(this.host.send, owner, await this.host.recipients(owner, r.node, config), config, body);
    if (!quiet) await this.host.changed?.(owner, r.node);
    return pubsub(xml("publish", { node: r.node }, r.item ? xml("item", { id: item.id }) : undefined));
  }

  /** A new node (under the owner's lock) with `fields` applied to the defaults. */
  private async newNode(owner: JID, node: string, fields: ReadonlyMap<string, readonly string[]> | undefined, fromOptions: boolean, creator: JID): Promise<NodeConfig> {
    const { store, limits, defaults } = this.host;
    const key = owner.toString();
    await check(this.host.mayAdd(owner, creator));
    let c = fields ? applyConfig(defaults, fields, limits.items) : defaults;
    if (!(c instanceof StanzaError)) c = this.host.refuse?.(c) ?? c;
    // XEP-0060 §7.1.5: options the service cannot apply are preconditions that cannot be met.
    if (c instanceof StanzaError) throw fromOptions ? pubsubError("conflict", "precondition-not-met", c.text) : c;
    // Written together: on a store that commits in groups (the embedded one), one commit, not three.
    await Promise.all([store.setConfig(key, node, c), this.host.created?.(owner, node, creator)]);
    return c;
  }

  async retract(owner: JID, requester: JID, node: string, id: string, notifyAttr: boolean | undefined, quiet = false): Promise<undefined> {
    const key = owner.toString();
    const { store } = this.host;
    const config = await store.exclusive(key, async () => {
      const c = await this.existing(owner, node);
      await check(this.host.mayAct("retract", owner, node, c, requester));
      if (!(await store.remove(key, node, id))) throw new StanzaError("item-not-found", `no item ${id}`);
      return c;
    });
    // XEP-0060 §7.2.2.1: notify when asked to; without the attribute, when the node says so.
    if (notifyAttr ?? config.notifyRetract) {
      await notifyAll(this.host.send, owner, await this.host.recipients(owner, node, config), config, () => xml("items", { node }, xml("retract", { id })));
    }
    if (!quiet) await this.host.changed?.(owner, node);
    return undefined;
  }

  /** Creates a node (§8.1); an instant node (no name) gets one made by the service (§8.1.2). */
  async create(owner: JID, requester: JID, node: string | undefined, fields: ReadonlyMap<string, readonly string[]> | undefined): Promise<Element | undefined> {
    const key = owner.toString();
    const name = node ?? this.host.ids.next();
    await this.host.store.exclusive(key, async () => {
      await check(this.host.mayAct("create", owner, name, undefined, requester));
      if (await this.host.store.config(key, name)) throw new StanzaError("conflict", `node ${name} exists`);
      await this.newNode(owner, name, fields, false, requester);
    });
    return node === undefined ? pubsub(xml("create", { node: name })) : undefined;
  }

  /** The owner's requests common to both services: configure, default, delete, purge. */
  async owner(owner: JID, requester: JID, r: OwnerRequest & { kind: "configure" | "default" | "delete" | "purge" }): Promise<Element | undefined> {
    const { store, limits } = this.host;
    const key = owner.toString();
    if (r.kind === "default") return owned(xml("default", null, configForm(this.host.defaults)));
    if (r.kind === "configure" && r.form === undefined) {
      const config = await this.existing(owner, r.node);
      await check(this.host.mayAct("configure", owner, r.node, config, requester));
      return owned(xml("configure", { node: r.node }, configForm(config)));
    }
    if (r.kind === "configure") {
      await store.exclusive(key, async () => {
        const old = await this.existing(owner, r.node);
        await check(this.host.mayAct("configure", owner, r.node, old, requester));
        const next = applyConfig(old, r.form ?? new Map(), limits.items);
        if (next instanceof StanzaError) throw next;
        const refused = this.host.refuse?.(next);
        if (refused) throw refused;
        await store.setConfig(key, r.node, next);
        // Fewer items kept now: the oldest beyond the new limit go.
        const items = await store.list(key, r.node);
        const keep = next.persist ? itemLimit(next, limits.items) : 0;
        for (const old of items.slice(0, Math.max(0, items.length - keep))) await store.remove(key, r.node, old.id);
      });
      return undefined;
    }
    // Recipients are read before the delete: the service forgets a deleted node's subscribers.
    const { config, to } = await store.exclusive(key, async () => {
      const c = await this.existing(owner, r.node);
      await check(this.host.mayAct(r.kind, owner, r.node, c, requester));
      const to = await this.host.recipients(owner, r.node, c);
      if (r.kind === "delete") {
        await store.deleteNode(key, r.node);
        await this.host.deleted?.(owner, r.node);
      } else await store.purge(key, r.node);
      return { config: c, to };
    });
    // XEP-0060 §8.4.2 (if notify_delete) and §8.5.2 (purge).
    if (r.kind === "purge" || config.notifyDelete) await notifyAll(this.host.send, owner, to, config, () => xml(r.kind, { node: r.node }));
    await this.host.changed?.(owner, r.node);
    return undefined;
  }
}

/**
 * XEP-0060 §7.1.3.6: whether the publication fits the node's kind. A persistent node needs an
 * item; a node that delivers payloads needs a payload; a transient notification-only node takes
 * no item at all (item-forbidden).
 */
function fitsNode(c: NodeConfig, r: PublishRequest): void {
  if (!c.persist && !c.deliverPayloads) {
    if (r.item) throw pubsubError("bad-request", "item-forbidden");
    return;
  }
  if (!r.item) throw pubsubError("bad-request", "item-required");
  if (c.deliverPayloads && !r.payload) throw pubsubError("bad-request", "payload-required");
}
