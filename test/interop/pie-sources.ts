// Prosody 0.12 and ejabberd 23.01 from Debian as the servers users migrate from: each started as a
// process of its own (never the system service) on loopback ports, with a scratch config, data
// folder and certificate, as test/bench/servers/ runs them; accounts made by in-band registration;
// then each server's own XEP-0227 exporter run on its data:
// - Prosody: prosody-migrator from its internal (file) store to its xep0227 store driver
//   (mod_storage_xep0227), one <server-data/> file per account.
// - ejabberd: `ejabberdctl export_piefxis DIR` on the running node: a main file that XIncludes
//   one file per host.
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { registerInBand } from "../bench/servers/register.ts";
import { descendants, freePort, spawnPinned, stopPids, waitPort, type Spawned } from "../bench/lib/proc.ts";
import type { CertFiles } from "../bench/lib/cert.ts";

export const DOMAIN = "localhost";

export interface SourceServer {
  readonly name: "prosody" | "ejabberd";
  readonly port: number;
  /** Runs the server's exporter; resolves to the files to import (stops the server when its exporter reads files). */
  export(dir: string): Promise<string[]>;
  stop(): Promise<void>;
}

/** Why the Debian packages cannot run here, or undefined. */
export function missingSources(): string | undefined {
  for (const cmd of ["prosody", "prosody-migrator", "lua5.4", "ejabberdctl", "runuser", "taskset", "openssl"]) {
    if (spawnSync("sh", ["-c", `command -v ${cmd}`]).status !== 0) return `${cmd} not found (scripts/bench-deps.sh installs Prosody and ejabberd)`;
  }
  if (process.getuid?.() !== 0) return "Prosody and ejabberd run as their own users: the test needs root";
  return undefined;
}

function chownTo(user: string, dir: string): void {
  execFileSync("chown", ["-R", `${user}:${user}`, dir]);
}

function running(p: Spawned): () => boolean {
  let alive = true;
  void p.exited.then(() => (alive = false));
  return () => alive;
}

// ---- Prosody ------------------------------------------------------------------------------

const PROSODY_STORES = ["accounts", "roster", "vcard", "private", "pep-pubsub", "archive-archive"];

function prosodyConfig(dir: string, port: number): string {
  return `-- Written by test/interop/pie-sources.ts.
pidfile = "${dir}/prosody.pid"
data_path = "${dir}/data"
log = { { levels = { min = "info" }, to = "file", filename = "${dir}/prosody.log" } }
interfaces = { "127.0.0.1" }
c2s_ports = { ${port} }
c2s_direct_tls_ports = { }
s2s_ports = { }
http_ports = { }
https_ports = { }
modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "private"; "vcard"; "register"; "offline"; "mam"; "pep" }
modules_disabled = { "s2s" }
authentication = "internal_hashed"
storage = "internal"
default_archive_policy = true
allow_registration = true
c2s_require_encryption = false
certificates = "${dir}/certs"

VirtualHost "${DOMAIN}"
`;
}

/**
 * prosody-migrator's config: the internal store of the stopped server as input, the xep0227
 * driver as output. What the driver exports (its handlers): accounts (SCRAM keys), roster,
 * vcard, private, pep (node configuration and items) and archive (MAM). It has no handler for
 * the "offline" store: asked for it, the migrator fails with "unsupported-datastore", so
 * Prosody's offline messages reach the file only through the MAM archive, which holds them too.
 */
function migratorConfig(dataDir: string): string {
  const stores = PROSODY_STORES.map((s) => `"${s}"`).join("; ");
  return `input { type = "internal"; path = "${dataDir}"; hosts = { ["${DOMAIN}"] = { ${stores} } } }
output { type = "xep0227" }
`;
}

/**
 * prosody-migrator has no setting for where the xep0227 driver writes: it writes to
 * prosody.paths.data, which the script sets from its CFG_DATADIR global (/var/lib/prosody in
 * the Debian build, the system service's data). The unchanged script is run by lua5.4 after a
 * line that gives that one global the scratch folder instead.
 */
const PRESET_DATADIR = `local dir = os.getenv("PIE_OUT"); setmetatable(_G, { __newindex = function(t, k, v) if k == "CFG_DATADIR" then v = dir end rawset(t, k, v) end })`;

