// Certificates as operators keep them (tls.directory): certbot's live/ lineage for example.test
// (links into archive/), Prosody's <name>.crt and <name>.key for *.example.test and for
// pubsub.example.test. Each TLS listener presents the certificate for the name asked: by SNI on
// direct TLS (c2s, HTTPS, s2s), by the stream header's 'to' on STARTTLS (c2s, s2s), the domain's
// for no name. A renewal on disk is taken without a reload: certbot's new links, a Prosody file
// copied over (a half-written one changing nothing until it is whole); new handshakes get it, a
// session from before stays. `xmppd check` says which certificate covers which name.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestPki, presented, type Issued } from "../helpers/pki.ts";
import { ROOT } from "../helpers/process.ts";
import { FEATURES, OPEN, RawClient } from "../helpers/raw.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const DOMAIN = "example.test";
let pki: TestPki;
let dir: string;
let live: string;
let t: TestServer;
const issued: Record<"domain" | "wildcard" | "pubsub", Issued> = {} as never;

const fingerprint = (c: Issued) => new X509Certificate(c.cert).fingerprint256;

/** certbot's renewal: the n-th files in archive/, then each link in live/ replaced by a rename. */
function certbotWrite(c: Issued, n: number): void {
  const archive = join(dir, "archive", DOMAIN);
  writeFileSync(join(archive, `fullchain${n}.pem`), c.cert);
  writeFileSync(join(archive, `privkey${n}.pem`), c.key);
  for (const [link, file] of [["fullchain.pem", `fullchain${n}.pem`], ["privkey.pem", `privkey${n}.pem`]] as const) {
    const aside = join(live, DOMAIN, `${link}.new`);
    symlinkSync(join("..", "..", "archive", DOMAIN, file), aside);
    renameSync(aside, join(live, DOMAIN, link));
  }
}

beforeAll(async () => {
  pki = new TestPki();
  dir = mkdtempSync(join(tmpdir(), "xmppd-certdir-"));
  live = join(dir, "live");
  mkdirSync(join(live, DOMAIN), { recursive: true });
  mkdirSync(join(dir, "archive", DOMAIN), { recursive: true });
  issued.domain = pki.issue({ cn: DOMAIN, san: [`DNS:${DOMAIN}`] });
  issued.wildcard = pki.issue({ cn: DOMAIN, san: [`DNS:*.${DOMAIN}`] });
  issued.pubsub = pki.issue({ cn: `pubsub.${DOMAIN}`, san: [`DNS:pubsub.${DOMAIN}`] });
  certbotWrite(issued.domain, 1);
  writeFileSync(join(live, "wildcard.crt"), issued.wildcard.cert);
  writeFileSync(join(live, "wildcard.key"), issued.wildcard.key);
  writeFileSync(join(live, `pubsub.${DOMAIN}.crt`), issued.pubsub.cert);
  writeFileSync(join(live, `pubsub.${DOMAIN}.key`), issued.pubsub.key);
  t = await startServer({
    config: {
      domain: DOMAIN, tls: { directory: live },
      // Federation on for its listeners; a resolver on a closed loopback port: no query leaves the machine.
      s2s: { enabled: true, host: "127.0.0.1", resolver: "127.0.0.1:9" },
    },
    users: { juliet: "juliet-pw", romeo: "romeo-pw" },
  });
});

