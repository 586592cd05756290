// The 'with' rule of log queries, shared by the backends: XEP-0313 §4.1.1 matches a bare JID
// against every resource of it, and a full JID only against itself.
import type { LogQuery } from "./types.ts";

/** The bare part of a JID string ("" stays ""). */
export function bareOf(jid: string): string {
  const slash = jid.indexOf("/");
  return slash < 0 ? jid : jid.slice(0, slash);
}

export function logFilter(q: Pick<LogQuery, "with">): { withFull?: string; withBare?: string } {
  if (q.with === undefined) return {};
  return q.with.includes("/") ? { withFull: q.with } : { withBare: q.with };
}
