// A redis-server of a test's own, on a free loopback port, that the test may freeze (SIGSTOP),
// kill and start again: the shared one of scripts/services/redis.sh is never touched. No
// persistence, as there: a restart comes back empty. Signalled by its PID only.
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import { freePort } from "./process.ts";

export class OwnRedis {
  readonly port: number;
  private readonly conf: string;
  private child: ChildProcess | undefined;

  private constructor(port: number, conf: string) {
    this.port = port;
    this.conf = conf;
  }

  static async start(dir: string): Promise<OwnRedis> {
    const port = await freePort();
    const conf = join(dir, "redis.conf");
    writeFileSync(conf, [`bind 127.0.0.1`, `port ${port}`, `dir ${dir}`, `save ""`, `appendonly no`, `logfile ${join(dir, "redis.log")}`].join("\n"));
    const r = new OwnRedis(port, conf);
    await r.run();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the process (again) and resolves once it answers PING. */
  async run(): Promise<void> {
    this.child = spawn("redis-server", [this.conf], { stdio: "ignore" });
    const client = new Redis(this.port, "127.0.0.1", { lazyConnect: true, retryStrategy: () => 50, maxRetriesPerRequest: null });
    client.on("error", () => undefined);
    try {
      await client.connect().catch(() => undefined);
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          if ((await Promise.race([client.ping(), new Promise((r) => setTimeout(r, 500))])) === "PONG") return;
        } catch {
          // not yet
        }
        if (Date.now() > deadline) throw new Error(`redis-server on ${this.port} did not answer`);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      client.disconnect();
    }
  }

  /** SIGSTOP: connections stay open and nothing answers. */
  freeze(): void {
    this.child?.kill("SIGSTOP");
  }

  thaw(): void {
    this.child?.kill("SIGCONT");
  }

  /** SIGKILL, and the exit: connections are refused until run() again. */
  async kill(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once("exit", r));
    c.kill("SIGCONT");
    c.kill("SIGKILL");
    await exited;
  }
}
