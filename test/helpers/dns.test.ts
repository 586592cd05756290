// The test DNS server (dns.ts): answers SRV and A from its records, NXDOMAIN for every other
// name, logs each query, keeps its address across add(), and forwards nothing.
import { Resolver } from "node:dns/promises";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { missingDnsmasq, startDns, type TestDns } from "./dns.ts";

const missing = missingDnsmasq();
if (missing) console.warn(`test DNS tests skipped: ${missing}`);

describe.skipIf(missing)("the test DNS server", () => {
  let dns: TestDns;
  const resolver = (): Resolver => {
    const r = new Resolver({ timeout: 2000, tries: 1 });
    r.setServers([dns.address]);
    return r;
  };
  beforeAll(async () => {
    dns = await startDns({
      a: { "a.example.test": "127.0.0.1" },
      srv: [{ service: "_xmpp-server._tcp.example.test", target: "a.example.test", port: 25269, priority: 0, weight: 5 }],
    });
  });
  afterAll(() => dns?.stop());

  it("answers SRV and A records, NXDOMAIN for names it does not hold, and logs every query", async () => {
    const r = resolver();
    expect(await r.resolveSrv("_xmpp-server._tcp.example.test")).toMatchObject([{ name: "a.example.test", port: 25269, priority: 0, weight: 5 }]);
    expect(await r.resolve4("a.example.test")).toEqual(["127.0.0.1"]);
    await expect(r.resolveSrv("_xmpps-server._tcp.example.test")).rejects.toMatchObject({ code: "ENOTFOUND" });
    await expect(r.resolve4("example.com")).rejects.toMatchObject({ code: "ENOTFOUND" });
    expect(dns.asked()).toEqual([
      { type: "SRV", name: "_xmpp-server._tcp.example.test" },
      { type: "A", name: "a.example.test" },
      { type: "SRV", name: "_xmpps-server._tcp.example.test" },
      { type: "A", name: "example.com" },
    ]);
    expect(dns.forwarded()).toEqual([]);
  });

  it("listens, as root, on port 53 of a loopback address of its own, named by its resolv.conf", () => {
    if (process.getuid?.() !== 0) {
      expect([dns.host, dns.resolvConf]).toEqual(["127.0.0.1", undefined]);
      return;
    }
    expect(dns.host).toMatch(/^127\.53\.\d+\.\d+$/);
    expect(dns.port).toBe(53);
    expect(readFileSync(dns.resolvConf!, "utf8")).toMatch(new RegExp(`^nameserver ${dns.host.replace(/\./g, "\\.")}$`, "m"));
  });

  it("adds records on the same port, and refuses a name that would change its configuration", async () => {
    const address = dns.address;
    await dns.add({ srv: [{ service: "_xmpp-server._tcp.other.test", target: ".", port: 0 }], cname: { "alias.example.test": "a.example.test" } });
    expect(dns.address).toBe(address);
    const r = resolver();
    expect(await r.resolve4("alias.example.test")).toEqual(["127.0.0.1"]);
    expect(await r.resolveSrv("_xmpp-server._tcp.example.test")).toHaveLength(1);
    // "." as the target: the service is decidedly not available (RFC 2782).
    expect(await r.resolveSrv("_xmpp-server._tcp.other.test")).toMatchObject([{ name: "" }]);
    expect(() => dns.add({ a: { "evil.test\nserver=8.8.8.8": "127.0.0.1" } })).toThrow(/not a DNS name/);
    expect(dns.queries("SRV")).toContain("_xmpp-server._tcp.other.test");
  });
});
