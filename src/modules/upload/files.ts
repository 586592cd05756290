// The HTTP side of the uploaded files, on the HTTP listeners under /upload/<slot>/<name>. Where
// clients cannot reach the blob store themselves (the local disk), the server takes the file and
// serves it: PUT once with the slot's token, then GET (with byte ranges, for video), HEAD, and
// the CORS preflight browsers send. Served files carry a sandboxing Content-Security-Policy and
// nosniff: an uploaded HTML page or script does not run in the server's origin. A store with
// direct access (S3) is served by direct.ts instead.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../../core/log.ts";
import { blobKey, parseBlobKey } from "../../storage/blob-key.ts";
import type { BlobMeta, BlobStore } from "../../storage/types.ts";
import { checkToken, cleanType, slotToken, type Slot } from "./slots.ts";

/** How the HTTP listeners reach the files: through the server (this file) or the store's own URLs (direct.ts). */
export interface UploadStore {
  /** The URL the client PUTs the slot's file to; `get` is the URL it will share. */
  putUrl(slot: Slot, get: string): Promise<string>;
  /** A request under /upload/ on the HTTP listeners; `path` is what follows the prefix, "<slot>/<name>". */
  handle(req: IncomingMessage, res: ServerResponse, path: string): void;
}

/** "<slot>/<name>" as the blob key of the slot and the decoded name; the status to answer when it is not one. */
export function filePath(path: string): { id: string; name: string; key: string } | 400 | 404 {
  const slash = path.indexOf("/");
  const id = path.slice(0, slash);
  let name: string;
  try {
    name = decodeURIComponent(path.slice(slash + 1));
  } catch {
    return 400;
  }
  // A name the store refuses is one no slot is given for (cleanName in slots.ts refuses it too).
  const key = blobKey(id, name);
  return slash < 0 || parseBlobKey(key) === undefined ? 404 : { id, name, key };
}

/** Headers every answer carries: any origin may read (browser clients), and nothing served runs. */
export const COMMON = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "GET, HEAD, PUT, OPTIONS",
  "access-control-allow-headers": "Content-Type",
  "access-control-max-age": "86400",
};

export function answer(res: ServerResponse, status: number, text?: string): void {
  res.writeHead(status, { ...COMMON, "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(text ?? "") });
  res.end(text);
}

/** A single byte range of `bytes=a-b`, `a-` or `-n` within size; undefined for none or one this does not serve; false when unsatisfiable. */
function rangeOf(header: string | undefined, size: number): { start: number; end: number } | undefined | false {
  const m = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  let start: number;
  let end: number;
  if (m[1] === "") {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  return start > end || start >= size ? false : { start, end };
}

/** The headers of a file served: its type and name, and what keeps it from running. */
function fileHeaders(name: string, meta: BlobMeta): Record<string, string | number> {
  return {
    ...COMMON,
    "content-type": meta.type ?? "application/octet-stream",
    "content-disposition": `inline; filename*=UTF-8''${encodeURIComponent(name)}`,
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'; sandbox",
    "x-content-type-options": "nosniff",
    "cache-control": "public, max-age=31536000, immutable",
    "accept-ranges": "bytes",
    "last-modified": new Date(meta.at).toUTCString(),
  };
}

/** The files of a store without direct access, taken and served by the server. */
export class ServedFiles implements UploadStore {
  private readonly blobs: BlobStore;
  private readonly secret: () => Promise<Buffer>;
  private readonly log: Logger;

  constructor(blobs: BlobStore, secret: () => Promise<Buffer>, log: Logger) {
    this.blobs = blobs;
    this.secret = secret;
    this.log = log;
  }

  async putUrl(slot: Slot, get: string): Promise<string> {
    return `${get}?owner=${encodeURIComponent(slot.owner)}&token=${slotToken(await this.secret(), slot)}`;
  }

  /** The HTTP side: `path` is what follows the prefix, "<slot>/<name>". */
  handle(req: IncomingMessage, res: ServerResponse, path: string): void {
    const file = filePath(path);
    if (typeof file === "number") return answer(res, file, file === 400 ? "bad file name\n" : "not found\n");
    const done = (p: Promise<void>) => void p.catch((err: unknown) => {
      this.log.warn({ err, slot: file.id }, "upload: request failed");
      if (!res.headersSent) answer(res, 500, "internal error\n");
      else res.destroy();
    });
    switch (req.method) {
      case "OPTIONS":
        res.writeHead(204, COMMON);
        return void res.end();
      case "PUT":
        return done(this.put(req, res, file));
      case "GET":
      case "HEAD":
        return done(this.get(req, res, file));
      default:
        res.setHeader("allow", "GET, HEAD, PUT, OPTIONS");
        return answer(res, 405, "method not allowed\n");
    }
  }

  private async put(req: IncomingMessage, res: ServerResponse, { id, name, key }: { id: string; name: string; key: string }): Promise<void> {
    const query = new URL(req.url ?? "", "http://x").searchParams;
    const token = query.get("token");
    const owner = query.get("owner") ?? "";
    const length = req.headers["content-length"];
    if (token === null) return answer(res, 403, "no token\n");
    if (length === undefined || !/^\d+$/.test(length)) return answer(res, 411, "Content-Length required\n");
    const size = Number(length);
    const type = cleanType(req.headers["content-type"]);
    if (type === false) return answer(res, 400, "bad Content-Type\n");
    // The signature covers the type the client asked for; a slot given without one takes any.
    const secret = await this.secret();
    const verdict = checkToken(secret, token, { id, owner, name, size, type }) === undefined ? undefined
      : checkToken(secret, token, { id, owner, name, size, type: undefined });
    if (verdict === "forbidden") return answer(res, 403, "this URL is not for this file (name, size or type differ)\n");
    if (verdict === "expired") return answer(res, 403, "the slot has expired; ask for a new one\n");
    const stored = await this.blobs.put(key, req, { size, type, owner });
    if (stored === "exists") return answer(res, 409, "already uploaded\n");
    if (stored === "incomplete") {
      if (!res.destroyed) answer(res, 400, "the body is not the declared size\n");
      return;
    }
    answer(res, 201, "created\n");
  }

  private async get(req: IncomingMessage, res: ServerResponse, { name, key }: { name: string; key: string }): Promise<void> {
    const meta = await this.blobs.head(key);
    if (!meta) return answer(res, 404, "not found\n");
    const headers = fileHeaders(name, meta);
    const range = rangeOf(req.headers.range, meta.size);
    if (range === false) {
      res.writeHead(416, { ...headers, "content-range": `bytes */${meta.size}`, "content-length": 0 });
      return void res.end();
    }
    const { start, end } = range ?? { start: 0, end: meta.size - 1 };
    const status = range ? 206 : 200;
    const sent = {
      ...headers,
      "content-length": meta.size === 0 ? 0 : end - start + 1,
      ...(range ? { "content-range": `bytes ${start}-${end}/${meta.size}` } : {}),
    };
    if (req.method === "HEAD" || meta.size === 0) {
      res.writeHead(status, sent);
      return void res.end();
    }
    const body = await this.blobs.read(key, { start, end });
    if (!body) return answer(res, 404, "not found\n"); // deleted since its metadata was read
    res.writeHead(status, sent);
    await new Promise<void>((resolve, reject) => {
      body.on("error", reject);
      res.on("close", () => {
        body.destroy();
        resolve();
      });
      body.pipe(res);
    });
  }
}
