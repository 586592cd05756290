// The files of a Converse.js build (its dist folder), served under <path>/dist/. The folder is
// listed once at start: only the regular files found then, of a known type, are served, so no
// request names anything outside it (no "..", no link followed, no file added later). Each file
// carries an ETag (RFC 9110 §8.8.3) and is revalidated on use: an upgrade of converse.js is seen
// at the next load. Text files go gzip-compressed to clients that take it, compressed once.
import { createReadStream, lstatSync, readdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join } from "node:path";
import { promisify } from "node:util";
import { gzip as gzipCallback } from "node:zlib";

const gzip = promisify(gzipCallback);

/** The types served, by extension; a file of any other is not served. */
const TYPES: Record<string, { type: string; compress: boolean }> = {
  ".js": { type: "text/javascript; charset=utf-8", compress: true },
  ".css": { type: "text/css; charset=utf-8", compress: true },
  ".json": { type: "application/json", compress: true },
  ".map": { type: "application/json", compress: true },
  ".wasm": { type: "application/wasm", compress: true },
  ".svg": { type: "image/svg+xml", compress: true },
  ".png": { type: "image/png", compress: false },
  ".gif": { type: "image/gif", compress: false },
  ".ico": { type: "image/x-icon", compress: true },
  ".ttf": { type: "font/ttf", compress: true },
  ".woff": { type: "font/woff", compress: false },
  ".woff2": { type: "font/woff2", compress: false },
  ".mp3": { type: "audio/mpeg", compress: false },
  ".ogg": { type: "audio/ogg", compress: false },
};

/** Folders deeper than this are not listed (the build's are two deep). */
const MAX_DEPTH = 8;

interface DistFile {
  path: string;
  type: string;
  size: number;
  etag: string;
  modified: string;
  compress: boolean;
  /** The gzip body, made (off the event loop) at the first request that takes it. */
  gzip?: Promise<Buffer>;
}

/** Headers of every answer: nothing is sniffed into another type. */
const COMMON = { "x-content-type-options": "nosniff" };

export function notFound(res: ServerResponse, text = "not found\n"): void {
  res.writeHead(404, { ...COMMON, "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(text), "cache-control": "no-store" });
  res.end(text);
}

/** Whether the request's Accept-Encoding takes gzip (RFC 9110 §12.5.3: "gzip;q=0" refuses it). */
export function takesGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  return header.split(",").some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(";").map((s) => s.trim());
    if (coding !== "gzip" && coding !== "*") return false;
    const q = params.find((p) => p.startsWith("q="));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/** Whether If-None-Match names this ETag (weak comparison, RFC 9110 §13.1.2). */
function matches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === "*") return true;
  return header.split(",").some((t) => t.trim().replace(/^W\//, "") === etag.replace(/^W\//, ""));
}

/** The regular files of a folder, by their path relative to it with '/' between segments. */
function list(root: string): Map<string, DistFile> {
  const files = new Map<string, DistFile>();
  const walk = (dir: string, rel: string, depth: number) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const name = rel + entry.name;
      if (entry.isDirectory() && depth < MAX_DEPTH) walk(join(dir, entry.name), `${name}/`, depth + 1);
      const kind = TYPES[extname(entry.name).toLowerCase()];
      if (!entry.isFile() || kind === undefined) continue;
      const path = join(dir, entry.name);
      const st = lstatSync(path);
      files.set(name, {
        path, type: kind.type, size: st.size, compress: kind.compress,
        etag: `"${st.size.toString(36)}-${Math.floor(st.mtimeMs).toString(36)}"`,
        modified: st.mtime.toUTCString(),
      });
    }
  };
  walk(root, "", 0);
  return files;
}

/** A build's files, listed at construction; `handle` answers GET and HEAD for the path after the prefix. */
export class DistFiles {
  private readonly files: Map<string, DistFile>;

  constructor(root: string) {
    this.files = list(root);
  }

  get size(): number {
    return this.files.size;
  }

  has(name: string): boolean {
    return this.files.has(name);
  }

  /** `name` is the request's path after "<path>/dist/", still percent-encoded. */
  handle(req: IncomingMessage, res: ServerResponse, name: string): void {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { ...COMMON, allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" });
      return void res.end("method not allowed\n");
    }
    let decoded: string;
    try {
      decoded = decodeURIComponent(name);
    } catch {
      return notFound(res);
    }
    const file = this.files.get(decoded);
    if (file === undefined) return notFound(res);
    const compressed = file.compress && takesGzip(req.headers["accept-encoding"]);
    const headers: Record<string, string | number> = {
      ...COMMON,
      "content-type": file.type,
      etag: compressed ? `${file.etag.slice(0, -1)}-gz"` : file.etag,
      "last-modified": file.modified,
      // Kept, but asked about again at each use (a 304 when unchanged): a new build shows at once.
      "cache-control": "public, no-cache",
      ...(file.compress ? { vary: "Accept-Encoding" } : {}),
    };
    if (matches(req.headers["if-none-match"], headers.etag as string)) {
      res.writeHead(304, headers);
      return void res.end();
    }
    if (compressed) {
      file.gzip ??= readFile(file.path).then((b) => gzip(b));
      return void file.gzip.then((body) => {
        res.writeHead(200, { ...headers, "content-encoding": "gzip", "content-length": body.length });
        res.end(req.method === "HEAD" ? undefined : body);
      }, () => {
        file.gzip = undefined;
        res.destroy();
      });
    }
    res.writeHead(200, { ...headers, "content-length": file.size });
    if (req.method === "HEAD") return void res.end();
    const body = createReadStream(file.path);
    body.on("error", () => res.destroy());
    res.on("close", () => body.destroy());
    body.pipe(res);
  }
}
