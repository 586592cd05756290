// TCP transport: plain with STARTTLS (RFC 6120 §5) or direct TLS (XEP-0368). Framing only.
// Accepted connections, and between servers the initiating side too (connectTcp): its STARTTLS
// makes it the TLS client, it presents our certificate as a client certificate and sends the
// peer's domain as SNI, and a server-to-server listener asks for the peer's certificate (requestCert,
// XEP-0178) without requiring it, so that the stream decides what an unverified peer may do.
// The accepting side's certificate is chosen by name from a CertificateStore: by SNI on direct
// TLS, by the name the stream asked for (its header's 'to') on STARTTLS.
//
// Output is coalesced: what the server writes to a connection during one turn of the event loop
// goes out as one socket write after the turn's I/O callbacks (setImmediate), not one write per
// stanza. Measured with the benchmark (test/bench, one-to-one at full load): a write per stanza
// spent about half of the server's time in the write system call; one per connection per turn
// takes that down to where parsing and routing are what is left. The delay is within the same
// loop iteration, so latency does not grow.
import { Socket, type Server, connect as connectNet, createServer, isIP } from "node:net";
import { TLSSocket, connect as connectTls, createServer as createTlsServer, type SecureContextOptions, type Server as TlsServer } from "node:tls";
import type { CertificateStore } from "./certificate-store.ts";
import type { S2STarget } from "./dns.ts";
import { peerIdentity, type PeerIdentity } from "./peer-certificate.ts";
import { peerContext, tlsChannelBinding, type TlsMaterial, type TrustStore } from "./tls.ts";
import type { ChannelBinding, Transport, TransportEvents } from "./transport.ts";
import { flat } from "../xml/serialize.ts";

/**
 * Transports with output waiting for the end of this event-loop turn, the first `pendingCount`
 * slots. The slots are reused: a Set cleared every turn made itself a new table each time, which
 * the one-to-one benchmark's GC promoted.
 */
const pending: (TcpTransport | undefined)[] = [];
let pendingCount = 0;
let flushScheduled = false;

function flushPending(): void {
  flushScheduled = false;
  // pendingCount is read on every round: a flush that ends a stream may make others write.
  for (let i = 0; i < pendingCount; i++) {
    const t = pending[i]!;
    pending[i] = undefined;
    t.flush();
  }
  pendingCount = 0;
}

// The socket listeners are shared functions that find their transport on the socket, rather
// than closures made for every connection (about 250 bytes of each idle session).
const OWNER = Symbol("xmppd.transport");
type OwnedSocket = Socket & { [OWNER]: TcpTransport };

function onData(this: Socket, chunk: Buffer): void {
  (this as OwnedSocket)[OWNER].received(chunk);
}

function onError(this: Socket, e: NodeJS.ErrnoException): void {
  // TLS errors (a refused renegotiation) leave the socket open: it goes with the stream.
  this.destroy();
  (this as OwnedSocket)[OWNER].lost(e.code ?? e.message);
}

function onClose(this: Socket): void {
  (this as OwnedSocket)[OWNER].lost("connection closed");
}

// Usually the server ended first (it answers the client's </stream:stream>): a second end()
// would build an ERR_STREAM_ALREADY_FINISHED error, stack trace and all (3% of a login run).
function onEnd(this: Socket): void {
  if (!this.writableEnded) this.end();
}

/** How long the server waits for the peer to close its side after the server ended the stream. */
const END_TIMEOUT_MS = 5000;

function destroy(socket: Socket): void {
  socket.destroy();
}

/** XEP-0368 §3.1 (direct TLS between servers): the ALPN protocol name. */
const ALPN_S2S = "xmpp-server";

/**
 * How TLS on a connection between servers treats the peer: the listener asks for its certificate
 * and verifies the chain against the trust store; the initiator is the TLS client, which sends
 * `serverName` as SNI, presents our certificate and verifies the peer's against the trust store.
 * Names are checked by peerIdentity, never by the handshake.
 */
export type PeerTls =
  | { role: "listener"; trust: TrustStore }
  | { role: "initiator"; serverName: string; trust: TrustStore; ours: TlsMaterial | undefined };

/** The handshake accepts any name: the stream checks the peer's against its domain (RFC 6125 as XEP-0178 says). */
function anyName(): undefined {
  return undefined;
}

/**
 * What tls.Server does for its own sockets that asked for a certificate, which a server TLSSocket
 * made by hand (STARTTLS) does not: take OpenSSL's verdict on the chain into `authorized` and
 * `authorizationError`.
 */
