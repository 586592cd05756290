// resolveS2S against a DNS server of the test's own on a loopback port: the order of RFC 6120 §3.2
// and XEP-0368 (priority, then weight per RFC 2782, both services merged), "." as a service not
// offered, the fallback to the domain on 5269, static routes, and which queries reached the server.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DnsServer, type DnsRecords } from "../../test/helpers/dns-server.ts";
import { orderSrv, parseS2SRoute, resolveS2S, type S2STarget } from "./dns.ts";

const ZONE: Record<string, DnsRecords> = {
  // Three targets over both services at three priorities.
  "_xmpp-server._tcp.ordered.example": { srv: [
    { priority: 20, weight: 0, port: 5271, target: "c.ordered.example" },
    { priority: 10, weight: 0, port: 5269, target: "a.ordered.example" },
  ] },
  "_xmpps-server._tcp.ordered.example": { srv: [{ priority: 15, weight: 0, port: 5270, target: "b.ordered.example" }] },
  "a.ordered.example": { a: ["127.0.0.11"], aaaa: ["::1"] },
  "b.ordered.example": { a: ["127.0.0.12"] },
  "c.ordered.example": { aaaa: ["::1"] },
  // Direct TLS refused with ".", STARTTLS offered.
  "_xmpps-server._tcp.nodirect.example": { srv: [{ priority: 0, weight: 0, port: 0, target: "." }] },
  "_xmpp-server._tcp.nodirect.example": { srv: [{ priority: 0, weight: 0, port: 5269, target: "host.nodirect.example" }] },
  "host.nodirect.example": { a: ["127.0.0.13"] },
  // No XMPP at all: both services ".", though the domain has an address.
  "_xmpps-server._tcp.none.example": { srv: [{ priority: 0, weight: 0, port: 0, target: "." }] },
  "_xmpp-server._tcp.none.example": { srv: [{ priority: 0, weight: 0, port: 0, target: "." }] },
  "none.example": { a: ["127.0.0.14"] },
  // No SRV record: NXDOMAIN for both service names.
  "plain.example": { a: ["127.0.0.15"], aaaa: ["::1"] },
  // No SRV record: the names exist with no SRV (NODATA).
  "_xmpps-server._tcp.nodata.example": {},
  "_xmpp-server._tcp.nodata.example": {},
  "nodata.example": { a: ["127.0.0.16"] },
  // One target has no address, the other has.
  "_xmpp-server._tcp.partial.example": { srv: [
    { priority: 0, weight: 0, port: 5269, target: "gone.partial.example" },
    { priority: 1, weight: 0, port: 5269, target: "here.partial.example" },
  ] },
  "here.partial.example": { a: ["127.0.0.17"] },
  // An IDN, asked in A-label form.
  "_xmpp-server._tcp.xn--bcher-kva.example": { srv: [{ priority: 0, weight: 0, port: 5269, target: "xmpp.xn--bcher-kva.example" }] },
  "xmpp.xn--bcher-kva.example": { a: ["127.0.0.18"] },
  // Routes name this host.
  "route.example": { a: ["127.0.0.19"] },
};

let dns: DnsServer;
let resolver: string;
beforeAll(async () => {
  dns = await DnsServer.start(ZONE);
  resolver = dns.address;
});
afterAll(() => dns.close());

function asked(from: number): string[] {
  return dns.queries.slice(from).map((q) => `${q.type} ${q.name}`).sort();
}

