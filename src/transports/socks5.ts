// SOCKS5 (RFC 1928), the subset XEP-0065 §6 uses: the "no authentication required" method and a
// CONNECT request whose address is a DOMAINNAME (the stream's SHA-1 hash, in hex). Anything else
// is refused with RFC 1928's reply for it. The handshake is a byte-at-a-time state machine: it
// holds at most one address (255 bytes), takes its input in chunks of any size (one byte at a
// time included), and never throws on bad input. Framing only: what the address means, and what
// follows the handshake, are the caller's.
import { createServer, type Server, type Socket } from "node:net";
import { bind } from "./tcp.ts";

/** RFC 1928 §6 reply codes (REP). */
export const Socks5Reply = {
  succeeded: 0x00,
  generalFailure: 0x01,
  notAllowed: 0x02,
  networkUnreachable: 0x03,
  hostUnreachable: 0x04,
  connectionRefused: 0x05,
  ttlExpired: 0x06,
  commandNotSupported: 0x07,
  addressTypeNotSupported: 0x08,
} as const;
export type Socks5ReplyCode = (typeof Socks5Reply)[keyof typeof Socks5Reply];

const VERSION = 0x05;
const NO_AUTH = 0x00;
const NO_ACCEPTABLE_METHOD = 0xff;
const CMD_CONNECT = 0x01;
const ATYP_DOMAINNAME = 0x03;

/** A CONNECT request: the destination as the client named it. */
export interface Socks5Request {
  /** DST.ADDR, a DOMAINNAME of 1 to 255 bytes (latin1: each byte one character). */
  readonly address: string;
  /** DST.PORT. */
  readonly port: number;
}

/** What one chunk of input led to. `write` is what to send the client now (the method selection, a refusal). */
export type HandshakeStep =
  | { readonly state: "pending"; readonly write?: Buffer }
  | { readonly state: "request"; readonly write?: Buffer; readonly request: Socks5Request; readonly rest: Buffer }
  | { readonly state: "refused"; readonly write?: Buffer; readonly reason: string };

/** Where the handshake is: the field the next byte belongs to, or its end. */
type At = "version" | "methodCount" | "methods" | "reqVersion" | "command" | "reserved" | "addressType" | "addressLength" | "address" | "port" | "done" | "failed";

/** The reply to a request (RFC 1928 §6): BND.ADDR and BND.PORT are the DOMAINNAME and port given, or 0.0.0.0:0. */
export function socks5Reply(code: Socks5ReplyCode, bound?: Socks5Request): Buffer {
  if (!bound) return Buffer.from([VERSION, code, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);
  const addr = Buffer.from(bound.address, "latin1");
  const out = Buffer.alloc(7 + addr.length);
  out[0] = VERSION;
  out[1] = code;
  out[3] = ATYP_DOMAINNAME;
  out[4] = addr.length;
  addr.copy(out, 5);
  out.writeUInt16BE(bound.port, 5 + addr.length);
  return out;
}

/**
 * The server side of the handshake: the client's greeting (VER, NMETHODS, METHODS), the method
 * selection, then its request (VER, CMD, RSV, ATYP, DST.ADDR, DST.PORT). Feed it what the socket
 * reads; after "request" or "refused" it takes nothing more.
 */
export class Socks5Handshake {
  private at: At = "version";
  private remaining = 0;
  private noAuthOffered = false;
  private readonly address = Buffer.alloc(255);
  private addressLength = 0;
  private port = 0;

  get finished(): boolean {
    return this.at === "done" || this.at === "failed";
  }

  push(chunk: Buffer): HandshakeStep {
    if (this.finished) return this.fail("input after the handshake ended");
    let write: Buffer | undefined;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      switch (this.at) {
        case "version":
          // Not SOCKS5 (SOCKS4, TLS, HTTP): there is no version-5 reply to give, only the close.
          if (b !== VERSION) return this.fail(`not SOCKS5 (version byte ${b})`);
          this.at = "methodCount";
          break;
        case "methodCount":
          if (b === 0) return this.fail("no authentication methods offered", Buffer.from([VERSION, NO_ACCEPTABLE_METHOD]));
          this.remaining = b;
          this.at = "methods";
          break;
        case "methods":
          if (b === NO_AUTH) this.noAuthOffered = true;
          if (--this.remaining > 0) break;
          // RFC 1928 §3: X'FF' when none of the offered methods is acceptable, and the client closes.
          if (!this.noAuthOffered) return this.fail("the client does not offer 'no authentication required'", Buffer.from([VERSION, NO_ACCEPTABLE_METHOD]));
          write = Buffer.from([VERSION, NO_AUTH]);
          this.at = "reqVersion";
          break;
        case "reqVersion":
          if (b !== VERSION) return this.fail(`request of version ${b}`, write);
          this.at = "command";
          break;
        case "command":
          if (b !== CMD_CONNECT) return this.fail(`command ${b} (only CONNECT)`, concat(write, socks5Reply(Socks5Reply.commandNotSupported)));
          this.at = "reserved";
          break;
        case "reserved":
          if (b !== 0) return this.fail(`reserved byte ${b}`, concat(write, socks5Reply(Socks5Reply.generalFailure)));
          this.at = "addressType";
          break;
        case "addressType":
          if (b !== ATYP_DOMAINNAME) return this.fail(`address type ${b} (only DOMAINNAME)`, concat(write, socks5Reply(Socks5Reply.addressTypeNotSupported)));
          this.at = "addressLength";
          break;
        case "addressLength":
          if (b === 0) return this.fail("empty DOMAINNAME", concat(write, socks5Reply(Socks5Reply.generalFailure)));
          this.remaining = b;
          this.at = "address";
          break;
        case "address":
          this.address[this.addressLength++] = b;
          if (--this.remaining === 0) {
            this.remaining = 2;
            this.at = "port";
          }
          break;
        case "port":
          this.port = (this.port << 8) | b;
          if (--this.remaining > 0) break;
          this.at = "done";
          return {
            state: "request",
            write,
            request: { address: this.address.toString("latin1", 0, this.addressLength), port: this.port },
            rest: chunk.subarray(i + 1),
          };
      }
    }
    return { state: "pending", write };
  }

  private fail(reason: string, write?: Buffer): HandshakeStep {
    this.at = "failed";
    return { state: "refused", write, reason };
  }
}