function settleVerification(s: TLSSocket): void {
  const handle = (s as TLSSocket & { _handle: { verifyError(): { code?: string } | null } })._handle;
  const error = handle.verifyError();
  if (error !== null) (s as { authorizationError: unknown }).authorizationError = error.code ?? "UNVERIFIED";
  else if (s.getPeerX509Certificate() !== undefined) s.authorized = true;
}

export class TcpTransport implements Transport {
  private socket: Socket;
  private events: TransportEvents | undefined;
  private closed = false;
  /** After end(): destroys a socket whose peer never closes its side. */
  private endTimer: NodeJS.Timeout | undefined;
  /** Written this turn, not yet handed to the socket. */
  private out = "";
  readonly remoteAddress: string;
  /** The accepting side's certificates (undefined: no STARTTLS); the initiating side's is in `peer`. */
  private readonly tls: CertificateStore | undefined;
  private readonly peer: PeerTls | undefined;

  /** `peer` for connections between servers; without it, a client's connection (c2s). */
  constructor(socket: Socket, tls: CertificateStore | undefined, peer?: PeerTls) {
    this.socket = socket;
    this.tls = tls;
    this.peer = peer;
    this.remoteAddress = socket.remoteAddress ?? "unknown";
    socket.setNoDelay(true);
    if (socket instanceof TLSSocket) socket.disableRenegotiation();
  }

  get secure(): boolean {
    return this.socket instanceof TLSSocket;
  }

  get canStartTls(): boolean {
    return !this.secure && (this.tls !== undefined || this.peer?.role === "initiator");
  }

  /** The ALPN protocol the TLS handshake agreed on ("xmpp-server"), if any. */
  get alpnProtocol(): string | undefined {
    return this.socket instanceof TLSSocket ? this.socket.alpnProtocol || undefined : undefined;
  }

  attach(events: TransportEvents): void {
    this.events = events;
    this.listen(this.socket);
    // An outgoing connection may have gone between its connect and the stream attaching.
    if (this.socket.destroyed) process.nextTick(() => this.lost("connection closed"));
  }

  private listen(s: Socket): void {
    (s as OwnedSocket)[OWNER] = this;
    s.on("data", onData);
    s.on("error", onError);
    s.on("close", onClose);
    s.on("end", onEnd);
  }

  /** @internal The data of the socket, for the stream. */
  received(chunk: Buffer): void {
    this.events!.data(chunk);
  }

  /** @internal The socket is gone. */
  lost(reason: string): void {
    clearTimeout(this.endTimer);
    this.endTimer = undefined;
    if (this.closed) return;
    this.closed = true;
    this.events?.close(reason);
  }

  get buffered(): number {
    return this.socket.writableLength + this.out.length;
  }