describe("SRV", () => {
  it("merges both services and orders the targets by priority, each with its addresses, IPv6 first", async () => {
    const before = dns.queries.length;
    const targets = await resolveS2S("ordered.example", { resolver, routes: {} });
    expect(targets).toEqual<S2STarget[]>([
      { host: "a.ordered.example", addresses: ["::1", "127.0.0.11"], port: 5269, directTls: false },
      { host: "b.ordered.example", addresses: ["127.0.0.12"], port: 5270, directTls: true },
      { host: "c.ordered.example", addresses: ["::1"], port: 5271, directTls: false },
    ]);
    expect(asked(before)).toEqual([
      "A a.ordered.example", "A b.ordered.example", "A c.ordered.example",
      "AAAA a.ordered.example", "AAAA b.ordered.example", "AAAA c.ordered.example",
      "SRV _xmpp-server._tcp.ordered.example", "SRV _xmpps-server._tcp.ordered.example",
    ]);
  });

  it("puts direct TLS and STARTTLS of one priority in the order their weights draw", async () => {
    const firsts = async (tlsWeight: number, plainWeight: number): Promise<number> => {
      dns.zone.set("_xmpps-server._tcp.weights.example", { srv: [{ priority: 5, weight: tlsWeight, port: 5270, target: "127.0.0.20" }] });
      dns.zone.set("_xmpp-server._tcp.weights.example", { srv: [{ priority: 5, weight: plainWeight, port: 5269, target: "127.0.0.20" }] });
      let directFirst = 0;
      for (let i = 0; i < 200; i++) {
        const t = await resolveS2S("weights.example", { resolver, routes: {} });
        expect(t.map((x) => x.port).sort()).toEqual([5269, 5270]);
        if (t[0]!.directTls) directFirst++;
      }
      return directFirst;
    };
    // RFC 2782: weight 0 against 10 is drawn first 1 time in 11.
    const mostlyPlain = await firsts(0, 10);
    expect(mostlyPlain).toBeGreaterThan(0);
    expect(mostlyPlain).toBeLessThan(50);
    const mostlyDirect = await firsts(10, 0);
    expect(mostlyDirect).toBeGreaterThan(150);
    expect(mostlyDirect).toBeLessThan(200);
    const even = await firsts(5, 5);
    expect(even).toBeGreaterThan(60);
    expect(even).toBeLessThan(140);
  });

  it("takes a target of '.' as the service not offered, and does not fall back when both say so", async () => {
    expect(await resolveS2S("nodirect.example", { resolver, routes: {} })).toEqual<S2STarget[]>([
      { host: "host.nodirect.example", addresses: ["127.0.0.13"], port: 5269, directTls: false },
    ]);
    const before = dns.queries.length;
    expect(await resolveS2S("none.example", { resolver, routes: {} })).toEqual([]);
    expect(asked(before)).toEqual(["SRV _xmpp-server._tcp.none.example", "SRV _xmpps-server._tcp.none.example"]);
  });

  it("drops a target without an address", async () => {
    expect(await resolveS2S("partial.example", { resolver, routes: {} })).toEqual<S2STarget[]>([
      { host: "here.partial.example", addresses: ["127.0.0.17"], port: 5269, directTls: false },
    ]);
    expect(dns.count("gone.partial.example", "A")).toBe(1);
  });

  it("asks an IDN's services in A-label form, the domain's case and trailing dot ignored", async () => {
    expect(await resolveS2S("Bücher.example.", { resolver, routes: {} })).toEqual<S2STarget[]>([
      { host: "xmpp.xn--bcher-kva.example", addresses: ["127.0.0.18"], port: 5269, directTls: false },
    ]);
    expect(dns.count("_xmpp-server._tcp.xn--bcher-kva.example", "SRV")).toBe(1);
  });
});

describe("fallback (RFC 6120 §3.2.2)", () => {
  it("connects to the domain itself on 5269 with STARTTLS when there is no SRV record (NXDOMAIN)", async () => {
    const before = dns.queries.length;
    expect(await resolveS2S("plain.example", { resolver, routes: {} })).toEqual<S2STarget[]>([
      { host: "plain.example", addresses: ["::1", "127.0.0.15"], port: 5269, directTls: false },
    ]);
    expect(asked(before)).toEqual(["A plain.example", "AAAA plain.example", "SRV _xmpp-server._tcp.plain.example", "SRV _xmpps-server._tcp.plain.example"]);
  });

  it("falls back as well when the service names exist without SRV records (NODATA)", async () => {
    expect(await resolveS2S("nodata.example", { resolver, routes: {} })).toEqual<S2STarget[]>([
      { host: "nodata.example", addresses: ["127.0.0.16"], port: 5269, directTls: false },
    ]);
  });

  it("finds nothing, without throwing, for a domain that does not exist", async () => {
    expect(await resolveS2S("absent.example", { resolver, routes: {} })).toEqual([]);
    expect(dns.count("absent.example", "A")).toBe(1);
  });
});

