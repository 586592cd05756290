// XEP-0280 §6: which messages are carbon-copied, as a pure function of the message and of the
// direction it travels for the account whose resources get the copies ("sent" by one of them,
// "received" for them). Rules, in the order they decide:
//   - never a message with <private xmlns='urn:xmpp:carbons:2'/> (§7) or the XEP-0334 <no-copy/>
//     hint ("should not be copied to addresses other than the one to which it is addressed");
//   - never a carbon copy itself (<sent/> or <received/> inside): copies of copies would loop;
//   - never type groupchat (§6.1.1);
//   - a received message from a MUC participant (<x xmlns='muc#user'/> without an invitation)
//     is not copied: the room reaches every joined client itself (§6.1.1); sent private
//     messages to occupants are (they are of type chat, or carry that <x/>);
//   - type chat; type normal (or none, or an unknown type: RFC 6121 §5.2.2) with a <body/>
//     (a headline with a body is not: it is no conversation);
//   - IM payloads whatever the type: receipts (XEP-0184), chat states (XEP-0085), chat markers
//     (XEP-0333), calls (XEP-0353, which relies on carbons to reach every device); invitations:
//     direct (XEP-0249) and mediated (XEP-0045 §7.8.2);
//   - type error: the server keeps no record of what it answers, so an error is copied when it
//     echoes something that would be (a body or an IM payload), RFC 6120 §8.3.1 letting the
//     error carry the original's content.
import { elementChildren, removeChildren, type Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";

export type Direction = "sent" | "received";

const CONFERENCE = "jabber:x:conference";
const IM_PAYLOADS: ReadonlySet<string> = new Set([NS.receipts, NS.chatStates, NS.markers, NS.jingleMessage, CONFERENCE]);

interface Shape {
  body: boolean;
  imPayload: boolean;
  mucUser: boolean;
  invite: boolean;
  excluded: boolean;
}

function shapeOf(message: Element): Shape {
  const s: Shape = { body: false, imPayload: false, mucUser: false, invite: false, excluded: false };
  for (const c of elementChildren(message)) {
    const ns = c.attrs.xmlns;
    if (c.name === "body" && (ns === undefined || ns === NS.client)) s.body = true;
    else if (ns === NS.carbons) s.excluded = true; // <private/>, or a copy's <sent/>/<received/>
    else if (ns === NS.hints && c.name === "no-copy") s.excluded = true;
    else if (ns === NS.mucUser && c.name === "x") {
      s.mucUser = true;
      if (c.getChild("invite")) s.invite = true;
    } else if (ns !== undefined && IM_PAYLOADS.has(ns)) s.imPayload = true;
  }
  return s;
}

export function carbonEligible(message: Element, direction: Direction): boolean {
  const type = message.attrs.type ?? "normal";
  const s = shapeOf(message);
  if (s.excluded || type === "groupchat") return false;
  if (s.invite) return true;
  if (direction === "received" && s.mucUser) return false;
  if (type === "chat") return true;
  if (type === "headline") return s.imPayload;
  return s.body || s.imPayload; // normal (or unknown) with a body; an error echoing one; IM payloads
}

const COPIES: ReadonlySet<string> = new Set(["sent", "received"]);

/**
 * §11: "Any forwarded copies received by a Carbons-enabled client MUST be from that user's bare
 * JID; any copies that do not meet this requirement MUST be ignored." A message from anyone else
 * (another account, a room occupant) loses the <sent/> and <received/> it carries before it is
 * delivered; the rest of it goes on. How many went.
 */
export function stripForgedCopies(message: Element): number {
  return removeChildren(message, COPIES, (ns) => ns === NS.carbons);
}
