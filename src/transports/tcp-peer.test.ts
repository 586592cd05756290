// TCP between servers over loopback: an outgoing connection (connectTcp) that upgrades with
// STARTTLS as the TLS client against a listener that asks for its certificate, each side then
// judging the other's; direct TLS with ALPN "xmpp-server" (XEP-0368); SNI; refusal and timeouts;
// the trust store.
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { connect as tlsConnect, createServer as createTlsServer } from "node:tls";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { TestPki } from "../../test/helpers/pki.ts";
import { CertificateStore } from "./certificate-store.ts";
import { connectTcp, listenTcp, type TcpTransport } from "./tcp.ts";
import { loadTrustStore, tlsMaterial, type TlsMaterial, type TrustStore } from "./tls.ts";
import type { Transport } from "./transport.ts";

let pki: TestPki;
/** Our side ("a.example") and the peer ("b.example"), both issued by the trusted test CA. */
let a: TlsMaterial;
let b: TlsMaterial;
let trust: TrustStore;
beforeAll(() => {
  pki = new TestPki();
  const issued = (domain: string, ca: "trusted" | "unknown" = "trusted") => {
    const c = pki.issue({ cn: domain, san: [`DNS:${domain}`], ca });
    return tlsMaterial(c.cert, c.key, c.certPath);
  };
  a = issued("a.example");
  b = issued("b.example");
  trust = loadTrustStore(pki.caPath);
});
afterAll(() => pki.remove());

const servers: Server[] = [];
const transports: Transport[] = [];
afterEach(() => {
  for (const t of transports.splice(0)) t.end();
  for (const s of servers.splice(0)) s.close();
});

/** A transport attached to a collector of what it receives. */
function attached(t: Transport): { t: Transport; received: () => string; closed: () => string | undefined } {
  let text = "";
  let closed: string | undefined;
  t.attach({ data: (chunk) => (text += chunk.toString("utf8")), close: (reason) => (closed = reason) });
  transports.push(t);
  return { t, received: () => text, closed: () => closed };
}

/** A server-to-server listener on a free loopback port, and the transports it accepts. */
async function listener(tls: TlsMaterial, directTls: boolean): Promise<{ port: number; accepted: Transport[] }> {
  const accepted: Transport[] = [];
  const server = await listenTcp({
    host: "127.0.0.1", port: 0, directTls, tls: new CertificateStore(tls), maxConnections: 10, requestCert: { trust }, onConnection: (t) => accepted.push(t),
  });
  servers.push(server);
  return { port: (server.address() as AddressInfo).port, accepted };
}

function target(port: number, directTls: boolean) {
  return { host: "127.0.0.1", addresses: ["127.0.0.1"], port, directTls };
}

