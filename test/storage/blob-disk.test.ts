// The blob store contract on the local disk (src/storage/disk/blob.ts), each test in a folder of
// its own; and what only a disk can get wrong: a key that tries to name a place outside the
// store's folder makes nothing there, and a blob is its folder's `data` and `meta.json`.
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BlobKeyError } from "../../src/storage/blob-key.ts";
import { DiskBlobStore } from "../../src/storage/disk/blob.ts";
import { BAD_KEYS, blobContract, newKey } from "./blob-contract.ts";

const dir = mkdtempSync(join(tmpdir(), "xmppd-blob-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

blobContract("disk", async () => new DiskBlobStore(join(dir, `store${n++}`)), { direct: false });

describe("the disk blob store's folder", () => {
  it("makes nothing outside it, whatever a key names", async () => {
    const root = join(dir, "jail");
    mkdirSync(root);
    const store = new DiskBlobStore(join(root, "blobs"));
    for (const key of [...BAD_KEYS, "..%2F..%2Fx/y", "%2e%2e/x"]) {
      await expect(store.put(key, Buffer.from("x"), { size: 1, type: undefined, owner: "a@x" })).rejects.toBeInstanceOf(BlobKeyError);
    }
    expect(readdirSync(root)).toEqual([]);
    expect(readdirSync(dir).filter((f) => !/^store\d+$/.test(f))).toEqual(["jail"]);
  });

  it("keeps a blob as <id>/data and <id>/meta.json, nothing else", async () => {
    const root = join(dir, "layout");
    const store = new DiskBlobStore(root);
    const key = newKey("plan.pdf");
    await store.put(key, Buffer.from("%PDF"), { size: 4, type: "application/pdf", owner: "romeo@example.com" });
    const id = key.split("/")[0]!;
    expect(readdirSync(root)).toEqual([id]);
    expect(readdirSync(join(root, id)).sort()).toEqual(["data", "meta.json"]);
  });
});
