// Choosing a certificate by name: exact names before wildcards, a wildcard for one label only
// (RFC 6125 §6.4.3), names compared in A-label form and without case, the certificate valid now
// and longest before others, the default for the rest, and a replace telling the listeners.
import { describe, expect, it } from "vitest";
import { CertificateStore } from "./certificate-store.ts";
import type { TlsMaterial } from "./tls.ts";

const DAY = 86_400_000;

/** A certificate as the store sees it: its path, names and validity. */
function cert(certPath: string, names: string[], days = 90, startedDaysAgo = 1): TlsMaterial {
  const notBefore = Date.now() - startedDaysAgo * DAY;
  return { certPath, names, notBefore, notAfter: notBefore + days * DAY } as TlsMaterial;
}

describe("CertificateStore.select", () => {
  const fallback = cert("default", ["example.org"]);
  const domain = cert("domain", ["example.org", "xmpp.example.org"]);
  const wildcard = cert("wildcard", ["*.example.org"]);
  const pubsub = cert("pubsub", ["pubsub.example.org"]);
  const store = new CertificateStore(fallback, [wildcard, domain, pubsub]);

  it("takes the certificate naming the name exactly, before one whose wildcard covers it", () => {
    expect(store.select("example.org")).toBe(domain);
    expect(store.select("xmpp.example.org")).toBe(domain);
    expect(store.select("pubsub.example.org")).toBe(pubsub);
    expect(store.select("conference.example.org")).toBe(wildcard);
  });

  it("lets a wildcard stand for the left-most label only", () => {
    expect(store.select("a.b.example.org")).toBe(fallback);
    expect(store.covering("a.b.example.org")).toBeUndefined();
  });

  it("gives the default for no name and for names nothing covers", () => {
    expect(store.select(undefined)).toBe(fallback);
    expect(store.select("example.com")).toBe(fallback);
    expect(store.select("")).toBe(fallback);
    expect(store.covering("example.com")).toBeUndefined();
  });

  it("compares without case, a trailing dot, and in A-label form", () => {
    expect(store.select("Conference.EXAMPLE.org.")).toBe(wildcard);
    const idn = cert("idn", ["xn--bcher-kva.example"]);
    expect(new CertificateStore(fallback, [idn]).select("bücher.example")).toBe(idn);
  });

  it("prefers a certificate valid now, then the one valid longest", () => {
    const expired = cert("expired", ["example.org"], 10, 30);
    const older = cert("older", ["example.org"], 60);
    const newer = cert("newer", ["example.org"], 90);
    const s = new CertificateStore(fallback, [expired, older, newer]);
    expect(s.select("example.org")).toBe(newer);
    expect(s.certificates.map((m) => m.certPath)).toEqual(["newer", "older", "expired"]);
  });
});

describe("CertificateStore.replace", () => {
  it("changes what every later selection gets, and tells the listeners the default of before", () => {
    const a = cert("a", ["example.org"]);
    const b = cert("b", ["example.org"]);
    const store = new CertificateStore(a, [a]);
    const told: TlsMaterial[] = [];
    const stop = store.onReplace((previous) => told.push(previous));
    store.replace(b, [b]);
    expect(store.select("example.org")).toBe(b);
    expect(store.default).toBe(b);
    expect(told).toEqual([a]);
    stop();
    store.replace(a, [a]);
    expect(told).toEqual([a]);
  });

  it("gives the SNI callback's context from the store as it is at the handshake", () => {
    const a = { ...cert("a", ["example.org"]), context: "context-a" } as unknown as TlsMaterial;
    const b = { ...cert("b", ["example.org"]), context: "context-b" } as unknown as TlsMaterial;
    const store = new CertificateStore(a, [a]);
    const sni = store.sniCallback();
    const got: unknown[] = [];
    sni("example.org", (_e, ctx) => got.push(ctx));
    store.replace(b, [b]);
    sni("example.org", (_e, ctx) => got.push(ctx));
    expect(got).toEqual(["context-a", "context-b"]);
  });
});
