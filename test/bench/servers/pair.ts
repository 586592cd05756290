// Two servers of one kind federating (RFC 6120 server-to-server), for the s2s row: one for a.test
// and one for b.test, each a process of its own on loopback ports of its own, pinned to a core of
// its own, with a self-signed certificate for its domain (RSA 2048, as lib/cert.ts makes for the
// other rows), so that each proves its domain by Server Dialback (XEP-0220) over TLS, every
// server's default with such certificates. The same two domains for the three kinds: the stanzas
// crossing are the same bytes.
//
// How each finds the other: ours through static routes (s2s.routes, no DNS at all); Prosody and
// ejabberd through a DNS server of the run's own, dnsmasq on loopback (test/helpers/dns.ts),
// which holds only the two domains' SRV (_xmpp-server._tcp) and A records, has no upstream and
// answers every other name NXDOMAIN itself, and which is their only resolver (their launchers
// run them in a mount namespace whose resolv.conf names it). After the run its log tells what
// was asked and that nothing was forwarded.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { missingDnsmasq, startDns, type TestDns } from "../../helpers/dns.ts";
import { makeCert } from "../lib/cert.ts";
import { freePort } from "../lib/proc.ts";
import type { RunningServer, ServerOptions } from "./types.ts";

export const DOMAINS = ["a.test", "b.test"] as const;

export interface FederatedPair {
  /** The senders' server (a.test) and the receivers' (b.test). */
  a: RunningServer;
  b: RunningServer;
  /** What the test DNS server was asked, and that it forwarded nothing (rivals only). */
  dnsReport(): string | undefined;
  stop(): Promise<void>;
}

export interface PairOptions {
  dir: string;
  /** Accounts created on both servers (the same names on each domain). */
  users: string[];
  password: string;
  archive: boolean;
  /** Cores of a.test's server and b.test's. */
  cpus: [string, string];
  /** Resolve through the test DNS server (the rivals); ours uses static routes. */
  dns: boolean;
  cpuProfDir?: string;
}

/** Why the pair cannot run here with a DNS server, or undefined. */
export function missingPairDns(): string | undefined {
  const m = missingDnsmasq();
  if (m) return m;
  // resolv.conf names no port: the DNS server must be on port 53, and the namespace needs root.
  if (process.getuid?.() !== 0) return "the rivals federate through a DNS server on port 53 of loopback and a mount namespace: root only";
  return undefined;
}

export async function startPair(start: (o: ServerOptions) => Promise<RunningServer>, o: PairOptions): Promise<FederatedPair> {
  const ports = { [DOMAINS[0]]: await freePort(), [DOMAINS[1]]: await freePort() };
  let dns: TestDns | undefined;
  if (o.dns) {
    dns = await startDns({
      a: Object.fromEntries(DOMAINS.map((d) => [d, "127.0.0.1"])),
      srv: DOMAINS.map((d) => ({ service: `_xmpp-server._tcp.${d}`, target: d, port: ports[d]! })),
    }, { dir: mkdirP(join(o.dir, "dns")), port53: true });
  }
  const started = await Promise.allSettled(DOMAINS.map((domain, k) => {
    const other = DOMAINS[1 - k]!;
    const dir = mkdirP(join(o.dir, domain));
    const tls = makeCert(mkdirP(join(o.dir, `cert-${domain}`)), domain);
    return start({
      dir, domain, cpus: o.cpus[k]!, users: o.users, password: o.password, tls, archive: o.archive,
      s2s: { port: ports[domain]!, routes: { [other]: ports[other]! }, ...(dns ? { dns } : {}) },
      ...(o.cpuProfDir ? { cpuProfDir: o.cpuProfDir } : {}),
    });
  }));
  const servers = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await dns?.stop();
  };
  const failure = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failure) {
    await stop();
    throw failure.reason;
  }
  const [a, b] = servers as [RunningServer, RunningServer];
  return {
    a, b, stop,
    dnsReport: () => {
      if (!dns) return undefined;
      const asked = dns.asked();
      const names = [...new Set(asked.map((q) => `${q.type} ${q.name}`))].sort();
      return `test DNS server ${dns.address}: ${asked.length} queries (${names.join(", ")}), ${dns.forwarded().length} forwarded`;
    },
  };
}

function mkdirP(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}
