// Scenario 1b, memory per idle session: the server's resident memory grows by how much per
// authenticated, bound, available (initial presence sent) session that then says nothing?
// Measured at 1k, 10k and as many as the machine holds (several 127.0.0.x source addresses get
// past one address's port range), each level after the server has had time to settle.
import { round, sleep } from "../lib/stats.ts";
import { rssBytes } from "../lib/proc.ts";
import type { Conn, Security } from "../lib/conn.ts";
import { closeAll, failed, loginMany, ok, type Cells, type ScenarioContext } from "./common.ts";

const SETTLE_MS = 3000;

export interface SessionLevels { levels: { n: number; key: string }[]; security: Security; rowPrefix: string }

export async function idleSessions(ctx: ScenarioContext, o: SessionLevels): Promise<Cells> {
  const pid = ctx.pid();
  if (!pid) return { [`${o.rowPrefix}`]: failed("no server process to measure") };
  await sleep(SETTLE_MS);
  const base = rssBytes(pid);
  const cells: Cells = {};
  const conns: Conn[] = [];
  let reached = 0;
  const t0 = performance.now();
  for (const { n: level, key } of o.levels) {
    const want = Math.min(level, ctx.poolSize);
    try {
      conns.push(...(await loginMany(ctx, reached, want - reached, { security: o.security, presence: true, concurrency: 200 })));
      reached = want;
    } catch (e) {
      ctx.log(`  stopped at ${conns.length} sessions: ${(e as Error).message}`);
      cells[`${o.rowPrefix}.${key}`] = failed(`held ${conns.length}: ${(e as Error).message.slice(0, 120)}`);
      break;
    }
    await sleep(SETTLE_MS);
    const rss = rssBytes(pid);
    const per = (rss - base) / reached;
    const alive = conns.filter((c) => !c.closed).length;
    ctx.log(`  ${reached} ${o.security} sessions: RSS ${round(rss / 2 ** 20)} MiB (base ${round(base / 2 ** 20)} MiB), ${round(per / 1024, 1)} KiB each, ${alive} alive, ${round((performance.now() - t0) / 1000)} s`);
    const detail = { sessions: reached, alive, rssMiB: round(rss / 2 ** 20, 1), baseMiB: round(base / 2 ** 20, 1) };
    cells[`${o.rowPrefix}.${key}`] = alive === reached ? ok(round(per / 1024, 1), detail) : failed(`${reached - alive} sessions dropped`, detail);
  }
  cells[`${o.rowPrefix}.held`] = ok(conns.filter((c) => !c.closed).length);
  closeAll(conns);
  await sleep(1000);
  return cells;
}
