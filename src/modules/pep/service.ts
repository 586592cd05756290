// XEP-0060 on an account's bare JID, as XEP-0163 profiles it: only the owner publishes,
// retracts, creates, configures, purges and deletes; anyone the node's access model allows
// retrieves. Publishing to a node that does not exist creates it (#auto-create), with the
// publish-options (XEP-0223) as its configuration; to one that exists, the options are
// preconditions (#publish-options: conflict + <precondition-not-met/> when one differs).
import { xml, type Element } from "../../xml/element.ts";
import type { JID } from "../../xml/jid.ts";
import { StanzaError } from "../../core/errors.ts";
import type { IqRequest } from "../../core/iq.ts";
import { serializeDetached } from "../../xml/stored.ts";
import { applyConfig, configForm, DEFAULT_CONFIG, itemLimit, unmetPrecondition, type NodeConfig } from "./config.ts";
import { PUBSUB, pubsubError } from "./ns.ts";
import { itemElement, notify, readError, type PepEnv } from "./notify.ts";
import { parseOwner, parsePubsub, type PublishRequest } from "./parse.ts";

export interface PepLimits {
  /** Bytes of one item's payload, serialised. */
  readonly itemSize: number;
  /** Nodes per account. */
  readonly nodes: number;
}

function ownerOnly(req: IqRequest): JID {
  if (!req.from.bare.equals(req.to.bare)) throw new StanzaError("forbidden", "only the account's owner may do this");
  return req.to.bare;
}

async function existing(env: PepEnv, owner: JID, node: string): Promise<NodeConfig> {
  const config = await env.store.config(owner.toString(), node);
  if (!config) throw new StanzaError("item-not-found", `no node ${node}`);
  return config;
}

const pubsub = (...children: Element[]) => xml("pubsub", { xmlns: PUBSUB.main }, ...children);
const owned = (...children: Element[]) => xml("pubsub", { xmlns: PUBSUB.owner }, ...children);

export class PepService {
  private readonly env: PepEnv;
  private readonly limits: PepLimits;

  constructor(env: PepEnv, limits: PepLimits) {
    this.env = env;
    this.limits = limits;
  }

  get = (req: IqRequest): Promise<Element> => {
    const r = parsePubsub(req.payload, "get");
    if (r.kind !== "items") throw new StanzaError("bad-request");
    return this.items(req, r.node, r.max, r.ids);
  };

  set = (req: IqRequest): Promise<Element | undefined> => {
    const r = parsePubsub(req.payload, "set");
    switch (r.kind) {
      case "publish":
        return this.publish(req, r);
      case "retract":
        return this.retract(req, r.node, r.id, r.notify);
      case "create":
        return this.create(req, r.node, r.config);
      case "items":
        throw new StanzaError("bad-request");
    }
  };

  ownerGet = async (req: IqRequest): Promise<Element> => {
    const r = parseOwner(req.payload, "get");
    const owner = ownerOnly(req);
    if (r.kind === "default") return owned(xml("default", null, configForm(DEFAULT_CONFIG)));
    if (r.kind !== "configure") throw new StanzaError("bad-request");
    const config = await existing(this.env, owner, r.node);
    return owned(xml("configure", { node: r.node }, configForm(config)));
  };

  ownerSet = async (req: IqRequest): Promise<undefined> => {
    const r = parseOwner(req.payload, "set");
    const owner = ownerOnly(req);
    const key = owner.toString();
    const { store } = this.env;
    if (r.kind === "configure") {
      await store.exclusive(key, async () => {
        const next = applyConfig(await existing(this.env, owner, r.node), r.form ?? new Map(), this.env.limit);
        if (next instanceof StanzaError) throw next;
        await store.setConfig(key, r.node, next);
        // Fewer items kept now: the oldest beyond the new limit go.
        const items = await store.list(key, r.node);
        const keep = next.persist ? itemLimit(next, this.env.limit) : 0;
        for (const old of items.slice(0, Math.max(0, items.length - keep))) await store.remove(key, r.node, old.id);
      });
      return undefined;
    }
    if (r.kind === "delete" || r.kind === "purge") {
      const config = await store.exclusive(key, async () => {
        const c = await existing(this.env, owner, r.node);
        if (r.kind === "delete") await store.deleteNode(key, r.node);
        else await store.purge(key, r.node);
        return c;
      });
      // XEP-0060 §8.4.2 (if notify_delete) and §8.5.2 (purge).
      if (r.kind === "purge" || config.notifyDelete) await notify(this.env, owner, r.node, config, () => xml(r.kind, { node: r.node }));
      return undefined;
    }
    throw new StanzaError("bad-request");
  };

