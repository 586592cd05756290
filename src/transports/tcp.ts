// TCP transport: plain with STARTTLS (RFC 6120 §5) or direct TLS (XEP-0368). Framing only.
//
// Output is coalesced: what the server writes to a connection during one turn of the event loop
// goes out as one socket write after the turn's I/O callbacks (setImmediate), not one write per
// stanza. Measured with the benchmark (test/bench, one-to-one at full load): a write per stanza
// spent about half of the server's time in the write system call; one per connection per turn
// takes that down to where parsing and routing are what is left. The delay is within the same
// loop iteration, so latency does not grow.
import { Socket, type Server, createServer } from "node:net";
import { TLSSocket, createServer as createTlsServer } from "node:tls";
import { tlsChannelBinding, type TlsMaterial } from "./tls.ts";
import type { ChannelBinding, Transport, TransportEvents } from "./transport.ts";

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

export class TcpTransport implements Transport {
  private socket: Socket;
  private events: TransportEvents | undefined;
  private closed = false;
  /** After end(): destroys a socket whose peer never closes its side. */
  private endTimer: NodeJS.Timeout | undefined;
  /** Written this turn, not yet handed to the socket. */
  private out = "";
  readonly remoteAddress: string;
  private readonly tls: TlsMaterial | undefined;

  constructor(socket: Socket, tls: TlsMaterial | undefined) {
    this.socket = socket;
    this.tls = tls;
    this.remoteAddress = socket.remoteAddress ?? "unknown";
    socket.setNoDelay(true);
    if (socket instanceof TLSSocket) socket.disableRenegotiation();
  }

  get secure(): boolean {
    return this.socket instanceof TLSSocket;
  }

  get canStartTls(): boolean {
    return !this.secure && this.tls !== undefined;
  }

  attach(events: TransportEvents): void {
    this.events = events;
    this.listen(this.socket);
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
    this.out += data;
  }

  /** Hands what this turn wrote to the socket, in one write. */
  flush(): void {
    if (this.out.length === 0) return;
    const data = this.out;
    this.out = "";
    if (!this.closed && this.socket.writable) this.socket.write(data);
  }

  startTls(): Promise<void> {
    // <proceed/> must leave on the plain socket, before the handshake takes it over.
    this.flush();
    const plain = this.socket;
    plain.removeAllListeners("data");
    plain.removeAllListeners("close");
    plain.removeAllListeners("end");
    plain.removeAllListeners("error");
    const secure = new TLSSocket(plain, { isServer: true, secureContext: this.tls!.context });
    // A client's renegotiation (TLS 1.2) is a full handshake it makes the server pay for, as often
    // as it likes, for nothing a stream needs: refused, the connection then ends (an 'error').
    secure.disableRenegotiation();
    this.socket = secure;
    return new Promise((resolve, reject) => {
      secure.once("secure", () => {
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

  channelBinding(): ChannelBinding | undefined {
    return this.socket instanceof TLSSocket ? tlsChannelBinding(this.socket, this.tls?.endPoint) : undefined;
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
  tls: TlsMaterial | undefined;
  maxConnections: number;
  onConnection(t: Transport): void;
}

/** Listens for XMPP over TCP, plain (STARTTLS) or direct TLS. */
export function listenTcp(o: ListenOptions): Promise<Server> {
  const server = o.directTls
    ? createTlsServer({ ...o.tls!.pem, minVersion: "TLSv1.2" }, (s) => o.onConnection(new TcpTransport(s, o.tls)))
    : createServer((s) => o.onConnection(new TcpTransport(s, o.tls)));
  server.maxConnections = o.maxConnections;
  return bind(server, o.host, o.port);
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
