// Prosody 0.12 and ejabberd 23.01 from Debian as federation peers (RFC 6120 server-to-server),
// each serving a domain of its own with its MUC and upload services, on loopback ports of its
// own, resolving through the test DNS server (dns.ts) only, and published there: SRV
// _xmpp-server._tcp and _xmpp-client._tcp for the domain and its services, and an A record
// (127.0.0.1) for the domain, the SRV target. Each runs as its own user in a scratch folder, as
// test/bench/servers/ runs them.
//
// Names are resolved three ways in these servers, and each is pointed at the test DNS server:
// Prosody's libunbound and ejabberd's inet_res by their configuration (peers/prosody.ts,
// peers/ejabberd.ts), and the C library's getaddrinfo (ejabberd resolves SRV targets with it,
// through net:getaddrinfo) by running each server in a mount namespace of its own where
// /etc/resolv.conf names only the test DNS server (on port 53 of its own loopback address: a
// resolv.conf cannot name a port) and /etc/hosts only localhost (confined, below).
//
// The two ways of authenticating a stream:
// - "dialback": XEP-0220 over TLS with a self-signed certificate (or one of `ca`), certificates
//   not required to be valid (Prosody s2s_secure_auth false; ejabberd s2s_use_starttls optional
//   with mod_s2s_dialback);
// - "external": certificates of the test CA, which each trusts, required (Prosody
//   s2s_secure_auth true without mod_dialback; ejabberd s2s_use_starttls required without
//   mod_s2s_dialback): SASL EXTERNAL (XEP-0178).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { registerInBand } from "../bench/servers/register.ts";
import { freePort } from "../bench/lib/proc.ts";
import type { DnsRecords, TestDns } from "./dns.ts";
import { missingDnsmasq } from "./dns.ts";
import { selfSignedCert, type CertFiles, type TestCa } from "./test-ca.ts";
import { startEjabberdPeer } from "./peers/ejabberd.ts";
import { startProsodyPeer } from "./peers/prosody.ts";

export type PeerKind = "prosody" | "ejabberd";
export type PeerAuth = "dialback" | "external";

export interface PeerOptions {
  /** The domain it serves; its services are conference.<domain> (MUC) and upload.<domain>. */
  domain: string;
  /** Where it resolves names and publishes its own records. */
  dns: TestDns;
  auth: PeerAuth;
  /** The CA it trusts and, unless `cert` is given, its certificate's issuer; required by "external". */
  ca?: TestCa;
  /** The certificate to present instead (an expired or wrong-name one, say). */
  cert?: CertFiles;
  /**
   * Whether the certificate made for it has XmppAddr entries besides dNSName ones. Default: for
   * ejabberd yes, for Prosody no, because ejabberd 23.01 cannot verify a certificate that has
   * one: its xmpp_stream_pkix:get_domains_from_san (p1_xmpp 1.6.1) returns a binary where
   * lists:flatmap wants a list, and the stream process crashes (badarg in erlang:'++').
   */
  xmppAddr?: boolean;
  /**
   * More configuration. Prosody: Lua in the global section after ours (an option set here wins).
   * ejabberd: top-level YAML keys appended (not one we set: `modules`, `listen`, `s2s_*`, ...).
   */
  extraConfig?: string;
  /** More modules: Prosody module names, or ejabberd ones (each loaded with no options). */
  extraModules?: string[];
  /** Scratch folder, kept; when not given, one is made and stop() removes it. */
  dir?: string;
}

export interface Peer {
  readonly kind: PeerKind;
  readonly domain: string;
  readonly mucDomain: string;
  readonly uploadDomain: string;
  readonly host: "127.0.0.1";
  readonly c2sPort: number;
  readonly s2sPort: number;
  /** HTTP (no TLS) for file upload. */
  readonly httpPort: number;
  readonly dir: string;
  /** Creates an account by in-band registration (XEP-0077). */
  register(user: string, password: string): Promise<void>;
  /** The server's logs so far (until stop() removes a folder it made). */
  logs(): string;
  /** Stops the server process as stop() does, keeping its folder, ports and DNS records for up(). */
  down(): Promise<void>;
  /** Starts the server again after down(), as it was: same configuration, ports and data. */
  up(): Promise<void>;
  stop(): Promise<void>;
}

/** What a peer's starter gets: everything decided, ports free, certificate made. */
export interface PeerPlan {
  domain: string;
  auth: PeerAuth;
  dir: string;
  dns: TestDns;
  c2sPort: number;
  s2sPort: number;
  httpPort: number;
  cert: CertFiles;
  /** The CA certificate to trust, if any. */
  trust?: string;
  extraConfig: string;
  extraModules: string[];
}

export interface StartedPeer {
  logs(): string;
  stop(): Promise<void>;
}

/** Subdomains with services on every peer, certified and published in DNS with the domain. */
export const SERVICES = ["conference", "upload"] as const;

