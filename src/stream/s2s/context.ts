// What server-to-server streams need from the server: its domains, the router, the TLS material
// and trust store, the dialback secret, and the federation's connections (federation.ts), which
// the streams reach through S2SPeers so that they do not import it.
import { clone, type Element } from "../../xml/element.ts";
import type { ServerConfig } from "../../core/config.ts";
import type { Shapers } from "../../core/limits.ts";
import type { Logger } from "../../core/log.ts";
import type { TlsMaterial } from "../../transports/tls.ts";
import type { TrustStore } from "../../transports/tls.ts";

export type S2SConfig = ServerConfig["s2s"];

/** A stream stanzas to one peer can be written to: an outgoing one, or an incoming one with XEP-0288. */
export interface S2SLink {
  readonly closed: boolean;
  /** When the peer last sent anything, and when a stanza was last written to it (ms since epoch). */
  readonly lastActivity: number;
  readonly lastSent: number;
  /** Bytes written and not yet taken by the network. */
  readonly buffered: number;
  /** Writes a stanza (its namespace jabber:server); false when the stream can take none now. */
  sendStanza(stanza: Element): boolean;
  close(): void;
}

export interface S2SPeers {
  /**
   * Asks the authoritative server of `remote` (a connection from `local` to it) whether `key` is
   * the one it made for the stream `streamId` (XEP-0220 §2.2): true when it says "valid".
   */
  verify(local: string, remote: string, streamId: string, key: string): Promise<boolean>;
  /** An incoming stream on which `remote` is authenticated for `local` and that takes stanzas back (XEP-0288). */
  attachBidi(local: string, remote: string, link: S2SLink): void;
  /** A stream is over: no route uses it any more. */
  detach(link: S2SLink): void;
}

export interface S2SContext {
  readonly config: Pick<ServerConfig, "s2s" | "limits">;
  readonly log: Logger;
  /** Whether this server hosts `domain` (its own, or a service's). */
  serves(domain: string): boolean;
  /** Routes a stanza from a peer as the router does any other (its 'from' is checked). */
  route(stanza: Element): Promise<void>;
  readonly peers: S2SPeers;
  /** The certificate we present (for `domain`, one of ours), in and out; undefined when there is none (TLS impossible). */
  tls(domain?: string): TlsMaterial | undefined;
  readonly trust: TrustStore;
  /** The secret of our dialback keys (XEP-0185), the same on every node. */
  readonly dialbackSecret: string;
  /** The input shapers of server-to-server streams (s2s.bytesPerSecond and the rest), keyed by peer domain. */
  readonly shapers: Shapers;
  /** Streams open now, for the server's stop. */
  readonly open: Set<{ close(): void }>;
}

/** Whether `domain` must prove itself with a valid certificate (no dialback). */
export function certificateRequired(cfg: S2SConfig, domain: string): boolean {
  if (cfg.secureDomains.includes(domain)) return true;
  if (cfg.insecureDomains.includes(domain)) return false;
  return cfg.requireValidCertificates;
}

/** A stanza as it goes on a server-to-server stream: jabber:server, so a jabber:client xmlns goes. */
export function forServer(stanza: Element): Element {
  if (stanza.attrs.xmlns !== "jabber:client") return stanza;
  const copy = clone(stanza);
  delete copy.attrs.xmlns;
  return copy;
}
