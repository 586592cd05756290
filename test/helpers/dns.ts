// A DNS server of a test's own, for server-to-server tests (RFC 6120 §3.2: a server finds a
// peer through the SRV records _xmpp-server._tcp.<domain>, then the targets' addresses). It is
// dnsmasq from Debian (package dnsmasq-base) run as a child process on loopback, UDP and TCP, on
// a generated configuration that answers only from the records given:
// - no-resolv, no-hosts, no-poll and no server= line: it has no upstream, so it cannot forward;
// - local=/#/: every name it holds no record for is answered NXDOMAIN from here (not REFUSED,
//   which resolvers treat as a broken server and retry);
// - log-queries to a file: queries() reads what was asked, forwarded() what went elsewhere (never
//   anything, which a test can assert).
// Where it listens: as root, port 53 of an address of its own in 127.0.0.0/8 (127.53.x.y), so
// that the C library's resolver can be pointed at it too (resolv.conf names no port: see
// `resolvConf`); otherwise a free port of 127.0.0.1.
// dnsmasq reads its records once, at start: add() restarts it on the same address with the
// union, so that a peer started after it can publish its own ports.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomInt } from "node:crypto";
import { createSocket } from "node:dgram";
import { createServer } from "node:net";
import { freePort, stopPids, waitPort, type Spawned } from "../bench/lib/proc.ts";

export interface SrvRecord {
  /** The owner name, e.g. "_xmpp-server._tcp.example.test". */
  service: string;
  /** The host to connect to; "." says the service is not offered there (RFC 2782). */
  target: string;
  port: number;
  priority?: number;
  weight?: number;
}

export interface DnsRecords {
  /** Name → address (IPv4 or IPv6): an A or AAAA record. */
  a?: Record<string, string>;
  srv?: SrvRecord[];
  /** Alias → canonical name. */
  cname?: Record<string, string>;
}

export interface DnsQuery { type: string; name: string }

export interface TestDns {
  /** A loopback address: 127.53.x.y on port 53, or 127.0.0.1 on another port. */
  readonly host: string;
  readonly port: number;
  /** "HOST:PORT", as resolvers are given it. */
  readonly address: string;
  /** On port 53 only: a resolv.conf naming this server alone, for processes to see as /etc/resolv.conf. */
  readonly resolvConf: string | undefined;
  readonly logFile: string;
  /** Adds records: dnsmasq is restarted on the same port with all of them. */
  add(records: DnsRecords): Promise<void>;
  /** The names asked so far, of one query type ("SRV", "A", ...) or all, in order. */
  queries(type?: string): string[];
  /** Every query so far with its type. */
  asked(): DnsQuery[];
  /** Log lines of queries dnsmasq passed to another server: none, by its configuration. */
  forwarded(): string[];
  stop(): Promise<void>;
}

/** Why dnsmasq cannot run here, or undefined. */
export function missingDnsmasq(): string | undefined {
  if (spawnSync("sh", ["-c", "command -v dnsmasq"]).status !== 0) return "dnsmasq not found (apt-get install dnsmasq-base)";
  return undefined;
}

// One value of a comma-separated dnsmasq option: a comma or line break would change the record.
function field(value: string | number): string {
  const s = String(value);
  if (!/^[A-Za-z0-9_.:*-]+$/.test(s)) throw new Error(`not a DNS name, address or number: ${JSON.stringify(s)}`);
  return s;
}

function recordLines(r: Required<DnsRecords>): string[] {
  const lines: string[] = [];
  for (const [name, ip] of Object.entries(r.a)) lines.push(`host-record=${field(name)},${field(ip)}`);
  for (const [alias, target] of Object.entries(r.cname)) lines.push(`cname=${field(alias)},${field(target)}`);
  for (const s of r.srv) {
    lines.push(s.target === "."
      ? `srv-host=${field(s.service)}`
      : `srv-host=${field(s.service)},${field(s.target)},${field(s.port)},${field(s.priority ?? 0)},${field(s.weight ?? 0)}`);
  }
  return lines;
}

function config(host: string, port: number, logFile: string, records: Required<DnsRecords>): string {
  return [
    "# Written by test/helpers/dns.ts.",
    `port=${port}`,
    `listen-address=${host}`,
    "bind-interfaces",
    "no-resolv",
    "no-hosts",
    "no-poll",
    "local=/#/",
    "cache-size=0",
    "pid-file=",
    "log-queries",
    `log-facility=${logFile}`,
    ...recordLines(records),
    "",
  ].join("\n");
}

