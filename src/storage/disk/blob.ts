// The blob store on the local disk (the embedded default, one node): each blob is a folder named
// by its key's id, holding `data` and `meta.json` (its name, type, size, owner and time). A write
// goes to `data.part`, is renamed to `data` when every declared byte has arrived, and only then
// is `meta.json` written: a folder with meta.json holds a whole blob, and a reader, which reads
// meta.json first, never sees half of one. Keys are checked against their grammar
// (../blob-key.ts) before a path is made of them; only the id names a folder, so none leaves `dir`.
import { access, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { createWriteStream } from "node:fs";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { join } from "node:path";
import { PRIVATE_DIR, PRIVATE_FILE } from "../data-dir.ts";
import { checkBlobKey, isBlobId } from "../blob-key.ts";
import type { BlobInfo, BlobMeta, BlobStore, ByteRange } from "../types.ts";

/** meta.json: the blob's name (the key's second part) besides its metadata. */
interface StoredMeta {
  name: string;
  type: string | undefined;
  size: number;
  owner: string;
  at: number;
}

const DAY_MS = 24 * 3600_000;

export class DiskBlobStore implements BlobStore {
  readonly direct = undefined;
  private readonly dir: string;
  /** Ids with a write under way: a second write of the same id is refused. */
  private readonly writing = new Set<string>();

  constructor(dir: string) {
    this.dir = dir;
  }

  async put(key: string, body: Uint8Array | AsyncIterable<Uint8Array>, blob: BlobInfo): Promise<"created" | "exists" | "incomplete"> {
    const { id, name } = checkBlobKey(key);
    if (this.writing.has(id)) return "exists";
    this.writing.add(id);
    try {
      const folder = join(this.dir, id);
      if (await access(join(folder, "meta.json")).then(() => true, () => false)) return "exists";
      await mkdir(folder, { recursive: true, mode: PRIVATE_DIR });
      const part = join(folder, "data.part");
      const got = await this.write(body instanceof Uint8Array ? [body] : body, blob.size, part);
      if (got !== blob.size) {
        await rm(folder, { recursive: true, force: true });
        return "incomplete";
      }
      const meta: StoredMeta = { name, type: blob.type, size: blob.size, owner: blob.owner, at: Date.now() };
      // The file first, then what describes it: a folder with meta.json holds a whole blob.
      await rename(part, join(folder, "data"));
      await writeFile(join(folder, "meta.json"), JSON.stringify(meta), { mode: PRIVATE_FILE });
      return "created";
    } finally {
      this.writing.delete(id);
    }
  }

  /**
   * Writes the body to `file` up to one byte past `size`; how many bytes came (-1 when the body
   * failed). A body past its size is left unread: a request being received is destroyed with it.
   * A failure of the disk rejects.
   */
  private async write(body: Iterable<Uint8Array> | AsyncIterable<Uint8Array>, size: number, file: string): Promise<number> {
    let got = 0;
    await pipeline(async function* () {
      try {
        for await (const chunk of body) {
          got += chunk.length;
          if (got > size) return;
          yield chunk;
        }
      } catch {
        got = -1;
      }
    }, createWriteStream(file, { mode: PRIVATE_FILE }));
    return got;
  }

  async head(key: string): Promise<BlobMeta | undefined> {
    const { id, name } = checkBlobKey(key);
    const meta = await this.meta(id);
    return meta?.name === name ? { size: meta.size, type: meta.type, owner: meta.owner, at: meta.at } : undefined;
  }

  async read(key: string, range?: ByteRange): Promise<Readable | undefined> {
    if ((await this.head(key)) === undefined) return undefined;
    const file = await open(join(this.dir, checkBlobKey(key).id, "data")).catch(() => undefined);
    return file?.createReadStream(range === undefined ? {} : { start: range.start, end: range.end });
  }

  async delete(key: string): Promise<void> {
    if ((await this.head(key)) !== undefined) await rm(join(this.dir, checkBlobKey(key).id), { recursive: true, force: true });
  }

  /** Deletes the blobs stored before `before`, and writes left unfinished for a day. */
  sweep(before: number, now = Date.now()): Promise<number> {
    return this.remove(async (folder, meta) => meta ? meta.at < before : (await stat(folder).then((s) => s.mtimeMs, () => now)) < now - DAY_MS);
  }

  removeOwner(owner: string): Promise<number> {
    return this.remove(async (_folder, meta) => meta?.owner === owner);
  }

  close(): void {}

  private meta(id: string): Promise<StoredMeta | undefined> {
    return readFile(join(this.dir, id, "meta.json"), "utf8").then((t) => JSON.parse(t) as StoredMeta, () => undefined);
  }

  private async remove(doomed: (folder: string, meta: StoredMeta | undefined) => Promise<boolean>): Promise<number> {
    let removed = 0;
    const ids = await readdir(this.dir).catch(() => [] as string[]);
    for (const id of ids) {
      if (!isBlobId(id) || this.writing.has(id)) continue;
      const folder = join(this.dir, id);
      if (await doomed(folder, await this.meta(id))) {
        await rm(folder, { recursive: true, force: true });
        removed++;
      }
    }
    return removed;
  }
}
