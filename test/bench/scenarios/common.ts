// What every scenario gets: the target, the account pool, the server's PID for RSS and CPU, and
// helpers to log many sessions in and to report a cell of the table.
import { Conn, targetFor, type LoginOptions, type Mechanism, type Security, type Target } from "../lib/conn.ts";
import { cpuSeconds } from "../lib/proc.ts";
import { pool } from "../lib/stats.ts";

export interface ScenarioContext {
  target: Target;
  /** Account name of pool index i (accounts exist for i < poolSize). */
  user(i: number): string;
  poolSize: number;
  password: string;
  /** The server process measured (0 when unknown, e.g. an external target). */
  pid(): number;
  quick: boolean;
  log(line: string): void;
}

export type CellStatus = "ok" | "failed" | "not built" | "skipped";

export interface Cell {
  value?: number;
  status: CellStatus;
  note?: string;
  /** Anything else worth keeping in the raw results (counts, percentiles, CPU use). */
  detail?: Record<string, unknown>;
}

export type Cells = Record<string, Cell>;

export const ok = (value: number, detail?: Record<string, unknown>, note?: string): Cell => ({ value, status: "ok", ...(detail ? { detail } : {}), ...(note ? { note } : {}) });
export const failed = (note: string, detail?: Record<string, unknown>): Cell => ({ status: "failed", note, ...(detail ? { detail } : {}) });
export const notBuilt = (note: string): Cell => ({ status: "not built", note });

/** Source address for the i-th connection: 127.0.0.1, .2, ... 25,000 connections each (the port range is ~28k). */
export function sourceAddress(i: number): string {
  return `127.0.0.${1 + Math.floor(i / 25_000)}`;
}

export interface ManyOptions {
  mechanism?: Mechanism;
  security?: Security;
  presence?: boolean;
  resource?: string;
  concurrency?: number;
}

/** Logs in pool accounts `from`..`from+n-1`, `concurrency` at a time; every login must succeed. */
export async function loginMany(ctx: ScenarioContext, from: number, n: number, o: ManyOptions = {}): Promise<Conn[]> {
  const conns: Conn[] = new Array(n);
  await pool(n, o.concurrency ?? 100, async (k) => {
    const i = from + k;
    const opts: LoginOptions = {
      user: ctx.user(i), password: ctx.password, resource: o.resource ?? "bench", mechanism: o.mechanism ?? "SCRAM-SHA-1",
      security: o.security ?? "plain", presence: o.presence ?? true, localAddress: sourceAddress(i),
    };
    conns[k] = await Conn.login(targetFor(ctx.target, i), opts);
  });
  return conns;
}

export function closeAll(conns: Pick<Conn, "destroy">[]): void {
  for (const c of conns) c?.destroy();
}

/** The server's CPU use while `fn` runs, as a fraction of one core. */
export async function withCpu<T>(ctx: ScenarioContext, fn: () => Promise<T>): Promise<{ result: T; cpu: number; generatorCpu: number }> {
  const pid = ctx.pid();
  const c0 = pid ? cpuSeconds(pid) : 0;
  const g0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await fn();
  const secs = (performance.now() - t0) / 1000;
  const g = process.cpuUsage(g0);
  return {
    result,
    cpu: pid ? (cpuSeconds(pid) - c0) / secs : NaN,
    generatorCpu: (g.user + g.system) / 1e6 / secs,
  };
}

/** Asks disco#info of a JID over a logged-in connection (before its scanner is attached). */
export async function discoFeatures(c: Conn, to: string): Promise<{ features: string[]; identities: string; error: boolean }> {
  const id = `disco${Math.random().toString(36).slice(2, 8)}`;
  const res = await c.iq(id, `<iq type='get' id='${id}' to='${to}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`, 10_000);
  const features = [...res.matchAll(/<feature[^>]*var=["']([^"']+)["']/g)].map((m) => m[1]!);
  return { features, identities: [...res.matchAll(/<identity[^>]*>/g)].map((m) => m[0]).join(""), error: /type=["']error["']/.test(res.slice(0, res.indexOf(">"))) };
}

/**
 * Between phases: collects the generator's garbage (when node runs with --expose-gc, as
 * `./run bench` starts it) and lets the server settle, so one phase's debris does not show up
 * as the next phase's latency.
 */
export async function settle(ms = 1000): Promise<void> {
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((r) => setTimeout(r, ms));
}
