// XEP-0227 §4.4 and §4.9: the roster "in the same format as when retrieving the roster from the
// server" (RFC 6121 §2.1: jid, name, subscription, ask, approved, groups), and the incoming
// subscription requests not yet answered, as <presence type='subscribe'/> children of the user.
// Items are held to the roster module's limits, as a client's roster set is.
import { elementChildren, xml, type Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { tryParseJid } from "../../xml/jid.ts";
import { serializeDetached } from "../../xml/stored.ts";
import type { RosterItem, Subscription } from "../roster/item.ts";
import { itemElement } from "../roster/item.ts";
import { MAX_STORED_REQUEST, type PendingRequest } from "../roster/pending.ts";

export interface RosterLimits {
  maxItems: number;
  /** Octets of UTF-8. */
  maxName: number;
  maxGroup: number;
  maxGroups: number;
}

const SUBSCRIPTIONS: readonly string[] = ["none", "to", "from", "both"];
const octets = (s: string) => Buffer.byteLength(s, "utf8");

export interface RosterRead {
  items: RosterItem[];
  errors: string[];
  notes: string[];
}

/** The items of a <query xmlns='jabber:iq:roster'/>, each checked as a roster set would be. */
export function readRoster(query: Element, owner: string, limits: RosterLimits): RosterRead {
  const out: RosterRead = { items: [], errors: [], notes: [] };
  const seen = new Set<string>();
  for (const item of elementChildren(query)) {
    if (item.getName() !== "item") {
      out.errors.push(`roster: an element <${item.name}/> among the items`);
      continue;
    }
    const jid = tryParseJid(item.attrs.jid ?? "");
    if (!jid || !jid.isBare()) {
      out.errors.push(`roster: '${item.attrs.jid ?? ""}' is not a bare JID`);
      continue;
    }
    const contact = jid.toString();
    // Prosody leaves out items for the account itself; so does this server (RFC 6121 §2.3.3: not-allowed).
    if (contact === owner) {
      out.notes.push("roster: the item for the account itself was left out");
      continue;
    }
    const sub = item.attrs.subscription ?? "none";
    if (sub === "remove") continue;
    if (!SUBSCRIPTIONS.includes(sub)) {
      out.errors.push(`roster: ${contact} has subscription '${sub}'`);
      continue;
    }
    if (seen.has(contact)) {
      out.errors.push(`roster: ${contact} is listed twice`);
      continue;
    }
    seen.add(contact);
    const r: RosterItem = { jid: contact, groups: [], subscription: sub as Subscription };
    const name = item.attrs.name;
    if (name) {
      if (octets(name) > limits.maxName) out.errors.push(`roster: the name of ${contact} is longer than ${limits.maxName} bytes (modules.roster.maxNameLength)`);
      r.name = name;
    }
    if (item.attrs.ask === "subscribe") r.ask = "subscribe";
    if (item.attrs.approved === "true" || item.attrs.approved === "1") r.approved = true;
    for (const g of elementChildren(item)) {
      if (g.getName() !== "group") continue;
      const text = g.getText();
      if (text === "" || r.groups.includes(text)) continue; // an empty or repeated group means nothing more
      if (octets(text) > limits.maxGroup) out.errors.push(`roster: a group of ${contact} is longer than ${limits.maxGroup} bytes (modules.roster.maxGroupLength)`);
      r.groups.push(text);
    }
    if (r.groups.length > limits.maxGroups) out.errors.push(`roster: ${contact} is in ${r.groups.length} groups, more than ${limits.maxGroups} (modules.roster.maxGroups)`);
    out.items.push(r);
  }
  if (out.items.length > limits.maxItems) out.errors.push(`roster: ${out.items.length} items, more than ${limits.maxItems} (modules.roster.maxItems)`);
  return out;
}

/**
 * §4.9: an incoming subscription request, stored as the roster module stores one that arrives
 * while its owner is away (RFC 6121 §3.1.3): the presence as the contact sent it, from its bare JID.
 */
export function readPending(presence: Element, owner: string, now: number): { from: string; request: PendingRequest } | string {
  const from = tryParseJid(presence.attrs.from ?? "");
  if (!from) return `a subscription request from '${presence.attrs.from ?? ""}', which is not a JID`;
  const copy = xml("presence", { from: from.bare.toString(), to: owner, type: "subscribe", id: presence.attrs.id });
  for (const c of presence.children) copy.append(c);
  let text = serializeDetached(copy);
  if (text.length > MAX_STORED_REQUEST) text = xml("presence", { ...copy.attrs }).toString();
  return { from: from.bare.toString(), request: { xml: text, at: now } };
}

/** The roster for the export: the items as a client gets them (with groups, ask and approved). */
export function rosterElement(items: readonly RosterItem[]): Element {
  return xml("query", { xmlns: NS.roster }, [...items].sort((a, b) => (a.jid < b.jid ? -1 : 1)).map(itemElement));
}
