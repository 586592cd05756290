// The uploaded files on the local disk (the embedded default), served on the HTTP listeners under
// /upload/<slot>/<name>: PUT once with the slot's token, then GET (with byte ranges, for video),
// HEAD, and the CORS preflight browsers send. Each slot is a folder holding `data` and `meta.json`;
// a PUT writes `data.part`, renames it to `data` when every declared byte has arrived, and only
// then writes `meta.json`, so a GET (which reads meta.json first) never sees half a file. Served files carry a sandboxing Content-Security-Policy and nosniff: an
// uploaded HTML page or script does not run in the server's origin.
import { createReadStream, createWriteStream } from "node:fs";
import { access, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import type { Logger } from "../../core/log.ts";
import { PRIVATE_DIR, PRIVATE_FILE } from "../../storage/data-dir.ts";
import { checkToken, cleanType, slotToken, type Slot } from "./slots.ts";

/** Where the files are: the local disk (this file) or an S3 bucket (s3.ts). */
export interface UploadStore {
  /** The URL the client PUTs the slot's file to; `get` is the URL it will share. */
  putUrl(slot: Slot, get: string): Promise<string>;
  /** A request under /upload/ on the HTTP listeners; `path` is what follows the prefix, "<slot>/<name>". */
  handle(req: IncomingMessage, res: ServerResponse, path: string): void;
  /** Deletes what was uploaded before `before`; how many. */
  sweep(before: number): Promise<number>;
  /** Deletes an account's files (the account is deleted). */
  removeOwner(owner: string): Promise<number>;
  close?(): void;
}

export interface StoredMeta {
  name: string;
  type: string | undefined;
  size: number;
  /** The uploader's bare JID. */
  owner: string;
  /** When the upload completed (ms since the epoch). */
  at: number;
}

const SLOT_ID = /^[A-Za-z0-9_-]{22}$/;

/** "<slot>/<name>" as the slot and the decoded name; the status to answer when it is not one. */
export function filePath(path: string): { id: string; name: string } | 400 | 404 {
  const slash = path.indexOf("/");
  const id = path.slice(0, slash);
  let name: string;
  try {
    name = decodeURIComponent(path.slice(slash + 1));
  } catch {
    return 400;
  }
  return slash < 0 || !SLOT_ID.test(id) || name === "" || name.includes("/") ? 404 : { id, name };
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

export class LocalFiles implements UploadStore {
  private readonly dir: string;
  private readonly secret: () => Promise<Buffer>;
  private readonly log: Logger;
  /** Slots with a PUT under way: a second concurrent PUT of the same slot is refused. */
  private readonly writing = new Set<string>();

  constructor(dir: string, secret: () => Promise<Buffer>, log: Logger) {
    this.dir = dir;
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
    const { id, name } = file;
    const done = (p: Promise<void>) => void p.catch((err: unknown) => {
      this.log.warn({ err, slot: id }, "upload: request failed");
      if (!res.headersSent) answer(res, 500, "internal error\n");
      else res.destroy();
    });
    switch (req.method) {
      case "OPTIONS":
        res.writeHead(204, COMMON);
        return void res.end();
      case "PUT":
        return done(this.put(req, res, id, name));
      case "GET":
      case "HEAD":
        return done(this.get(req, res, id, name));
      default:
        res.setHeader("allow", "GET, HEAD, PUT, OPTIONS");
        return answer(res, 405, "method not allowed\n");
    }
  }

  private async put(req: IncomingMessage, res: ServerResponse, id: string, name: string): Promise<void> {
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
    const folder = join(this.dir, id);
    if (this.writing.has(id) || (await access(join(folder, "meta.json")).then(() => true, () => false))) return answer(res, 409, "already uploaded\n");
    this.writing.add(id);
    try {
      await mkdir(folder, { recursive: true, mode: PRIVATE_DIR });
      const part = join(folder, "data.part");
      const ok = await new Promise<boolean>((resolve, reject) => {
        const out = createWriteStream(part, { mode: PRIVATE_FILE });
        let got = 0;
        req.on("data", (chunk: Buffer) => {
          got += chunk.length;
          if (got > size) req.destroy();
        });
        req.on("aborted", () => resolve(false));
        req.on("error", () => resolve(false));
        out.on("error", reject);
        out.on("finish", () => resolve(got === size));
        req.pipe(out);
      });
      if (!ok) {
        await rm(folder, { recursive: true, force: true });
        if (!res.destroyed) answer(res, 400, "the body is not the declared size\n");
        return;
      }
      const meta: StoredMeta = { name, type, size, owner, at: Date.now() };
      // The file first, then what describes it: a folder with meta.json holds a whole file.
      await rename(part, join(folder, "data"));
      await writeFile(join(folder, "meta.json"), JSON.stringify(meta), { mode: PRIVATE_FILE });
      answer(res, 201, "created\n");
    } finally {
      this.writing.delete(id);
    }
  }

  private async get(req: IncomingMessage, res: ServerResponse, id: string, name: string): Promise<void> {
    const folder = join(this.dir, id);
    const meta = await readFile(join(folder, "meta.json"), "utf8").then((t) => JSON.parse(t) as StoredMeta, () => undefined);
    if (!meta || meta.name !== name) return answer(res, 404, "not found\n");
    const headers: Record<string, string | number> = {
      ...COMMON,
      "content-type": meta.type ?? "application/octet-stream",
      "content-disposition": `inline; filename*=UTF-8''${encodeURIComponent(meta.name)}`,
      "content-security-policy": "default-src 'none'; frame-ancestors 'none'; sandbox",
      "x-content-type-options": "nosniff",
      "cache-control": "public, max-age=31536000, immutable",
      "accept-ranges": "bytes",
      "last-modified": new Date(meta.at).toUTCString(),
    };
    const range = rangeOf(req.headers.range, meta.size);
    if (range === false) {
      res.writeHead(416, { ...headers, "content-range": `bytes */${meta.size}`, "content-length": 0 });
      return void res.end();
    }
    const { start, end } = range ?? { start: 0, end: meta.size - 1 };
    res.writeHead(range ? 206 : 200, {
      ...headers,
      "content-length": meta.size === 0 ? 0 : end - start + 1,
      ...(range ? { "content-range": `bytes ${start}-${end}/${meta.size}` } : {}),
    });
    if (req.method === "HEAD" || meta.size === 0) return void res.end();
    await new Promise<void>((resolve, reject) => {
      const file = createReadStream(join(folder, "data"), { start, end });
      file.on("error", reject);
      res.on("close", () => {
        file.destroy();
        resolve();
      });
      file.pipe(res);
    });
  }

  /** Deletes the files completed before `before`, and uploads left unfinished for a day. */
  sweep(before: number, now = Date.now()): Promise<number> {
    return this.remove(async (folder, meta) => meta ? meta.at < before : (await stat(folder).then((s) => s.mtimeMs, () => now)) < now - 24 * 3600_000);
  }

  /** Deletes every file an account uploaded (the account is deleted). */
  removeOwner(owner: string): Promise<number> {
    return this.remove(async (_folder, meta) => meta?.owner === owner);
  }

  private async remove(doomed: (folder: string, meta: StoredMeta | undefined) => Promise<boolean>): Promise<number> {
    let removed = 0;
    const ids = await readdir(this.dir).catch(() => [] as string[]);
    for (const id of ids) {
      if (!SLOT_ID.test(id) || this.writing.has(id)) continue;
      const folder = join(this.dir, id);
      const meta = await readFile(join(folder, "meta.json"), "utf8").then((t) => JSON.parse(t) as StoredMeta, () => undefined);
      if (await doomed(folder, meta)) {
        await rm(folder, { recursive: true, force: true });
        removed++;
      }
    }
    return removed;
  }
}
