// Watching the folders certificates are read from (fs.watch, inotify on Linux), so that a renewed
// certificate is taken without a reload. Folders rather than files: certbot replaces the links in
// live/<name>/ and writes new files in archive/<name>/, an editor or `install` replaces a file by
// another, and a watch on the file itself would follow the old one. A burst of changes (a
// certificate, then its key) is waited out: `changed` runs once nothing has moved for a while.
import { watch, type FSWatcher } from "node:fs";
import type { Logger } from "../log.ts";

export interface WatchedFolder { path: string; recursive: boolean }

export class FolderWatcher {
  private readonly watchers = new Map<string, FSWatcher>();
  private timer: NodeJS.Timeout | undefined;
  private readonly changed: () => void;
  private readonly quietMs: number;
  private readonly log: Logger;

  /** `changed` runs `quietMs` after the last change seen. */
  constructor(changed: () => void, quietMs: number, log: Logger) {
    this.changed = changed;
    this.quietMs = quietMs;
    this.log = log;
  }

  /** Watches exactly these folders from now on (those watched already stay watched). */
  set(folders: readonly WatchedFolder[]): void {
    const wanted = new Map(folders.map((f) => [`${f.recursive ? "r" : "-"}${f.path}`, f]));
    for (const [key, w] of this.watchers) {
      if (!wanted.has(key)) {
        w.close();
        this.watchers.delete(key);
      }
    }
    for (const [key, f] of wanted) {
      if (this.watchers.has(key)) continue;
      try {
        const w = watch(f.path, { persistent: false, recursive: f.recursive }, () => this.poke());
        w.on("error", (e) => {
          this.log.warn({ err: e, folder: f.path }, "certificate folder no longer watched (reload to read it again)");
          w.close();
          this.watchers.delete(key);
        });
        this.watchers.set(key, w);
      } catch (e) {
        // A folder that is not there (yet), or the system's limit on watches: a reload still reads it.
        this.log.debug({ err: e, folder: f.path }, "certificate folder not watched");
      }
    }
  }

  /** The folders watched now. */
  get folders(): string[] {
    return [...this.watchers.keys()].map((k) => k.slice(1));
  }

  private poke(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.changed();
    }, this.quietMs).unref();
  }

  close(): void {
    clearTimeout(this.timer);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }
}
