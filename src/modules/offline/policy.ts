// Which messages the offline store keeps (XEP-0160 §4, RFC 6121 §8.5.2.2.1), with the hints of
// XEP-0334 §4 and the chat states of XEP-0085 §5.5. A pure function of the stanza:
//   store  - type normal or chat (or an unknown type, RFC 6121 §5.2.2: "normal"), including
//            receipts (XEP-0184) and chat markers (XEP-0333) without a body: the sender's ticks
//            must reach it when it is back; and anything carrying the <store/> hint.
//            <no-permanent-store/> is stored too: XEP-0334 §2 names "stored temporarily ... if
//            the recipient is offline" as what such a sender accepts.
//   drop   - silently: error and headline (RFC 6121 §8.5.2.2.1), and a message that carries
//            nothing but chat states (XEP-0160 §4 "SHOULD NOT be stored offline"; XEP-0085 §5.5
//            lets a server refuse standalone notifications). An error for each typing
//            notification would be noise and would tell a stranger whether the user is online.
//   bounce - <service-unavailable/> to the sender: groupchat (RFC 6121 §8.5.2.2.1), and a
//            message hinted <no-store/> (XEP-0334 §4.2): the RFC leaves the server "store or
//            return an error", and the sender should learn that it was not delivered.
import { elementChildren, type Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";

export type OfflineRule = "store" | "drop" | "bounce";

/** Children that say nothing by themselves (a thread, XEP-0359 ids): with chat states, still only a chat state. */
function isMetadata(c: Element): boolean {
  const ns = c.attrs.xmlns;
  return ns === NS.sid || (c.name === "thread" && (ns === undefined || ns === NS.client));
}

export function offlineRule(stanza: Element): OfflineRule {
  const type = stanza.attrs.type ?? "normal";
  if (type === "error" || type === "headline") return "drop";
  if (type === "groupchat") return "bounce";
  let chatState = false;
  let content = false;
  let store = false;
  let noStore = false;
  for (const c of elementChildren(stanza)) {
    const ns = c.attrs.xmlns;
    if (ns === NS.hints) {
      if (c.name === "no-store") noStore = true;
      else if (c.name === "store") store = true;
    } else if (ns === NS.chatStates) chatState = true;
    else if (!isMetadata(c)) content = true;
  }
  if (noStore) return "bounce";
  if (store) return "store";
  return chatState && !content ? "drop" : "store";
}
