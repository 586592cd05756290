// Where a server-to-server connection goes (RFC 6120 §3.2, XEP-0368): the SRV records of
// _xmpps-server._tcp (direct TLS) and _xmpp-server._tcp (STARTTLS) of the peer's domain, asked
// together, merged and ordered by priority and weight (RFC 2782); without either, the domain itself
// on port 5269 (RFC 6120 §3.2.2). Every name is asked of one DNS server through c-ares, addresses
// included: never the system's getaddrinfo, so nothing goes anywhere the configured resolver does
// not. A static route replaces DNS for its domain.
import { Resolver } from "node:dns/promises";
import { isIP } from "node:net";
import { domainToASCII } from "node:url";

export interface S2SRouteOptions {
  /** The DNS server to ask: "127.0.0.1:5353", "[::1]:53", "192.0.2.1"; undefined: the system's (resolv.conf). */
  resolver?: string;
  /** domain -> "host:port" or "host:port tls" (direct TLS): replaces DNS for that domain. */
  routes: Readonly<Record<string, string>>;
}

export interface S2STarget {
  /** The SRV target, the route's host, or the domain itself (fallback); A-label form. */
  host: string;
  /** IPv6 and IPv4 interleaved, IPv6 first (RFC 8305 §4). */
  addresses: string[];
  port: number;
  /** XEP-0368: TLS from the first byte, ALPN "xmpp-server"; false: STARTTLS. */
  directTls: boolean;
}

/** RFC 6120 §3.2.2: the fallback's port, the IANA-registered "xmpp-server" port. */
const FALLBACK_PORT = 5269;
/** Per try, two tries: a silent DNS server costs a connection attempt 4 s at most. */
const QUERY_TIMEOUT_MS = 2000;
const QUERY_TRIES = 2;

interface SrvTarget { host: string; port: number; priority: number; weight: number; directTls: boolean }

/**
 * The targets of a connection to `domain`, in the order to try them. Empty when nothing is found
 * (NXDOMAIN, no address, every service "decidedly not available"): DNS failures never throw. An
 * unparsable resolver address or route does (a configuration error).
 */
export async function resolveS2S(domain: string, o: S2SRouteOptions): Promise<S2STarget[]> {
  const name = asciiDomain(domain);
  if (name === undefined) return [];
  const resolver = resolverFor(o.resolver);
  const route = routeFor(o.routes, name);
  const targets = route !== undefined ? [route] : await srvTargets(resolver, name);
  const resolved = await Promise.all(targets.map(async (t) =>
    ({ host: t.host, addresses: await addressesOf(resolver, t.host), port: t.port, directTls: t.directTls })));
  return resolved.filter((t) => t.addresses.length > 0);
}

async function srvTargets(resolver: Resolver, name: string): Promise<Omit<SrvTarget, "priority" | "weight">[]> {
  const [direct, starttls] = await Promise.all([
    srvRecords(resolver, `_xmpps-server._tcp.${name}`, true),
    srvRecords(resolver, `_xmpp-server._tcp.${name}`, false),
  ]);
  // A record with target "." (RFC 2782: the service is decidedly not available) counts as an
  // answer: the fallback is for domains that publish no SRV record at all.
  if (direct.length === 0 && starttls.length === 0) return [{ host: name, port: FALLBACK_PORT, directTls: false }];
  return orderSrv([...direct, ...starttls].filter((r) => r.host !== ""));
}

/** The service's records, a target of "." as host "" (c-ares gives the root as ""); none on any failure. */
async function srvRecords(resolver: Resolver, query: string, directTls: boolean): Promise<SrvTarget[]> {
  try {
    const records = await resolver.resolveSrv(query);
    return records.map((r) =>
      ({ host: r.name === "." ? "" : r.name.toLowerCase(), port: r.port, priority: r.priority, weight: r.weight, directTls }));
  } catch {
    return [];
  }
}

/**
 * RFC 2782's order: ascending priority; within a priority, repeatedly a record chosen at random
 * with a chance proportional to its weight, those of weight 0 first in the running sum so that
 * they keep a small chance. `random` is injectable for tests.
 */
export function orderSrv<T extends { priority: number; weight: number }>(records: readonly T[], random: () => number = Math.random): T[] {
  const ordered: T[] = [];
  const priorities = [...new Set(records.map((r) => r.priority))].sort((a, b) => a - b);
  for (const priority of priorities) {
    const left = records.filter((r) => r.priority === priority).sort((a, b) => Number(a.weight > 0) - Number(b.weight > 0));
    while (left.length > 0) {
      const total = left.reduce((sum, r) => sum + r.weight, 0);
      const pick = Math.floor(random() * (total + 1));
      let i = 0;
      let sum = left[0]!.weight;
      while (sum < pick && i < left.length - 1) sum += left[++i]!.weight;
      ordered.push(left.splice(i, 1)[0]!);
    }
  }
  return ordered;
}

/** A and AAAA of a host through the same resolver; an IP literal as it is. */
async function addressesOf(resolver: Resolver, host: string): Promise<string[]> {
  if (isIP(host) !== 0) return [host];
  const [v6, v4] = await Promise.all([
    resolver.resolve6(host).catch(() => [] as string[]),
    resolver.resolve4(host).catch(() => [] as string[]),
  ]);
  const out: string[] = [];
  for (let i = 0; i < Math.max(v6.length, v4.length); i++) {
    if (i < v6.length) out.push(v6[i]!);
    if (i < v4.length) out.push(v4[i]!);
  }
  return out;
}

/** Resolvers by the address of their server ("" for the system's), made once each. */
const resolvers = new Map<string, Resolver>();

function resolverFor(server: string | undefined): Resolver {
  let r = resolvers.get(server ?? "");
  if (r !== undefined) return r;
  r = new Resolver({ timeout: QUERY_TIMEOUT_MS, tries: QUERY_TRIES });
  if (server !== undefined) {
    try {
      r.setServers([server]);
    } catch {
      throw new Error(`DNS resolver "${server}" is not an IP address with an optional port ("127.0.0.1:53", "[::1]:53")`);
    }
  }
  resolvers.set(server ?? "", r);
  return r;
}

/** A static route's parts; undefined when `text` is not "host:port" or "host:port tls". */
export function parseS2SRoute(text: string): { host: string; port: number; directTls: boolean } | undefined {
  const m = /^\s*(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+)):(\d{1,5})(\s+tls)?\s*$/.exec(text);
  if (m === null) return undefined;
  const port = Number(m[3]);
  const host = m[1] ?? asciiDomain(m[2]!);
  if (port < 1 || port > 65535 || host === undefined || (m[1] !== undefined && isIP(m[1]) !== 6)) return undefined;
  return { host, port, directTls: m[4] !== undefined };
}

function routeFor(routes: Readonly<Record<string, string>>, name: string): Omit<SrvTarget, "priority" | "weight"> | undefined {
  for (const [domain, text] of Object.entries(routes)) {
    if (asciiDomain(domain) !== name) continue;
    const route = parseS2SRoute(text);
    if (route === undefined) throw new Error(`route of ${domain} "${text}" is not "host:port" or "host:port tls"`);
    return route;
  }
  return undefined;
}

/** A domain in lower-case A-label form without a trailing dot; undefined if it is none. */
function asciiDomain(domain: string): string | undefined {
  const ascii = domainToASCII(domain.endsWith(".") ? domain.slice(0, -1) : domain);
  return ascii === "" ? undefined : ascii;
}
