// The server as an operator runs it: `node src/main.ts start` in a child process, for tests that
// need a real process (signals, SIGKILL, restarts). Configured through XMPPD_* variables.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "..", "..");

/** A loopback port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Starts `xmppd start` in `cwd` and resolves once it says it is serving (rejects if it exits first). */
export async function startProcess(cwd: string, env: NodeJS.ProcessEnv, timeoutMs = 20_000): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(ROOT, "src/main.ts"), "start"], { cwd, env, stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no start: ${err}`)), timeoutMs);
    child.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
      if (err.includes("xmppd: serving")) {
        clearTimeout(t);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(t);
      reject(new Error(`exited ${code}: ${err}`));
    });
  });
  return child;
}
