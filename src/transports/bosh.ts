// XMPP over BOSH (XEP-0124, XEP-0206): the connection manager on the HTTP listeners (http.ts), at
// http.bosh.path (/http-bind). Browser clients that cannot keep a WebSocket (Converse.js can use
// either) POST <body/> wrappers; each session is one XMPP stream, presented to the stream state
// machine as a Transport (bosh-session.ts), so that its limits, SASL and stream management are
// those of TCP.
//
// Here: CORS (the pages' origins the operator allows, as Prosody's cross-domain BOSH), reading a
// request within its size bound, session creation (§7) within a number of sessions per address,
// and handing every other request to its session by 'sid'. An unknown sid gets item-not-found and
// a malformed wrapper bad-request (§17.2), always as HTTP 200 with type='terminate': the clients
// of today send 'ver', so none needs the legacy HTTP error codes. There is no STARTTLS: a session
// is secure when it came over HTTPS, or over plain HTTP behind a TLS-ending proxy (http.secureProxy),
// whose last X-Forwarded-For entry is then the client's address.
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ParserLimits } from "../xml/parser.ts";
import { parseBody, terminateBody, type RequestBody } from "./bosh-body.ts";
import { BoshSession, type Exchange } from "./bosh-session.ts";
import { DEFAULT_TYPE, malformedTerms, type BoshLimits } from "./bosh-terms.ts";
import type { CertificateStore } from "./certificate-store.ts";
import type { Transport } from "./transport.ts";

export interface BoshOptions extends BoshLimits {
  /** Where the connection manager answers, on every HTTP listener. */
  path: string;
  /** Origins whose pages may use it ("*": any). */
  allowedOrigins: string[];
  maxSessionsPerAddress: number;
  /** Sessions open at once on the listener, as its connections are bounded. */
  maxSessions: number;
  /** Largest request body, in bytes. */
  maxBody: number;
  /** Deepest element nesting in a payload. */
  maxDepth: number;
  /** A new session's transport, for the server to make its stream. */
  onConnection(t: Transport): void;
}

/** How long a browser may keep a preflight's answer (seconds). */
const PREFLIGHT_MAX_AGE = 7200;

/** The BOSH sessions of one HTTP listener. */
export class BoshManager {
  private readonly sessions = new Map<string, BoshSession>();
  private readonly perAddress = new Map<string, number>();
  private readonly o: BoshOptions;
  private readonly secure: boolean;
  private readonly tls: Pick<CertificateStore, "default"> | undefined;
  private readonly parserLimits: ParserLimits;
  private readonly anyOrigin: boolean;
  /** A plain listener that http.secureProxy puts behind a proxy. */
  private readonly behindProxy: boolean;

  constructor(o: BoshOptions, secureProxy: boolean, tls: Pick<CertificateStore, "default"> | undefined) {
    this.o = o;
    this.tls = tls;
    this.secure = secureProxy || tls !== undefined;
    this.behindProxy = secureProxy && tls === undefined;
    this.anyOrigin = o.allowedOrigins.includes("*");
    this.parserLimits = { maxStanzaSize: o.maxBody, maxDepth: o.maxDepth, maxAttributes: 64, maxNameLength: 256 };
  }

  get path(): string {
    return this.o.path;
  }

  /** Sessions open now. */
  get size(): number {
    return this.sessions.size;
  }

