// XEP-0060 as a generic publish-subscribe service on its own domain (pubsub.<domain>): the shared
// node engine (engine.ts) with this service's policy (affiliations, explicit subscriptions, the
// open and whitelist access models), the requests PEP has no use for (subscribe, unsubscribe,
// subscriptions and affiliations, and their management by owners), and service discovery of the
// service, its nodes and their items (§5). Nodes, items, affiliations and subscriptions are in
// map stores, so they survive a restart. Changes are serialised per service (one lock).
import { xml, type Element } from "../../xml/element.ts";
import { tryParseJid, type JID } from "../../xml/jid.ts";
import { NS } from "../../xml/ns.ts";
import { StanzaError } from "../../core/errors.ts";
import type { Send } from "../../core/capabilities.ts";
import type { IdGenerator } from "../../storage/ids.ts";
import type { Component } from "../../core/router.ts";
import type { Session } from "../../core/session.ts";
import { iqResult, serviceRequest } from "../../core/stanza.ts";
import { parseRsm, rsmPage, rsmSet } from "../../core/rsm.ts";
import type { MapStore } from "../../storage/types.ts";
import { DEFAULT_CONFIG, type NodeConfig } from "./config.ts";
import { eventMessage, itemElement, NodeEngine, type Act, type NodeHost } from "./engine.ts";
import { affiliationOf, readDenied, withAffiliation, type MemberStore, type NodeMembers } from "./members.ts";
import { maxNodesExceeded, PUBSUB, pubsubError } from "./ns.ts";
import { parseOwner, parsePubsub, type Affiliation } from "./parse.ts";
import type { NodeStore } from "./store.ts";
import { NodeDirectory } from "./directory.ts";

/** The XEP-0060 features of the service, each covered by test/integration/pubsub.test.ts. */
export const SERVICE_FEATURES = [
  "access-open", "access-whitelist", "auto-create", "config-node", "create-and-configure", "create-nodes",
  "delete-items", "delete-nodes", "instant-nodes", "item-ids", "manage-subscriptions", "modify-affiliations",
  "outcast-affiliation", "persistent-items", "publish", "publish-options", "publisher-affiliation", "purge-nodes",
  "retract-items", "retrieve-affiliations", "retrieve-default", "retrieve-items", "retrieve-subscriptions",
  "subscribe", "member-affiliation", "last-published", "transient-nodes",
].map((f) => `${PUBSUB.main}#${f}`);

/** A generic service's nodes: open, and they keep the ten last items. */
export const SERVICE_DEFAULTS: NodeConfig = { ...DEFAULT_CONFIG, access: "open", maxItems: 10, sendLast: "on_sub" };

export interface ServiceOptions {
  readonly jid: JID;
  readonly name: string;
  /** The nodes' limits, and the service's: nodes of the service. */
  readonly limits: NodeHost["limits"] & { readonly nodes: number };
  /** Nodes one account may have created (admins are not counted). */
  readonly nodesPerAccount: number;
  /** Items of a disco#items answer at most (XEP-0059 pages beyond). */
  readonly discoPage: number;
  /** Subscriptions per node. */
  readonly subscribers: number;
}

/** What the service uses of the server. */
export interface ServiceHost {
  /** The hosted domain the service belongs to: its accounts create nodes, its admins manage them. */
  readonly domain: JID;
  isAdmin(jid: JID): boolean;
  readonly send: Send;
  readonly ids: IdGenerator;
}

const MAY: Record<Act, readonly Affiliation[]> = {
  publish: ["owner", "publisher"], retract: ["owner", "publisher"], create: [],
  configure: ["owner"], delete: ["owner"], purge: ["owner"],
};

export class PubsubService implements Component {
  private readonly opts: ServiceOptions;
  private readonly server: ServiceHost;
  private readonly store: NodeStore;
  private readonly members: MemberStore;
  private readonly engine: NodeEngine;
  private readonly key: string;
  private readonly directory: NodeDirectory;

  /** `creators`: who created each node (NodeDirectory). */
  constructor(opts: ServiceOptions, server: ServiceHost, store: NodeStore, members: MemberStore, creators: MapStore<string>) {
    this.opts = opts;
    this.server = server;
    this.store = store;
    this.members = members;
    this.key = opts.jid.toString();
    this.directory = new NodeDirectory(creators, this.key);
    this.engine = new NodeEngine(this.host());
  }

