// The metrics listener (config section `metrics`), apart from the client listeners so that it can
// stay on loopback or a private network: the metrics at `path` for Prometheus, and the probes
// load balancers and Kubernetes use. /health answers 200 while the process serves HTTP at all
// (liveness); /ready answers 200 when the server can serve a client now (storage answers, Redis
// answers in a cluster, the server is not draining) and 503 with the reason otherwise (readiness).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { Registry, type RegistryContentType } from "prom-client";
import { bind } from "../transports/tcp.ts";
import { defineMetrics, type MetricsSource, type StorageCounts } from "./metrics.ts";

/** Why the server cannot take clients now; undefined when it can. */
export type Readiness = () => Promise<string | undefined>;

export interface EndpointOptions {
  host: string;
  port: number;
  path: string;
  source: MetricsSource;
  storage: StorageCounts | undefined;
  ready: Readiness;
}

/** Scrapers that ask for OpenMetrics (Accept: application/openmetrics-text) get it; the rest get the Prometheus text format. */
function wantsOpenMetrics(req: IncomingMessage): boolean {
  return /application\/openmetrics-text/.test(req.headers.accept ?? "");
}

function reply(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
  res.end(body);
}

/** Listens; resolves once bound. */
export function listenMetrics(o: EndpointOptions): Promise<Server> {
  const registries = new Map<RegistryContentType, Registry<RegistryContentType>>();
  const registry = (type: RegistryContentType) => {
    let r = registries.get(type);
    if (r === undefined) {
      r = new Registry<RegistryContentType>();
      r.setContentType(type);
      defineMetrics(r, o.source, o.storage);
      registries.set(type, r);
    }
    return r;
  };
  // The Prometheus format's now, so that the GC figures count from the start; OpenMetrics' on demand.
  registry(Registry.PROMETHEUS_CONTENT_TYPE);
  const server = createServer((req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") return reply(res, 405, "text/plain", "method not allowed\n");
    const path = req.url?.split("?")[0];
    if (path === o.path) {
      const r = registry(wantsOpenMetrics(req) ? Registry.OPENMETRICS_CONTENT_TYPE : Registry.PROMETHEUS_CONTENT_TYPE);
      r.metrics().then((text) => reply(res, 200, r.contentType, text), (e: unknown) => reply(res, 500, "text/plain", `${(e as Error).message}\n`));
      return;
    }
    if (path === "/health") return reply(res, 200, "text/plain", "ok\n");
    if (path === "/ready") {
      o.ready().then((reason) => reason === undefined ? reply(res, 200, "text/plain", "ready\n") : reply(res, 503, "text/plain", `not ready: ${reason}\n`),
        (e: unknown) => reply(res, 503, "text/plain", `not ready: ${(e as Error).message}\n`));
      return;
    }
    reply(res, 404, "text/plain", "not found\n");
  });
  // A scraper or probe that holds a connection open gets it closed after a while.
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.maxConnections = 64;
  return bind(server, o.host, o.port);
}
