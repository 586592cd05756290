// Runs one of the Python client agents (slixmpp_client.py, nbxmpp_client.py) as a child process:
// JSON commands go to its stdin, JSON events come back on its stdout, its debug log (the XML it
// sent and received) is kept from stderr for failure messages. The agents use Debian's
// python3-slixmpp and python3-nbxmpp (scripts/debian-deps.sh), so they run under /usr/bin/python3,
// never a python3 found on PATH.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll } from "vitest";
import { startServer, type TestServer } from "../helpers/server.ts";

export const PYTHON = "/usr/bin/python3";
const HERE = dirname(fileURLToPath(import.meta.url));
/** The agent exits by itself after this (a timer inside it); we kill it after KILL_AFTER_MS. */
const AGENT_TIMEOUT_S = 20;
const KILL_AFTER_MS = 30_000;

export type Library = "slixmpp" | "nbxmpp";

/** What is missing for the agents to run, or undefined when all is there. */
export function missingPython(): string | undefined {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  const r = spawnSync(PYTHON, ["-c", "import slixmpp, nbxmpp, gi"], { cwd: "/", encoding: "utf8", env: pythonEnv() });
  if (r.status !== 0) return `python3-slixmpp / python3-nbxmpp not importable (run scripts/debian-deps.sh): ${r.stderr.trim().split("\n").pop()}`;
  return undefined;
}

/** Debian's python with only Debian's packages: nothing from the user's site or a pyenv. */
function pythonEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONNOUSERSITE: "1", PYTHONDONTWRITEBYTECODE: "1", PYTHONUNBUFFERED: "1" };
  for (const k of ["PYTHONPATH", "PYTHONHOME", "PYENV_VERSION", "VIRTUAL_ENV"]) delete env[k];
  return env;
}

export interface AgentOptions {
  port: number;
  jid: string;
  password: string;
  directTls?: boolean;
  /** More command-line flags for the script, e.g. ["--tls12"]. */
  flags?: string[];
  /** Another script of this folder than the library's general client (<library>_client.py). */
  script?: string;
  /** Seconds after which the agent exits by itself (default 20); it is killed 10 s later. */
  timeoutS?: number;
}

export type AgentEvent = { event: string } & Record<string, unknown>;
export type Command =
  | { cmd: "quit" }
  | { cmd: "roster"; ver?: string }
  | { cmd: "presence"; show?: string; status?: string }
  | { cmd: "subscribe" | "approve"; to: string }
  | { cmd: "roster_set"; jid: string; name?: string; groups?: string[] }
  | { cmd: "vcard_set"; fn: string; nickname?: string }
  | { cmd: "vcard_get"; jid?: string }
  | { cmd: "bookmarks_set"; room: string; name: string; nick: string }
  | { cmd: "bookmarks_get" }
  | { cmd: "avatar_publish"; data: string }
  | { cmd: "pep_items"; jid: string; node: string }
  | { cmd: "message"; to: string; body: string; id?: string; receipt?: boolean; markable?: boolean; oob?: string }
  | { cmd: "marker"; to: string; id: string; marker: "received" | "displayed" | "acknowledged" }
  | { cmd: "upload"; service: string; filename: string; data: string; content_type?: string }
  | { cmd: "mam"; with?: string; max?: number; jid?: string }
  | { cmd: "muc_create" | "muc_join"; room: string; nick: string; maxstanzas?: number }
  | { cmd: "muc_say"; room: string; body: string; id?: string }
  | { cmd: "muc_leave"; room: string; nick: string }
  | { cmd: "omemo_publish"; device: number }
  | { cmd: "omemo_fetch"; jid: string }
  | { cmd: "omemo_send"; to: string; id: string; sid: number; rid: number; payload: string }
  | { cmd: "s5b_accept"; path: string }
  | { cmd: "s5b_send"; to: string; path: string };

export class Agent {
  readonly events: AgentEvent[] = [];
  private consumed = new Set<AgentEvent>();
  private log = "";
  private stdoutRest = "";
  private waiters: (() => void)[] = [];
  private exitCode: number | null | undefined;
  private readonly child: ChildProcess;
  private readonly killTimer: NodeJS.Timeout;
  readonly library: Library;
  readonly opts: AgentOptions;

