// The server as an operator runs it: `node src/main.ts start` in a child process, for tests that
// need a real process (signals, SIGKILL, restarts). Configured through XMPPD_* variables.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "..", "..");

/**
 * A loopback port that was free a moment ago, for a child process to bind. It is taken below
 * the kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768 up by default), which
 * outgoing connections draw their local ports from: a port from listen(0) is in that range, and
 * any connection another test opens between this check and the child's bind may take it. Each
 * vitest worker (VITEST_POOL_ID) has a band of its own, walked in turn, above the fixed ports of
 * scripts/services (13478 to 19042), so workers do not pick each other's ports either.
 */
export async function freePort(): Promise<number> {
  const band = BAND_BASE + ((Number(process.env.VITEST_POOL_ID ?? 0) || 0) % BANDS) * BAND_SIZE;
  for (let tries = 0; tries < BAND_SIZE; tries++) {
    const port = band + (nextInBand++ % BAND_SIZE);
    if (await bindable(port)) return port;
  }
  throw new Error(`no free loopback port in ${band} to ${band + BAND_SIZE - 1}`);
}

const BAND_BASE = 20_000;
const BAND_SIZE = 1_000;
const BANDS = 12;
let nextInBand = Math.floor(Math.random() * BAND_SIZE);

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

/** The environment of a server on its embedded store in `dir`/data, its client port on loopback and nothing else open. */
export function embeddedEnv(dir: string, port: number): NodeJS.ProcessEnv {
  return {
    ...process.env, XMPPD_DATA_DIR: join(dir, "data"), XMPPD_LOG__LEVEL: "warn", XMPPD_C2S__HOST: "127.0.0.1",
    XMPPD_C2S__PORT: String(port), XMPPD_C2S__DIRECT_TLS_PORT: "0", XMPPD_HTTP__PORT: "0", XMPPD_HTTP__TLS_PORT: "0",
  };
}

export interface StartOptions {
  /** Arguments after `start` (e.g. ["-c", file]). */
  args?: string[];
  /** Where the server's stdout and stderr go as well (a log file). */
  output?: NodeJS.WritableStream;
  timeoutMs?: number;
  /** Runs the command line this returns instead (e.g. inside a network namespace: test/helpers/netns.ts). */
  wrap?: (argv: string[]) => string[];
}

/**
 * The SOCKS5 proxy (XEP-0065) listens on a fixed port by default (7777), and federation on 5269
 * and 5270: servers a test starts leave them off, so that several can run at once (and none asks
 * DNS about another domain), unless the test's env turns them on.
 */
export const PROXY_OFF = { XMPPD_MODULES__PROXY65__PORT: "0", XMPPD_S2S__ENABLED: "false" } as const;

/** Starts `xmppd start` in `cwd` and resolves once it says it is serving (rejects if it exits first). */
export async function startProcess(cwd: string, env: NodeJS.ProcessEnv, opts: StartOptions = {}): Promise<ChildProcess> {
  const argv = [process.execPath, join(ROOT, "src/main.ts"), "start", ...(opts.args ?? [])];
  const [command, ...args] = opts.wrap ? opts.wrap(argv) : argv;
  const child = spawn(command!, args, { cwd, env: { ...PROXY_OFF, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  if (opts.output) child.stdout!.pipe(opts.output, { end: false });
  else child.stdout!.resume();
  let err = "";
  await new Promise<void>((resolve, reject) => {
    const timeoutMs = opts.timeoutMs ?? 20_000;
    const t = setTimeout(() => reject(new Error(`no start in ${timeoutMs} ms: ${err}`)), timeoutMs);
    child.stderr!.on("data", (d: Buffer) => {
      opts.output?.write(d);
      err += d.toString();
      if (err.includes("xmppd: serving")) {
        clearTimeout(t);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(t);
      reject(new Error(`exited ${code} before serving: ${err}`));
    });
  });
  return child;
}