  /** Reads the service's nodes once, before the first request: nothing after reads them all. */
  async load(): Promise<void> {
    await this.directory.load((await this.store.all(this.key)).keys());
  }

  private host(): NodeHost {
    return {
      send: this.server.send, ids: this.server.ids, store: this.store, defaults: SERVICE_DEFAULTS, limits: this.opts.limits,
      mayAct: async (act, _owner, node, config, requester) => {
        if (!config) return this.mayCreate(requester);
        const aff = affiliationOf(await this.members.get(this.key, node), requester);
        return MAY[act].includes(aff) ? undefined : new StanzaError("forbidden", `${act} needs the affiliation ${MAY[act].join(" or ")}`);
      },
      mayRead: async (_owner, node, config, requester) => readDenied(config, affiliationOf(await this.members.get(this.key, node), requester)),
      recipients: async (_owner, node, config) => {
        const m = await this.members.get(this.key, node);
        return m.subscriptions.map((s) => tryParseJid(s.jid)).filter((j): j is JID => j !== undefined && !readDenied(config, affiliationOf(m, j)));
      },
      mayAdd: async (_owner, creator) => this.mayAdd(creator),
      refuse: (c) => (c.access === "open" || c.access === "whitelist" ? undefined : new StanzaError("not-acceptable", `the access model ${c.access} is for PEP; this service has open and whitelist`)),
      created: async (_owner, node, creator) => {
        const members = withAffiliation(await this.members.get(this.key, node), creator.bare, "owner");
        await Promise.all([this.members.set(this.key, node, members), this.directory.add(node, creator.bare.toString())]);
      },
      deleted: async (_owner, node) => {
        await this.members.set(this.key, node, { affiliations: [], subscriptions: [] });
        await this.directory.remove(node);
      },
    };
  }

  /**
   * The service's limit, then the creator's quota beneath it, so that one account cannot take
   * what all share (admins have no quota).
   */
  private mayAdd(creator: JID): StanzaError | undefined {
    const { limits, nodesPerAccount } = this.opts;
    if (this.directory.size >= limits.nodes) return maxNodesExceeded("resource-constraint", `the service has at most ${limits.nodes} nodes`);
    if (this.server.isAdmin(creator.bare)) return undefined;
    if (this.directory.createdByAccount(creator.bare.toString()) >= nodesPerAccount) {
      return maxNodesExceeded("policy-violation", `an account creates at most ${nodesPerAccount} nodes here`);
    }
    return undefined;
  }

  /** Accounts of the service's host (and its admins) create nodes; other JIDs may not (§8.1.1 forbidden). */
  private async mayCreate(requester: JID): Promise<StanzaError | undefined> {
    const local = requester.local !== "" && requester.domain === this.server.domain.domain;
    return local || this.server.isAdmin(requester.bare) ? undefined : new StanzaError("forbidden", "only accounts of this server create nodes");
  }

  async receive(stanza: Element, from: JID, to: JID, _origin: Session | undefined): Promise<void> {
    const type = serviceRequest(stanza, to);
    if (type === undefined) return;
    const payload = stanza.getChildElements()[0]!;
    const result = await this.request(payload, type, from);
    const reply = iqResult(stanza, result);
    reply.attrs.from = this.key;
    reply.attrs.to = from.toString();
    await this.server.send(reply);
  }

  private request(payload: Element, type: "get" | "set", from: JID): Promise<Element | undefined> {
    switch (payload.attrs.xmlns) {
      case NS.discoInfo:
        if (type === "get" && payload.name === "query") return this.info(payload.attrs.node, from);
        break;
      case NS.discoItems:
        if (type === "get" && payload.name === "query") return this.discoItems(payload, from);
        break;
      case PUBSUB.main:
        if (payload.name === "pubsub") return this.pubsub(payload, type, from);
        break;
      case PUBSUB.owner:
        if (payload.name === "pubsub") return this.owner(payload, type, from);
        break;
    }
    throw new StanzaError("service-unavailable");
  }