  constructor(library: Library, opts: AgentOptions) {
    this.library = library;
    this.opts = opts;
    const args = [join(HERE, opts.script ?? `${library}_client.py`), "--host", "127.0.0.1", "--port", String(opts.port),
      "--jid", opts.jid, "--password", opts.password, "--timeout", String(opts.timeoutS ?? AGENT_TIMEOUT_S),
      ...(opts.directTls ? ["--direct-tls"] : []), ...(opts.flags ?? [])];
    // cwd "/" so that no folder on sys.path can shadow a standard module.
    this.child = spawn(PYTHON, args, { cwd: "/", env: pythonEnv(), stdio: ["pipe", "pipe", "pipe"] });
    this.child.stdout!.setEncoding("utf8").on("data", (d: string) => this.onStdout(d));
    this.child.stderr!.setEncoding("utf8").on("data", (d: string) => {
      this.log += d;
    });
    this.child.on("exit", (code) => {
      this.exitCode = code;
      clearTimeout(this.killTimer);
      this.wake();
    });
    this.child.stdin!.on("error", () => {});
    this.killTimer = setTimeout(() => this.child.kill("SIGKILL"), opts.timeoutS === undefined ? KILL_AFTER_MS : (opts.timeoutS + 10) * 1000);
  }

  get name(): string {
    return `${this.library} ${this.opts.jid}`;
  }

  private onStdout(d: string): void {
    const lines = (this.stdoutRest + d).split("\n");
    this.stdoutRest = lines.pop()!;
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        this.events.push(JSON.parse(line) as AgentEvent);
      } catch {
        this.events.push({ event: "unparsed", line });
      }
    }
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  send(command: Command): void {
    this.child.stdin!.write(JSON.stringify(command) + "\n");
  }

  /**
   * The first event not yet taken by an earlier wait that has this name and matches `fields`
   * (each given field equal, or for a function, true); waits for it if need be.
   */
  async next(event: string, fields: Record<string, unknown | ((v: unknown) => boolean)> = {}, timeoutMs = 10_000): Promise<AgentEvent> {
    const matches = (e: AgentEvent) =>
      e.event === event && !this.consumed.has(e) &&
      Object.entries(fields).every(([k, want]) => (typeof want === "function" ? (want as (v: unknown) => boolean)(e[k]) : e[k] === want));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(matches);
      if (found) {
        this.consumed.add(found);
        return found;
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.exitCode !== undefined) {
        const why = this.exitCode !== undefined ? `exited with ${this.exitCode}` : `no such event in ${timeoutMs} ms`;
        throw new Error(`${this.name}: waiting for ${event} ${JSON.stringify(fields, (_k, v) => (typeof v === "function" ? "<predicate>" : v))}: ${why}\n${this.report()}`);
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Sends quit and waits for the process to end; returns its exit code. */
  async quit(timeoutMs = 10_000): Promise<number | null> {
    if (this.exitCode === undefined) this.send({ cmd: "quit" });
    return this.exited(timeoutMs);
  }

  async exited(timeoutMs = 10_000): Promise<number | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.exitCode === undefined) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name}: did not exit\n${this.report()}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return this.exitCode;
  }

  /** Events so far and the end of the client's own debug log (its XML traffic). */
  report(): string {
    const events = this.events.map((e) => JSON.stringify(e)).join("\n");
    const xml = this.log.split("\n").filter((l) => /SEND:|RECV:|DATA (SENT|RECEIVED)|^</.test(l)).slice(-60).join("\n");
    return `--- events of ${this.name}\n${events}\n--- its XML log (last lines)\n${xml}`;
  }

  kill(): void {
    clearTimeout(this.killTimer);
    if (this.exitCode === undefined) this.child.kill("SIGKILL");
  }
}

/** Starts an agent and waits for its session (bound resource); fails with its log if it does not come. */
export async function login(library: Library, opts: AgentOptions): Promise<{ agent: Agent; session: AgentEvent }> {
  const agent = new Agent(library, opts);
  try {
    return { agent, session: await agent.next("session") };
  } catch (e) {
    agent.kill();
    throw e;
  }
}

export interface InteropFixture {
  /** Why the agents cannot run here (the file's tests skip), or undefined. */
  readonly missing: string | undefined;
  /** The file's server, started before its first test. */
  readonly server: TestServer;
  /** Logs an agent in on the file's server and sends initial presence; killed after the test. */
  connect(library: Library, jid: string, password?: string): Promise<Agent>;
}

/** One server for an interop test file, with these accounts, and its tests' agents. */
export function interopFixture(users: Record<string, string>): InteropFixture {
  const missing = missingPython();
  if (missing && process.env.CI) throw new Error(`interop clients unavailable in CI: ${missing}`);
  let server: TestServer | undefined;
  const running: Agent[] = [];
  beforeAll(async () => {
    if (!missing) server = await startServer({ users });
  });
  afterAll(() => server?.stop());
  afterEach(() => {
    for (const a of running.splice(0)) a.kill();
  });
  return {
    missing,
    get server() {
      if (!server) throw new Error("the interop server is not running");
      return server;
    },
    async connect(library, jid, password = users[jid.split("@")[0]!] ?? "") {
      const { agent } = await login(library, { port: this.server.port, jid, password });
      running.push(agent);
      agent.send({ cmd: "presence" });
      return agent;
    },
  };
}
