// The data folder holds SCRAM keys, archives, the TLS private key and uploaded files: only the
// server's user may read it. What the server makes there is 0600 (files) and 0700 (folders), by
// explicit modes and by the CLI's umask; a folder made by an older version or by hand is
// tightened at start.
import { chmodSync, lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";

export const PRIVATE_FILE = 0o600;
export const PRIVATE_DIR = 0o700;

export interface Tightened {
  /** What had group or other permissions and no longer has. */
  changed: string[];
  /** What could not be changed (owned by another user, say), with the reason. */
  failed: string[];
}

/**
 * Takes the group and other permissions off dataDir and everything in it. Symbolic links are left
 * alone, and not followed: what they point to (a certificate under /etc, say) is not the server's.
 */
export function tightenDataDir(dir: string): Tightened {
  const out: Tightened = { changed: [], failed: [] };
  let entries: string[];
  try {
    entries = readdirSync(dir, { recursive: true, encoding: "utf8" });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return out;
    throw e;
  }
  for (const path of [dir, ...entries.map((e) => join(dir, e))]) {
    try {
      const st = lstatSync(path);
      if (st.isSymbolicLink() || (st.mode & 0o077) === 0) continue;
      chmodSync(path, st.mode & 0o700);
      out.changed.push(path);
    } catch (e) {
      out.failed.push(`${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
  return out;
}
