// Backups of a data folder on the embedded store, taken while the server serves, and their restore.
//
// The database is copied with SQLite's online backup API (node:sqlite's backup(), which runs
// sqlite3_backup_step): all pages in one step, under one read transaction, so the copy is the
// database as it was at one instant, with every committed write before it and none after. In
// WAL mode that read blocks no writer, and one step cannot be restarted by the server's writes
// (a copy in small steps starts again whenever another connection writes). The copy is checked
// (PRAGMA quick_check) before the backup counts. The rest of the folder (uploaded files, the
// self-signed certificate and key) is copied as files; a file still being written (*.part) is left
// out. Everything is written under a temporary name and renamed at the end: a backup folder that
// exists is complete. manifest.json lists every file with its size and SHA-256.
//
// A restore checks the whole backup against its manifest first, then takes the folder's lock
// (lock.ts), so it refuses to run while a server serves the folder and no server starts meanwhile,
// and refuses a folder that holds data unless asked to move that data aside.
import { backup as sqliteBackup, DatabaseSync } from "node:sqlite";
import { createHash } from "node:crypto";
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { PRIVATE_DIR, PRIVATE_FILE } from "../data-dir.ts";
import { DataDirLock, LOCK_FILE } from "./lock.ts";

/** The embedded store's database file in a data folder. */
export const DATABASE_FILE = "xmppd.sqlite";
const MANIFEST = "manifest.json";
const FILES = "files";
const FORMAT = "xmppd-backup";
const VERSION = 1;
/** The database's companions: never copied as files (the backup API reads through them). */
const DATABASE_PARTS = new Set([DATABASE_FILE, `${DATABASE_FILE}-wal`, `${DATABASE_FILE}-shm`, `${DATABASE_FILE}-journal`, LOCK_FILE, `${LOCK_FILE}-journal`]);

export class BackupError extends Error {}

interface Manifest {
  format: typeof FORMAT;
  version: number;
  created: string;
  dataDir: string;
  database: { file: string; bytes: number; sha256: string; pages: number };
  files: { path: string; bytes: number; sha256: string }[];
}

export interface BackupResult {
  dir: string;
  databaseBytes: number;
  files: number;
  fileBytes: number;
}

/** Backs up `dataDir` into `dest`, which must not exist. */
export async function backupDataDir(dataDir: string, dest: string): Promise<BackupResult> {
  dataDir = resolve(dataDir);
  dest = resolve(dest);
  const dbPath = join(dataDir, DATABASE_FILE);
  if (!existsSync(dbPath)) throw new BackupError(`${dataDir} has no database (${DATABASE_FILE}): nothing to back up`);
  if (existsSync(dest)) throw new BackupError(`${dest} exists; a backup goes into a new folder`);
  const inside = relative(dataDir, dest);
  if (!inside.startsWith("..") && !inside.startsWith("/")) throw new BackupError(`${dest} is inside the data folder ${dataDir}`);
  const work = `${dest}.partial-${process.pid}`;
  mkdirSync(dirname(dest), { recursive: true, mode: PRIVATE_DIR });
  mkdirSync(work, { mode: PRIVATE_DIR });
  try {
    const copy = join(work, DATABASE_FILE);
    const pages = await copyDatabase(dbPath, copy);
    const files = copyFolder(dataDir, join(work, FILES));
    const fileBytes = files.reduce((n, f) => n + f.bytes, 0);
    const db = describe(copy, DATABASE_FILE);
    const manifest: Manifest = {
      format: FORMAT, version: VERSION, created: new Date().toISOString(), dataDir,
      database: { file: DATABASE_FILE, bytes: db.bytes, sha256: db.sha256, pages }, files,
    };
    writeFileSync(join(work, MANIFEST), JSON.stringify(manifest, null, 2) + "\n", { mode: PRIVATE_FILE });
    renameSync(work, dest);
    return { dir: dest, databaseBytes: db.bytes, files: files.length, fileBytes };
  } catch (e) {
    rmSync(work, { recursive: true, force: true });
    throw e instanceof BackupError ? e : new BackupError(`the backup failed: ${(e as Error).message}`);
  }
}

/** The database through SQLite's online backup, in one step; checked. Returns the pages copied. */
async function copyDatabase(from: string, to: string): Promise<number> {
  const source = new DatabaseSync(from, { timeout: 10_000 });
  let pages: number;
  try {
    pages = await sqliteBackup(source, to, { rate: 0x3fffffff });
  } finally {
    source.close();
  }
  checkDatabase(to);
  return pages;
}

/** The data folder's other files into `to`, each described for the manifest. */
function copyFolder(dataDir: string, to: string): Manifest["files"] {
  const files: Manifest["files"] = [];
  for (const rel of folderFiles(dataDir)) {
    const dest = join(to, rel);
    mkdirSync(dirname(dest), { recursive: true, mode: PRIVATE_DIR });
    try {
      copyFileSync(join(dataDir, rel), dest);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") continue; // removed meanwhile (an expired upload)
      throw e;
    }
    files.push(describe(dest, rel));
  }
  return files;
}

