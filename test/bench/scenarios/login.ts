// Scenario 1a, logins: `concurrency` clients at a time connect, authenticate (SCRAM-SHA-1 or
// PLAIN), restart the stream and bind, then close; logins completed per second over the run.
// Every login must succeed. The accounts are warmed first so that the generator's SCRAM keys
// are cached (a client computes Hi() once per salt, like a real one).
import { Conn, targetFor, type Mechanism, type Security } from "../lib/conn.ts";
import { percentile, pool, round } from "../lib/stats.ts";
import { failed, ok, type Cell, type ScenarioContext, withCpu } from "./common.ts";

/**
 * Login rows run so far: each row connects from source addresses of its own (127.0.<row>.1-16).
 * A port for a bound source address is searched among the sockets still in TIME_WAIT from it
 * (60 s), so with shared addresses the second TLS row spent the generator's core in connect()
 * over the ports of the 134k logins before it: SCRAM over TLS 541-629 logins/s with the server
 * at 0.35 of its core, 1,314/s at 1.0 with addresses of its own.
 */
let rows = 0;

export async function logins(ctx: ScenarioContext, mechanism: Mechanism, security: Security = "plain", concurrency = 200): Promise<Cell> {
  const net = 1 + (rows++ % 250);
  const accounts = Math.min(ctx.poolSize, 400);
  const seconds = ctx.quick ? 3 : 15;
  const login = (k: number) => Conn.login(targetFor(ctx.target, k % accounts), {
    // Each closed connection leaves a TIME_WAIT port on the client side: spreading them over 16
    // source addresses keeps connect() from searching a crowded port range.
    user: ctx.user(k % accounts), password: ctx.password, resource: `l${k}`, mechanism, security, localAddress: `127.0.${net}.${1 + (k % 16)}`,
  });
  if (mechanism === "SCRAM-SHA-1") {
    await pool(accounts, 50, async (k) => (await login(k)).close());
  }
  const latencies: number[] = [];
  let errors = 0;
  let firstError = "";
  let started = 0;
  const deadline = performance.now() + seconds * 1000;
  const { result: elapsed, cpu, generatorCpu } = await withCpu(ctx, async () => {
    const t0 = performance.now();
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const k = started++;
        const s = performance.now();
        try {
          const c = await login(k);
          latencies.push(performance.now() - s);
          c.close();
        } catch (e) {
          errors++;
          firstError ||= (e as Error).message;
        }
      }
    }));
    return (performance.now() - t0) / 1000;
  });
  const detail = {
    logins: latencies.length, seconds: round(elapsed, 2), concurrency, errors,
    p50ms: round(percentile(latencies, 50), 2), p99ms: round(percentile(latencies, 99), 2),
    serverCpu: round(cpu, 2), generatorCpu: round(generatorCpu, 2),
  };
  ctx.log(`  ${mechanism} over ${security}: ${latencies.length} logins in ${detail.seconds} s, ${errors} errors, server cpu ${detail.serverCpu}, generator cpu ${detail.generatorCpu}`);
  if (errors > 0) return failed(`${errors} failed logins: ${firstError}`, detail);
  return ok(round(latencies.length / elapsed), detail);
}
