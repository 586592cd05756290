// XEP-0353: Jingle Message Initiation (urn:xmpp:jingle-message:0; versions 0.4 and 0.5 used :1,
// which 0.6 went back from). A call starts with a <message type='chat'/> carrying <propose/>,
// answered by <ringing/>, <proceed/> or <reject/>, withdrawn by <retract/>, ended by <finish/>
// (and <accept/> of the older flow). The server's part is delivery, which the XEP hands to other
// specifications: "the server of the responder distributes this message stanza to all of
// Juliet's available resources (and to push resources as appropriate) thanks to XEP-0280 and
// XEP-0313" (§3.1), and its requirements are "ring-on-all-devices" behaviour that works with
// push notifications and offline devices. So:
// - here: a JMI message to a bare JID reaches every available resource of non-negative priority
//   (RFC 6121 §8.5.2.1.1 allows it for chat), not only the top-priority ones, so that a device
//   ringing does not depend on its priority or on its having enabled carbons; the others still
//   get received carbons (XEP-0280), sent ones go to the caller's other devices. A JMI message to
//   a full JID (0.8.0 sends answers and <finish/> there) goes to that resource, with carbons.
// - the archive keeps every JMI message, with or without its <store/> hint (mam/policy.ts);
// - the offline store keeps them for an account with no session (chat messages, offline/policy.ts);
// - a <propose/> is pushed at once, marked urgent, past the push batching (push/notification.ts).
// There is no disco feature: the XEP has none (its discovery is intentionally missing, §3.2).
import { NS } from "../xml/ns.ts";
import type { Element } from "../xml/element.ts";
import { defineModule } from "../core/module.ts";

/** The JMI action a message carries (propose, proceed, ...), if any. */
function jingleMessageAction(message: Element): Element | undefined {
  for (const c of message.children) {
    if (typeof c !== "string" && c.attrs.xmlns === NS.jingleMessage) return c;
  }
  return undefined;
}

export default defineModule({
  name: "jingle-message",
  specs: [{ spec: "XEP-0353", version: "0.8.0" }],
  setup(ctx) {
    ctx.handle("message/bare", async (ev) => {
      const type = ev.stanza.attrs.type ?? "normal";
      if ((type !== "chat" && type !== "normal") || jingleMessageAction(ev.stanza) === undefined) return false;
      await ctx.delivery.deliverToAll(ev);
      return true;
    });
  },
});