  private async pubsub(payload: Element, type: "get" | "set", from: JID): Promise<Element | undefined> {
    const r = parsePubsub(payload, type);
    const me = this.opts.jid;
    switch (r.kind) {
      case "items": return this.engine.items(me, from, r.node, r.max, r.ids);
      case "publish": return this.engine.publish(me, from, r);
      case "retract": return this.engine.retract(me, from, r.node, r.id, r.notify);
      case "create": return this.engine.create(me, from, r.node, r.config);
      case "subscribe": return this.subscribe(from, r.node, r.jid);
      case "unsubscribe": return this.unsubscribe(from, r.node, r.jid, r.subid);
      case "subscriptions": return this.subscriptionsOf(from, r.node);
      case "affiliations": return this.affiliationsOf(from, r.node);
    }
  }

  private async owner(payload: Element, type: "get" | "set", from: JID): Promise<Element | undefined> {
    const r = parseOwner(payload, type);
    if (r.kind !== "subscriptions" && r.kind !== "affiliations") return this.engine.owner(this.opts.jid, from, r);
    return this.store.exclusive(this.key, async () => {
      await this.engine.existing(this.opts.jid, r.node);
      const m = await this.members.get(this.key, r.node);
      if (affiliationOf(m, from) !== "owner") throw new StanzaError("forbidden", "only the node's owners manage it");
      if (r.kind === "subscriptions") {
        if (!r.changes) {
          return xml("pubsub", { xmlns: PUBSUB.owner }, xml("subscriptions", { node: r.node },
            m.subscriptions.map((s) => xml("subscription", { jid: s.jid, subscription: "subscribed", subid: s.subid }))));
        }
        let subs = m.subscriptions;
        for (const c of r.changes) {
          const jid = c.jid.toString();
          subs = subs.filter((s) => s.jid !== jid);
          if (c.state === "subscribed") subs = [...subs, { jid, subid: this.server.ids.next() }];
        }
        await this.members.set(this.key, r.node, { ...m, subscriptions: subs });
        return undefined;
      }
      if (!r.changes) {
        return xml("pubsub", { xmlns: PUBSUB.owner }, xml("affiliations", { node: r.node },
          m.affiliations.map(([jid, affiliation]) => xml("affiliation", { jid, affiliation }))));
      }
      let next: NodeMembers = m;
      for (const c of r.changes) next = withAffiliation(next, c.jid, c.affiliation);
      // §8.9.2.4 leaves it to the service: a node keeps an owner, or nobody could manage it.
      if (!next.affiliations.some(([, a]) => a === "owner")) throw new StanzaError("not-acceptable", "a node keeps at least one owner");
      await this.members.set(this.key, r.node, next);
      return undefined;
    });
  }

  /** §6.1: subscribes `jid` (the requester's own bare or full JID); the last item follows on_sub (§6.1.7). */
  private async subscribe(from: JID, node: string, jid: JID): Promise<Element> {
    if (!jid.bare.equals(from.bare)) throw pubsubError("bad-request", "invalid-jid");
    const { sub, config } = await this.store.exclusive(this.key, async () => {
      const config = await this.engine.existing(this.opts.jid, node);
      const m = await this.members.get(this.key, node);
      const denied = readDenied(config, affiliationOf(m, jid));
      if (denied) throw denied;
      const had = m.subscriptions.find((s) => s.jid === jid.toString());
      if (had) return { sub: had, config: undefined };
      // §6.1.3.9: "policy-violation" (type wait) with <too-many-subscriptions/>.
      if (m.subscriptions.length >= this.opts.subscribers) {
        throw new StanzaError("policy-violation", `at most ${this.opts.subscribers} subscriptions per node`,
          { type: "wait", extra: xml("too-many-subscriptions", { xmlns: PUBSUB.errors }) });
      }
      const sub = { jid: jid.toString(), subid: this.server.ids.next() };
      await this.members.set(this.key, node, { ...m, subscriptions: [...m.subscriptions, sub] });
      return { sub, config };
    });
    if (config && config.sendLast !== "never") void this.sendLast(node, jid, config);
    return xml("pubsub", { xmlns: PUBSUB.main }, xml("subscription", { node, jid: sub.jid, subid: sub.subid, subscription: "subscribed" }));
  }

  private async sendLast(node: string, to: JID, config: NodeConfig): Promise<void> {
    const last = (await this.store.list(this.key, node)).at(-1);
    if (!last) return;
    const body = xml("items", { node }, itemElement(last, config.deliverPayloads));
    await this.server.send(eventMessage(this.opts.jid, to, config, body, last));
  }

