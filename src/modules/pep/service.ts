// XEP-0060 on an account's bare JID, as XEP-0163 profiles it: only the owner publishes, retracts,
// creates, configures, purges and deletes; anyone the node's access model allows retrieves. The
// requests go to the shared node engine (../pubsub/engine.ts) with this policy; subscriptions and
// affiliations are implicit in PEP (the roster), so their requests are not offered.
import type { Element } from "../../xml/element.ts";
import type { JID } from "../../xml/jid.ts";
import { StanzaError } from "../../core/errors.ts";
import type { IqRequest } from "../../core/iq.ts";
import { serviceKey, type ServiceUser } from "../../core/module.ts";
import { parseStored } from "../../xml/stored.ts";
import { DEFAULT_CONFIG, type AccessModel } from "../pubsub/config.ts";
import { NodeEngine, type NodeHost } from "../pubsub/engine.ts";
import { maxNodesExceeded, unsupported } from "../pubsub/ns.ts";
import { parseOwner, parsePubsub } from "../pubsub/parse.ts";
import { NS } from "../../xml/ns.ts";
import type { AccountNodes } from "../disco.ts";
import { PUBSUB } from "../pubsub/ns.ts";
import { readError, recipients, type PepEnv } from "./notify.ts";

export interface PepLimits {
  /** Most items one node keeps (what max_items "max" means). */
  readonly items: number;
  /** Bytes of one item's payload, serialised. */
  readonly itemSize: number;
  /** Nodes per account. */
  readonly nodes: number;
}

/**
 * PEP for other modules (XEP-0402's compatibility with XEP-0048): an account's items, and the
 * server's own publications on its behalf, which notify like the account's but tell no listener.
 */
export interface PepApi {
  /** The node's items, oldest first ([] when the node does not exist). */
  items(owner: JID, node: string): Promise<{ id: string; payload: Element | undefined }[]>;
  /** Publishes; `options` configure the node when it does not exist yet (they are no preconditions here). */
  publish(owner: JID, node: string, id: string, payload: Element, options: ReadonlyMap<string, readonly string[]>): Promise<void>;
  retract(owner: JID, node: string, id: string): Promise<void>;
  /** The node's access model (XEP-0060 §4.5); undefined when the node does not exist. */
  access(owner: JID, node: string): Promise<AccessModel | undefined>;
  /** Runs `fn` after each change a client makes to the node (publish, retract, purge, delete), before its reply; until the listening module unloads. */
  onChange(node: string, fn: (owner: JID) => Promise<void>): void;
}

export const PEP = serviceKey<PepApi>("pep");

const OWNER_ONLY = new StanzaError("forbidden", "only the account's owner may do this");

/** The PEP policy of the node engine. */
export function pepHost(env: PepEnv, limits: PepLimits, changed?: NodeHost["changed"]): NodeHost {
  return {
    changed,
    send: env.send,
    ids: env.ids,
    store: env.store,
    defaults: DEFAULT_CONFIG,
    limits,
    // The account's nodes are few (at most limits.nodes): counting them is one small read.
    mayAdd: async (owner) => ((await env.store.all(owner.toString())).size >= limits.nodes
      ? maxNodesExceeded("policy-violation", `an account has at most ${limits.nodes} nodes`) : undefined),
    mayAct: async (_act, owner, _node, _config, requester) => (requester.bare.equals(owner) ? undefined : OWNER_ONLY),
    mayRead: (owner, _node, config, requester) => readError(env, owner, config, requester),
    recipients: (owner, node, config) => recipients(env, owner, node, config),
  };
}

export class PepService {
  private readonly engine: NodeEngine;
  private readonly env: PepEnv;
  private readonly listeners = new Map<string, Set<(owner: JID) => Promise<void>>>();

  constructor(env: PepEnv, limits: PepLimits) {
    this.env = env;
    this.engine = new NodeEngine(pepHost(env, limits, async (owner, node) => {
      for (const fn of this.listeners.get(node) ?? []) await fn(owner);
    }));
  }