function concat(a: Buffer | undefined, b: Buffer): Buffer {
  return a ? Buffer.concat([a, b]) : b;
}

/** A connection whose handshake has ended in a CONNECT request, waiting for the answer. */
export interface Socks5Connection {
  readonly socket: Socket;
  readonly request: Socks5Request;
  /** Bytes the client sent after its request, before any answer. */
  readonly rest: Buffer;
  /** Replies "succeeded" with the request's own address and port as BND.ADDR and BND.PORT. */
  accept(): void;
  /** Replies with the failure and closes the connection. */
  refuse(code: Exclude<Socks5ReplyCode, 0>): void;
}

export interface Socks5ListenOptions {
  host: string;
  port: number;
  /** Connections over this many are refused by the listener itself. */
  maxConnections: number;
  /** A connection that has not sent its request by then is closed. */
  handshakeTimeoutMs: number;
  /** Each new connection; false closes it at once (the caller's limits). */
  admit(socket: Socket): boolean;
  /** A handshake that ended in a request; the handler answers it. */
  onRequest(c: Socks5Connection): void;
  /** A handshake that failed (a refusal was sent if RFC 1928 has one). */
  onRefused?(socket: Socket, reason: string): void;
}

/** How long a refused client has to read its reply before the connection is cut. */
const LINGER_MS = 2000;

/** Ends the connection after what was written, and cuts it if the peer does not close in time. */
export function closeSoon(socket: Socket, data?: Buffer): void {
  if (socket.destroyed) return;
  if (data) socket.end(data);
  else socket.end();
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}

/**
 * Listens for SOCKS5 clients. Sockets are half-open capable (allowHalfOpen): whoever takes them
 * over after the handshake decides when each direction ends.
 */
export function listenSocks5(o: Socks5ListenOptions): Promise<Server> {
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    socket.on("error", () => socket.destroy());
    if (!o.admit(socket)) return void socket.destroy();
    socket.setNoDelay(true);
    const handshake = new Socks5Handshake();
    const timer = setTimeout(() => {
      o.onRefused?.(socket, "no request in time");
      socket.destroy();
    }, o.handshakeTimeoutMs);
    timer.unref();
    const stop = () => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("end", onEnd);
    };
    const onEnd = () => {
      stop();
      socket.destroy();
    };
    const onData = (chunk: Buffer) => {
      const step = handshake.push(chunk);
      if (step.state === "pending") {
        if (step.write) socket.write(step.write);
        return;
      }
      stop();
      if (step.state === "refused") {
        o.onRefused?.(socket, step.reason);
        return step.write ? closeSoon(socket, step.write) : void socket.destroy();
      }
      if (step.write) socket.write(step.write);
      // The caller reads from here on: nothing is lost between this listener and its own.
      socket.pause();
      o.onRequest({
        socket,
        request: step.request,
        rest: step.rest,
        accept: () => void socket.write(socks5Reply(Socks5Reply.succeeded, step.request)),
        refuse: (code) => closeSoon(socket, socks5Reply(code, step.request)),
      });
    };
    socket.on("data", onData);
    socket.on("end", onEnd);
  });
  server.maxConnections = o.maxConnections;
  return bind(server, o.host, o.port);
}
