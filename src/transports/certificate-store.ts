// The certificates the TLS listeners present, chosen per name: the SNI of a direct TLS handshake
// (RFC 6066 §3), the 'to' of the stream header before STARTTLS (RFC 6120 §5.4.3.1 has the
// receiving entity "present its certificate" for the domain it was asked for). A certificate
// covers a name when one of its DNS names is the name, or a wildcard whose '*' stands for the
// name's left-most label (RFC 6125 §6.4.3). The set is replaced whole (a reload); handshakes from
// then on get the new certificates, connections made before keep the ones they have.
import { domainToASCII } from "node:url";
import type { SecureContext } from "node:tls";
import type { TlsMaterial } from "./tls.ts";

export class CertificateStore {
  private fallback: TlsMaterial;
  private list: TlsMaterial[] = [];
  /** By exact DNS name, and by the parent of a wildcard ("example.org" for "*.example.org"); the best first. */
  private exact = new Map<string, TlsMaterial>();
  private wildcard = new Map<string, TlsMaterial>();
  private readonly listeners = new Set<(previousDefault: TlsMaterial) => void>();

  /** `fallback`: the default (no name, or a name nothing covers); `others`: those chosen by name. */
  constructor(fallback: TlsMaterial, others: readonly TlsMaterial[] = []) {
    this.fallback = fallback;
    this.index(others);
  }

  /** The certificate of a handshake without a name, or for a name that none covers. */
  get default(): TlsMaterial {
    return this.fallback;
  }

  /** The certificates chosen by name, the best first. */
  get certificates(): readonly TlsMaterial[] {
    return this.list;
  }

  /** Replaces every certificate; the listeners that hold a default of their own are told. */
  replace(fallback: TlsMaterial, others: readonly TlsMaterial[]): void {
    const previous = this.fallback;
    this.fallback = fallback;
    this.index(others);
    for (const l of this.listeners) l(previous);
  }

  /** Calls `fn` after each replace (a listener sets its default context again); returns the undo. */
  onReplace(fn: (previousDefault: TlsMaterial) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** The certificate for `name` (SNI, a stream's 'to'): one that covers it, else the default. */
  select(name: string | undefined): TlsMaterial {
    return (name === undefined ? undefined : this.covering(name)) ?? this.fallback;
  }

  /** The best certificate whose names cover `name` exactly or by wildcard, the exact one first; undefined if none. */
  covering(name: string): TlsMaterial | undefined {
    const ascii = domainToASCII(name.replace(/\.$/, "")).toLowerCase();
    if (ascii === "") return undefined;
    const exact = this.exact.get(ascii);
    if (exact !== undefined) return exact;
    const dot = ascii.indexOf(".");
    return dot > 0 ? this.wildcard.get(ascii.slice(dot + 1)) : undefined;
  }

  /**
   * A tls.Server's SNICallback: the context of the certificate for the name the client sent.
   * `context` makes it (a listener for servers adds its trust store); by default the material's own.
   */
  sniCallback(context: (m: TlsMaterial) => SecureContext = (m) => m.context): (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void {
    return (servername, cb) => cb(null, context(this.select(servername)));
  }

  /** Orders the certificates (valid now first, then the one valid longest) and indexes their names. */
  private index(others: readonly TlsMaterial[]): void {
    const now = Date.now();
    const valid = (m: TlsMaterial) => (m.notBefore <= now && now < m.notAfter ? 1 : 0);
    this.list = [...others].sort((a, b) => valid(b) - valid(a) || b.notAfter - a.notAfter);
    this.exact = new Map();
    this.wildcard = new Map();
    for (const m of this.list) {
      for (const n of m.names) {
        const [map, key] = n.startsWith("*.") ? [this.wildcard, n.slice(2)] : [this.exact, n];
        if (!map.has(key)) map.set(key, m);
      }
    }
  }
}
