// Which process serves a data folder: the serving process holds an exclusive lock on
// dataDir/xmppd.lock for as long as it runs. The lock is SQLite's (a second database file, held in
// an exclusive transaction that is never committed), so it is the operating system's file lock
// underneath: it goes when the process ends, however it ends (a crash or SIGKILL leaves no stale
// lock, as a pid file would), and SQLite keeps it between connections of one process as well.
// A restore takes it for its duration, so it never writes under a running server, and no server
// starts on a folder being restored.
import { DatabaseSync } from "node:sqlite";
import { closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import { PRIVATE_DIR, PRIVATE_FILE } from "../data-dir.ts";

export const LOCK_FILE = "xmppd.lock";

export class DataDirLock {
  private db: DatabaseSync | undefined;
  readonly path: string;

  private constructor(db: DatabaseSync, path: string) {
    this.db = db;
    this.path = path;
  }

  /** Takes the folder's lock (making the folder if need be); undefined when another holds it. */
  static take(dataDir: string): DataDirLock | undefined {
    mkdirSync(dataDir, { recursive: true, mode: PRIVATE_DIR });
    const path = join(dataDir, LOCK_FILE);
    closeSync(openSync(path, "a", PRIVATE_FILE));
    const db = new DatabaseSync(path, { timeout: 0 });
    try {
      db.exec("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE");
    } catch (e) {
      db.close();
      if (/locked|busy/i.test((e as Error).message)) return undefined;
      throw e;
    }
    return new DataDirLock(db, path);
  }

  /** Whether a process holds the folder's lock now (without keeping it). */
  static held(dataDir: string): boolean {
    if (!existsSync(join(dataDir, LOCK_FILE))) return false;
    const lock = DataDirLock.take(dataDir);
    lock?.release();
    return lock === undefined;
  }

  release(): void {
    const db = this.db;
    this.db = undefined;
    if (db?.isOpen) db.close();
  }
}