  /** Whether `path` is the connection manager's (with or without a trailing slash, as clients write it). */
  serves(path: string): boolean {
    return path === this.o.path || path === `${this.o.path}/`;
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const cors = this.cors(req.headers.origin);
    if (cors === undefined) return plain(res, 403, "this origin may not use BOSH here\n");
    if (req.method === "OPTIONS") {
      res.writeHead(200, {
        ...cors, "access-control-allow-methods": "POST, OPTIONS", "access-control-allow-headers": "Content-Type",
        "access-control-max-age": String(PREFLIGHT_MAX_AGE), "content-length": "0",
      });
      return void res.end();
    }
    if (req.method === "GET") return plain(res, 200, "XMPP over BOSH (XEP-0206): POST a <body/> here.\n", cors);
    if (req.method !== "POST") return plain(res, 405, "POST or OPTIONS\n", { ...cors, allow: "POST, OPTIONS" });
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > this.o.maxBody) return tooLarge(res);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > this.o.maxBody) {
        req.removeAllListeners("data");
        if (res.headersSent) req.destroy();
        else {
          tooLarge(res);
          res.once("finish", () => req.destroy());
        }
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (size <= this.o.maxBody) this.received(Buffer.concat(chunks, size), this.address(req), exchange(res, cors));
    });
  }

  /**
   * The client's address. Behind the TLS-ending proxy http.secureProxy declares, every request
   * comes from the proxy: the address is the one the proxy added last to X-Forwarded-For.
   */
  private address(req: IncomingMessage): string {
    const forwarded = this.behindProxy ? req.headers["x-forwarded-for"] : undefined;
    const last = typeof forwarded === "string" ? forwarded.slice(forwarded.lastIndexOf(",") + 1).trim() : "";
    return last !== "" ? last : (req.socket.remoteAddress ?? "unknown");
  }

  /** The CORS headers of an allowed origin ({} without one: not a browser); undefined if refused. */
  private cors(origin: string | undefined): Record<string, string> | undefined {
    if (this.anyOrigin) return { "access-control-allow-origin": "*" };
    if (origin === undefined) return {};
    return this.o.allowedOrigins.includes(origin) ? { "access-control-allow-origin": origin, vary: "Origin" } : undefined;
  }

  private received(text: Buffer, address: string, ex: Exchange): void {
    const body = parseBody(text, this.parserLimits);
    if (typeof body === "string") return ex.answer(terminateBody("bad-request"), DEFAULT_TYPE);
    const sid = body.attrs.sid;
    if (sid === undefined) return this.create(body, address, ex);
    const session = this.sessions.get(sid);
    if (session === undefined) return ex.answer(terminateBody("item-not-found"), DEFAULT_TYPE);
    if (body.rid === undefined) return session.refuse("bad-request", ex);
    session.request(body, ex);
  }

  /** §7: a new session, with its stream. */
  private create(body: RequestBody, address: string, ex: Exchange): void {
    if (body.rid === undefined || malformedTerms(body)) return ex.answer(terminateBody("bad-request"), DEFAULT_TYPE);
    const open = this.perAddress.get(address) ?? 0;
    if (open >= this.o.maxSessionsPerAddress || this.sessions.size >= this.o.maxSessions) return ex.answer(terminateBody("policy-violation"), DEFAULT_TYPE);
    const sid = randomBytes(18).toString("base64url");
    const session = new BoshSession(sid, body, {
      remoteAddress: address, secure: this.secure, tls: this.tls, limits: this.o, gone: (s) => this.gone(s),
    });
    this.sessions.set(sid, session);
    this.perAddress.set(address, open + 1);
    this.o.onConnection(session);
    session.start(body, ex);
  }

  private gone(s: BoshSession): void {
    if (this.sessions.get(s.sid) !== s) return;
    this.sessions.delete(s.sid);
    const n = (this.perAddress.get(s.remoteAddress) ?? 1) - 1;
    if (n > 0) this.perAddress.set(s.remoteAddress, n);
    else this.perAddress.delete(s.remoteAddress);
  }
}

/** A request as its session answers it: once, and not on a connection the client closed. */
function exchange(res: ServerResponse, cors: Record<string, string>): Exchange {
  return {
    answer(body, contentType) {
      if (res.headersSent || res.destroyed) return;
      res.writeHead(200, { ...cors, "content-type": contentType, "cache-control": "no-store" });
      res.end(body);
    },
    drop() {
      if (!res.headersSent) res.destroy();
    },
  };
}

function plain(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, "content-type": "text/plain" });
  res.end(text);
}

function tooLarge(res: ServerResponse): void {
  res.writeHead(413, { "content-type": "text/plain", connection: "close" });
  res.end("request body too large\n");
}
