// A server under test: started on loopback ports of its own, with the accounts the scenarios
// need, and measured through the PID of the process that does the work.
import type { TestDns } from "../../helpers/dns.ts";
import type { Target } from "../lib/conn.ts";

/**
 * Federation (RFC 6120 server-to-server) for the s2s row: the server listens for peers on `port`
 * and finds the other server of its kind through `routes` (ours: static routes, no DNS) or `dns`
 * (the rivals: the test DNS server on loopback, their only resolver). TLS is each one's default
 * between servers with a self-signed certificate: required, certificate not required to be
 * valid, the domain proven by Server Dialback (XEP-0220).
 */
export interface S2sOptions {
  port: number;
  /** Domain -> the S2S port of its server on 127.0.0.1. */
  routes: Record<string, number>;
  /** Where the rivals resolve names; they run in a mount namespace whose resolv.conf names only it. */
  dns?: TestDns;
}

export interface ServerOptions {
  /** Scratch folder for config, data and logs (removed by the runner). */
  dir: string;
  /** The XMPP domain it serves (default localhost). */
  domain?: string;
  /** Federate with another server (the s2s row); off otherwise. */
  s2s?: S2sOptions;
  /** Cores the server is pinned to (taskset list, e.g. "0"). */
  cpus: string;
  /** Accounts to create, all with `password`. */
  users: string[];
  password: string;
  /** The certificate all three servers use (lib/cert.ts). */
  tls: { cert: string; key: string; combined: string };
  /** Archive (XEP-0313) on in every server; off in every one (ours: mam.retention 0). */
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
  /** Several nodes of one cluster (ours): each one's plain port, process and admin socket. */
  nodes?: { port: number; pid: number; adminSocket: string }[];
  stop(): Promise<void>;
}

export type ServerName = "ours" | "prosody" | "ejabberd";
