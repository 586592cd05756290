// The ring of Cassandra nodes of `scripts/services/cassandra.sh start --nodes 3` (node i on
// 127.0.0.(i+1), the native port of XMPPD_CASSANDRA_PORT): whether it answers, and stopping and
// starting one of its nodes, by the pid in its pid file (checked against the node's command line).
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { ROOT } from "./process.ts";

export const RING_NODES = 3;
const servicesDir = process.env.XMPPD_SERVICES_DIR ?? join(ROOT, ".data", "services");
export const ringPort = Number(process.env.XMPPD_CASSANDRA_PORT ?? 19042);
const port = ringPort;

export const ringAddress = (i: number) => `127.0.0.${i + 1}`;
export const ringContactPoints = () => Array.from({ length: RING_NODES }, (_, i) => `${ringAddress(i + 1)}:${port}`);

/** Whether node i answers a CQL OPTIONS request (SUPPORTED). */
export function ringNodeUp(i: number, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: ringAddress(i), port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.on("error", () => done(false));
    s.on("connect", () => s.write(Buffer.from([0x04, 0, 0, 0, 0x05, 0, 0, 0, 0])));
    s.on("data", (d) => done(d[0] === 0x84 && d[4] === 0x06));
  });
}

/** The ring's nodes all answer; a line saying how to start it otherwise. */
export async function ringUp(): Promise<string | undefined> {
  for (let i = 1; i <= RING_NODES; i++) {
    if (!(await ringNodeUp(i))) return `cassandra ring node ${i} does not answer on ${ringAddress(i)}:${port}; start the ring with \`bash scripts/services/cassandra.sh start --nodes ${RING_NODES}\``;
  }
  return undefined;
}

/** The pid of node i, if its pid file names a live process of that node. */
export function ringPid(i: number): number | undefined {
  const dir = join(servicesDir, "cassandra-ring", `node${i}`);
  try {
    const pid = Number(readFileSync(join(dir, "cassandra.pid"), "utf8").trim());
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    return cmdline.includes(join(dir, "conf", "cassandra.yaml")) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Stops node i by its pid (SIGKILL, or SIGTERM: Cassandra's own shutdown) and waits for it to be gone. */
export async function stopRingNode(i: number, signal: "SIGKILL" | "SIGTERM"): Promise<void> {
  const pid = ringPid(i);
  if (pid === undefined) throw new Error(`cassandra ring node ${i} is not running`);
  process.kill(pid, signal);
  for (let t = 0; t < 1200; t++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`cassandra ring node ${i} (pid ${pid}) did not stop`);
}

/** Starts the nodes of the ring that are not running (the service script) and resolves once they answer. */
export function startRing(): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [join(ROOT, "scripts/services/cassandra.sh"), "start", "--nodes", String(RING_NODES)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("exit", (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`cassandra.sh start --nodes ${RING_NODES}: ${out}`))));
  });
}
