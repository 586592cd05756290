// RFC 6121 §2.1: the roster item as a typed record, and the pure functions that read a client's
// roster set (§2.3, §2.5) and write items for results and pushes (§2.1.2, §2.1.6).
import { elementChildren, xml, type Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { type JID, tryParseJid } from "../../xml/jid.ts";
import { StanzaError } from "../../core/errors.ts";

/** RFC 6121 §2.1.2.5: whose presence flows where ("to": the owner receives the contact's). */
export type Subscription = "none" | "to" | "from" | "both";

export interface RosterItem {
  /** The contact's bare JID, normalised. */
  jid: string;
  name?: string;
  groups: string[];
  subscription: Subscription;
  /** RFC 6121 §2.1.2.2: the owner asked for the contact's presence and has no answer yet. */
  ask?: "subscribe";
  /** RFC 6121 §3.4: the owner pre-approved a subscription request from the contact. */
  approved?: true;
}

export interface ItemLimits {
  /** Octets of UTF-8 in the 'name' attribute. */
  maxName: number;
  /** Octets of UTF-8 in one <group/>. */
  maxGroup: number;
  maxGroups: number;
}

/** What a roster set asks for. */
export type RosterSet =
  | { kind: "update"; jid: JID; name: string | undefined; groups: string[] }
  | { kind: "remove"; jid: JID };

const SUBSCRIPTIONS = new Set(["none", "to", "from", "both"]);

function octets(s: string): number {
  return Buffer.byteLength(s, "utf8");
}

/**
 * Reads the <query/> of a roster set from `owner` (RFC 6121 §2.3.3 error cases). Throws StanzaError:
 * bad-request for zero or several items, a missing jid, an unknown subscription value or a
 * duplicate group; jid-malformed for an invalid or full JID; not-acceptable for a name or group
 * over the limits or an empty group; not-allowed for the owner's own JID.
 */
export function parseRosterSet(query: Element, owner: JID, limits: ItemLimits): RosterSet {
  const items = elementChildren(query).filter((c) => c.name === "item");
  if (items.length !== 1) throw new StanzaError("bad-request", "a roster set holds exactly one item");
  const item = items[0]!;
  const jid = itemJid(item, owner);
  const sub = item.attrs.subscription;
  if (sub === "remove") return { kind: "remove", jid };
  // §2.1.2.5: "in a roster set the server MUST ignore all values of the 'subscription' attribute
  // other than 'remove'"; values outside the schema are still malformed.
  if (sub !== undefined && !SUBSCRIPTIONS.has(sub)) throw new StanzaError("bad-request", `unknown subscription '${sub}'`);
  const name = item.attrs.name === "" ? undefined : item.attrs.name;
  if (name !== undefined && octets(name) > limits.maxName) throw new StanzaError("not-acceptable", "the name is too long");
  return { kind: "update", jid, name, groups: parseGroups(item, limits) };
}

function itemJid(item: Element, owner: JID): JID {
  const raw = item.attrs.jid;
  if (raw === undefined || raw === "") throw new StanzaError("bad-request", "the item has no jid");
  const jid = tryParseJid(raw);
  if (!jid) throw new StanzaError("jid-malformed");
  if (!jid.isBare()) throw new StanzaError("jid-malformed", "roster items are bare JIDs");
  if (jid.equals(owner.bare)) throw new StanzaError("not-allowed", "your own JID cannot be a roster item");
  return jid;
}

function parseGroups(item: Element, limits: ItemLimits): string[] {
  const groups: string[] = [];
  for (const g of elementChildren(item)) {
    if (g.name !== "group") continue;
    const text = g.getText();
    if (text === "") throw new StanzaError("not-acceptable", "empty group");
    if (octets(text) > limits.maxGroup) throw new StanzaError("not-acceptable", "the group name is too long");
    if (groups.includes(text)) throw new StanzaError("bad-request", `duplicate group '${text}'`);
    groups.push(text);
  }
  if (groups.length > limits.maxGroups) throw new StanzaError("not-acceptable", "too many groups");
  return groups;
}

/** The <item/> of a roster result or push. */
export function itemElement(item: RosterItem): Element {
  return xml("item", {
    jid: item.jid,
    name: item.name,
    subscription: item.subscription,
    ask: item.ask,
    approved: item.approved ? "true" : undefined,
  }, item.groups.map((g) => xml("group", null, g)));
}

/** The <item/> of a push that tells interested resources an item is gone (§2.5.2). */
export function removedElement(jid: string): Element {
  return xml("item", { jid, subscription: "remove" });
}

export function rosterQuery(items: Element[], ver?: string): Element {
  return xml("query", { xmlns: NS.roster, ver }, items);
}

/** Same as the client sees it: equal fields, absent and undefined alike. */
export function sameItem(a: RosterItem | undefined, b: RosterItem | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.jid === b.jid && a.name === b.name && a.subscription === b.subscription &&
    a.ask === b.ask && (a.approved ?? false) === (b.approved ?? false) &&
    a.groups.length === b.groups.length && a.groups.every((g, i) => g === b.groups[i]);
}

/** The owner's update of name and groups; the subscription state stays the server's (§2.1.5). */
export function updatedItem(existing: RosterItem | undefined, jid: string, name: string | undefined, groups: string[]): RosterItem {
  const base: RosterItem = existing ?? { jid, groups: [], subscription: "none" };
  const out: RosterItem = { ...base, groups };
  if (name === undefined) delete out.name;
  else out.name = name;
  return out;
}

/** Whether the owner's presence goes to the contact ("from" or "both"). */
export function sendsPresence(sub: Subscription | undefined): boolean {
  return sub === "from" || sub === "both";
}

/** Whether the owner receives the contact's presence ("to" or "both"). */
export function receivesPresence(sub: Subscription | undefined): boolean {
  return sub === "to" || sub === "both";
}
