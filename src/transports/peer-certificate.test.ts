// A peer server's certificate against the domain it claims (RFC 6125 §6, XEP-0178): DNS-IDs with
// and without a wildcard, SRV-IDs, XmppAddr, the CN only without those, IDNs; and the verdict on a
// real TLS connection over loopback where the listener asks for the client's certificate.
import { X509Certificate } from "node:crypto";
import { type AddressInfo } from "node:net";
import { connect, createServer, type TLSSocket } from "node:tls";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { TestPki, type Issued } from "../../test/helpers/pki.ts";
import { certificateNames, matchesDomain, peerIdentity } from "./peer-certificate.ts";

const XMPP_ADDR = "otherName:1.3.6.1.5.5.7.8.5;UTF8";
const SRV_NAME = "otherName:1.3.6.1.5.5.7.8.7;IA5";

let pki: TestPki;
beforeAll(() => {
  pki = new TestPki();
});
afterAll(() => pki.remove());

function cert(cn: string, ...san: string[]): X509Certificate {
  return new X509Certificate(pki.issue(san.length === 0 ? { cn } : { cn, san }).cert);
}

describe("certificateNames", () => {
  it("reads dNSName, SRVName, XmppAddr and the CN", () => {
    const c = cert("Example Server", "DNS:a.example.org", `${SRV_NAME}:_xmpp-server.example.org`, `${XMPP_ADDR}:bücher.example`, "DNS:*.example.org");
    expect(certificateNames(c)).toEqual({
      dns: ["a.example.org", "*.example.org"],
      srv: ["_xmpp-server.example.org"],
      xmppAddr: ["bücher.example"],
      cn: ["Example Server"],
    });
  });

  it("has no alternative names for a certificate without the extension", () => {
    expect(certificateNames(cert("example.org"))).toEqual({ dns: [], srv: [], xmppAddr: [], cn: ["example.org"] });
  });
});

describe("matchesDomain", () => {
  it("matches a DNS-ID whatever the case and a trailing dot", () => {
    const c = cert("ignored", "DNS:Example.org");
    expect(matchesDomain(c, "example.org")).toBe(true);
    expect(matchesDomain(c, "EXAMPLE.ORG.")).toBe(true);
    expect(matchesDomain(c, "chat.example.org")).toBe(false);
    expect(matchesDomain(c, "example.net")).toBe(false);
  });

  it("lets a wildcard stand for exactly one whole left-most label", () => {
    const c = cert("ignored", "DNS:*.example.org");
    expect(matchesDomain(c, "chat.example.org")).toBe(true);
    expect(matchesDomain(c, "example.org")).toBe(false);
    expect(matchesDomain(c, "a.chat.example.org")).toBe(false);
    expect(matchesDomain(c, "*.example.org")).toBe(false);
    expect(matchesDomain(cert("ignored", "DNS:*.org"), "example.org")).toBe(false);
    expect(matchesDomain(cert("ignored", "DNS:c*.example.org"), "chat.example.org")).toBe(false);
    expect(matchesDomain(cert("ignored", "DNS:chat.*.org"), "chat.example.org")).toBe(false);
  });

  it("matches an SRV-ID of _xmpp-server only", () => {
    expect(matchesDomain(cert("example.org", `${SRV_NAME}:_xmpp-server.example.org`), "example.org")).toBe(true);
    expect(matchesDomain(cert("example.org", `${SRV_NAME}:_XMPP-Server.Example.org`), "example.org")).toBe(true);
    // Presents an SRV-ID, so the CN does not count (RFC 6125 §6.4.4).
    expect(matchesDomain(cert("example.org", `${SRV_NAME}:_xmpp-client.example.org`), "example.org")).toBe(false);
  });

  it("matches an XmppAddr equal to the domain, compared in A-label form", () => {
    expect(matchesDomain(cert("ignored", `${XMPP_ADDR}:example.org`), "example.org")).toBe(true);
    expect(matchesDomain(cert("ignored", `${XMPP_ADDR}:bücher.example`), "xn--bcher-kva.example")).toBe(true);
    expect(matchesDomain(cert("ignored", `${XMPP_ADDR}:bücher.example`), "Bücher.example")).toBe(true);
    expect(matchesDomain(cert("ignored", `${XMPP_ADDR}:user@example.org`), "example.org")).toBe(false);
  });

  it("compares an IDN with a DNS-ID in A-label form", () => {
    expect(matchesDomain(cert("ignored", "DNS:xn--bcher-kva.example"), "bücher.example")).toBe(true);
  });

  it("takes the CN only when no DNS-ID, SRV-ID or XmppAddr is presented", () => {
    expect(matchesDomain(cert("example.org"), "example.org")).toBe(true);
    expect(matchesDomain(cert("*.example.org"), "chat.example.org")).toBe(true);
    expect(matchesDomain(cert("example.org", "DNS:other.example"), "example.org")).toBe(false);
    expect(matchesDomain(cert("example.org", `${XMPP_ADDR}:other.example`), "example.org")).toBe(false);
  });
});

