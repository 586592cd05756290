import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DiskBlobStore } from "../../storage/disk/blob.ts";
import { checkToken, cleanName, cleanType, newSlot, slotToken } from "./slots.ts";

const secret = Buffer.alloc(32, 7);

describe("upload slots", () => {
  it("a token checks the slot it was made for, until it expires", () => {
    const s = newSlot({ name: "a.png", size: 10, type: "image/png" }, "romeo@localhost", 1000, 5000);
    const token = slotToken(secret, s);
    const put = { id: s.id, owner: s.owner, name: s.name, size: s.size, type: s.type };
    expect(checkToken(secret, token, put, 5500)).toBeUndefined();
    expect(checkToken(secret, token, put, 6001)).toBe("expired");
    expect(checkToken(secret, token, { ...put, size: 11 }, 5500)).toBe("forbidden");
    expect(checkToken(secret, token, { ...put, name: "b.png" }, 5500)).toBe("forbidden");
    expect(checkToken(Buffer.alloc(32, 8), token, put, 5500)).toBe("forbidden");
    expect(checkToken(secret, "nonsense", put, 5500)).toBe("forbidden");
  });

  it("names are one printable path segment; types a MIME type without line breaks", () => {
    expect(cleanName("Photo 1 ✓.jpg")).toBe("Photo 1 ✓.jpg");
    for (const bad of [undefined, "", ".", "..", "a/b", "a\\b", "a\nb", "x".repeat(256)]) expect(cleanName(bad)).toBeUndefined();
    expect(cleanType(undefined)).toBeUndefined();
    expect(cleanType("text/plain; charset=utf-8")).toBe("text/plain; charset=utf-8");
    expect(cleanType("text/plain\r\nx: y")).toBe(false);
    expect(cleanType("nonsense")).toBe(false);
  });
});

describe("upload sweep", () => {
  it("removes files past the retention and uploads left unfinished for a day, keeps the rest", async () => {
    const dir = mkdtempSync(join(tmpdir(), "xmppd-upload-"));
    const now = Date.now();
    const slot = (id: string, at: number | undefined) => {
      mkdirSync(join(dir, id));
      if (at === undefined) writeFileSync(join(dir, id, "data.part"), "x");
      else writeFileSync(join(dir, id, "meta.json"), JSON.stringify({ name: "f", type: undefined, size: 1, owner: "a@b", at }));
    };
    const old = "A".repeat(22), fresh = "B".repeat(22), unfinished = "C".repeat(22), recent = "D".repeat(22);
    slot(old, now - 40 * 86_400_000);
    slot(fresh, now - 86_400_000);
    slot(unfinished, undefined);
    utimesSync(join(dir, unfinished), new Date(now - 2 * 86_400_000), new Date(now - 2 * 86_400_000));
    slot(recent, undefined);
    const files = new DiskBlobStore(dir);
    expect(await files.sweep(now - 30 * 86_400_000, now)).toBe(2);
    expect([old, fresh, unfinished, recent].map((id) => existsSync(join(dir, id)))).toEqual([false, true, false, true]);
    rmSync(dir, { recursive: true, force: true });
  });
});