describe("static routes", () => {
  it("replaces DNS: an IP route asks nothing, a named host only its addresses", async () => {
    const routes = { "Routed.Example.": "127.0.0.21:5300 tls", "named.example": "route.example:5301", "v6.example": "[::1]:5302" };
    const before = dns.queries.length;
    expect(await resolveS2S("routed.example", { resolver, routes })).toEqual<S2STarget[]>([
      { host: "127.0.0.21", addresses: ["127.0.0.21"], port: 5300, directTls: true },
    ]);
    expect(await resolveS2S("v6.example", { resolver, routes })).toEqual<S2STarget[]>([
      { host: "::1", addresses: ["::1"], port: 5302, directTls: false },
    ]);
    expect(asked(before)).toEqual([]);
    expect(await resolveS2S("named.example", { resolver, routes })).toEqual<S2STarget[]>([
      { host: "route.example", addresses: ["127.0.0.19"], port: 5301, directTls: false },
    ]);
    expect(asked(before)).toEqual(["A route.example", "AAAA route.example"]);
  });

  it("parses host:port and host:port tls, and rejects the rest", async () => {
    expect(parseS2SRoute("xmpp.example.net:5269")).toEqual({ host: "xmpp.example.net", port: 5269, directTls: false });
    expect(parseS2SRoute("192.0.2.1:5270 tls")).toEqual({ host: "192.0.2.1", port: 5270, directTls: true });
    expect(parseS2SRoute("[2001:db8::1]:5269")).toEqual({ host: "2001:db8::1", port: 5269, directTls: false });
    for (const bad of ["xmpp.example.net", "host:0", "host:70000", "host:5269 ssl", "[nope]:5269", "2001:db8::1:5269"]) {
      expect(parseS2SRoute(bad)).toBeUndefined();
    }
    await expect(resolveS2S("bad.example", { resolver, routes: { "bad.example": "bad" } })).rejects.toThrow(/host:port/);
  });
});

it("asks a DNS server on ::1", async () => {
  const v6 = await DnsServer.start({ "_xmpp-server._tcp.six.example": { srv: [{ priority: 0, weight: 0, port: 5269, target: "six.example" }] }, "six.example": { aaaa: ["::1"] } }, "::1");
  try {
    expect(v6.address).toMatch(/^\[::1\]:\d+$/);
    expect(await resolveS2S("six.example", { resolver: v6.address, routes: {} })).toEqual<S2STarget[]>([
      { host: "six.example", addresses: ["::1"], port: 5269, directTls: false },
    ]);
    expect(v6.queries.length).toBe(4);
  } finally {
    await v6.close();
  }
});

describe("orderSrv (RFC 2782)", () => {
  const r = (priority: number, weight: number, id: string) => ({ priority, weight, id });

  it("orders by priority whatever the weights", () => {
    const ids = orderSrv([r(3, 100, "c"), r(1, 0, "a"), r(2, 50, "b")], () => 0.99).map((x) => x.id);
    expect(ids).toEqual(["a", "b", "c"]);
  });

  it("draws within a priority by the running sum of weights, weight 0 first in it", () => {
    const records = [r(0, 30, "x"), r(0, 0, "zero"), r(0, 70, "y")];
    // Sum 100, draws 0..100: 0 is the weight-0 record, 1..30 x, 31..100 y.
    expect(orderSrv(records, () => 0).map((x) => x.id)).toEqual(["zero", "x", "y"]);
    expect(orderSrv(records, () => 0.2).map((x) => x.id)[0]).toBe("x");
    expect(orderSrv(records, () => 0.5).map((x) => x.id)[0]).toBe("y");
    expect(orderSrv(records, () => 0.999).map((x) => x.id)).toEqual(["y", "x", "zero"]);
  });
});
