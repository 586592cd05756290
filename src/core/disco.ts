// What service discovery (XEP-0030) reports for the server and for accounts: features,
// identities, items and nodes that module contexts register, and the disco module reads.
import type { Element } from "../xml/element.ts";
import type { JID } from "../xml/jid.ts";

/** An identity (XEP-0030 §3.1); `lang` is its xml:lang, which XEP-0115's verification string includes. */
export interface Identity { category: string; type: string; name?: string; lang?: string }

/**
 * An item of a disco#items answer (XEP-0030 §4). `host`, on an item of the server's: the hosted
 * domain whose disco#items lists it (a service of that host); every host's when absent.
 */
export interface DiscoItem { jid: string; node?: string; name?: string; host?: string }

/**
 * A node of the server (XEP-0030 §3.2, §4.2), e.g. the ad-hoc command list and each command.
 * Both answers are for one requester and one hosted domain (`host`, the one asked): a node may
 * show different items to different entities, and may refuse (by throwing a StanzaError such as
 * forbidden) what the requester may not see.
 */
export interface DiscoNode {
  info(requester: JID, host: string): { identities: Identity[]; features: string[] };
  items(requester: JID, host: string): DiscoItem[];
}

/** The registered lists, read by the module that answers disco#info and disco#items. */
export interface DiscoView {
  readonly hostFeatures: ReadonlyMap<string, number>;
  readonly hostNodes: ReadonlyMap<string, DiscoNode>;
  readonly accountFeatures: ReadonlyMap<string, number>;
  readonly items: readonly DiscoItem[];
  readonly identities: readonly Identity[];
  readonly accountIdentities: readonly Identity[];
  readonly extensions: readonly Element[];
  readonly revision: number;
}

/** What disco#info reports for the server and for accounts; filled by module contexts. */
export class DiscoRegistry implements DiscoView {
  readonly hostFeatures = new Map<string, number>();
  /** The server's nodes other than its caps node, by node name. */
  readonly hostNodes = new Map<string, DiscoNode>();
  readonly accountFeatures = new Map<string, number>();
  /** Items of the server's disco#items (XEP-0030 §4.1): its services, such as a MUC domain. */
  readonly items: DiscoItem[] = [];
  readonly identities: Identity[] = [];
  /** Identities of every account besides account/registered (XEP-0163 §6: pubsub/pep). */
  readonly accountIdentities: Identity[] = [];
  /** Service discovery extensions (XEP-0128) of the server, e.g. contact addresses. */
  readonly extensions: Element[] = [];
  /** Bumped by every change made through a module context: what is derived from the lists (the caps hash) is kept until it moves. */
  revision = 0;

  /** Adds a node of the server; returns its removal. One owner per node name. */
  addNode(node: string, handler: DiscoNode): () => void {
    if (this.hostNodes.has(node)) throw new Error(`disco node ${node} is registered twice`);
    this.hostNodes.set(node, handler);
    return () => {
      if (this.hostNodes.get(node) === handler) this.hostNodes.delete(node);
    };
  }

  count(map: Map<string, number>, ns: string): () => void {
    this.revision++;
    map.set(ns, (map.get(ns) ?? 0) + 1);
    return () => {
      this.revision++;
      const n = (map.get(ns) ?? 1) - 1;
      if (n <= 0) map.delete(ns);
      else map.set(ns, n);
    };
  }
}
