// The blob store contract (BlobStore in src/storage/types.ts): one suite, run against every
// backend (the local disk, S3). A backend is correct when it passes this file unchanged. It is
// the store as HTTP File Upload (src/modules/upload/) uses it: a key written once, whole or not
// at all; read whole or by byte ranges; deleted by key, by age (retention) and by owner (account
// deletion); keys outside the grammar refused before anything is touched; and, where clients
// reach the store themselves, URLs that take exactly the blob they were made for.
import { randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BlobKeyError, blobKey } from "../../src/storage/blob-key.ts";
import type { BlobStore } from "../../src/storage/types.ts";

export interface BlobContractOptions {
  /** Whether clients PUT and GET blobs themselves (`direct`). */
  direct: boolean;
}

/** A key of its own: "<22 random URL-safe characters>/<name>". */
export const newKey = (name = "file.bin") => blobKey(randomBytes(16).toString("base64url"), name);

export async function bytesOf(body: Readable | undefined): Promise<Buffer | undefined> {
  if (body === undefined) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Every byte value, `n` long: any byte mangled or out of place shows. */
const pattern = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + (i >> 8)) & 0xff));

async function* chunks(...parts: (Buffer | Error | Promise<unknown>)[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) {
    if (p instanceof Error) throw p;
    if (p instanceof Promise) await p;
    else yield p;
  }
}

/** The bad keys of the contract: outside the grammar, most of them trying to name a place outside the store. */
export const BAD_KEYS = [
  "", "file.bin", "/file.bin", "../file.bin", "../../etc/passwd", "AAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAA/",
  "AAAAAAAAAAAAAAAAAAAAAA/.", "AAAAAAAAAAAAAAAAAAAAAA/..", "AAAAAAAAAAAAAAAAAAAAAA/../../x", "AAAAAAAAAAAAAAAAAAAAAA/a/b",
  "AAAAAAAAAAAAAAAAAAAAAA/a\\..\\b", "AAAAAAAAAAAAAAAAAAAAAA/a\u0000b", "AAAAAAAAAAAAAAAAAAAAAA/a\nb", `AAAAAAAAAAAAAAAAAAAAAA/${"x".repeat(256)}`,
  "AAAAAAAAAAAAAAAAAAAAA/short-id", "AAAAAAAAAAAAAAAAAAAAAAA/long-id", "AAAAAAAAAAA.AAAAAAAAAA/dot-in-id", "..AAAAAAAAAAAAAAAAAAAA/x",
];

