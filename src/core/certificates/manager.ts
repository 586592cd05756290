// The server's certificates while it runs: read at start (load.ts) into the store the TLS
// listeners choose from by name, read again on a reload (SIGHUP, `xmppd reload`), when the files
// change (watch.ts), and when the ACME client has installed a new one. A read that fails changes
// nothing; a pair in a folder that cannot be read keeps the certificate it had. Connections made
// before keep theirs: only new handshakes see the new store.
import { realpathSync } from "node:fs";
import { dirname, resolve, sep } from "node:path";
import { CertificateStore } from "../../transports/certificate-store.ts";
import type { TlsMaterial } from "../../transports/tls.ts";
import type { Logger } from "../log.ts";
import { loadCertificates, type CertificateSources, type LoadedCertificates } from "./load.ts";
import { FolderWatcher, type WatchedFolder } from "./watch.ts";

/** How long the files must stay still after a change before they are read (a certificate, then its key). */
export const WATCH_QUIET_MS = 1000;

/** The tls section of the configuration. */
export interface TlsSettings { cert?: string; key?: string; directory?: string; watch: boolean }

export interface CertificateSettings {
  tls: TlsSettings;
  dataDir: string;
  domain: string;
  /** The further hosted domains (virtual hosts). */
  hosts?: readonly string[];
  /** Folders whose certificates count too when they exist: the ACME client's. */
  optionalDirectories: readonly string[];
}

export class ServerCertificates {
  readonly store: CertificateStore;
  private settings: CertificateSettings;
  private readonly watcher: FolderWatcher;
  private readonly log: Logger;

  /** Reads the certificates, making the self-signed one if there is nothing else. Throws ConfigError. */
  constructor(settings: CertificateSettings, log: Logger, quietMs = WATCH_QUIET_MS) {
    this.settings = settings;
    this.log = log;
    const loaded = loadCertificates(certificateSources(settings), { makeSelfSigned: true });
    this.store = new CertificateStore(loaded.fallback!, loaded.list);
    this.watcher = new FolderWatcher(() => this.refresh(), quietMs, log);
    this.after(loaded);
  }

  /**
   * Reads the certificates again, with the tls section of a configuration read again if given.
   * Throws ConfigError (tls.cert unreadable, say), and then nothing changes. True when the store
   * changed.
   */
  reload(tls: TlsSettings = this.settings.tls): boolean {
    const settings = { ...this.settings, tls };
    const loaded = loadCertificates(certificateSources(settings), { previous: this.store.certificates, makeSelfSigned: true });
    this.settings = settings;
    const changed = differs(this.store, loaded);
    if (changed) {
      this.store.replace(loaded.fallback!, loaded.list);
      this.log.info({ default: this.describe(), certificates: this.store.certificates.length }, "certificates reloaded");
    }
    this.after(loaded);
    return changed;
  }

  /** The default certificate, as the start line and a reload's answer say it. */
  describe(): string {
    const d = this.store.default;
    const more = this.store.certificates.filter((m) => m !== d).length;
    return `${d.certPath}, SHA-256 ${d.fingerprint}${more > 0 ? `, and ${more} more chosen by name` : ""}`;
  }

  close(): void {
    this.watcher.close();
  }

  /** A change the watcher saw: read again; a failure is logged and changes nothing. */
  private refresh(): void {
    try {
      this.reload();
    } catch (e) {
      this.log.warn({ err: e }, "certificates changed on disk but could not be read: the ones in use stay");
    }
  }

  /** What follows a read: its problems said, the folders of what was read watched. */
  private after(loaded: LoadedCertificates): void {
    for (const p of loaded.problems) this.log.warn({ problem: p }, "certificate left out");
    this.watcher.set(this.settings.tls.watch ? foldersOf(this.settings, loaded.files) : []);
  }
}

/** What the loader reads, from the settings. */
export function certificateSources(s: CertificateSettings): CertificateSources {
  return { cert: s.tls.cert, key: s.tls.key, directory: s.tls.directory, optionalDirectories: s.optionalDirectories, dataDir: s.dataDir, domain: s.domain, hosts: s.hosts };
}

/** Whether what was read differs from what the store holds (the default, or any certificate). */
function differs(store: CertificateStore, loaded: LoadedCertificates): boolean {
  const key = (m: TlsMaterial | undefined) => (m === undefined ? "" : `${m.certPath} ${m.fingerprint}`);
  if (key(store.default) !== key(loaded.fallback)) return true;
  const before = store.certificates.map(key).sort().join("\n");
  return before !== loaded.list.map(key).sort().join("\n");
}

/** The configured folders with their subfolders, and the folder of each file read, and of what its link points to. */
function foldersOf(s: CertificateSettings, files: readonly string[]): WatchedFolder[] {
  const out = new Map<string, WatchedFolder>();
  for (const d of [...(s.tls.directory === undefined ? [] : [s.tls.directory]), ...s.optionalDirectories]) {
    out.set(resolve(d), { path: resolve(d), recursive: true });
  }
  for (const f of files) {
    const folders = [dirname(resolve(f))];
    try {
      folders.push(dirname(realpathSync(f)));
    } catch {
      // Gone meanwhile: its folder is watched still.
    }
    for (const d of folders) {
      const covered = [...out.values()].some((w) => w.path === d || (w.recursive && d.startsWith(`${w.path}${sep}`)));
      if (!covered) out.set(d, { path: d, recursive: false });
    }
  }
  return [...out.values()];
}