  /** §6.2: the requester's own subscription (or, for an owner, anyone's) ends. */
  private async unsubscribe(from: JID, node: string, jid: JID, subid: string | undefined): Promise<undefined> {
    await this.store.exclusive(this.key, async () => {
      await this.engine.existing(this.opts.jid, node);
      const m = await this.members.get(this.key, node);
      if (!jid.bare.equals(from.bare) && affiliationOf(m, from) !== "owner") throw new StanzaError("forbidden", "you may unsubscribe only yourself");
      const had = m.subscriptions.find((s) => s.jid === jid.toString());
      if (!had) throw pubsubError("unexpected-request", "not-subscribed");
      if (subid !== undefined && subid !== had.subid) throw pubsubError("not-acceptable", "invalid-subid");
      await this.members.set(this.key, node, { ...m, subscriptions: m.subscriptions.filter((s) => s !== had) });
    });
    return undefined;
  }

  /** §5.6: the requester's subscriptions, to one node or all. */
  private async subscriptionsOf(from: JID, node: string | undefined): Promise<Element> {
    const out: Element[] = [];
    for (const [n, m] of await this.nodesMembers(node)) {
      for (const s of m.subscriptions) {
        if (tryParseJid(s.jid)?.bare.equals(from.bare)) out.push(xml("subscription", { node: n, jid: s.jid, subid: s.subid, subscription: "subscribed" }));
      }
    }
    return xml("pubsub", { xmlns: PUBSUB.main }, xml("subscriptions", { node }, out));
  }

  /** §5.7: the requester's affiliations, with one node or all. */
  private async affiliationsOf(from: JID, node: string | undefined): Promise<Element> {
    const out: Element[] = [];
    for (const [n, m] of await this.nodesMembers(node)) {
      const a = affiliationOf(m, from);
      if (a !== "none") out.push(xml("affiliation", { node: n, affiliation: a }));
    }
    return xml("pubsub", { xmlns: PUBSUB.main }, xml("affiliations", { node }, out));
  }

  private async nodesMembers(node: string | undefined): Promise<[string, NodeMembers][]> {
    if (node === undefined) return [...(await this.members.all(this.key))];
    await this.engine.existing(this.opts.jid, node);
    return [[node, await this.members.get(this.key, node)]];
  }

  /** §5.1-5.4: the service's identity and features, or a node's. */
  private async info(node: string | undefined, from: JID): Promise<Element> {
    const query = (identity: { category: string; type: string; name?: string }, features: string[], form?: Element) =>
      xml("query", { xmlns: NS.discoInfo, node }, xml("identity", identity), features.map((f) => xml("feature", { var: f })), form);
    if (node === undefined) {
      return query({ category: "pubsub", type: "service", name: this.opts.name }, [NS.discoInfo, NS.discoItems, PUBSUB.main, ...SERVICE_FEATURES]);
    }
    const config = await this.engine.existing(this.opts.jid, node);
    const denied = readDenied(config, affiliationOf(await this.members.get(this.key, node), from));
    if (denied) throw denied;
    return query({ category: "pubsub", type: "leaf" }, [NS.discoInfo, NS.discoItems, PUBSUB.main]);
  }

  /**
   * §5.2: the nodes of the service, a page at a time (XEP-0059, by node name; unasked, the first
   * page); §5.5: the items of a node (ids only).
   */
  private async discoItems(query: Element, from: JID): Promise<Element> {
    const node = query.attrs.node;
    if (node === undefined) {
      const page = rsmPage(this.directory.names.list, parseRsm(query, this.opts.discoPage));
      const configs = await Promise.all(page.keys.map((n) => this.store.config(this.key, n)));
      return xml("query", { xmlns: NS.discoItems },
        page.keys.map((n, i) => xml("item", { jid: this.key, node: n, name: configs[i]?.title || undefined })), rsmSet(page));
    }
    const config = await this.engine.existing(this.opts.jid, node);
    const denied = readDenied(config, affiliationOf(await this.members.get(this.key, node), from));
    if (denied) throw denied;
    const items = await this.store.list(this.key, node);
    return xml("query", { xmlns: NS.discoItems, node }, items.map((i) => xml("item", { jid: this.key, name: i.id })));
  }
}