async function bindable(host: string, port: number): Promise<boolean> {
  const udp = createSocket("udp4");
  const ok = await new Promise<boolean>((r) => {
    udp.once("error", () => r(false));
    udp.bind(port, host, () => r(true));
  });
  if (ok) await new Promise<void>((r) => udp.close(() => r()));
  const tcp = createServer();
  const tcpOk = ok && await new Promise<boolean>((r) => {
    tcp.once("error", () => r(false));
    tcp.listen(port, host, () => r(true));
  });
  if (tcpOk) await new Promise((r) => tcp.close(r));
  return tcpOk;
}

/** An address and port free for both UDP and TCP (dnsmasq serves both). */
async function freeDnsAddress(port53: boolean): Promise<[string, number]> {
  for (;;) {
    const host = port53 ? `127.53.${randomInt(256)}.${1 + randomInt(254)}` : "127.0.0.1";
    const port = port53 ? 53 : await freePort();
    if (await bindable(host, port)) return [host, port];
  }
}

const QUERY = /\squery\[(\w+)\] (\S+) from /;

/**
 * Starts dnsmasq with these records; its files go to `o.dir`, or to a temporary folder removed by
 * stop(). `port53` (default: when root) puts it on port 53 of an address of its own.
 */
export async function startDns(initial: DnsRecords = {}, o: { dir?: string; port53?: boolean } = {}): Promise<TestDns> {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), "xmppd-dns-"));
  const [host, port] = await freeDnsAddress(o.port53 ?? process.getuid?.() === 0);
  let resolvConf: string | undefined;
  if (port === 53) {
    resolvConf = join(dir, "resolv.conf");
    writeFileSync(resolvConf, `# Written by test/helpers/dns.ts.\nnameserver ${host}\noptions timeout:2 attempts:2\n`);
  }
  const logFile = join(dir, "dnsmasq.log");
  const confFile = join(dir, "dnsmasq.conf");
  writeFileSync(logFile, "");
  const records: Required<DnsRecords> = { a: {}, srv: [], cname: {} };
  let proc: Spawned | undefined;

  const launch = async (): Promise<void> => {
    writeFileSync(confFile, config(host, port, logFile, records));
    const out = openSync(join(dir, "dnsmasq.out"), "a");
    // --keep-in-foreground: our child is dnsmasq itself (it drops root for "nobody" after opening
    // its sockets and log, as it does as a service).
    const child = spawn("dnsmasq", [`--conf-file=${confFile}`, "--keep-in-foreground"], { stdio: ["ignore", out, out] });
    if (child.pid === undefined) throw new Error("could not start dnsmasq");
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    const p: Spawned = { child, pid: child.pid, exited };
    let alive = true;
    void exited.then(() => (alive = false));
    try {
      await waitPort(host, port, 10_000, () => alive);
    } catch (e) {
      throw new Error(`dnsmasq: ${(e as Error).message}\n${readFileSync(join(dir, "dnsmasq.out"), "utf8")}`);
    }
    proc = p;
  };
  const halt = async (): Promise<void> => {
    const p = proc;
    proc = undefined;
    if (p) await stopPids([p.pid], p.exited, 5_000);
  };
  const merge = (r: DnsRecords): void => {
    recordLines({ a: r.a ?? {}, srv: r.srv ?? [], cname: r.cname ?? {} }); // a bad name throws here, before any change
    Object.assign(records.a, r.a);
    Object.assign(records.cname, r.cname);
    records.srv.push(...(r.srv ?? []));
  };

  merge(initial);
  await launch();
  let queue = Promise.resolve();
  const lines = (): string[] => readFileSync(logFile, "utf8").split("\n");
  const asked = (): DnsQuery[] =>
    lines().flatMap((l) => {
      const m = QUERY.exec(l);
      return m ? [{ type: m[1]!, name: m[2]! }] : [];
    });
  return {
    host,
    port,
    address: `${host}:${port}`,
    resolvConf,
    logFile,
    add(r) {
      merge(r);
      // Restarts one at a time, in the order asked.
      queue = queue.then(async () => {
        await halt();
        await launch();
      });
      return queue;
    },
    queries: (type) => asked().filter((q) => type === undefined || q.type === type).map((q) => q.name),
    asked,
    forwarded: () => lines().filter((l) => /\sforwarded /.test(l)),
    async stop() {
      await queue.catch(() => {});
      await halt();
      if (!o.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