/** Why the peers cannot run here, or undefined. */
export function missingPeers(): string | undefined {
  for (const cmd of ["prosody", "ejabberdctl", "runuser", "unshare", "mount", "openssl"]) {
    if (spawnSync("sh", ["-c", `command -v ${cmd}`]).status !== 0) return `${cmd} not found (scripts/bench-deps.sh installs Prosody and ejabberd)`;
  }
  const dns = missingDnsmasq();
  if (dns) return dns;
  if (process.getuid?.() !== 0) return "Prosody and ejabberd run as their own users, in mount namespaces of their own: the peers need root";
  if (spawnSync("unshare", ["--mount", "true"]).status !== 0) return "unshare --mount fails here: no mount namespace for the peers' resolv.conf";
  return undefined;
}

/** The records that lead to a peer: SRV for its domain and services, the domain's address. */
export function peerRecords(domain: string, c2sPort: number, s2sPort: number): DnsRecords {
  const names = [domain, ...SERVICES.map((s) => `${s}.${domain}`)];
  return {
    a: { [domain]: "127.0.0.1" },
    srv: names.flatMap((n) => [
      { service: `_xmpp-server._tcp.${n}`, target: domain, port: s2sPort, priority: 0, weight: 0 },
      { service: `_xmpp-client._tcp.${n}`, target: domain, port: c2sPort, priority: 0, weight: 0 },
    ]),
  };
}

/**
 * The command line that runs `argv` in a mount namespace of its own where the C library asks the
 * test DNS server and nothing else: /etc/resolv.conf is the server's, /etc/hosts names only this
 * machine as localhost, the hosts line of /etc/nsswitch.conf says "files dns", and nscd's socket
 * folder, if any, is hidden behind an empty one (the system's cache would ask the system's servers).
 */
export function confined(p: Pick<PeerPlan, "dir" | "dns">, argv: string[]): string[] {
  const hosts = join(p.dir, "hosts");
  writeFileSync(hosts, `# Written by test/helpers/peers.ts.\n127.0.0.1 localhost ${hostname()}\n::1 localhost\n`);
  const nsswitch = join(p.dir, "nsswitch.conf");
  const system = existsSync("/etc/nsswitch.conf") ? readFileSync("/etc/nsswitch.conf", "utf8") : "passwd: files\ngroup: files\n";
  writeFileSync(nsswitch, system.split("\n").filter((l) => !/^\s*hosts\s*:/.test(l)).join("\n") + "\nhosts: files dns\n");
  const script = [
    'mount --bind "$1" /etc/resolv.conf', 'mount --bind "$2" /etc/hosts', 'mount --bind "$3" /etc/nsswitch.conf',
    "if [ -d /run/nscd ]; then mount -t tmpfs -o size=1m tmpfs /run/nscd; fi", "shift 3", 'exec "$@"',
  ].join(" && ");
  return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", p.dns.resolvConf!, hosts, nsswitch, ...argv];
}

export async function startPeer(kind: PeerKind, o: PeerOptions): Promise<Peer> {
  if (o.auth === "external" && !o.ca) throw new Error(`${kind} ${o.domain}: auth "external" needs the test CA (o.ca)`);
  if (!o.dns.resolvConf) throw new Error(`${kind} ${o.domain}: the test DNS server must listen on port 53 (startDns as root)`);
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), `xmppd-${kind}-`));
  const request = { subdomains: [...SERVICES], wildcard: true, xmppAddr: o.xmppAddr ?? kind === "ejabberd" };
  const cert = o.cert ?? (o.ca ? o.ca.issue(o.domain, request) : selfSignedCert(dir, o.domain, request));
  const plan: PeerPlan = {
    domain: o.domain, auth: o.auth, dir, dns: o.dns, cert, trust: o.ca?.cert,
    c2sPort: await freePort(), s2sPort: await freePort(), httpPort: await freePort(),
    extraConfig: o.extraConfig ?? "", extraModules: o.extraModules ?? [],
  };
  await o.dns.add(peerRecords(o.domain, plan.c2sPort, plan.s2sPort));
  const start = () => (kind === "prosody" ? startProsodyPeer(plan) : startEjabberdPeer(plan));
  let started: StartedPeer | undefined = await start();
  let logs = started.logs;
  const target = { name: kind, host: "127.0.0.1", port: plan.c2sPort, domain: o.domain, mucDomain: `conference.${o.domain}` };
  return {
    kind,
    domain: o.domain,
    mucDomain: `conference.${o.domain}`,
    uploadDomain: `upload.${o.domain}`,
    host: "127.0.0.1",
    c2sPort: plan.c2sPort,
    s2sPort: plan.s2sPort,
    httpPort: plan.httpPort,
    dir,
    register: (user, password) => registerInBand(target, [user], password, 1),
    logs: () => logs(),
    async down() {
      await started?.stop();
      started = undefined;
    },
    async up() {
      if (started) throw new Error(`${kind} ${o.domain} is running`);
      started = await start();
      logs = started.logs;
    },
    async stop() {
      await started?.stop();
      started = undefined;
      if (!o.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
