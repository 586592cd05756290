// The http row: the one-to-one scenario (one2one.ts) with its sessions logged in over the HTTP
// transports browsers use instead of TCP, on the plain HTTP listener (loopback, no TLS): XMPP
// over WebSocket (RFC 7395) and over BOSH (XEP-0124, XEP-0206; HTTP/1.1 keep-alive, hold=1, one
// request always pending). Delivered messages/s with every session keeping 16 in flight to its
// partner's full JID, then p50/p99 at a fixed total rate: what a browser transport costs against
// the other, and against the TCP rows.
import { httpLogin, type HttpTransport, type Link } from "../lib/http.ts";
import { pool } from "../lib/stats.ts";
import type { Cells, ScenarioContext } from "./common.ts";
import { notBuilt } from "./common.ts";
import { oneToOne, type Shape } from "./one2one.ts";

/** Logs pool accounts `from`..`from+n-1` in over `transport`, 50 at a time. */
function loginOver(transport: HttpTransport) {
  return async (ctx: ScenarioContext, from: number, n: number): Promise<Link[]> => {
    const links: Link[] = new Array(n);
    await pool(n, 50, async (k) => {
      links[k] = await httpLogin(ctx.target, transport, ctx.user(from + k), ctx.password, "chat");
    });
    return links;
  };
}

export const HTTP_RATE = 1000;

const shape = (transport: HttpTransport): Shape => ({ bare: false, window: 16, row: `http.${transport}`, rate: HTTP_RATE, login: loginOver(transport) });

export async function httpTransports(ctx: ScenarioContext, pairs: number): Promise<Cells> {
  const cells: Cells = {};
  for (const transport of ["websocket", "bosh"] as const) {
    const rows = ["throughput", "p50", "p99"].map((r) => `http.${transport}.${r}`);
    if (!ctx.target.http) {
      for (const row of rows) cells[row] = notBuilt("no plain HTTP listener configured for this server");
      continue;
    }
    ctx.log(`  ${transport}: ${pairs} pairs`);
    Object.assign(cells, await oneToOne(ctx, pairs, shape(transport)));
  }
  return cells;
}
