// XEP-0199: XMPP Ping, both directions, and the keepalive that finds dead connections: a session
// silent for `keepalive.interval` seconds is pinged; no answer within `timeout` closes it, so its
// contacts see it go unavailable even when its TCP connection vanished without a FIN.
import { xml } from "../xml/element.ts";
import { NS } from "../xml/ns.ts";
import { defineModule } from "../core/module.ts";
import { StreamError } from "../core/errors.ts";
import { int } from "../core/schema.ts";

export default defineModule({
  name: "ping",
  specs: [{ spec: "XEP-0199", version: "2.0.1" }],
  options: {
    interval: int("Seconds of silence before the server pings a client; 0 disables.", 240, 0),
    timeout: int("Seconds to wait for the answer before closing the stream.", 60, 1),
  },
  setup(ctx) {
    ctx.feature(NS.ping);
    ctx.iq("host", NS.ping, "ping", { get: () => undefined });
    const { interval, timeout } = ctx.options;
    if (interval === 0) return;
    const probing = new WeakSet<object>();
    // One sweep for all sessions instead of a timer per connection.
    ctx.every(Math.min(interval * 1000, 30_000) / 2, () => {
      const idleSince = Date.now() - interval * 1000;
      for (const s of ctx.sessions.all()) {
        if (s.lastActivity > idleSince || probing.has(s)) continue;
        probing.add(s);
        const ping = xml("iq", { type: "get", to: s.jid.toString() }, xml("ping", { xmlns: NS.ping }));
        ctx.request(ping, timeout * 1000).then(
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
    });
  },
});
