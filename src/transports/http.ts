// The HTTP listener (plain and TLS): XMPP over WebSocket at /xmpp-websocket (websocket.ts), XMPP
// over BOSH at /http-bind (bosh.ts), the connection methods of XEP-0156 at /.well-known/host-meta,
// and whatever the modules add under their own path prefix (HTTP upload's files); 404 for the rest.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import { WebSocketServer, type ServerOptions } from "ws";
import { escapeXML } from "../xml/element.ts";
import type { CertificateStore } from "./certificate-store.ts";
import { BoshManager, type BoshOptions } from "./bosh.ts";
import { bind, followDefault } from "./tcp.ts";
import type { Transport } from "./transport.ts";
import { WebSocketTransport } from "./websocket.ts";

/** Where the WebSocket endpoint is, on every HTTP listener. */
export const WEBSOCKET_PATH = "/xmpp-websocket";

/** A module's HTTP requests under its prefix; `path` is the request's, without its query. */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse, path: string) => void;

/** How long the server waits for a WebSocket client's closing handshake after its own. */
const CLOSE_TIMEOUT_MS = 5000;

/**
 * The modules' paths on the HTTP listeners: a handler per prefix ("/upload/"), the longest match
 * first. A prefix's handler also takes the path without its last '/' ("/conversejs"), so that a
 * page can live at a path of its own with its files below it.
 */
export class HttpRoutes {
  private readonly routes: [string, HttpHandler][] = [];

  add(prefix: string, handler: HttpHandler): () => void {
    if (!prefix.startsWith("/") || !prefix.endsWith("/")) throw new Error(`an HTTP prefix starts and ends with '/': ${prefix}`);
    if (this.routes.some(([p]) => p === prefix)) throw new Error(`the HTTP prefix ${prefix} is taken`);
    const entry: [string, HttpHandler] = [prefix, handler];
    this.routes.push(entry);
    this.routes.sort((a, b) => b[0].length - a[0].length);
    return () => {
      const i = this.routes.indexOf(entry);
      if (i >= 0) this.routes.splice(i, 1);
    };
  }

  find(path: string): HttpHandler | undefined {
    return this.routes.find(([p]) => path.startsWith(p) || path === p.slice(0, -1))?.[1];
  }
}

export interface HttpListenOptions {
  host: string;
  port: number;
  /** HTTPS with these certificates, chosen by SNI; plain HTTP without. */
  tls: CertificateStore | undefined;
  /** Plain HTTP that a TLS-ending reverse proxy fronts: its connections count as secure. */
  secureProxy: boolean;
  /** The WebSocket URL announced in host-meta; by default from the request's Host header. */
  publicUrl: string | undefined;
  /** Largest message read, in bytes (a stanza and the framing around it). */
  maxMessage: number;
  maxConnections: number;
  onConnection(t: Transport): void;
  /** XMPP over BOSH; undefined when it is off. */
  bosh: BoshOptions | undefined;
  routes: HttpRoutes;
}

/**
 * The WebSocket URL a client of this request should use: `publicUrl` when configured, else the
 * request's Host with wss:// when the request came over TLS (or through a TLS-ending proxy).
 */
export function websocketUrl(req: IncomingMessage, publicUrl: string | undefined, secure: boolean): string {
  return publicUrl ?? `${secure ? "wss" : "ws"}://${req.headers.host ?? "localhost"}${WEBSOCKET_PATH}`;
}

/** The connection methods (XEP-0156): host-meta as XRD and as JSON, naming the WebSocket and BOSH endpoints. */
function hostMeta(req: IncomingMessage, res: ServerResponse, json: boolean, o: HttpListenOptions, secure: boolean): void {
  const host = req.headers.host ?? "localhost";
  const links = [{ rel: "urn:xmpp:alt-connections:websocket", href: websocketUrl(req, o.publicUrl, secure) }];
  if (o.bosh) links.push({ rel: "urn:xmpp:alt-connections:xbosh", href: boshUrl(o.bosh.path, o.publicUrl, `${secure ? "https" : "http"}://${host}`) });
  const body = json
    ? JSON.stringify({ links })
    : `<?xml version='1.0' encoding='utf-8'?>\n<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>\n` +
      links.map((l) => `  <Link rel='${l.rel}' href='${escapeXML(l.href)}'/>\n`).join("") + "</XRD>\n";
  // Browser clients on other origins read it (XEP-0156 §3).
  res.writeHead(200, { "content-type": json ? "application/json" : "application/xrd+xml", "access-control-allow-origin": "*" });
  res.end(body);
}

