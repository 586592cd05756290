// The PEP nodes of every account, in two narrow stores, both owned by the account's bare JID (so
// that deleting the account purges them): the node configurations (key = node name) and the items
// of all its nodes (key = node and item id). Items carry a time-ordered sequence id (src/core/ids.ts) so that the node's order is
// publish order, and a publish trims the oldest items beyond the node's max_items. Changes to one
// account are serialised, so two publishes never both trim or both create.
import type { MapStore } from "../../storage/types.ts";
import { KeyedLock } from "../roster/lock.ts";
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

export class PepStore {
  private readonly nodes: MapStore<NodeConfig>;
  private readonly items: MapStore<StoredItem>;
  private readonly lock = new KeyedLock();

  constructor(nodes: MapStore<NodeConfig>, items: MapStore<StoredItem>) {
    this.nodes = nodes;
    this.items = items;
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
    return [...(await this.items.getAll(owner)).values()].filter((i) => i.node === node).sort(byPublishOrder);
  }

  /** The last item of each of the account's nodes that has one (one read for all of them). */
  async lastOfEach(owner: string): Promise<Map<string, StoredItem>> {
    const out = new Map<string, StoredItem>();
    for (const i of (await this.items.getAll(owner)).values()) {
      const had = out.get(i.node);
      if (!had || had.seq < i.seq) out.set(i.node, i);
    }
    return out;
  }

  get(owner: string, node: string, id: string): Promise<StoredItem | undefined> {
    return this.items.get(owner, itemKey(node, id));
  }

  /** Stores the item (replacing one with its id) and drops the oldest beyond `keep`. */
  async put(owner: string, item: StoredItem, keep: number): Promise<void> {
    await this.items.set(owner, itemKey(item.node, item.id), item);
    const items = await this.list(owner, item.node);
    for (const old of items.slice(0, Math.max(0, items.length - keep))) await this.items.set(owner, itemKey(old.node, old.id), undefined);
  }

  /** Removes an item; false when the node has no such item. */
  async remove(owner: string, node: string, id: string): Promise<boolean> {
    if ((await this.get(owner, node, id)) === undefined) return false;
    await this.items.set(owner, itemKey(node, id), undefined);
    return true;
  }

  async purge(owner: string, node: string): Promise<void> {
    for (const i of await this.list(owner, node)) await this.items.set(owner, itemKey(node, i.id), undefined);
  }

  async deleteNode(owner: string, node: string): Promise<void> {
    await this.purge(owner, node);
    await this.nodes.set(owner, node, undefined);
  }

  /** Everything of an account (account deletion also purges it through the storage). */
  async deleteAll(owner: string): Promise<void> {
    await this.items.clear(owner);
    await this.nodes.clear(owner);
  }
}
