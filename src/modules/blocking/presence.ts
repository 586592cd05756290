// What a block or an unblock changes in the presence the contacts see.
// §3.3: on block, the blocked JIDs that may see the user's presence (RFC 6121: subscription
// "from" or "both") get unavailable presence from each available resource of the user.
// §3.4/§3.5: on unblock, they get the current presence of each available resource. The user's
// presence from them was dropped while they were blocked, so the server also probes the contacts
// the user is subscribed to ("to"/"both"), from the user's bare JID (RFC 6121 §4.3), and the
// answers reach every available resource: the client does not show them offline until they next
// change their presence.
import { xml, type Element } from "../../xml/element.ts";
import { type JID, parseJid } from "../../xml/jid.ts";
import type { Send, Sessions } from "../../core/capabilities.ts";
import { isAvailable } from "../../core/session.ts";
import { readdress } from "../../core/stanza.ts";
import { receivesPresence, sendsPresence } from "../roster/item.ts";
import type { RosterService } from "../roster/service.ts";
import { covers } from "./match.ts";

export interface PresenceEffects {
  readonly sessions: Pick<Sessions, "of">;
  /** Routes a stanza the blocking filter checks like any other. */
  readonly send: Send;
  readonly roster: RosterService;
  /** Routes a stanza the blocking filter must let through (the unavailable presence of a block). */
  route(stanza: Element): Promise<void>;
}

interface Target { to: string; sees: boolean; seen: boolean }

/** The addresses to tell: a full-JID item is told at that JID, a bare or domain item at each contact it covers. */
async function targets(env: PresenceEffects, owner: JID, items: JID[]): Promise<Target[]> {
  const out = new Map<string, Target>();
  for (const contact of await env.roster.items(owner)) {
    const cj = parseJid(contact.jid);
    const sees = sendsPresence(contact.subscription);
    const seen = receivesPresence(contact.subscription);
    if (!sees && !seen) continue;
    for (const item of items) {
      if (covers(item, cj)) out.set(contact.jid, { to: contact.jid, sees, seen });
      else if (item.resource !== "" && item.bare.equals(cj)) out.set(item.toString(), { to: item.toString(), sees, seen });
    }
  }
  return [...out.values()];
}

export async function afterBlock(env: PresenceEffects, owner: JID, items: JID[]): Promise<void> {
  const resources = env.sessions.of(owner).filter(isAvailable);
  if (resources.length === 0) return;
  for (const t of await targets(env, owner, items)) {
    if (!t.sees) continue;
    for (const s of resources) await env.route(xml("presence", { type: "unavailable", from: s.jid.toString(), to: t.to }));
  }
}

export async function afterUnblock(env: PresenceEffects, owner: JID, items: JID[]): Promise<void> {
  const resources = env.sessions.of(owner).filter(isAvailable);
  if (resources.length === 0) return;
  const probe = new Set<string>();
  for (const t of await targets(env, owner, items)) {
    if (t.sees) for (const s of resources) await env.send(readdress(s.presence!, t.to, s.jid.toString()));
    if (t.seen) probe.add(parseJid(t.to).bare.toString());
  }
  for (const to of probe) await env.send(xml("presence", { type: "probe", from: owner.toString(), to }));
}
