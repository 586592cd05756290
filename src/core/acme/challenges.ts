// HTTP-01 (RFC 8555 §8.3): while an order's authorizations are checked, the CA fetches
// http://<name>/.well-known/acme-challenge/<token> and must get the key authorization,
// "token.thumbprint", as the body. Served on the HTTP listeners through their routes.
import type { IncomingMessage, ServerResponse } from "node:http";

export const CHALLENGE_PREFIX = "/.well-known/acme-challenge/";

/** §8.1: a token is base64url; a path with anything else is no challenge of ours. */
const TOKEN = /^[A-Za-z0-9_-]{1,256}$/;

export class Http01Responder {
  private readonly tokens = new Map<string, string>();

  /** Answers `token` with `keyAuthorization` until removed. */
  add(token: string, keyAuthorization: string): void {
    this.tokens.set(token, keyAuthorization);
  }

  remove(token: string): void {
    this.tokens.delete(token);
  }

  /** The HTTP route's handler: the key authorization for a token being checked, 404 for anything else. */
  readonly handle = (req: IncomingMessage, res: ServerResponse, path: string): void => {
    const token = path.slice(CHALLENGE_PREFIX.length);
    const answer = TOKEN.test(token) && (req.method === "GET" || req.method === "HEAD") ? this.tokens.get(token) : undefined;
    if (answer === undefined) {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found\n");
      return;
    }
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": Buffer.byteLength(answer) });
    res.end(req.method === "HEAD" ? undefined : answer);
  };
}