  write(data: string): void {
    if (this.closed || !this.socket.writable) return;
    if (this.out.length === 0) {
      pending[pendingCount++] = this;
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flushPending);
      }
    }
    this.out += flat(data);
  }

  /** Hands what this turn wrote to the socket, in one write. */
  flush(): void {
    if (this.out.length === 0) return;
    const data = this.out;
    this.out = "";
    if (!this.closed && this.socket.writable) this.socket.write(data);
  }

  /** `serverName`: the name the peer's stream header asked for ('to'), which picks our certificate. */
  startTls(serverName?: string): Promise<void> {
    // <proceed/> must leave on the plain socket, before the handshake takes it over.
    this.flush();
    const plain = this.socket;
    plain.removeAllListeners("data");
    plain.removeAllListeners("close");
    plain.removeAllListeners("end");
    plain.removeAllListeners("error");
    if (this.peer?.role === "initiator") return this.startTlsClient(plain, this.peer);
    const peer = this.peer;
    const ours = this.tls!.select(serverName);
    const secure = new TLSSocket(plain, peer === undefined
      ? { isServer: true, secureContext: ours.context }
      : { isServer: true, secureContext: peerContext(ours, peer.trust), requestCert: true, rejectUnauthorized: false });
    // A client's renegotiation (TLS 1.2) is a full handshake it makes the server pay for, as often
    // as it likes, for nothing a stream needs: refused, the connection then ends (an 'error').
    secure.disableRenegotiation();
    this.socket = secure;
    return new Promise((resolve, reject) => {
      secure.once("secure", () => {
        if (peer !== undefined) settleVerification(secure);
        // What tls.Server does for its own sockets once they are secure: from here TLS errors (a
        // refused renegotiation) come as 'error'. A server TLSSocket made by hand keeps them to an
        // internal event otherwise, and the connection would go on.
        (secure as TLSSocket & { _releaseControl(): boolean })._releaseControl();
        this.listen(secure);
        resolve();
      });
      secure.once("error", (e) => {
        this.lost(`tls: ${e.message}`);
        reject(e);
      });
      plain.once("close", () => this.lost("connection closed"));
    });
  }

  /** STARTTLS of the initiating server (RFC 6120 §5.4.3.3): the TLS client's handshake. */
  private startTlsClient(plain: Socket, peer: PeerTls & { role: "initiator" }): Promise<void> {
    const secure = connectTls({ socket: plain, ...tlsClientOptions(peer) });
    secure.disableRenegotiation();
    this.socket = secure;
    return new Promise((resolve, reject) => {
      secure.once("secureConnect", () => {
        this.listen(secure);
        resolve();
      });
      secure.once("error", (e) => {
        this.lost(`tls: ${e.message}`);
        reject(e);
      });
      plain.once("close", () => this.lost("connection closed"));
    });
  }

  /**
   * The bindings of the accepting side's TLS. None on the initiating side: tls-server-end-point
   * and tls-unique are the other way round there, and SASL between servers (XEP-0178's EXTERNAL)
   * binds to nothing.
   */
  channelBinding(): ChannelBinding | undefined {
    if (this.peer?.role === "initiator") return undefined;
    return this.socket instanceof TLSSocket ? tlsChannelBinding(this.socket) : undefined;
  }

  peerIdentity(domain: string): PeerIdentity | undefined {
    return this.socket instanceof TLSSocket ? peerIdentity(this.socket, domain) : undefined;
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  end(): void {
    if (this.closed) return;
    this.flush();
    this.socket.end();
    // A peer that never closes its side must not hold the socket forever. The timer holds the
    // socket only, and the close clears it (lost): one left running held every ended stream
    // (parser, session and all) for its 5 s, which under a login storm promoted some 40k dead
    // sessions into V8's old generation (300 MB, major collections of 20-75 ms).
    this.endTimer = setTimeout(destroy, END_TIMEOUT_MS, this.socket).unref();
  }
}

export interface ListenOptions {
  host: string;
  port: number;
  directTls: boolean;
  /** The certificates presented, by name (SNI, a stream's 'to'); undefined: no TLS (components). */
  tls: CertificateStore | undefined;
  maxConnections: number;
  /**
   * A listener for servers (XEP-0178): TLS, direct or by STARTTLS, asks for the peer's certificate
   * without requiring it and verifies its chain against `trust`; direct TLS agrees on ALPN
   * "xmpp-server" (XEP-0368), and refuses a peer that offers only other protocols (RFC 7301 §3.2).
   */
  requestCert?: { trust: TrustStore };
  onConnection(t: Transport): void;
}

/** Listens for XMPP over TCP, plain (STARTTLS) or direct TLS. */
export function listenTcp(o: ListenOptions): Promise<Server> {
  const peer: PeerTls | undefined = o.requestCert === undefined ? undefined : { role: "listener", trust: o.requestCert.trust };
  const accept = (s: Socket) => o.onConnection(new TcpTransport(s, o.tls, peer));
  if (!o.directTls) {
    const server = createServer(accept);
    server.maxConnections = o.maxConnections;
    return bind(server, o.host, o.port);
  }
  const store = o.tls!;
  const ca = peer === undefined ? {} : { ca: peer.trust.ca };
  const server = createTlsServer({
    ...store.default.pem,
    ...ca,
    minVersion: "TLSv1.2",
    SNICallback: store.sniCallback(peer === undefined ? undefined : (m) => peerContext(m, peer.trust)),
    ...(peer === undefined ? {} : { requestCert: true, rejectUnauthorized: false, ALPNProtocols: [ALPN_S2S] }),
  }, accept);
  followDefault(server, store, ca);
  server.maxConnections = o.maxConnections;
  return bind(server, o.host, o.port);
}

/**
 * Keeps a TLS listener's own context (the handshakes without SNI) on the store's default
 * certificate when the store is replaced, until the listener closes. `extra`: the rest of the
 * context's options (a trust store's CAs).
 */
