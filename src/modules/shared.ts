// Per-session facts that one module records and others read, so that modules stay independent of
// each other's presence: a module that is not loaded simply never sets its key.
import { sessionKey } from "../core/session.ts";
import { serviceKey } from "../core/module.ts";
import type { Element } from "../xml/element.ts";
import type { JID } from "../xml/jid.ts";
import { NS } from "../xml/ns.ts";

/** The session has queried its archive (XEP-0313): it catches up from there, not from offline floods or resends. */
export const ARCHIVE_QUERIED = sessionKey<boolean>("mam.queried");
/** The session enabled message carbons (XEP-0280). */
export const CARBONS_ENABLED = sessionKey<boolean>("carbons.enabled", { shared: true });
/** The session registered for push notifications (XEP-0357) and may sleep for long. */
export const PUSH_ENABLED = sessionKey<boolean>("push.enabled");

/** The XEP-0359 stanza-id a given archive (by=bare JID) put on the message, if any. */
export function stanzaIdBy(stanza: Element, by: string): string | undefined {
  for (const c of stanza.children) {
    if (typeof c !== "string" && c.name === "stanza-id" && c.attrs.xmlns === NS.sid && c.attrs.by === by) return c.attrs.id;
  }
  return undefined;
}

/** Push notifications (XEP-0357) as other modules may ask for them: a room waking its members who are away. */
export interface PushService {
  /** Tells the account's push registrations about a message it missed (batched like any other). */
  notify(account: JID, message: Element): void;
}
export const PUSH = serviceKey<PushService>("push");
