// What the stream state machine needs from a transport (TCP/TLS, WebSocket, BOSH): bytes in,
// strings out, an in-place TLS upgrade where the transport has one, channel-binding data, and
// the verdict on a peer server's certificate.
import type { PeerIdentity } from "./peer-certificate.ts";

/** The TLS channel's bindings: "tls-exporter" (RFC 9266), "tls-server-end-point", "tls-unique" (RFC 5929). */
export interface ChannelBinding {
  types(): string[];
  data(type: string): Buffer | undefined;
}

export interface TransportEvents {
  data(chunk: Buffer): void;
  /** The peer or the network ended the connection (clean close, reset, timeout). */
  close(reason: string): void;
}

export interface Transport {
  readonly remoteAddress: string;
  readonly secure: boolean;
  /** STARTTLS is possible on this transport now. */
  readonly canStartTls: boolean;
  /** Attaches the stream; called once. */
  attach(events: TransportEvents): void;
  write(data: string): void;
  /** Bytes written but not yet taken by the network (a slow reader's backlog). */
  readonly buffered: number;
  /**
   * Upgrades to TLS in place (STARTTLS, RFC 6120 §5). `serverName`: the name the peer's stream
   * header asked for ('to'), which picks the certificate presented.
   */
  startTls(serverName?: string): Promise<void>;
  channelBinding(): ChannelBinding | undefined;
  /**
   * The peer's certificate against `domain` (RFC 6125, XEP-0178): its chain as verified against
   * the trust store, then its names; undefined before TLS and on transports without TLS.
   */
  peerIdentity?(domain: string): PeerIdentity | undefined;
  /** Stops reading for a while (rate limiting). */
  pause(): void;
  resume(): void;
  /** Flushes what is written, then closes. */
  end(): void;
}
