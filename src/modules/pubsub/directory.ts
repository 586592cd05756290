// The pubsub service's directory of its nodes, in memory: their names in order, which
// disco#items pages (XEP-0059), and who created each, so that a create checks the service's
// limit and its creator's quota in O(log n) instead of reading every node. It is built once at
// start from the node store and the creators' map store (owner = the service's JID, key = the
// node, value = the creator's bare JID); nodes stored before creators were recorded count for
// nobody. Changes come under the service's lock (NodeStore.exclusive), after the store took them.
import type { MapStore } from "../../storage/types.ts";
import { SortedKeys } from "../../core/rsm.ts";

export class NodeDirectory {
  /** The service's node names, in order. */
  readonly names = new SortedKeys();
  private readonly creators: MapStore<string>;
  private readonly service: string;
  private readonly creatorOf = new Map<string, string>();
  private readonly createdBy = new Map<string, number>();

  constructor(creators: MapStore<string>, service: string) {
    this.creators = creators;
    this.service = service;
  }

  /** Reads the creators once; `nodes` are the names of every node stored. */
  async load(nodes: Iterable<string>): Promise<void> {
    for (const n of nodes) this.names.add(n);
    for (const [node, creator] of await this.creators.getAll(this.service)) {
      if (this.names.has(node)) this.count(node, creator);
    }
  }

  get size(): number {
    return this.names.size;
  }

  /** Nodes of the service that `creator` (a bare JID) created and that still exist. */
  createdByAccount(creator: string): number {
    return this.createdBy.get(creator) ?? 0;
  }

  async add(node: string, creator: string): Promise<void> {
    await this.creators.set(this.service, node, creator);
    this.names.add(node);
    this.count(node, creator);
  }

  async remove(node: string): Promise<void> {
    this.names.delete(node);
    const creator = this.creatorOf.get(node);
    if (creator === undefined) return;
    this.creatorOf.delete(node);
    const n = (this.createdBy.get(creator) ?? 1) - 1;
    if (n > 0) this.createdBy.set(creator, n);
    else this.createdBy.delete(creator);
    await this.creators.set(this.service, node, undefined);
  }

  private count(node: string, creator: string): void {
    this.creatorOf.set(node, creator);
    this.createdBy.set(creator, (this.createdBy.get(creator) ?? 0) + 1);
  }
}
