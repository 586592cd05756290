// RFC 6121 §2.5.2: removing an item also ends the subscriptions it carries. The server sends
// "unsubscribe" when the owner had (or asked for) the contact's presence and "unsubscribed" when
// the contact had (or asked for) the owner's, then unavailable presence from each available
// resource, since the contact no longer may see it (§3.2.2).
import { xml } from "../../xml/element.ts";
import type { JID } from "../../xml/jid.ts";
import { StanzaError } from "../../core/errors.ts";
import type { Send, Sessions } from "../../core/capabilities.ts";
import { isAvailable } from "../../core/session.ts";
import { receivesPresence, sendsPresence, type RosterItem } from "./item.ts";
import type { RosterService } from "./service.ts";

interface Removed { item: RosterItem | undefined; pendingIn: boolean }

/** What a removal tells: the contact, by presence sent from the owner's sessions. */
export interface RemovalEffects {
  readonly send: Send;
  readonly sessions: Pick<Sessions, "of">;
}

export async function removeContact(effects: RemovalEffects, roster: RosterService, owner: JID, contact: JID): Promise<void> {
  const before = await roster.change<Removed>(owner, contact.toString(), (item, pending) => {
    // §2.5.3: removing an item that is not there is item-not-found.
    if (!item && !pending) throw new StanzaError("item-not-found");
    return { item: undefined, pending: undefined, result: { item, pendingIn: pending !== undefined } };
  });
  const from = owner.bare.toString();
  const to = contact.toString();
  const sub = before.item?.subscription;
  const route = (type: string, source = from) => effects.send(xml("presence", { type, from: source, to }));
  if (receivesPresence(sub) || before.item?.ask) await route("unsubscribe");
  if (sendsPresence(sub) || before.pendingIn) await route("unsubscribed");
  if (!sendsPresence(sub)) return;
  for (const s of effects.sessions.of(owner)) {
    if (isAvailable(s)) await route("unavailable", s.jid.toString());
  }
}