  /** The service as another module (`user`) sees it. */
  api(user: ServiceUser): PepApi {
    return {
      items: async (owner, node) => (await this.env.store.list(owner.toString(), node)).map((i) => ({ id: i.id, payload: i.xml ? parseStored(i.xml) : undefined })),
      publish: async (owner, node, id, payload, options) => {
        const fresh = (await this.env.store.config(owner.toString(), node)) === undefined;
        await this.engine.publish(owner, owner, { kind: "publish", node, item: true, id, payload, options: fresh ? options : undefined }, true);
      },
      retract: async (owner, node, id) => {
        await this.engine.retract(owner, owner, node, id, true, true);
      },
      access: async (owner, node) => (await this.env.store.config(owner.toString(), node))?.access,
      onChange: (node, fn) => {
        let set = this.listeners.get(node);
        if (!set) this.listeners.set(node, (set = new Set()));
        set.add(fn);
        user.own(() => set.delete(fn));
      },
    };
  }

  /**
   * XEP-0060 §5.2-5.5 on the account's bare JID: its nodes, a node's identity (pubsub/leaf, which
   * clients such as Smack's PubSubManager.getNode ask before they fetch a contact's OMEMO device
   * list) and its item ids, each only to a requester the node's access model lets read it; to
   * anyone else the node is item-not-found or the model's error, as for its items.
   */
  readonly disco: AccountNodes = {
    info: async (owner, node, requester) => {
      await this.readable(owner, node, requester);
      return { identities: [{ category: "pubsub", type: "leaf" }], features: [NS.discoInfo, NS.discoItems, PUBSUB.main] };
    },
    items: async (owner, node, requester) => {
      const key = owner.toString();
      if (node !== undefined) {
        await this.readable(owner, node, requester);
        return (await this.env.store.list(key, node)).map((i) => ({ jid: key, name: i.id }));
      }
      const out = [];
      for (const [n, config] of await this.env.store.all(key)) {
        if (!(await readError(this.env, owner, config, requester))) out.push({ jid: key, node: n, name: config.title || undefined });
      }
      return out;
    },
  };

  private async readable(owner: JID, node: string, requester: JID): Promise<void> {
    const error = await readError(this.env, owner, await this.engine.existing(owner, node), requester);
    if (error) throw error;
  }

  get = (req: IqRequest): Promise<Element> => {
    const r = parsePubsub(req.payload, "get");
    if (r.kind === "subscriptions") throw unsupported("retrieve-subscriptions");
    if (r.kind === "affiliations") throw unsupported("retrieve-affiliations");
    if (r.kind !== "items") throw new StanzaError("bad-request");
    return this.engine.items(req.to.bare, req.from, r.node, r.max, r.ids);
  };

  set = (req: IqRequest): Promise<Element | undefined> => {
    const r = parsePubsub(req.payload, "set");
    const owner: JID = req.to.bare;
    switch (r.kind) {
      case "publish":
        return this.engine.publish(owner, req.from, r);
      case "retract":
        return this.engine.retract(owner, req.from, r.node, r.id, r.notify);
      case "create":
        if (r.node === undefined) throw unsupported("instant-nodes");
        return this.engine.create(owner, req.from, r.node, r.config);
      case "subscribe": case "unsubscribe":
        throw unsupported("subscribe");
      default:
        throw new StanzaError("bad-request");
    }
  };

  ownerGet = (req: IqRequest): Promise<Element | undefined> => this.owner(req, "get");
  ownerSet = (req: IqRequest): Promise<Element | undefined> => this.owner(req, "set");

  private async owner(req: IqRequest, type: "get" | "set"): Promise<Element | undefined> {
    const r = parseOwner(req.payload, type);
    if (!req.from.bare.equals(req.to.bare)) throw OWNER_ONLY;
    if (r.kind === "subscriptions") throw unsupported("manage-subscriptions");
    if (r.kind === "affiliations") throw unsupported("modify-affiliations");
    return this.engine.owner(req.to.bare, req.from, r);
  }
}
