// The keepalive of XEP-0199 (§4.2, server-to-client pings) that finds dead connections: a session
// silent for `idleMs` is pinged; no answer within `timeoutMs` closes it, so its contacts see it go
// unavailable even when its TCP connection vanished without a FIN.
import { xml } from "../xml/element.ts";
import { NS } from "../xml/ns.ts";
import type { RequestIq, Sessions } from "../core/capabilities.ts";
import { StreamError } from "../core/errors.ts";

/** How often to sweep: often enough that a session is pinged soon after it falls silent. */
export function sweepPeriod(idleMs: number): number {
  return Math.min(idleMs, 30_000) / 2;
}

/** One sweep for all sessions instead of a timer per connection. */
export function keepalive(sessions: Pick<Sessions, "all">, request: RequestIq, idleMs: number, timeoutMs: number): () => void {
  const probing = new WeakSet<object>();
  return () => {
    const idleSince = Date.now() - idleMs;
    for (const s of sessions.all()) {
      if (s.lastActivity > idleSince || probing.has(s)) continue;
      probing.add(s);
      // From the session's own server (its host, when the server has several).
      const ping = xml("iq", { type: "get", from: s.jid.domain, to: s.jid.toString() }, xml("ping", { xmlns: NS.ping }));
      request(ping, timeoutMs).then(
        () => probing.delete(s),
        (e: Error) => {
          probing.delete(s);
          // An error reply still proves the client is there; only silence is fatal.
          if ((e as { condition?: string }).condition === "remote-server-timeout") {
            s.close(new StreamError("connection-timeout", "no answer to ping"));
          }
        },
      );
    }
  };
}
