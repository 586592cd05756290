// What push notifications (XEP-0357) offer other modules: a room waking its members who are away
// (src/modules/muc/), which asks for it only when this module is loaded.
import type { Element } from "../../xml/element.ts";
import type { JID } from "../../xml/jid.ts";
import { serviceKey } from "../../core/module.ts";

export interface PushService {
  /** Tells the account's push registrations about a message it missed (batched like any other). */
  notify(account: JID, message: Element): void;
}
export const PUSH = serviceKey<PushService>("push");
