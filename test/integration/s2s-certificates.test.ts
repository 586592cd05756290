// Federation with certificates from a CA both servers trust (s2s.trustStore), found through DNS:
// a loopback DNS server of the test's own serves the SRV records (_xmpps-server for direct TLS,
// XEP-0368, and _xmpp-server for STARTTLS) and the addresses, and is the only resolver the servers
// ask (s2s.resolver). With s2s.requireValidCertificates the servers authenticate by SASL EXTERNAL
// (XEP-0178) and refuse a peer whose certificate names another domain, has expired or comes from
// a CA they do not trust: what is sent to it bounces.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { DnsServer } from "../helpers/dns-server.ts";
import { Im, errorOf } from "../helpers/im.ts";
import { TestPki } from "../helpers/pki.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";

let pki: TestPki;
let dns: DnsServer;
const servers: TestServer[] = [];

async function federated(domain: string, users: Record<string, string>, cert: { certPath: string; keyPath: string }): Promise<TestServer> {
  const t = await startServer({
    users,
    config: {
      domain,
      tls: { cert: cert.certPath, key: cert.keyPath },
      s2s: { enabled: true, host: "127.0.0.1", requireValidCertificates: true, trustStore: pki.caPath, resolver: dns.address, connectTimeout: 5 },
    },
  });
  servers.push(t);
  return t;
}

/** DNS for `t`: SRV records for both kinds of port (direct TLS preferred), and its address. */
function publish(t: TestServer, directTls = true): void {
  const host = `xmpp.${t.domain}`;
  dns.zone.set(host, { a: ["127.0.0.1"] });
  dns.zone.set(`_xmpp-server._tcp.${t.domain}`, { srv: [{ priority: 10, weight: 1, port: t.server.ports.s2s!, target: host }] });
  if (directTls) dns.zone.set(`_xmpps-server._tcp.${t.domain}`, { srv: [{ priority: 5, weight: 1, port: t.server.ports.s2sDirectTls!, target: host }] });
}

const login = (t: TestServer, user: string) => Im.login(t.port, user, "r", { domain: t.domain, timeoutMs: 10_000 });
const chat = (to: string, body: string, id: string) => xml("message", { to, type: "chat", id }, xml("body", null, body));
const isChat = (body: string) => (el: Element) => el.name === "message" && el.getChildText("body") === body;

let a: TestServer;
let b: TestServer;

beforeAll(async () => {
  pki = new TestPki();
  dns = await DnsServer.start({});
  a = await federated("a.test", { romeo: "pw" }, pki.issue({ cn: "a.test", san: ["DNS:a.test", "otherName:1.3.6.1.5.5.7.8.5;UTF8:a.test"] }));
  b = await federated("b.test", { juliet: "pw" }, pki.issue({ cn: "b.test", san: ["DNS:b.test", "DNS:*.b.test"] }));
  publish(a, false);
  publish(b);
});

afterAll(async () => {
  for (const t of servers) await t.stop();
  await dns?.close();
  pki?.remove();
});

describe("servers with valid certificates", () => {
  it("authenticate by SASL EXTERNAL, found through SRV records on the loopback DNS server only", async () => {
    const romeo = await login(a, "romeo");
    const juliet = await login(b, "juliet");
    romeo.send(xml("presence"));
    juliet.send(xml("presence"));
    romeo.send(chat("juliet@b.test", "o happy dagger", "x1"));
    expect((await juliet.next(isChat("o happy dagger"), "romeo's message", 15_000)).attrs.from).toBe("romeo@a.test/r");
    juliet.send(chat("romeo@a.test", "thus with a kiss", "x2"));
    expect((await romeo.next(isChat("thus with a kiss"), "juliet's message", 15_000)).attrs.from).toBe("juliet@b.test/r");
    const route = (t: TestServer, remote: string) => t.server.federation!.describe().find((r) => r.remote === remote)!.state;
    expect(route(a, "b.test")).toMatch(/^ready \(SASL EXTERNAL, direct TLS/);
    // a asked for both SRV records of b.test and the address of the target b publishes, and took
    // the direct TLS port (priority 5 before 10): b's listener saw its TLS connection.
    expect(dns.count("_xmpps-server._tcp.b.test", "SRV")).toBeGreaterThan(0);
    expect(dns.count("_xmpp-server._tcp.b.test", "SRV")).toBeGreaterThan(0);
    expect(dns.count("xmpp.b.test", "A")).toBeGreaterThan(0);
    // b's answers went on a's stream (XEP-0288): b opened none of its own.
    expect(route(b, "a.test")).toMatch(/XEP-0288/);
    await romeo.stop();
    await juliet.stop();
  });

  for (const [name, issue] of [
    ["a certificate for another name", () => pki.issue({ cn: "elsewhere.test", san: ["DNS:elsewhere.test"] })],
    ["an expired certificate", () => pki.issue({ cn: "old.test", san: ["DNS:old.test"], expired: true })],
    ["a certificate from an untrusted CA", () => pki.issue({ cn: "rogue.test", san: ["DNS:rogue.test"], ca: "unknown" })],
  ] as const) {
    it(`refuse a peer with ${name}: what goes to it bounces, what comes from it is not delivered`, async () => {
      const cert = issue();
      const domain = name.includes("another") ? "wrong.test" : name.includes("expired") ? "old.test" : "rogue.test";
      const c = await federated(domain, { tybalt: "pw" }, cert);
      publish(c, false);
      const romeo = await login(a, "romeo");
      romeo.send(xml("presence"));
      romeo.send(chat(`tybalt@${domain}`, "draw", `b-${domain}`));
      const bounced = await romeo.next((el) => el.attrs.id === `b-${domain}` && el.attrs.type === "error", "the bounce", 15_000);
      expect(errorOf(bounced)).toMatch(/remote-server-(not-found|timeout)/);
      const tybalt = await login(c, "tybalt");
      tybalt.send(chat("romeo@a.test", "you rat-catcher", `t-${domain}`));
      const back = await tybalt.next((el) => el.attrs.id === `t-${domain}` && el.attrs.type === "error", "its bounce", 15_000);
      expect(errorOf(back)).toMatch(/remote-server-(not-found|timeout)/);
      await romeo.nothing(isChat("you rat-catcher"), 200);
      await romeo.stop();
      await tybalt.stop();
    });
  }
});