describe("STARTTLS from the initiating side", () => {
  it("upgrades as the TLS client, and each side sees the other's certificate", async () => {
    const { port, accepted } = await listener(b, false);
    const out = attached(await connectTcp({ target: target(port, false), address: "127.0.0.1", serverName: "b.example", tls: a, trust, timeoutMs: 2000 }));
    await expect.poll(() => accepted.length).toBe(1);
    const inc = attached(accepted[0]!);
    expect(out.t.secure).toBe(false);
    expect(out.t.canStartTls).toBe(true);
    expect(out.t.peerIdentity?.("b.example")).toBeUndefined();

    // RFC 6120 §5.4.2: <starttls/>, <proceed/>, then the initiating entity's TLS handshake.
    out.t.write("<starttls/>");
    await expect.poll(inc.received).toBe("<starttls/>");
    inc.t.write("<proceed/>");
    const listening = inc.t.startTls();
    await expect.poll(out.received).toBe("<proceed/>");
    await Promise.all([out.t.startTls(), listening]);

    expect([out.t.secure, inc.t.secure, out.t.canStartTls, inc.t.canStartTls]).toEqual([true, true, false, false]);
    expect(out.t.peerIdentity?.("b.example")).toEqual({ valid: true });
    expect(inc.t.peerIdentity?.("a.example")).toEqual({ valid: true });
    expect(inc.t.peerIdentity?.("b.example")).toEqual({ valid: false, reason: "name mismatch" });
    out.t.write("<stream:stream>");
    inc.t.write("<stream:stream id='1'>");
    await expect.poll(inc.received).toBe("<starttls/><stream:stream>");
    await expect.poll(out.received).toBe("<proceed/><stream:stream id='1'>");
  });

  it("tells the listener when the initiator's certificate is from an unknown CA, or missing", async () => {
    const stranger = pki.issue({ cn: "a.example", san: ["DNS:a.example"], ca: "unknown" });
    for (const [tls, reason] of [[tlsMaterial(stranger.cert, stranger.key, stranger.certPath), /^untrusted: /], [undefined, /^no certificate$/]] as const) {
      const { port, accepted } = await listener(b, false);
      const out = attached(await connectTcp({ target: target(port, false), address: "127.0.0.1", serverName: "b.example", tls, trust, timeoutMs: 2000 }));
      await expect.poll(() => accepted.length).toBe(1);
      const inc = attached(accepted[0]!);
      await Promise.all([out.t.startTls(), inc.t.startTls()]);
      expect(inc.t.peerIdentity?.("a.example")).toEqual({ valid: false, reason: expect.stringMatching(reason) });
      expect(out.t.peerIdentity?.("b.example")).toEqual({ valid: true });
    }
  });

  it("tells the initiator when the listener's chain does not lead to its trust store", async () => {
    const { port, accepted } = await listener(b, false);
    const otherTrust = loadTrustStore(join(pki.dir, "unknown", "ca.pem"));
    const out = attached(await connectTcp({ target: target(port, false), address: "127.0.0.1", serverName: "b.example", tls: a, trust: otherTrust, timeoutMs: 2000 }));
    await expect.poll(() => accepted.length).toBe(1);
    await Promise.all([out.t.startTls(), attached(accepted[0]!).t.startTls()]);
    expect(out.t.peerIdentity?.("b.example")).toEqual({ valid: false, reason: expect.stringMatching(/^untrusted: /) });
  });
});

