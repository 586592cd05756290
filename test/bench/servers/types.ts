// A server under test: started on loopback ports of its own, with the accounts the scenarios
// need, and measured through the PID of the process that does the work.
import type { Target } from "../lib/conn.ts";

export interface ServerOptions {
  /** Scratch folder for config, data and logs (removed by the runner). */
  dir: string;
  /** Cores the server is pinned to (taskset list, e.g. "0"). */
  cpus: string;
  /** Accounts to create, all with `password`. */
  users: string[];
  password: string;
  /** The certificate all three servers use (lib/cert.ts). */
  tls: { cert: string; key: string; combined: string };
  /** Rivals: archive (XEP-0313) on, as ours; off compares the rivals without it. */
  archive: boolean;
  /** Write a V8 CPU profile (ours only) into this folder. */
  cpuProfDir?: string;
}

export interface RunningServer {
  target: Target;
  /** Version string for the table. */
  version: string;
  /** The settings that matter for comparison, one line each (printed with the results). */
  settings: string[];
  /** The process whose RSS and CPU are measured (beam.smp, lua, node). */
  workerPid(): number;
  stop(): Promise<void>;
}

export type ServerName = "ours" | "prosody" | "ejabberd";
