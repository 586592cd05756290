// The ACME client's HTTPS requests (RFC 8555 §6.1: TLS is required), with the CA's certificate
// checked against the system's CAs or those of acme.caFile, a time limit, and a bound on what is
// read of an answer.
import { request } from "node:https";
import type { IncomingHttpHeaders } from "node:http";

export interface HttpAnswer { status: number; headers: IncomingHttpHeaders; body: Buffer }

export interface HttpOptions {
  /** PEM certificates the server's chain must lead to; undefined: the system's and Node's. */
  ca: string[] | undefined;
  timeoutMs: number;
}

/** The most read of one answer: a certificate chain, a directory, an order with its authorizations. */
const MAX_BODY = 1 << 20;

export function httpsRequest(url: string, method: "GET" | "HEAD" | "POST", o: HttpOptions, body?: string, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    if (u.protocol !== "https:") return reject(new Error(`${url}: ACME is spoken over https only`));
    const req = request(u, {
      method, timeout: o.timeoutMs, ...(o.ca === undefined ? {} : { ca: o.ca }),
      headers: { "user-agent": "xmppd", ...headers, ...(body === undefined ? {} : { "content-type": "application/jose+json", "content-length": Buffer.byteLength(body) }) },
    }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) req.destroy(new Error(`${url}: answer larger than ${MAX_BODY} bytes`));
        else chunks.push(c);
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`${url}: no answer within ${o.timeoutMs} ms`)));
    req.on("error", (e: NodeJS.ErrnoException) => reject(new Error(`${method} ${url}: ${e.code ?? e.message}`)));
    req.end(body);
  });
}
