// The server's own ACME client (RFC 8555) against Pebble, a real ACME CA, all on loopback: a
// fresh server for acme.test with acme.enabled opens an account, orders a certificate for its
// domain and its services' subdomains, proves each name by HTTP-01 on its HTTP listener (Pebble
// resolves the names through the test's DNS server and fetches the challenge from the port it
// is told), finalizes, installs the chain, and its TLS listeners present it: the chain verifies
// against Pebble's root for every name. A forced renewal installs a new certificate, which new
// connections get, while a client connected before stays and still exchanges stanzas; a renewal
// that fails (a name the CA cannot reach) says why and changes nothing.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/core/config.ts";
import { createLogger } from "../../src/core/log.ts";
import { XmppServer } from "../../src/server.ts";
import { DnsServer } from "../helpers/dns-server.ts";
import { pebbleInstalled, startPebble, type Pebble } from "../helpers/pebble.ts";
import { freePort } from "../helpers/process.ts";
import { FEATURES, OPEN, RawClient } from "../helpers/raw.ts";

const DOMAIN = "acme.test";
const SERVICES = ["conference.acme.test", "upload.acme.test", "pubsub.acme.test"];
const ci = process.env.CI === "true";

let dns: DnsServer;
let pebble: Pebble;
let server: XmppServer;
let dir: string;
let ports: { c2s: number; directTls: number; http: number; https: number };

beforeAll(async () => {
  if (!pebbleInstalled) return;
  dir = mkdtempSync(join(tmpdir(), "xmppd-acme-"));
  ports = { c2s: await freePort(), directTls: await freePort(), http: await freePort(), https: await freePort() };
  dns = await DnsServer.start(Object.fromEntries([DOMAIN, ...SERVICES].map((n) => [n, { a: ["127.0.0.1"] }])));
  pebble = await startPebble({ httpPort: ports.http, dnsServer: dns.address });
  const file = join(dir, "xmppd.json");
  writeFileSync(file, JSON.stringify({
    domain: DOMAIN, dataDir: join(dir, "data"), log: { level: process.env.TEST_LOG ?? "silent" },
    c2s: { host: "127.0.0.1", port: ports.c2s, directTlsPort: ports.directTls },
    http: { host: "127.0.0.1", port: ports.http, tlsHost: "127.0.0.1", tlsPort: ports.https },
    s2s: { enabled: false }, modules: { proxy65: { port: 0 } },
    acme: { enabled: true, directory: pebble.directory, caFile: pebble.caFile, email: "admin@acme.test", acceptTerms: true },
  }));
  const loaded = loadConfig(file, {});
  server = new XmppServer(loaded, { log: createLogger(loaded.server.log.level) });
  await server.start();
  await server.accounts.create("romeo", "romeo-pw");
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await pebble?.stop();
  await dns?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A direct TLS connection with `servername`, checked against Pebble's root: what it presented. */
async function verified(port: number, servername: string): Promise<{ fingerprint: string; authorized: boolean }> {
  const s = tlsConnect({ host: "127.0.0.1", port, servername, ca: pebble.root, rejectUnauthorized: false });
  await new Promise<void>((resolve, reject) => {
    s.once("secureConnect", resolve);
    s.once("error", reject);
  });
  const out = { fingerprint: s.getPeerCertificate().fingerprint256, authorized: s.authorized };
  s.destroy();
  return out;
}

/** Romeo's session over STARTTLS to acme.test, the certificate checked against Pebble's root. */
async function login(): Promise<RawClient> {
  const c = await RawClient.connect(ports.c2s);
  c.send(OPEN(DOMAIN));
  await c.expect(FEATURES);
  await c.startTls({ servername: DOMAIN, ca: pebble.root, rejectUnauthorized: true });
  c.send(OPEN(DOMAIN));
  await c.expect(FEATURES);
  expect(await c.scram("romeo", "romeo-pw")).toMatch(/^<success/);
  c.send(OPEN(DOMAIN));
  await c.expect(FEATURES);
  c.send("<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>balcony</resource></bind></iq>");
  await c.expect(/<iq[^>]*id=["']bind["'][\s\S]*?<\/iq>/);
  return c;
}

/** A ping to the server answered on `c`. */
async function ping(c: RawClient, id: string): Promise<void> {
  c.send(`<iq type='get' id='${id}' to='${DOMAIN}'><ping xmlns='urn:xmpp:ping'/></iq>`);
  await c.expect(new RegExp(`<iq[^>]*id=["']${id}["'][^>]*type=["']result["']|<iq[^>]*type=["']result["'][^>]*id=["']${id}["']`));
}

describe.skipIf(!pebbleInstalled && !ci)("a certificate from an ACME CA (Pebble)", () => {
  it("is installed in CI", () => expect(pebbleInstalled).toBe(true));

  it("is obtained at first start for the domain and its services, proven by HTTP-01, and presented on every TLS listener", { timeout: 60_000 }, async () => {
    // Until it comes, the self-signed certificate made at first start is presented.
    await expect.poll(() => server.certificate?.path, { timeout: 45_000, interval: 200 }).toMatch(/acme\/live\/acme\.test\/fullchain\.pem$/);
    // Pebble looked the names up through the test's resolver before fetching the challenges.
    for (const name of [DOMAIN, ...SERVICES]) expect(dns.count(name, "A")).toBeGreaterThan(0);
    const direct = await verified(ports.directTls, DOMAIN);
    expect(direct.authorized).toBe(true);
    expect(direct.fingerprint).toBe(server.certificate!.sha256);
    for (const name of SERVICES) expect((await verified(ports.https, name)).authorized).toBe(true);
    const romeo = await login();
    expect((romeo.socket as TLSSocket).authorized).toBe(true);
    romeo.close();
  });

  it("is renewed on demand: new connections get the new one, a client connected before stays", { timeout: 60_000 }, async () => {
    const romeo = await login();
    const before = await verified(ports.directTls, DOMAIN);
    try {
      expect(await server.acme!.renew(true)).toBe(true);
      const after = await verified(ports.directTls, DOMAIN);
      expect(after.authorized).toBe(true);
      expect(after.fingerprint).not.toBe(before.fingerprint);
      expect(server.certificate!.sha256).toBe(after.fingerprint);
      // The session from before is untouched, on the certificate it got.
      expect((romeo.socket as TLSSocket).getPeerCertificate().fingerprint256).toBe(before.fingerprint);
      await ping(romeo, "after-renewal");
      // A renewal not due yet orders nothing.
      expect(await server.acme!.renew()).toBe(false);
    } finally {
      romeo.close();
    }
  });

  it("fails, when a name cannot be proven, with the reason, and the server goes on with the certificate it has", { timeout: 60_000 }, async () => {
    const before = server.certificate!.sha256;
    const upload = dns.zone.get("upload.acme.test")!;
    dns.zone.delete("upload.acme.test");
    try {
      await expect(server.acme!.renew(true)).rejects.toThrow(/upload\.acme\.test: the CA could not fetch http:\/\/upload\.acme\.test\/\.well-known\/acme-challenge\//);
    } finally {
      dns.zone.set("upload.acme.test", upload);
    }
    expect(server.certificate!.sha256).toBe(before);
    const now = await verified(ports.directTls, DOMAIN);
    expect(now).toEqual({ fingerprint: before, authorized: true });
  });
});
