// XEP-0060 §4.1 affiliations and §4.2 subscriptions of a pubsub service's nodes, one record per
// node in a map store (owner = the service's JID, key = the node), and the permissions that
// follow from them (§4.1 table 4): owners configure, delete, purge and manage; publishers and
// owners publish and retract; outcasts may do nothing; the access model (§4.5) decides who else
// may subscribe and read: anyone (open), or only those with an affiliation (whitelist).
import { tryParseJid, type JID } from "../../xml/jid.ts";
import { StanzaError } from "../../core/errors.ts";
import type { MapStore } from "../../storage/types.ts";
import type { NodeConfig } from "./config.ts";
import { pubsubError } from "./ns.ts";
import type { Affiliation } from "./parse.ts";

export interface Subscription {
  /** The subscribed JID as it asked (bare or full). */
  readonly jid: string;
  readonly subid: string;
}

export interface NodeMembers {
  /** Bare JID -> affiliation other than none. */
  readonly affiliations: readonly (readonly [string, Affiliation])[];
  readonly subscriptions: readonly Subscription[];
}

const NONE: NodeMembers = { affiliations: [], subscriptions: [] };

export function affiliationOf(m: NodeMembers, jid: JID): Affiliation {
  const bare = jid.bare.toString();
  return m.affiliations.find(([j]) => j === bare)?.[1] ?? "none";
}

/** The members with one affiliation changed ("none" removes it); an outcast loses its subscriptions (§8.9.2). */
export function withAffiliation(m: NodeMembers, bare: JID, affiliation: Affiliation): NodeMembers {
  const key = bare.toString();
  const affiliations = m.affiliations.filter(([j]) => j !== key);
  if (affiliation !== "none") affiliations.push([key, affiliation]);
  const subscriptions = affiliation === "outcast" ? m.subscriptions.filter((s) => tryParseJid(s.jid)?.bare.toString() !== key) : m.subscriptions;
  return { affiliations, subscriptions };
}

/** Whether an affiliation may read under the access model (§4.5): the error when not. */
export function readDenied(config: NodeConfig, affiliation: Affiliation): StanzaError | undefined {
  if (affiliation === "outcast") return new StanzaError("forbidden", "the JID is an outcast of the node");
  if (affiliation !== "none" || config.access === "open") return undefined;
  return pubsubError("not-allowed", "closed-node");
}

export class MemberStore {
  private readonly map: MapStore<NodeMembers>;

  constructor(map: MapStore<NodeMembers>) {
    this.map = map;
  }

  async get(service: string, node: string): Promise<NodeMembers> {
    return (await this.map.get(service, node)) ?? NONE;
  }

  all(service: string): Promise<Map<string, NodeMembers>> {
    return this.map.getAll(service);
  }

  set(service: string, node: string, m: NodeMembers): Promise<void> {
    return this.map.set(service, node, m.affiliations.length || m.subscriptions.length ? m : undefined);
  }
}