/** The BOSH URL: on the configured WebSocket URL's host (http.publicUrl, behind a proxy) or the request's. */
function boshUrl(path: string, publicUrl: string | undefined, origin: string): string {
  const url = publicUrl === undefined ? undefined : URL.parse(publicUrl);
  if (!url) return origin + path;
  url.protocol = url.protocol === "wss:" ? "https:" : "http:";
  url.pathname = path;
  url.search = "";
  return url.toString();
}

function refuse(socket: Duplex, status: number, reason: string): void {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
}

/** The WebSocket server of each HTTP listener, which keeps its open connections (ws's clientTracking). */
const websockets = new WeakMap<Server, WebSocketServer>();

/** WebSocket connections open now on an HTTP listener made by listenHttp. */
export function openWebSockets(server: Server): number {
  return websockets.get(server)?.clients.size ?? 0;
}

/** An HTTPS server whose certificate is chosen by SNI, its default following the store's. */
function httpsServer(store: CertificateStore, onRequest: (req: IncomingMessage, res: ServerResponse) => void): Server {
  const server = createHttpsServer({ ...store.default.pem, minVersion: "TLSv1.2", SNICallback: store.sniCallback() }, onRequest);
  followDefault(server, store);
  return server;
}

/** The BOSH connection manager of each HTTP listener, when BOSH is on. */
const boshManagers = new WeakMap<Server, BoshManager>();

/** BOSH sessions open now on an HTTP listener made by listenHttp. */
export function openBoshSessions(server: Server): number {
  return boshManagers.get(server)?.size ?? 0;
}

/** Listens for HTTP (or HTTPS): WebSocket upgrades at WEBSOCKET_PATH, BOSH, host-meta, 404 for the rest. */
export function listenHttp(o: HttpListenOptions): Promise<Server> {
  const secure = o.tls !== undefined || o.secureProxy;
  const bosh = o.bosh && new BoshManager(o.bosh, o.secureProxy, o.tls);
  // closeTimeout is ws's (8.23), not yet in @types/ws.
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: o.maxMessage,
    closeTimeout: CLOSE_TIMEOUT_MS,
    // RFC 7395 §3.1: the subprotocol is "xmpp"; a client that does not offer it is refused before this.
    handleProtocols: () => "xmpp",
  } as ServerOptions & { closeTimeout: number });
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const path = req.url?.split("?")[0];
    if (req.method === "GET" && (path === "/.well-known/host-meta" || path === "/.well-known/host-meta.json")) return hostMeta(req, res, path.endsWith(".json"), o, secure);
    if (bosh && path !== undefined && bosh.serves(path)) return bosh.handle(req, res);
    const handler = path === undefined ? undefined : o.routes.find(path);
    if (handler) return handler(req, res, path!);
    res.writeHead(path === WEBSOCKET_PATH ? 426 : 404, { "content-type": "text/plain" });
    res.end(path === WEBSOCKET_PATH ? "XMPP over WebSocket: upgrade required\n" : "not found\n");
  };
  const server = o.tls ? httpsServer(o.tls, onRequest) : createServer(onRequest);
  server.maxConnections = o.maxConnections;
  // As on the TCP listeners (tcp.ts): a client's TLS 1.2 renegotiation is refused.
  if (o.tls) server.on("secureConnection", (s: TLSSocket) => s.disableRenegotiation());
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (req.url?.split("?")[0] !== WEBSOCKET_PATH) return refuse(socket, 404, "Not Found");
    const offered = (req.headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim());
    if (!offered.includes("xmpp")) return refuse(socket, 400, "Bad Request (subprotocol xmpp required)");
    wss.handleUpgrade(req, socket, head, (ws) => o.onConnection(new WebSocketTransport(ws, req, o.secureProxy)));
  });
  server.on("clientError", (_err, socket: Duplex) => socket.destroy());
  server.on("close", () => wss.close());
  websockets.set(server, wss);
  if (bosh) boshManagers.set(server, bosh);
  return bind(server, o.host, o.port);
}