export interface RestoreResult {
  databaseBytes: number;
  files: number;
  /** Where the folder's former content went (replace). */
  movedAside: string | undefined;
}

/**
 * Restores the backup in `from` into `dataDir`. Refuses while a server holds the folder, and
 * when the folder holds data, unless `replace`: then its content is moved aside first, into a
 * sibling folder, never deleted.
 */
export function restoreDataDir(from: string, dataDir: string, opts: { replace?: boolean; now?: Date } = {}): RestoreResult {
  from = resolve(from);
  dataDir = resolve(dataDir);
  const manifest = verify(from);
  const lock = DataDirLock.take(dataDir);
  if (!lock) throw new BackupError(`a server is running on ${dataDir} (it holds ${join(dataDir, LOCK_FILE)}): stop it before restoring`);
  try {
    const present = readdirSync(dataDir).filter((f) => f !== LOCK_FILE && f !== `${LOCK_FILE}-journal`);
    let movedAside: string | undefined;
    if (present.length > 0) {
      if (!opts.replace) throw new BackupError(`${dataDir} holds data (${present.slice(0, 5).join(", ")}${present.length > 5 ? ", ..." : ""}); --replace moves it aside first`);
      movedAside = `${dataDir}.before-restore-${(opts.now ?? new Date()).toISOString().replace(/[:.]/g, "-")}`;
      mkdirSync(movedAside, { mode: PRIVATE_DIR });
      for (const f of present) renameSync(join(dataDir, f), join(movedAside, f));
    }
    for (const f of manifest.files) {
      const to = join(dataDir, f.path);
      mkdirSync(dirname(to), { recursive: true, mode: PRIVATE_DIR });
      copyFileSync(join(from, FILES, f.path), to);
    }
    // The database last, under a temporary name: it is the data folder's data only once whole.
    const part = join(dataDir, `${DATABASE_FILE}.restoring`);
    copyFileSync(join(from, DATABASE_FILE), part);
    checkDatabase(part);
    renameSync(part, join(dataDir, DATABASE_FILE));
    return { databaseBytes: manifest.database.bytes, files: manifest.files.length, movedAside };
  } finally {
    lock.release();
  }
}

/** Reads the manifest and checks every file it lists (size and SHA-256); throws BackupError. */
function verify(from: string): Manifest {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(join(from, MANIFEST), "utf8")) as Manifest;
  } catch (e) {
    throw new BackupError(`${from} is not a backup (${MANIFEST}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (manifest.format !== FORMAT || manifest.version !== VERSION || !Array.isArray(manifest.files) || !manifest.database) {
    throw new BackupError(`${from}/${MANIFEST} is not a backup manifest of this server (format ${FORMAT} version ${VERSION})`);
  }
  const check = (path: string, rel: string, want: { bytes: number; sha256: string }) => {
    if (rel.startsWith("..") || rel.startsWith("/") || rel.split(/[\\/]/).includes("..")) throw new BackupError(`${MANIFEST} names a file outside the backup: ${rel}`);
    let got: { bytes: number; sha256: string };
    try {
      got = describe(path, rel);
    } catch (e) {
      throw new BackupError(`the backup is incomplete: ${rel} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    if (got.bytes !== want.bytes || got.sha256 !== want.sha256) throw new BackupError(`the backup is damaged: ${rel} does not match its size and SHA-256 in ${MANIFEST}`);
  };
  check(join(from, DATABASE_FILE), DATABASE_FILE, manifest.database);
  for (const f of manifest.files) check(join(from, FILES, f.path), f.path, f);
  return manifest;
}

/** PRAGMA quick_check on a copy; throws when SQLite finds it damaged. */
function checkDatabase(path: string): void {
  const db = new DatabaseSync(path);
  try {
    const rows = db.prepare("PRAGMA quick_check").all() as { quick_check: string }[];
    const bad = rows.map((r) => r.quick_check).filter((r) => r !== "ok");
    if (bad.length > 0) throw new BackupError(`the database copy is damaged: ${bad.slice(0, 3).join("; ")}`);
  } finally {
    db.close();
  }
}

/** Every file of the data folder but the database and its lock, relative to it, leaving out files being written. */
function folderFiles(dataDir: string): string[] {
  return (readdirSync(dataDir, { recursive: true, encoding: "utf8" }) as string[])
    .filter((rel) => !DATABASE_PARTS.has(rel) && !rel.endsWith(".part"))
    .filter((rel) => {
      try {
        return statSync(join(dataDir, rel)).isFile();
      } catch {
        return false;
      }
    })
    .sort();
}

/** A file's size and SHA-256, read a megabyte at a time (uploads may be large). */
function describe(path: string, rel: string): { path: string; bytes: number; sha256: string } {
  const hash = createHash("sha256");
  const buf = Buffer.allocUnsafe(1 << 20);
  const fd = openSync(path, "r");
  let bytes = 0;
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0;) {
      hash.update(buf.subarray(0, n));
      bytes += n;
    }
  } finally {
    closeSync(fd);
  }
  return { path: rel, bytes, sha256: hash.digest("hex") };
}
