// XEP-0191 §6 (JID matching, after XEP-0016 §2.1): an item blocks
//   user@domain/resource  that resource only;
//   user@domain           any resource of it;
//   domain/resource       that resource of the domain only;
//   domain                the domain itself and every user@domain and domain/resource.
// The checks are set lookups of the candidate forms of the address, most specific first.
import { elementChildren, type Element } from "../../xml/element.ts";
import { type JID, tryParseJid } from "../../xml/jid.ts";
import { StanzaError } from "../../core/errors.ts";

/** Whether `list` (normalised JID strings) blocks the address `who`. */
export function blocks(list: ReadonlySet<string>, who: JID): boolean {
  if (list.size === 0) return false;
  if (list.has(who.toString())) return true;
  if (who.local !== "" && who.resource !== "" && list.has(who.bare.toString())) return true;
  return (who.local !== "" || who.resource !== "") && list.has(who.domain);
}

/** Whether the blocklist item `item` covers the contact `contact` (a roster item's bare JID). */
export function covers(item: JID, contact: JID): boolean {
  return blocks(new Set([item.toString()]), contact);
}

/**
 * The JIDs of a <block/> or <unblock/>: each <item jid/> normalised, duplicates merged. An item
 * without a jid is bad-request; an invalid JID is jid-malformed (§3.3: "other standard XMPP stanza
 * errors also apply"); more than `max` items is resource-constraint.
 */
export function parseItems(command: Element, max: number): JID[] | StanzaError {
  const out = new Map<string, JID>();
  for (const el of elementChildren(command)) {
    if (el.name !== "item") continue;
    const raw = el.attrs.jid;
    if (raw === undefined || raw === "") return new StanzaError("bad-request", "an item needs a jid");
    const jid = tryParseJid(raw);
    if (!jid) return new StanzaError("jid-malformed", `'${raw}' is not a valid JID`);
    out.set(jid.toString(), jid);
    if (out.size > max) return new StanzaError("resource-constraint", `at most ${max} items`);
  }
  return [...out.values()];
}