describe("direct TLS (XEP-0368)", () => {
  it("agrees on ALPN xmpp-server, and each side sees the other's certificate", async () => {
    const { port, accepted } = await listener(b, true);
    const out = attached(await connectTcp({ target: target(port, true), address: "127.0.0.1", serverName: "b.example", tls: a, trust, timeoutMs: 2000 }));
    await expect.poll(() => accepted.length).toBe(1);
    const inc = attached(accepted[0]!);
    expect([out.t.secure, out.t.canStartTls, inc.t.secure]).toEqual([true, false, true]);
    expect((out.t as TcpTransport).alpnProtocol).toBe("xmpp-server");
    expect((inc.t as TcpTransport).alpnProtocol).toBe("xmpp-server");
    expect(out.t.peerIdentity?.("b.example")).toEqual({ valid: true });
    expect(inc.t.peerIdentity?.("a.example")).toEqual({ valid: true });
    out.t.write("<stream:stream>");
    await expect.poll(inc.received).toBe("<stream:stream>");
  });

  it("sends the peer's domain as SNI and our certificate as the client's", async () => {
    let sni: string | undefined;
    let clientCert: string | undefined;
    const server = createTlsServer({ ...b.pem, requestCert: true, rejectUnauthorized: false, SNICallback: (name, cb) => {
      sni = name;
      cb(null, undefined);
    } }, (s) => {
      clientCert = s.getPeerX509Certificate()?.subject;
      s.end();
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const out = attached(await connectTcp({
      target: target((server.address() as AddressInfo).port, true), address: "127.0.0.1", serverName: "b.example", tls: a, trust, timeoutMs: 2000,
    }));
    await expect.poll(out.closed).toBeDefined();
    expect(sni).toBe("b.example");
    expect(clientCert).toBe("CN=a.example");
  });
});

describe("failures", () => {
  it("rejects at once when the connection is refused", async () => {
    const { port } = await listener(b, false);
    servers.pop()!.close();
    await new Promise((r) => setTimeout(r, 50));
    await expect(connectTcp({ target: target(port, false), address: "127.0.0.1", serverName: "b.example", tls: a, trust, timeoutMs: 2000 }))
      .rejects.toThrow(`127.0.0.1:${port}: connection refused`);
  });

  it("rejects after the timeout when the TLS handshake never comes", async () => {
    const silent: Socket[] = [];
    const server = createServer((s) => silent.push(s));
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    const started = Date.now();
    await expect(connectTcp({ target: target(port, true), address: "127.0.0.1", serverName: "b.example", tls: a, trust, timeoutMs: 300 }))
      .rejects.toThrow(`127.0.0.1:${port}: no connection within 300 ms`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    for (const s of silent) s.destroy();
  });

  it("rejects with the TLS error when the peer closes during the handshake", async () => {
    const server = createServer((s) => s.end());
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    await expect(connectTcp({ target: target(port, true), address: "127.0.0.1", serverName: "b.example", tls: a, trust, timeoutMs: 2000 }))
      .rejects.toThrow(new RegExp(`^127\\.0\\.0\\.1:${port}: (tls: |connection closed)`));
  });

  it("reports a connection the peer ended before the stream attached", async () => {
    const server = createServer((s) => s.destroy());
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const t = await connectTcp({ target: target((server.address() as AddressInfo).port, false), address: "127.0.0.1", serverName: "b.example", tls: a, trust, timeoutMs: 2000 });
    await new Promise((r) => setTimeout(r, 100));
    const out = attached(t);
    await expect.poll(out.closed).toBeDefined();
  });

  it("refuses, in direct TLS, a peer that offers only other ALPN protocols (RFC 7301 §3.2)", async () => {
    const { port } = await listener(b, true);
    const c = tlsConnect({ port, host: "127.0.0.1", ALPNProtocols: ["xmpp-client"], rejectUnauthorized: false });
    const error = await new Promise<NodeJS.ErrnoException>((r) => c.once("error", r));
    expect(error.code).toBe("ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL");
  });

  it("takes IP addresses only, so that no name goes to the system's resolver", async () => {
    await expect(connectTcp({ target: target(5269, false), address: "localhost", serverName: "b.example", tls: a, trust, timeoutMs: 2000 }))
      .rejects.toThrow("localhost: not an IP address");
  });

  it("brackets an IPv6 address in its errors", async () => {
    const { port } = await listener(b, false);
    await expect(connectTcp({ target: { ...target(port, false), addresses: ["::1"] }, address: "::1", serverName: "b.example", tls: a, trust, timeoutMs: 2000 }))
      .rejects.toThrow(`[::1]:${port}: connection refused`);
  });
});

describe("loadTrustStore", () => {
  it("reads a PEM file, or the .pem and .crt files of a folder", () => {
    expect(loadTrustStore(pki.caPath).ca).toEqual([pki.caPem.trim() + "\n"]);
    const folder = join(pki.dir, "roots");
    mkdirSync(folder);
    writeFileSync(join(folder, "one.pem"), pki.caPem);
    writeFileSync(join(folder, "two.crt"), pki.caPem + pki.caPem);
    writeFileSync(join(folder, "notes.txt"), pki.caPem);
    expect(loadTrustStore(folder).ca).toHaveLength(3);
  });

  it("fails in one line for a missing path, a file without certificates or a broken one", () => {
    expect(() => loadTrustStore(join(pki.dir, "absent.pem"))).toThrow(/^trust store .*absent\.pem: ENOENT$/);
    writeFileSync(join(pki.dir, "empty.pem"), "nothing here\n");
    expect(() => loadTrustStore(join(pki.dir, "empty.pem"))).toThrow(/: no certificate$/);
    writeFileSync(join(pki.dir, "broken.pem"), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    expect(() => loadTrustStore(join(pki.dir, "broken.pem"))).toThrow(/not a certificate$/);
  });

  it("defaults to the roots Node ships and the system's, each once", () => {
    const ca = loadTrustStore().ca!;
    expect(ca.length).toBeGreaterThan(50);
    expect(new Set(ca).size).toBe(ca.length);
  });
});
