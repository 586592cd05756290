// XEP-0060: Publish-Subscribe, as a service of its own on its own domain (default
// pubsub.<domain>), listed in the server's disco#items. The folder:
//   service.ts  the component: its policy, subscriptions, affiliations, service discovery
//   members.ts  affiliations and subscriptions of each node, and the permissions they give
//   directory.ts the service's node names in order and their creators (limits, quotas, disco#items pages)
//   engine.ts   the node engine shared with PEP (publish, retract, items, create, owner requests)
//   config.ts   the node configuration form and the publish-options preconditions (XEP-0223)
//   parse.ts    the requests, read into typed records
//   store.ts    nodes and items in map stores
import { parseJid } from "../../xml/jid.ts";
import { defineModule } from "../../core/module.ts";
import { int, optStr, str } from "../../core/schema.ts";
import type { NodeConfig } from "./config.ts";
import { MemberStore, type NodeMembers } from "./members.ts";
import { PubsubService } from "./service.ts";
import { NodeStore, type StoredItem } from "./store.ts";

/** A host's service domain: modules.<name>.domain for the configuration's domain, else pubsub.<host>. */
const serviceDomain = (o: { domain?: string }, host: string, primary: boolean): string => (primary ? o.domain : undefined) ?? `pubsub.${host}`;

export default defineModule({
  name: "pubsub",
  specs: [{ spec: "XEP-0060", version: "1.30.0" }],
  options: {
    domain: optStr("The service's domain; default pubsub.<server domain>. Each further host's is pubsub.<host>."),
    name: str("The service's name in service discovery.", "Publish-Subscribe"),
    maxItems: int("Items one node keeps at most (what max_items 'max' means).", 1000, 1, 100_000),
    maxItemSize: int("Bytes of one item's payload.", 262_144, 1024),
    maxNodes: int("Nodes of the service.", 10_000, 1),
    maxNodesPerAccount: int("Nodes one account may have created (beneath maxNodes, so that one account cannot take them all; admins are not counted).", 100, 1),
    discoPage: int("Nodes listed per disco#items answer at most; clients page through the rest (XEP-0059).", 100, 1, 10_000),
    maxSubscribers: int("Subscriptions of one node.", 10_000, 1),
  },
  domains: (o, host, primary) => [serviceDomain(o, host, primary)],
  async setup(ctx) {
    const store = new NodeStore(ctx.map<NodeConfig>("pubsub.nodes"), ctx.map<StoredItem>("pubsub.items"), "node");
    const members = new MemberStore(ctx.map<NodeMembers>("pubsub.members"));
    // One service per hosted domain; the stores are keyed by the service's JID.
    for (const host of ctx.hosts.all()) {
      const jid = parseJid(serviceDomain(ctx.options, host.domain, host === ctx.hosts.primary));
      const service = new PubsubService(
        { jid, name: ctx.options.name, subscribers: ctx.options.maxSubscribers,
          limits: { items: ctx.options.maxItems, itemSize: ctx.options.maxItemSize, nodes: ctx.options.maxNodes },
          nodesPerAccount: ctx.options.maxNodesPerAccount, discoPage: ctx.options.discoPage },
        { domain: host.jid, isAdmin: (j) => ctx.isAdmin(j, host.domain), send: ctx.send, ids: ctx.ids },
        store, members, ctx.map<string>("pubsub.creators"));
      await service.load();
      ctx.component(jid.domain, service);
      ctx.item({ jid: jid.toString(), name: ctx.options.name, host: host.domain });
    }
  },
});
