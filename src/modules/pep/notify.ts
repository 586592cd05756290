// Who may read a PEP node (XEP-0060 §4.5 access models, as XEP-0163 §4 applies them to an
// account) and who is told of its changes: XEP-0163 §4.3 sends event notifications to the owner's
// own available resources and to its contacts with a presence subscription ("from" or "both"),
// each only when its client's capabilities (XEP-0115) include NODE+notify (§4.2) and the access
// model lets it read. Contacts on this server are reached through their sessions, contacts on
// other servers through the resources their presence announced (remote.ts).
import { xml } from "../../xml/element.ts";
import { tryParseJid, type JID } from "../../xml/jid.ts";
import type { Send, Sessions } from "../../core/capabilities.ts";
import type { IdGenerator } from "../../storage/ids.ts";
import { isAvailable, type Session } from "../../core/session.ts";
import type { StanzaError } from "../../core/errors.ts";
import type { RosterService } from "../roster/service.ts";
import { receivesPresence, sendsPresence, type RosterItem } from "../roster/item.ts";
import type { NodeConfig } from "../pubsub/config.ts";
import { eventMessage, itemElement } from "../pubsub/engine.ts";
import { pubsubError } from "../pubsub/ns.ts";
import type { NodeStore } from "../pubsub/store.ts";
import { CLIENT_FEATURES, NOTIFY_NODES } from "./caps.ts";
import type { RemoteInterest } from "./remote.ts";

export interface PepEnv {
  /** Whether a domain is one the server hosts (its accounts' contacts are notified here). */
  hosted(domain: string): boolean;
  readonly sessions: Pick<Sessions, "of">;
  readonly send: Send;
  readonly ids: IdGenerator;
  readonly store: NodeStore;
  readonly roster: RosterService;
  readonly remote: RemoteInterest;
}

/**
 * Whether the access model lets a contact (not the owner) read the node, given the owner's roster
 * item for it; otherwise the error XEP-0060 §6.5.9 names for that model.
 */
export function accessError(config: NodeConfig, item: RosterItem | undefined): StanzaError | undefined {
  switch (config.access) {
    case "open":
      return undefined;
    case "presence":
      return sendsPresence(item?.subscription) ? undefined : pubsubError("not-authorized", "presence-subscription-required");
    case "roster":
      return item && item.groups.some((g) => config.rosterGroups.includes(g)) ? undefined : pubsubError("not-authorized", "not-in-roster-group");
    case "whitelist":
      return pubsubError("not-allowed", "closed-node");
  }
}

/** The error for `requester` reading the owner's node, or undefined when it may. */
export async function readError(env: PepEnv, owner: JID, config: NodeConfig, requester: JID): Promise<StanzaError | undefined> {
  if (requester.bare.equals(owner)) return undefined;
  if (config.access === "open") return undefined;
  return accessError(config, await env.roster.item(owner, requester.bare.toString()));
}

function wants(s: Session, node: string): boolean {
  if (!isAvailable(s)) return false;
  // A session of this node has its client's features; one of another cluster node, the shared list.
  const local = s.get(CLIENT_FEATURES);
  return local !== undefined ? local.features.has(`${node}+notify`) : (s.get(NOTIFY_NODES)?.includes(node) ?? false);
}

/** The sessions (full JIDs) a notification about the node goes to (see the file's head). */
export async function recipients(env: PepEnv, owner: JID, node: string, config: NodeConfig): Promise<JID[]> {
  const out = env.sessions.of(owner).filter((s) => wants(s, node)).map((s) => s.jid);
  if (config.access === "whitelist") return out;
  const readers = new Set<string>();
  for (const item of await env.roster.items(owner)) {
    if (!sendsPresence(item.subscription) || accessError(config, item)) continue;
    readers.add(item.jid);
    const contact = localBare(env, item.jid);
    if (contact) for (const s of env.sessions.of(contact)) if (wants(s, node)) out.push(s.jid);
  }
  out.push(...env.remote.wanting(owner, node, (bare) => readers.has(bare)));
  return out;
}

/** The bare JID of a contact on this server (any hosted domain), or undefined for a remote one. */
function localBare(env: PepEnv, jid: string): JID | undefined {
  const parsed = tryParseJid(jid);
  return parsed && parsed.local !== "" && env.hosted(parsed.domain) ? parsed.bare : undefined;
}

/**
 * XEP-0163 §4.3.3 / XEP-0060 §12.1 "on_sub_and_presence": a session whose client now says it
 * wants some nodes gets the last item of each such node of its own account and of the contacts
 * whose presence it receives, where the node's access model lets it read.
 */
/**
 * The same for a contact's resource on another server that announced what it wants: the last
 * item of each of the owner's nodes it wants and may read.
 */
export async function sendLastItemsTo(env: PepEnv, owner: JID, remote: JID, nodes: readonly string[]): Promise<void> {
  if (nodes.length === 0) return;
  const mine = await env.roster.item(owner, remote.bare.toString());
  if (!sendsPresence(mine?.subscription)) return;
  const configs = await env.store.all(owner.toString());
  if (configs.size === 0) return;
  const last = await env.store.lastOfEach(owner.toString());
  for (const [node, config] of configs) {
    const item = last.get(node);
    if (!item || config.sendLast !== "on_sub_and_presence" || !nodes.includes(node) || accessError(config, mine)) continue;
    await env.send(eventMessage(owner, remote, config, xml("items", { node }, itemElement(item, config.deliverPayloads)), item));
  }
}

export async function sendLastItems(env: PepEnv, session: Session): Promise<void> {
  const me = session.jid.bare;
  const owners: JID[] = [me];
  for (const item of await env.roster.items(me)) {
    if (!receivesPresence(item.subscription)) continue;
    const o = localBare(env, item.jid);
    if (o) owners.push(o);
  }
  for (const owner of owners) {
    const nodes = await env.store.all(owner.toString());
    if (nodes.size === 0) continue;
    const mine = owner.equals(me) ? undefined : await env.roster.item(owner, me.toString());
    const last = await env.store.lastOfEach(owner.toString());
    for (const [node, config] of nodes) {
      const item = last.get(node);
      if (!item || config.sendLast !== "on_sub_and_presence" || !wants(session, node)) continue;
      if (!owner.equals(me) && (!sendsPresence(mine?.subscription) || accessError(config, mine))) continue;
      const body = xml("items", { node }, itemElement(item, config.deliverPayloads));
      await env.send(eventMessage(owner, session.jid, config, body, item));
    }
  }
}
