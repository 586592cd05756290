// Which one-to-one messages go into a user archive (XEP-0313 §6.1.1, "User Archives" in the
// business rules), XEP-0359 stanza-ids: the one an archive puts on a message, finding it again
// (the offline store does too), and the rule on those that claim to come from us; and archive
// results that do not come from an archive. Pure functions over the stanza, unit-tested beside
// this file.
import { removeChildren, xml, type Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import type { JID } from "../../xml/jid.ts";

/** OMEMO (XEP-0384): the legacy Conversations namespace and the current one. */
export const OMEMO = ["eu.siacs.conversations.axolotl", "urn:xmpp:omemo:2"] as const;
/**
 * Message reactions (XEP-0444), retractions (XEP-0424) and calls (XEP-0353, whose messages MAM
 * is to keep so that "all devices (offline or not) know about the jingle session, its start
 * timestamp and even its end timestamp"): what a second device must see of the conversation.
 */
const CONVERSATION_EVENTS = new Set<string>(["urn:xmpp:reactions:0", "urn:xmpp:message-retract:1", NS.jingleMessage]);
const DIRECT_INVITE = "jabber:x:conference";
const TICKS = new Set<string>([NS.receipts, NS.markers]);

/**
 * Whether a message belongs in the archive. XEP-0313 §6.1.1: "a server SHOULD include in a user archive all
 * of the messages a user sends or receives of type 'normal' or 'chat' that contain a <body>
 * element", and MAY include more: here delivery and read ticks (XEP-0184, XEP-0333), OMEMO
 * messages (their body is often only a fallback text, or absent) with an encrypted payload (not
 * bare key transport), reactions and retractions, calls (XEP-0353 propose, proceed, finish, ...,
 * which carry <store/> hints but are kept without one too), XEP-0249 direct invitations, and
 * whatever carries a XEP-0334 <store/> hint.
 * Never: errors, headlines, groupchat (not kept in user archives here), chat states alone
 * (XEP-0085 §5.6: never stored), anything hinted <no-store/> or <no-permanent-store/>.
 */
export function archivable(stanza: Element): boolean {
  const type = stanza.attrs.type ?? "normal";
  if (type !== "chat" && type !== "normal") return false;
  return worthKeeping(stanza, true);
}

/**
 * What a message carries that makes it worth keeping, whatever its type (the room archive asks
 * this of groupchat messages, without `ticks`: a room's read markers are not its history).
 */
export function worthKeeping(stanza: Element, ticks: boolean): boolean {
  let keep = false;
  for (const c of stanza.children) {
    if (typeof c === "string") continue;
    const ns = c.attrs.xmlns;
    if (ns === NS.hints) {
      if (c.name === "no-store" || c.name === "no-permanent-store") return false;
      if (c.name === "store") keep = true;
    } else if (c.name === "body" && (ns === undefined || ns === NS.client)) keep = true;
    else if (ns !== undefined && ((ticks && TICKS.has(ns)) || CONVERSATION_EVENTS.has(ns))) keep = true;
    else if (c.name === "encrypted" && (ns === OMEMO[0] || ns === OMEMO[1]) && c.getChild("payload")) keep = true;
    // XEP-0249 direct invitations (often without a body): the invitee's other devices must see them.
    else if (c.name === "x" && ns === DIRECT_INVITE) keep = true;
  }
  return keep;
}

/**
 * XEP-0359 §5: an entity that "encounter[s] a <stanza-id/> element where the 'by' attribute
 * matches the 'by' attribute they would otherwise set, MUST delete that element even if they are
 * not adding their own". Ours are by the account's bare JID (and, once rooms exist, by the
 * domain's services); both are removed from messages that arrive from outside. Returns how many.
 */
export function stripForged(stanza: Element, by: readonly string[]): number {
  const before = stanza.children.length;
  stanza.children = stanza.children.filter((c) =>
    typeof c === "string" || c.name !== "stanza-id" || c.attrs.xmlns !== NS.sid || !by.includes(c.attrs.by ?? ""));
  return before - stanza.children.length;
}

/** Whether stripForged would remove anything (outgoing copies are cloned only then). */
export function hasForged(stanza: Element, by: readonly string[]): boolean {
  return stanza.children.some((c) =>
    typeof c !== "string" && c.name === "stanza-id" && c.attrs.xmlns === NS.sid && by.includes(c.attrs.by ?? ""));
}

export function stanzaIdElement(by: string, id: string): Element {
  return xml("stanza-id", { xmlns: NS.sid, by, id });
}

/** The XEP-0359 stanza-id a given archive (by=bare JID) put on the message, if any. */
export function stanzaIdBy(stanza: Element, by: string): string | undefined {
  for (const c of stanza.children) {
    if (typeof c !== "string" && c.name === "stanza-id" && c.attrs.xmlns === NS.sid && c.attrs.by === by) return c.attrs.id;
  }
  return undefined;
}

const RESULT: ReadonlySet<string> = new Set(["result"]);

/**
 * XEP-0313 §4.2: results come from the archive queried, by its JID: the account's own (its bare
 * JID) or a service of this server (a room's, by the room's bare JID). A message from anyone else
 * carrying a <result/> (of any MAM version, with any prefix) loses it before it is delivered, so
 * that no one can slip messages into what a client takes for its history; the rest goes on.
 * `served` says whether a domain is this server's or one of its services'. How many went.
 */
export function stripForgedResults(message: Element, from: JID, to: JID, served: (domain: string) => boolean): number {
  const archive = from.resource === "" && (from.bare.equals(to.bare) || (served(from.domain) && (from.local === "" || from.domain !== to.domain)));
  if (archive) return 0;
  return removeChildren(message, RESULT, (ns) => ns !== undefined && ns.startsWith("urn:xmpp:mam:"));
}