export async function startProsody(dir: string, tls: CertFiles, users: Record<string, string>): Promise<SourceServer> {
  const port = await freePort();
  mkdirSync(join(dir, "data"), { recursive: true });
  mkdirSync(join(dir, "certs"), { recursive: true });
  copyFileSync(tls.cert, join(dir, "certs", `${DOMAIN}.crt`));
  copyFileSync(tls.key, join(dir, "certs", `${DOMAIN}.key`));
  const file = join(dir, "prosody.cfg.lua");
  writeFileSync(file, prosodyConfig(dir, port));
  chownTo("prosody", dir);
  const p = spawnPinned("0-1", "runuser", ["-u", "prosody", "--", "prosody", "--config", file, "-F"], { cwd: dir, logFile: join(dir, "prosody.out") });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // The signal goes to prosody itself (the lua process under runuser); runuser ends after it and
    // is reaped here. Signalled too, runuser could end first and leave its child to no one.
    const lua = descendants(p.pid).at(-1)?.pid;
    await stopPids([lua ?? p.pid], p.exited, 15_000);
  };
  await ready(stop, async () => {
    await waitPort("127.0.0.1", port, 30_000, running(p));
    await register(port, users);
  });
  return {
    name: "prosody",
    port,
    stop,
    async export(out) {
      await stop(); // the migrator reads the internal store's files: the server must not be writing them
      mkdirSync(out, { recursive: true });
      const cfg = join(dir, "migrator.cfg.lua");
      writeFileSync(cfg, migratorConfig(join(dir, "data")));
      chownTo("prosody", dir);
      chownTo("prosody", out);
      const r = spawnSync("runuser", ["-u", "prosody", "--", "lua5.4", "-e", PRESET_DATADIR, "/usr/bin/prosody-migrator", "--config", cfg, "input", "output"],
        { cwd: dir, env: { ...process.env, PIE_OUT: out }, encoding: "utf8", timeout: 60_000 });
      if (r.status !== 0) throw new Error(`prosody-migrator failed (${r.status}): ${r.stdout}\n${r.stderr}`);
      return readdirSync(out).filter((f) => f.endsWith(`@${DOMAIN}.xml`)).sort().map((f) => join(out, f));
    },
  };
}

// ---- ejabberd -----------------------------------------------------------------------------

function ejabberdConfig(dir: string, port: number): string {
  return `# Written by test/interop/pie-sources.ts.
hosts: ["${DOMAIN}"]
loglevel: info
log_rotate_count: 0
certfiles: ["${dir}/combined.pem"]
listen:
  - port: ${port}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls: true
auth_method: internal
registration_timeout: infinity
s2s_access: none
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    allow: all
  register:
    allow: all
modules:
  mod_disco: {}
  mod_roster: {}
  mod_vcard: {}
  mod_private: {}
  mod_offline: {}
  mod_register:
    ip_access: all
    access: register
`;
}

export async function startEjabberd(dir: string, tls: CertFiles, users: Record<string, string>): Promise<SourceServer> {
  const port = await freePort();
  const distPort = await freePort();
  for (const d of ["spool", "logs"]) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync(tls.combined, join(dir, "combined.pem"));
  const cfg = join(dir, "ejabberd.yml");
  writeFileSync(cfg, ejabberdConfig(dir, port));
  const ctl = join(dir, "ejabberdctl.cfg");
  // The Erlang distribution on a port of its own (no epmd), on loopback.
  writeFileSync(ctl, [`ERLANG_NODE=xmppdpie${port}@localhost`, `ERL_DIST_PORT=${distPort}`, "INET_DIST_INTERFACE=127.0.0.1", "EJABBERD_BYPASS_WARNINGS=true", ""].join("\n"));
  chownTo("ejabberd", dir);
  const args = ["--config", cfg, "--ctl-config", ctl, "--spool", join(dir, "spool"), "--logs", join(dir, "logs")];
  const ctlCommand = (...command: string[]) =>
    spawnSync("runuser", ["-u", "ejabberd", "--", "ejabberdctl", ...args, ...command], { cwd: dir, encoding: "utf8", timeout: 60_000 });
  const p = spawnPinned("0-1", "runuser", ["-u", "ejabberd", "--", "ejabberdctl", ...args, "foreground"], { cwd: dir, logFile: join(dir, "ejabberd.out") });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    const beam = descendants(p.pid).find((d) => d.comm.startsWith("beam"))?.pid;
    ctlCommand("stop");
    await stopPids([beam ?? p.pid], p.exited, 20_000);
  };
  await ready(stop, async () => {
    await waitPort("127.0.0.1", port, 60_000, running(p));
    await register(port, users);
  });
  return {
    name: "ejabberd",
    port,
    async export(out) {
      mkdirSync(out, { recursive: true });
      chownTo("ejabberd", out);
      const r = ctlCommand("export_piefxis", out);
      if (r.status !== 0) throw new Error(`ejabberdctl export_piefxis failed (${r.status}): ${r.stdout}\n${r.stderr}`);
      // The main file is named by the time of the export, the host files after it with _<host>.
      return readdirSync(out).filter((f) => /^\d{8}-\d{6}\.xml$/.test(f)).map((f) => join(out, f));
    },
    stop,
  };
}

/** Runs the steps that make a started server ready; a failure stops it before it is reported. */
async function ready(stop: () => Promise<void>, steps: () => Promise<void>): Promise<void> {
  try {
    await steps();
  } catch (e) {
    await stop();
    throw e;
  }
}

async function register(port: number, users: Record<string, string>): Promise<void> {
  const target = { name: "source", host: "127.0.0.1", port, domain: DOMAIN, mucDomain: `conference.${DOMAIN}` };
  for (const [user, password] of Object.entries(users)) await registerInBand(target, [user], password, 1);
}
