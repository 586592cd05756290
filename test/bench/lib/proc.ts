// Processes of the benchmark: servers started pinned to a core with taskset, their resident
// memory and CPU time read from /proc, ports waited for, and every process stopped by its PID.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { openSync, readdirSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { sleep } from "./stats.ts";

export interface Spawned { child: ChildProcess; pid: number; exited: Promise<number | null> }

/** Starts `cmd` pinned to `cpus` (taskset execs it, so the PID is the command's), output to `logFile`. */
export function spawnPinned(cpus: string, cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; logFile: string }): Spawned {
  const fd = openSync(opts.logFile, "a");
  const child = spawn("taskset", ["-c", cpus, cmd, ...args], { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ["ignore", fd, fd] });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
  return { child, pid: child.pid, exited };
}

/** Pins this process and all its threads to `cpus`. */
export function pinSelf(cpus: string): void {
  execFileSync("taskset", ["-a", "-p", "-c", cpus, String(process.pid)], { stdio: "ignore" });
}

function stat(pid: number): string[] | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    return s.slice(s.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** Every live descendant of `pid`, with its command name. */
export function descendants(pid: number): { pid: number; comm: string }[] {
  const kids = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    const p = Number(name);
    if (!Number.isInteger(p)) continue;
    const f = stat(p);
    if (!f) continue;
    const ppid = Number(f[1]);
    const list = kids.get(ppid) ?? [];
    list.push(p);
    kids.set(ppid, list);
  }
  const out: { pid: number; comm: string }[] = [];
  const walk = (p: number) => {
    for (const k of kids.get(p) ?? []) {
      let comm = "";
      try {
        comm = readFileSync(`/proc/${k}/comm`, "utf8").trim();
      } catch {
        continue;
      }
      out.push({ pid: k, comm });
      walk(k);
    }
  };
  walk(pid);
  return out;
}

/** Resident set size in bytes (VmRSS), 0 when the process is gone. */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** CPU seconds (user + system) the process has used. */
export function cpuSeconds(pid: number): number {
  const f = stat(pid);
  if (!f) return 0;
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

export async function waitPort(host: string, port: number, timeoutMs: number, alive: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const s = connect({ host, port });
      s.once("connect", () => {
        s.destroy();
        r(true);
      });
      s.once("error", () => r(false));
    });
    if (ok) return;
    if (!alive()) throw new Error(`the process serving ${host}:${port} exited`);
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await sleep(200);
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; only ever the PIDs given. */
export async function stopPids(pids: number[], exited: Promise<unknown>, graceMs = 15_000): Promise<void> {
  for (const p of pids) {
    try {
      process.kill(p, "SIGTERM");
    } catch { /* already gone */ }
  }
  // The grace timer must not keep this process alive once the PIDs are gone.
  let timer: NodeJS.Timeout | undefined;
  const done = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(r, graceMs, false)))]);
  clearTimeout(timer);
  if (done) return;
  for (const p of pids) {
    try {
      process.kill(p, "SIGKILL");
    } catch { /* already gone */ }
  }
  await exited;
}

const handedOut = new Set<number>();

/**
 * A free TCP port on 127.0.0.1 below the ephemeral range (32768 and up on Linux), never the same
 * one twice in this process: a port from the ephemeral range can be taken by one of the
 * generator's own outgoing connections before the server binds it.
 */
export async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (handedOut.has(port)) continue;
    const s = createServer();
    const free = await new Promise<boolean>((r) => {
      s.once("error", () => r(false));
      s.listen(port, "127.0.0.1", () => r(true));
    });
    if (!free) continue;
    await new Promise((r) => s.close(r));
    handedOut.add(port);
    return port;
  }
}