export function followDefault(server: TlsServer, store: CertificateStore, extra: SecureContextOptions = {}): void {
  const stop = store.onReplace((previous) => {
    if (store.default !== previous) server.setSecureContext({ ...store.default.pem, ...extra, minVersion: "TLSv1.2" });
  });
  server.once("close", stop);
}

export interface ConnectOptions {
  target: S2STarget;
  /** One of the target's addresses. */
  address: string;
  /** The peer's domain: SNI, and what its certificate is checked against later. */
  serverName: string;
  /** Our certificate, presented to the peer as a client certificate. */
  tls: TlsMaterial | undefined;
  trust: TrustStore;
  /** For the TCP connection and, with direct TLS, the handshake. */
  timeoutMs: number;
}

/** The TLS client's options towards a peer server: SNI (never an IP address, RFC 6066 §3), our certificate, the trust store. */
function tlsClientOptions(peer: PeerTls & { role: "initiator" }) {
  return {
    ...(isIP(peer.serverName) === 0 ? { servername: peer.serverName } : {}),
    secureContext: peerContext(peer.ours, peer.trust),
    rejectUnauthorized: false,
    checkServerIdentity: anyName,
  };
}

/** Until the stream attaches: an error ends the socket, which attach() then reports. */
function destroyOnError(this: Socket): void {
  this.destroy();
}

/**
 * Connects to one address of a peer server's target, plain (STARTTLS to come) or direct TLS with
 * ALPN "xmpp-server" (XEP-0368); the caller goes through targets and addresses. Rejects with a
 * one-line Error on refusal, timeout or a failed handshake. The address is an IP address (one that
 * resolveS2S found): a name would go to the system's resolver.
 */
export async function connectTcp(o: ConnectOptions): Promise<TcpTransport> {
  if (isIP(o.address) === 0) throw new Error(`${o.address}: not an IP address`);
  const where = `${isIP(o.address) === 6 ? `[${o.address}]` : o.address}:${o.target.port}`;
  const peer = { role: "initiator", serverName: o.serverName, trust: o.trust, ours: o.tls } as const;
  const socket: Socket = o.target.directTls
    ? connectTls({ host: o.address, port: o.target.port, ALPNProtocols: [ALPN_S2S], ...tlsClientOptions(peer) })
    : connectNet({ host: o.address, port: o.target.port });
  const connected = o.target.directTls ? "secureConnect" : "connect";
  return new Promise((resolve, reject) => {
    const settle = () => {
      clearTimeout(timer);
      socket.removeListener("error", onFailure);
      socket.removeListener("close", onClose);
      socket.removeListener(connected, onConnected);
    };
    const fail = (why: string) => {
      settle();
      socket.on("error", destroyOnError);
      socket.destroy();
      reject(new Error(`${where}: ${why.split("\n")[0]}`));
    };
    // A socket's error has its system call ("connect"); TLS's has none.
    const onFailure = (e: NodeJS.ErrnoException) =>
      fail(e.code === "ECONNREFUSED" ? "connection refused" : e.syscall !== undefined ? e.code ?? e.message : `tls: ${e.message}`);
    const onClose = () => fail("connection closed");
    const onConnected = () => {
      settle();
      socket.on("error", destroyOnError);
      resolve(new TcpTransport(socket, undefined, peer));
    };
    const timer = setTimeout(fail, o.timeoutMs, `no connection within ${o.timeoutMs} ms`);
    socket.once("error", onFailure);
    socket.once("close", onClose);
    socket.once(connected, onConnected);
  });
}

/**
 * Binds every address and lets it go again, so that a start learns of a port in use (or an address
 * it may not bind) before it creates anything. The addresses are held together until the last is
 * bound: two listeners configured on one port fail here as well.
 */
export async function probeAddresses(addresses: readonly { host: string; port: number }[]): Promise<void> {
  const held: Server[] = [];
  try {
    for (const a of addresses) held.push(await bind(createServer(), a.host, a.port));
  } finally {
    await Promise.all(held.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

/** Listens; resolves once bound, rejects with a one-line reason (e.g. port in use). */
export function bind<S extends Server>(server: S, host: string, port: number): Promise<S> {
  return new Promise((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(new Error(e.code === "EADDRINUSE" ? `port ${port} on ${host} is already in use` : `cannot listen on ${host}:${port}: ${e.message}`)));
    server.listen({ host, port }, () => {
      server.removeAllListeners("error");
      server.on("error", () => {});
      resolve(server);
    });
  });
}
