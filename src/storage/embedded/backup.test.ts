// The embedded store's backup and restore (backup.ts): a copy taken while the writer thread commits
// is the database at one instant; a restore checks first, never writes under a lock holder, and
// moves data aside rather than over it.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { backupDataDir, BackupError, DATABASE_FILE, restoreDataDir } from "./backup.ts";
import { DataDirLock } from "./lock.ts";
import { SqliteStorage } from "./sqlite.ts";

const root = mkdtempSync(join(tmpdir(), "xmppd-backup-unit-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const id = (i: number) => String(i).padStart(15, "0");

describe("backupDataDir", () => {
  it("copies the database as it was at one instant while the writer thread commits, and the folder's files", async () => {
    const data = join(root, "data");
    const store = new SqliteStorage(join(data, DATABASE_FILE));
    mkdirSync(join(data, "uploads", "abc"), { recursive: true });
    writeFileSync(join(data, "uploads", "abc", "data"), "file");
    writeFileSync(join(data, "uploads", "abc", "data.part"), "half");
    const log = store.log("mam");
    let written = 0;
    let writing = true;
    // One entry per commit, in order: a consistent copy holds entries 0..k-1 and nothing else.
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        await log.append([{ owner: "o@x", id: id(i), at: i, with: "", value: `m${i}`, expires: 0 }]);
        written = i + 1;
      }
    })();
    while (written < 200) await new Promise((r) => setTimeout(r, 5));
    const before = written;
    const b = await backupDataDir(data, join(root, "backup"));
    const after = written;
    writing = false;
    await writer;
    await store.close();

    const copy = new SqliteStorage(join(root, "backup", DATABASE_FILE), { writer: "inline" });
    const ids = (await copy.log("mam").query("o@x", { limit: 100_000 })).entries.map((e) => e.id);
    await copy.close();
    expect(ids.length).toBeGreaterThanOrEqual(before);
    expect(ids.length).toBeLessThanOrEqual(after);
    expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => id(i)));
    const manifest = JSON.parse(readFileSync(join(root, "backup", "manifest.json"), "utf8")) as { files: { path: string }[] };
    expect(manifest.files.map((f) => f.path)).toEqual([join("uploads", "abc", "data")]);
    expect(b.files).toBe(1);
    expect(statSync(join(root, "backup")).mode & 0o777).toBe(0o700);
  });

  it("refuses a folder without a database, a destination that exists or lies inside the data folder", async () => {
    await expect(backupDataDir(join(root, "nothing"), join(root, "b1"))).rejects.toThrow(/has no database/);
    await expect(backupDataDir(join(root, "data"), join(root, "backup"))).rejects.toThrow(/exists; a backup goes into a new folder/);
    await expect(backupDataDir(join(root, "data"), join(root, "data", "inside"))).rejects.toThrow(/is inside the data folder/);
  });
});

describe("restoreDataDir", () => {
  it("refuses while the folder's lock is held, and holds it while restoring", () => {
    const target = join(root, "busy");
    const lock = DataDirLock.take(target)!;
    expect(() => restoreDataDir(join(root, "backup"), target)).toThrow(/a server is running on .*busy \(it holds .*xmppd\.lock\)/);
    lock.release();
    restoreDataDir(join(root, "backup"), target);
    expect(DataDirLock.held(target)).toBe(false);
    expect(readFileSync(join(target, "uploads", "abc", "data"), "utf8")).toBe("file");
  });

  it("refuses a folder with data unless replacing, and then moves the data aside", () => {
    const target = join(root, "busy");
    expect(() => restoreDataDir(join(root, "backup"), target)).toThrow(BackupError);
    const r = restoreDataDir(join(root, "backup"), target, { replace: true, now: new Date(0) });
    expect(r.movedAside).toBe(`${target}.before-restore-1970-01-01T00-00-00-000Z`);
    expect(existsSync(join(r.movedAside!, DATABASE_FILE))).toBe(true);
    expect(existsSync(join(target, DATABASE_FILE))).toBe(true);
  });

  it("checks the whole backup before it touches the folder", () => {
    writeFileSync(join(root, "backup", DATABASE_FILE), "not the database");
    const target = join(root, "untouched");
    expect(() => restoreDataDir(join(root, "backup"), target)).toThrow(/damaged: xmppd\.sqlite does not match/);
    expect(existsSync(target)).toBe(false);
    expect(() => restoreDataDir(join(root, "nothing"), target)).toThrow(/is not a backup \(manifest\.json: ENOENT\)/);
  });
});
