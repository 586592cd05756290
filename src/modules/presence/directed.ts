// RFC 6121 §4.6: directed presence. The server remembers every entity a session sent available
// presence to, so that when the session goes unavailable (or its connection ends) those entities
// learn it too (§4.6.3); directed unavailable presence takes an entity off the list.
import type { JID } from "../../xml/jid.ts";
import { sessionKey, type Session } from "../../core/session.ts";

/** Target full or bare JID -> its bare JID. */
const DIRECTED = sessionKey<Map<string, string>>("presence.directed");

/** More targets than this are still delivered to, but not remembered. */
export const MAX_DIRECTED = 1000;

export function noteDirected(session: Session, to: JID, type: "available" | "unavailable"): void {
  if (to.bare.equals(session.jid.bare)) return; // the account's own resources hear its broadcasts
  const key = to.toString();
  let targets = session.get(DIRECTED);
  if (type === "unavailable") {
    targets?.delete(key);
    return;
  }
  if (!targets) session.set(DIRECTED, (targets = new Map()));
  if (targets.size < MAX_DIRECTED || targets.has(key)) targets.set(key, to.bare.toString());
}

export function hasDirected(session: Session): boolean {
  return (session.get(DIRECTED)?.size ?? 0) > 0;
}

/** The targets, forgotten: unavailable presence is about to be sent to them. */
export function takeDirected(session: Session): Map<string, string> {
  const targets = session.get(DIRECTED) ?? new Map<string, string>();
  session.set(DIRECTED, undefined);
  return targets;
}
