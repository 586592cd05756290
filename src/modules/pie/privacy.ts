// XEP-0227 §4.8: privacy lists (XEP-0016) in <query xmlns='jabber:iq:privacy'/>. This server has
// blocking (XEP-0191) instead, which XEP-0191 §1 describes as the simple case of privacy lists; a
// blocked JID is a list item of type 'jid' with action 'deny' that applies to every stanza (no
// <message/>, <iq/>, <presence-in/> or <presence-out/> child), and that is how ejabberd stores
// XEP-0191 blocks. Those of the active list (the default one, or every list when none is the
// default) go to the blocklist; the other rules are noted and left out. The export writes the
// blocklist the same way, as a default list of such items.
import { elementChildren, xml, type Element } from "../../xml/element.ts";
import { tryParseJid } from "../../xml/jid.ts";

export const PRIVACY = "jabber:iq:privacy";
const BLOCKLIST_NAME = "blocklist";

export interface PrivacyRead {
  blocked: string[];
  /** Rules that are not plain blocks, left out. */
  leftOut: number;
}

export function readPrivacy(query: Element): PrivacyRead {
  const lists = elementChildren(query).filter((c) => c.getName() === "list");
  const def = elementChildren(query).find((c) => c.getName() === "default")?.attrs.name;
  const active = def ? lists.filter((l) => l.attrs.name === def) : lists;
  const out: PrivacyRead = { blocked: [], leftOut: 0 };
  for (const list of lists) {
    for (const item of elementChildren(list).filter((c) => c.getName() === "item")) {
      const jid = item.attrs.type === "jid" && item.attrs.action === "deny" && elementChildren(item).length === 0 ? tryParseJid(item.attrs.value ?? "") : undefined;
      if (jid && active.includes(list)) {
        if (!out.blocked.includes(jid.toString())) out.blocked.push(jid.toString());
      } else out.leftOut++;
    }
  }
  return out;
}

/** The blocklist for the export: a default privacy list that denies each JID everything. */
export function privacyElement(blocked: readonly string[]): Element | undefined {
  if (blocked.length === 0) return undefined;
  return xml("query", { xmlns: PRIVACY }, xml("default", { name: BLOCKLIST_NAME }),
    xml("list", { name: BLOCKLIST_NAME }, blocked.map((value, i) => xml("item", { type: "jid", value, action: "deny", order: i + 1 }))));
}