export function blobContract(name: string, open: () => Promise<BlobStore>, o: BlobContractOptions): void {
  describe(`blob store contract: ${name}`, () => {
    let s: BlobStore;
    beforeEach(async () => { s = await open(); });
    afterEach(() => { s.close(); });
    const info = (size: number, type: string | undefined = "application/x-test", owner = "juliet@example.com") => ({ size, type, owner });

    it("writes a blob and reads it back, whole and by byte ranges", async () => {
      const key = newKey("balcony plan ✓.bin");
      const data = pattern(70_000);
      expect(await s.put(key, data, info(data.length))).toBe("created");
      expect(await bytesOf(await s.read(key))).toEqual(data);
      expect(await bytesOf(await s.read(key, { start: 0, end: 0 }))).toEqual(data.subarray(0, 1));
      expect(await bytesOf(await s.read(key, { start: 7, end: 12 }))).toEqual(data.subarray(7, 13));
      expect(await bytesOf(await s.read(key, { start: 65_530, end: 69_999 }))).toEqual(data.subarray(65_530));
      expect(await bytesOf(await s.read(key, { start: 0, end: 69_999 }))).toEqual(data);
    });

    it("takes a body in chunks as it arrives, and an empty blob", async () => {
      const key = newKey();
      const data = pattern(3000);
      expect(await s.put(key, chunks(data.subarray(0, 1), data.subarray(1, 2048), data.subarray(2048)), info(3000))).toBe("created");
      expect(await bytesOf(await s.read(key))).toEqual(data);
      const empty = newKey("empty.txt");
      expect(await s.put(empty, chunks(), info(0, "text/plain"))).toBe("created");
      expect(await s.head(empty)).toMatchObject({ size: 0, type: "text/plain" });
      expect(await bytesOf(await s.read(empty))).toEqual(Buffer.alloc(0));
    });

    it("keeps the size, type, owner and time it was stored with", async () => {
      const before = Date.now();
      const typed = newKey("photo.jpg");
      await s.put(typed, Buffer.from("1234"), info(4, "image/jpeg", "jüliet@例え.example"));
      const meta = await s.head(typed);
      expect(meta).toMatchObject({ size: 4, type: "image/jpeg", owner: "jüliet@例え.example" });
      // Some stores keep the time to the second.
      expect(meta!.at).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
      expect(meta!.at).toBeLessThanOrEqual(Date.now());
      const untyped = newKey("notes");
      await s.put(untyped, Buffer.from("hi"), { size: 2, type: undefined, owner: "juliet@example.com" });
      const type = (await s.head(untyped))!.type;
      if (type !== undefined) expect(type).toMatch(/octet-stream$/);
    });

    it("writes a key once: a second write is refused unread and the blob stays; of writes at once, one wins", async () => {
      const key = newKey();
      expect(await s.put(key, Buffer.from("first"), info(5))).toBe("created");
      let read = false;
      const second = (async function* () {
        read = true;
        yield Buffer.from("again");
      })();
      expect(await s.put(key, second, info(5))).toBe("exists");
      expect(read).toBe(false);
      expect(await bytesOf(await s.read(key))).toEqual(Buffer.from("first"));
      const raced = newKey();
      const results = await Promise.all(["one", "two", "six"].map((v) => s.put(raced, Buffer.from(v), info(3))));
      expect(results.filter((r) => r === "created")).toHaveLength(1);
      expect((await bytesOf(await s.read(raced)))!.toString()).toBe(["one", "two", "six"][results.indexOf("created")]);
    });

    it("shows nothing of a blob until all of it is in place", async () => {
      const key = newKey();
      let release!: () => void;
      const held = new Promise<void>((r) => { release = r; });
      const writing = s.put(key, chunks(Buffer.from("half "), held, Buffer.from("whole")), info(10));
      await new Promise((r) => setTimeout(r, 200));
      expect(await s.head(key)).toBeUndefined();
      expect(await s.read(key)).toBeUndefined();
      expect(await s.put(key, Buffer.from("0123456789"), info(10))).toBe("exists");
      release();
      expect(await writing).toBe("created");
      expect((await bytesOf(await s.read(key)))!.toString()).toBe("half whole");
    });

    it("keeps nothing of a body short of its size, past it, or failing; the key stays free", async () => {
      const short = newKey();
      expect(await s.put(short, chunks(Buffer.from("12345")), info(10))).toBe("incomplete");
      expect(await s.head(short)).toBeUndefined();
      const long = newKey();
      expect(await s.put(long, chunks(Buffer.from("123"), Buffer.from("45")), info(3))).toBe("incomplete");
      expect(await s.head(long)).toBeUndefined();
      const failing = newKey();
      expect(await s.put(failing, chunks(Buffer.from("12"), new Error("the client went away")), info(4))).toBe("incomplete");
      expect(await s.head(failing)).toBeUndefined();
      expect(await s.put(short, Buffer.from("0123456789"), info(10))).toBe("created");
      expect((await bytesOf(await s.read(short)))!.toString()).toBe("0123456789");
    });

    it("deletes a blob by key; a missing key has no metadata, no bytes, and deletes without error", async () => {
      const key = newKey("a.txt");
      await s.put(key, Buffer.from("abc"), info(3));
      // The same id under another name is another key, and none is stored under it.
      const other = key.replace(/a\.txt$/, "b.txt");
      expect(await s.head(other)).toBeUndefined();
      expect(await s.read(other)).toBeUndefined();
      await s.delete(other);
      expect(await s.head(key)).toMatchObject({ size: 3 });
      await s.delete(key);
      expect(await s.head(key)).toBeUndefined();
      expect(await s.read(key)).toBeUndefined();
      expect(await s.read(key, { start: 0, end: 1 })).toBeUndefined();
      await s.delete(key);
    });

    it("sweeps the blobs stored before a time and keeps the newer ones (retention)", async () => {
      const old = newKey("old.txt");
      await s.put(old, Buffer.from("old"), info(3));
      const cut = Date.now() + 1000; // times kept to the second: the cut lies past the old blob's
      await new Promise((r) => setTimeout(r, 2100)); // and a whole second before the new one's
      const fresh = newKey("new.txt");
      await s.put(fresh, Buffer.from("new"), info(3));
      expect(await s.sweep(cut)).toBe(1);
      expect(await s.head(old)).toBeUndefined();
      expect(await bytesOf(await s.read(fresh))).toEqual(Buffer.from("new"));
      expect(await s.sweep(cut)).toBe(0);
    });

    it("deletes an owner's blobs and only theirs (account deletion)", async () => {
      const romeo = [newKey("r1"), newKey("r2")];
      const juliet = newKey("j1");
      for (const key of romeo) await s.put(key, Buffer.from("r"), info(1, "text/plain", "romeo@example.com"));
      await s.put(juliet, Buffer.from("j"), info(1, "text/plain", "juliet@example.com"));
      expect(await s.removeOwner("romeo@example.com")).toBe(2);
      for (const key of romeo) expect(await s.head(key)).toBeUndefined();
      expect(await s.head(juliet)).toMatchObject({ owner: "juliet@example.com" });
      expect(await s.removeOwner("romeo@example.com")).toBe(0);
      expect(await s.removeOwner("nobody@example.com")).toBe(0);
    });

    it("refuses keys outside the grammar before touching anything", async () => {
      for (const key of BAD_KEYS) {
        await expect(s.put(key, Buffer.from("x"), info(1)), JSON.stringify(key)).rejects.toBeInstanceOf(BlobKeyError);
        await expect(s.head(key), JSON.stringify(key)).rejects.toBeInstanceOf(BlobKeyError);
        await expect(s.read(key), JSON.stringify(key)).rejects.toBeInstanceOf(BlobKeyError);
        await expect(s.delete(key), JSON.stringify(key)).rejects.toBeInstanceOf(BlobKeyError);
        if (s.direct) {
          await expect(s.direct.putUrl(key, info(1), Date.now() + 60_000)).rejects.toBeInstanceOf(BlobKeyError);
          await expect(s.direct.getUrl(key, 60)).rejects.toBeInstanceOf(BlobKeyError);
        }
      }
    });

    it(o.direct ? "gives URLs a client PUTs and GETs a blob with, which take only its size and type" : "has no direct access: blobs go through the server", async () => {
      if (!o.direct) return void expect(s.direct).toBeUndefined();
      const direct = s.direct!;
      const key = newKey("photo 1.jpg");
      const put = await direct.putUrl(key, info(9, "image/jpeg", "romeo@example.com"), Date.now() + 60_000);
      const send = (body: string, type: string) => fetch(put, { method: "PUT", body, headers: { "content-type": type } });
      expect((await send("not 9 bytes long", "image/jpeg")).status).toBe(403);
      expect((await send("123456789", "text/html")).status).toBe(403);
      expect(await s.head(key)).toBeUndefined();
      expect((await send("123456789", "image/jpeg")).status).toBe(200);
      expect(await s.head(key)).toMatchObject({ size: 9, type: "image/jpeg" });
      const got = await fetch(await direct.getUrl(key, 60));
      expect(await got.text()).toBe("123456789");
      // The owner of a blob its client PUT is known to the store: account deletion finds it.
      expect(await s.removeOwner("romeo@example.com")).toBe(1);
      expect(await s.head(key)).toBeUndefined();
    });
  });
}