afterAll(async () => {
  await t?.stop();
  pki?.remove();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A session over STARTTLS to example.test, as `user` (password `<user>-pw`) on resource "garden". */
async function login(user = "juliet"): Promise<RawClient> {
  const c = await RawClient.connect(t.port);
  c.send(OPEN(DOMAIN));
  await c.expect(FEATURES);
  await c.startTls({ servername: DOMAIN });
  c.send(OPEN(DOMAIN));
  await c.expect(FEATURES);
  expect(await c.scram(user, `${user}-pw`)).toMatch(/^<success/);
  c.send(OPEN(DOMAIN));
  await c.expect(FEATURES);
  c.send("<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>garden</resource></bind></iq>");
  await c.expect(/<iq[^>]*id=["']bind["'][\s\S]*?<\/iq>/);
  return c;
}

/** `from` sends `to` a chat message, which `to` receives. */
async function message(from: RawClient, to: RawClient, toUser: string, body: string): Promise<void> {
  from.send(`<message type='chat' to='${toUser}@${DOMAIN}/garden'><body>${body}</body></message>`);
  await to.expect(`<body>${body}</body>`);
}

describe("a certificate per name", () => {
  it("is chosen by SNI on direct TLS: c2s, HTTPS and s2s; the domain's for no name or a name none covers", async () => {
    const listeners: [number, string | undefined][] = [[t.tlsPort, undefined], [t.server.ports.https!, undefined], [t.server.ports.s2sDirectTls!, "xmpp-server"]];
    for (const [port, alpn] of listeners) {
      expect(await presented(port, DOMAIN, alpn)).toBe(fingerprint(issued.domain));
      expect(await presented(port, `conference.${DOMAIN}`, alpn)).toBe(fingerprint(issued.wildcard));
      expect(await presented(port, `upload.${DOMAIN}`, alpn)).toBe(fingerprint(issued.wildcard));
      expect(await presented(port, `pubsub.${DOMAIN}`, alpn)).toBe(fingerprint(issued.pubsub));
      expect(await presented(port, undefined, alpn)).toBe(fingerprint(issued.domain));
      expect(await presented(port, "elsewhere.test", alpn)).toBe(fingerprint(issued.domain));
    }
  });

  it("is chosen by the stream header's 'to' on STARTTLS, for clients and for servers", async () => {
    const juliet = await login();
    expect((juliet.socket as TLSSocket).getPeerCertificate().fingerprint256).toBe(fingerprint(issued.domain));
    juliet.close();
    // A peer server's stream to the MUC service: the wildcard covers it.
    const peer = await RawClient.connect(t.server.ports.s2s!);
    peer.send(`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='remote.test' to='conference.${DOMAIN}' version='1.0'>`);
    await peer.expect(/<stream:features>[\s\S]*?<starttls/);
    await peer.startTls({ servername: `conference.${DOMAIN}` });
    expect((peer.socket as TLSSocket).getPeerCertificate().fingerprint256).toBe(fingerprint(issued.wildcard));
    peer.close();
  });
});

describe("renewed files", () => {
  it("are taken without a reload: new handshakes get them, a session from before stays and goes on", { timeout: 30_000 }, async () => {
    const juliet = await login();
    try {
      const renewed = pki.issue({ cn: DOMAIN, san: [`DNS:${DOMAIN}`] });
      certbotWrite(renewed, 2);
      await expect.poll(() => presented(t.tlsPort, DOMAIN), { timeout: 10_000, interval: 200 }).toBe(fingerprint(renewed));
      // With no SNI too: the default follows the domain's certificate.
      expect(await presented(t.tlsPort)).toBe(fingerprint(renewed));
      expect(await presented(t.server.ports.https!)).toBe(fingerprint(renewed));
      // Juliet, connected before, and Romeo, connected after, talk: each on the certificate of his handshake.
      expect((juliet.socket as TLSSocket).getPeerCertificate().fingerprint256).toBe(fingerprint(issued.domain));
      const romeo = await login("romeo");
      try {
        expect((romeo.socket as TLSSocket).getPeerCertificate().fingerprint256).toBe(fingerprint(renewed));
        await message(juliet, romeo, "romeo", "Wherefore art thou");
        await message(romeo, juliet, "juliet", "Here, on the new certificate");
      } finally {
        romeo.close();
      }

      // A Prosody file copied over, caught half written: nothing changes until it is whole.
      const wildcard = pki.issue({ cn: DOMAIN, san: [`DNS:*.${DOMAIN}`] });
      writeFileSync(join(live, "wildcard.crt"), wildcard.cert.slice(0, 200));
      await new Promise((r) => setTimeout(r, 2500));
      expect(await presented(t.tlsPort, `conference.${DOMAIN}`)).toBe(fingerprint(issued.wildcard));
      writeFileSync(join(live, "wildcard.crt"), wildcard.cert);
      await expect.poll(() => presented(t.tlsPort, `conference.${DOMAIN}`), { timeout: 10_000, interval: 200 }).toBe(fingerprint(wildcard));
      juliet.send(`<message type='chat' to='juliet@${DOMAIN}/garden'><body>still here</body></message>`);
      await juliet.expect("<body>still here</body>");
    } finally {
      juliet.close();
    }
  });
});

describe("xmppd check", () => {
  it("says which certificate covers each name served, and warns of a name none covers", () => {
    const only = join(dir, "only-domain");
    mkdirSync(only);
    writeFileSync(join(only, `${DOMAIN}.crt`), issued.domain.cert);
    writeFileSync(join(only, `${DOMAIN}.key`), issued.domain.key);
    writeFileSync(join(only, `pubsub.${DOMAIN}.crt`), issued.pubsub.cert);
    writeFileSync(join(only, `pubsub.${DOMAIN}.key`), issued.pubsub.key);
    const file = join(dir, "check.json");
    writeFileSync(file, JSON.stringify({ domain: DOMAIN, dataDir: join(dir, "check-data"), tls: { directory: only }, modules: { proxy65: { port: 0 } } }));
    const r = spawnSync(process.execPath, [join(ROOT, "src/main.ts"), "check", "-c", file], { encoding: "utf8", env: { ...process.env, XMPPD_LOG__LEVEL: "warn" } });
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split("\n");
    const until = (c: Issued) => new Date(new X509Certificate(c.cert).validTo).toISOString().slice(0, 10);
    expect(lines.slice(1)).toEqual([
      "certificates:",
      `  ${DOMAIN}: ${join(only, `${DOMAIN}.crt`)} (valid until ${until(issued.domain)})`,
      `  conference.${DOMAIN}: none`,
      `  pubsub.${DOMAIN}: ${join(only, `pubsub.${DOMAIN}.crt`)} (valid until ${until(issued.pubsub)})`,
      `  upload.${DOMAIN}: none`,
      `warning: conference.${DOMAIN}: no certificate covers it; its clients get ${join(only, `${DOMAIN}.crt`)}, for ${DOMAIN}`,
      `warning: upload.${DOMAIN}: no certificate covers it; its clients get ${join(only, `${DOMAIN}.crt`)}, for ${DOMAIN}`,
      // The test CA's certificates are valid for a day.
      `warning: ${join(only, `${DOMAIN}.crt`)}: expires on ${until(issued.domain)}`,
      `warning: ${join(only, `pubsub.${DOMAIN}.crt`)}: expires on ${until(issued.pubsub)}`,
    ]);
  });
});
