// The nodes of a pubsub service, in two narrow stores: the node configurations (owner = the
// service's JID, key = node name) and the items. PEP ("account" layout) keeps the items of all of
// an account's nodes under its bare JID (key = node and item id), so that deleting the account
// purges them and one read gives the last item of every node at login; a pubsub service ("node"
// layout) keeps each node's items apart, so that a node's read does not scale with the service. Items carry a time-ordered sequence id (src/storage/ids.ts) so that the node's order is
// publish order, and a publish trims the oldest items beyond the node's max_items. Changes to one
// account are serialised, so two publishes never both trim or both create.
import type { MapStore } from "../../storage/types.ts";
import { KeyedLock } from "../../core/keyed-lock.ts";
import type { NodeConfig } from "./config.ts";

export interface StoredItem {
  readonly node: string;
  readonly id: string;
  /** Time-ordered: string order is publish order. */
  readonly seq: string;
  /** The payload, serialised (one element, or "" for an item without payload). */
  readonly xml: string;
  /** The publisher's full JID. */
  readonly publisher: string;
}

/** An item's key: the node's length first, so that no (node, id) pair can spell another's key. */
const itemKey = (node: string, id: string) => `${node.length}:${node}${id}`;
const byPublishOrder = (a: StoredItem, b: StoredItem) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0);

export type ItemLayout = "account" | "node";

export class NodeStore {
  private readonly nodes: MapStore<NodeConfig>;
  private readonly items: MapStore<StoredItem>;
  private readonly layout: ItemLayout;
  private readonly lock = new KeyedLock();

  constructor(nodes: MapStore<NodeConfig>, items: MapStore<StoredItem>, layout: ItemLayout = "account") {
    this.nodes = nodes;
    this.items = items;
    this.layout = layout;
  }

  /** The map-store owner of a node's items. */
  private home(owner: string, node: string): string {
    return this.layout === "account" ? owner : `${node.length}:${node}${owner}`;
  }

  /** Runs fn with the account's changes serialised (publish, configure, delete). */
  exclusive<T>(owner: string, fn: () => Promise<T>): Promise<T> {
    return this.lock.run(owner, fn);
  }

  config(owner: string, node: string): Promise<NodeConfig | undefined> {
    return this.nodes.get(owner, node);
  }

  all(owner: string): Promise<Map<string, NodeConfig>> {
    return this.nodes.getAll(owner);
  }

  setConfig(owner: string, node: string, config: NodeConfig): Promise<void> {
    return this.nodes.set(owner, node, config);
  }

  /** The node's items, oldest first. */
  async list(owner: string, node: string): Promise<StoredItem[]> {
    return [...(await this.items.getAll(this.home(owner, node))).values()].filter((i) => i.node === node).sort(byPublishOrder);
  }

  /** The last item of each of the account's nodes that has one (one read for all of them; account layout). */
  async lastOfEach(owner: string): Promise<Map<string, StoredItem>> {
    if (this.layout !== "account") throw new Error("lastOfEach reads the account layout");
    const out = new Map<string, StoredItem>();
    for (const i of (await this.items.getAll(owner)).values()) {
      const had = out.get(i.node);
      if (!had || had.seq < i.seq) out.set(i.node, i);
    }
    return out;
  }

  get(owner: string, node: string, id: string): Promise<StoredItem | undefined> {
    return this.items.get(this.home(owner, node), itemKey(node, id));
  }

  /** Stores the item (replacing one with its id) and drops the oldest beyond `keep`. */
  async put(owner: string, item: StoredItem, keep: number): Promise<void> {
    const home = this.home(owner, item.node);
    await this.items.set(home, itemKey(item.node, item.id), item);
    const items = await this.list(owner, item.node);
    for (const old of items.slice(0, Math.max(0, items.length - keep))) await this.items.set(home, itemKey(old.node, old.id), undefined);
  }

  /** Removes an item; false when the node has no such item. */
  async remove(owner: string, node: string, id: string): Promise<boolean> {
    if ((await this.get(owner, node, id)) === undefined) return false;
    await this.items.set(this.home(owner, node), itemKey(node, id), undefined);
    return true;
  }

  async purge(owner: string, node: string): Promise<void> {
    if (this.layout === "node") return this.items.clear(this.home(owner, node));
    for (const i of await this.list(owner, node)) await this.items.set(owner, itemKey(node, i.id), undefined);
  }

  async deleteNode(owner: string, node: string): Promise<void> {
    await this.purge(owner, node);
    await this.nodes.set(owner, node, undefined);
  }

  /** Everything of an account (account deletion also purges it through the storage). */
  async deleteAll(owner: string): Promise<void> {
    if (this.layout === "node") for (const node of (await this.all(owner)).keys()) await this.purge(owner, node);
    else await this.items.clear(owner);
    await this.nodes.clear(owner);
  }
}
