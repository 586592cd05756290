// XEP-0199: XMPP Ping, both directions: the server answers pings, and pings clients silent for
// `interval` seconds, closing the streams of those that do not answer (keepalive.ts).
import { NS } from "../xml/ns.ts";
import { defineModule } from "../core/module.ts";
import { int } from "../core/schema.ts";
import { keepalive, sweepPeriod } from "./keepalive.ts";

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
    const idleMs = ctx.options.interval * 1000;
    if (idleMs > 0) ctx.every(sweepPeriod(idleMs), keepalive(ctx.sessions, ctx.request, idleMs, ctx.options.timeout * 1000));
  },
});