describe("peerIdentity over a TLS connection (the listener asks for the client's certificate)", () => {
  let server: Issued;
  beforeAll(() => {
    server = pki.issue({ cn: "server.example", san: ["DNS:server.example"] });
  });
  const open: TLSSocket[] = [];
  afterEach(() => {
    for (const s of open.splice(0)) s.destroy();
  });

  /** The listener's and the client's sockets once both are secure. */
  async function handshake(client: Issued | undefined): Promise<{ listener: TLSSocket; client: TLSSocket }> {
    const tls = createServer({ cert: server.cert, key: server.key, ca: [pki.caPem], requestCert: true, rejectUnauthorized: false });
    await new Promise<void>((r) => tls.listen(0, "127.0.0.1", r));
    try {
      const accepted = new Promise<TLSSocket>((r) => tls.once("secureConnection", r));
      const c = connect({
        port: (tls.address() as AddressInfo).port, host: "127.0.0.1", servername: "server.example",
        ...(client === undefined ? {} : { cert: client.cert, key: client.key }),
        ca: [pki.caPem], rejectUnauthorized: false, checkServerIdentity: () => undefined,
      });
      await new Promise<void>((resolve, reject) => c.once("secureConnect", resolve).once("error", reject));
      const listener = await accepted;
      open.push(listener, c);
      return { listener, client: c };
    } finally {
      tls.close();
    }
  }

  it("is valid for the domain the client's certificate names, and the client sees the server's", async () => {
    const { listener, client } = await handshake(pki.issue({ cn: "peer.example", san: [`${XMPP_ADDR}:peer.example`] }));
    expect(peerIdentity(listener, "peer.example")).toEqual({ valid: true });
    expect(peerIdentity(listener, "other.example")).toEqual({ valid: false, reason: "name mismatch" });
    expect(peerIdentity(client, "server.example")).toEqual({ valid: true });
  });

  it("says expired for an expired certificate", async () => {
    const { listener } = await handshake(pki.issue({ cn: "peer.example", san: ["DNS:peer.example"], expired: true }));
    expect(peerIdentity(listener, "peer.example")).toEqual({ valid: false, reason: "expired" });
  });

  it("says untrusted, with OpenSSL's code, for a certificate of an unknown CA", async () => {
    const { listener } = await handshake(pki.issue({ cn: "peer.example", san: ["DNS:peer.example"], ca: "unknown" }));
    const id = peerIdentity(listener, "peer.example");
    expect(id.valid).toBe(false);
    expect(id.reason).toMatch(/^untrusted: [A-Z_]+$/);
  });

  it("says no certificate when the client sends none", async () => {
    const { listener } = await handshake(undefined);
    expect(peerIdentity(listener, "peer.example")).toEqual({ valid: false, reason: "no certificate" });
  });
});