  private async items(req: IqRequest, node: string, max: number | undefined, ids: readonly string[]): Promise<Element> {
    const owner = req.to.bare;
    const config = await existing(this.env, owner, node);
    const denied = await readError(this.env, owner, config, req.from);
    if (denied) throw denied;
    let items = await this.env.store.list(owner.toString(), node);
    if (ids.length > 0) items = items.filter((i) => ids.includes(i.id));
    if (max !== undefined) items = items.slice(-max);
    return pubsub(xml("items", { node }, items.map((i) => itemElement(i))));
  }

  private async publish(req: IqRequest, r: PublishRequest): Promise<Element> {
    const owner = ownerOnly(req);
    const key = owner.toString();
    const text = serializeDetached(r.payload);
    if (Buffer.byteLength(text, "utf8") > this.limits.itemSize) throw pubsubError("not-acceptable", "payload-too-big", `items are at most ${this.limits.itemSize} bytes`);
    const { store, server } = this.env;
    const item = { node: r.node, id: r.id ?? server.ids.next(), seq: server.ids.next(), xml: text, publisher: req.from.toString() };
    const config = await store.exclusive(key, async () => {
      let c = await store.config(key, r.node);
      if (c && r.options) {
        const unmet = unmetPrecondition(c, r.options, this.env.limit);
        if (unmet) throw pubsubError("conflict", "precondition-not-met", `the node's ${unmet} differs from the publish-options`);
      }
      if (!c) {
        c = await this.newNode(key, r.node, r.options, true);
      }
      if (c.persist) await store.put(key, item, itemLimit(c, this.env.limit));
      return c;
    });
    await notify(this.env, owner, r.node, config, () => xml("items", { node: r.node }, itemElement(item, config.deliverPayloads)));
    return pubsub(xml("publish", { node: r.node }, xml("item", { id: item.id })));
  }

  /** A new node (under the account's lock) with `fields` applied to the defaults. */
  private async newNode(key: string, node: string, fields: ReadonlyMap<string, readonly string[]> | undefined, fromOptions: boolean): Promise<NodeConfig> {
    if ((await this.env.store.all(key)).size >= this.limits.nodes) {
      throw new StanzaError("not-allowed", `at most ${this.limits.nodes} nodes per account`);
    }
    const c = fields ? applyConfig(DEFAULT_CONFIG, fields, this.env.limit) : DEFAULT_CONFIG;
    // XEP-0060 §7.1.5: options the service cannot apply are preconditions that cannot be met.
    if (c instanceof StanzaError) throw fromOptions ? pubsubError("conflict", "precondition-not-met", c.text) : c;
    await this.env.store.setConfig(key, node, c);
    return c;
  }

  private async retract(req: IqRequest, node: string, id: string, notifyAttr: boolean | undefined): Promise<undefined> {
    const owner = ownerOnly(req);
    const key = owner.toString();
    const config = await this.env.store.exclusive(key, async () => {
      const c = await existing(this.env, owner, node);
      if (!(await this.env.store.remove(key, node, id))) throw new StanzaError("item-not-found", `no item ${id}`);
      return c;
    });
    // XEP-0060 §7.2.2.1: notify when asked to; without the attribute, when the node says so.
    if (notifyAttr ?? config.notifyRetract) await notify(this.env, owner, node, config, () => xml("items", { node }, xml("retract", { id })));
    return undefined;
  }

  private async create(req: IqRequest, node: string, fields: ReadonlyMap<string, readonly string[]> | undefined): Promise<undefined> {
    const owner = ownerOnly(req);
    const key = owner.toString();
    await this.env.store.exclusive(key, async () => {
      if (await this.env.store.config(key, node)) throw new StanzaError("conflict", `node ${node} exists`);
      await this.newNode(key, node, fields, false);
    });
    return undefined;
  }
}
