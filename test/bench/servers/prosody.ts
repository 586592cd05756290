// Prosody from Debian, run as its own user (`runuser -u prosody`, foreground) on a config written
// into the scratch folder: loopback ports of its own, no s2s, internal storage, mod_mam and
// mod_offline on, MUC with its archive, no rate limits (mod_limits not loaded), SCRAM keys stored
// with 4096 iterations like the others. Accounts through in-band registration.
import { execFileSync } from "node:child_process";
import { chownSync, copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { descendants, freePort, spawnPinned, stopPids, waitPort } from "../lib/proc.ts";
import { registerInBand } from "./register.ts";
import type { RunningServer, ServerOptions } from "./types.ts";

const DOMAIN = "localhost";

export function prosodyInstalled(): boolean {
  try {
    execFileSync("prosodyctl", ["--help"], { stdio: "ignore" });
    return true;
  } catch (e) {
    return (e as { code?: string }).code !== "ENOENT";
  }
}

function version(): string {
  try {
    const out = execFileSync("dpkg-query", ["-W", "-f=${Version}", "prosody"], { encoding: "utf8" });
    return `Prosody ${out.trim()}`;
  } catch {
    return "Prosody";
  }
}

function config(dir: string, port: number, tlsPort: number, archive: boolean): string {
  return `-- Written by the xmppd benchmark (test/bench/servers/prosody.ts).
pidfile = "${dir}/prosody.pid"
data_path = "${dir}/data"
admin_socket = "${dir}/prosody.sock"
log = { { levels = { min = "warn" }, to = "file", filename = "${dir}/prosody.log" } }
interfaces = { "127.0.0.1" }
c2s_ports = { ${port} }
c2s_direct_tls_ports = { ${tlsPort} }
s2s_ports = { }
http_ports = { }
https_ports = { }
network_backend = "epoll"
network_settings = { tcp_backlog = 1024 }
modules_enabled = {
  "roster"; "saslauth"; "tls"; "disco"; "ping"; "time"; "version"; "private"; "vcard";
  "lastactivity"; "register"; ${archive ? '"mam"; ' : ""}"offline";
}
modules_disabled = { "s2s"; "s2s_auth_certs" }
authentication = "internal_hashed"
default_iteration_count = 4096
storage = "internal"
default_archive_policy = true
archive_expires_after = "1w"
allow_registration = true
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
certificates = "${dir}/certs"

VirtualHost "${DOMAIN}"

Component "conference.${DOMAIN}" "muc"
  modules_enabled = { ${archive ? '"muc_mam"' : ""} }
  muc_room_locking = false
  muc_room_default_persistent = false
  muc_log_by_default = true
  muc_tombstones = false
`;
}

export async function startProsody(o: ServerOptions): Promise<RunningServer> {
  const port = await freePort();
  const tlsPort = await freePort();
  mkdirSync(join(o.dir, "data"), { recursive: true });
  // Prosody finds a host's certificate by name in its certificates folder.
  mkdirSync(join(o.dir, "certs"), { recursive: true });
  for (const host of [DOMAIN, `conference.${DOMAIN}`]) {
    copyFileSync(o.tls.cert, join(o.dir, "certs", `${host}.crt`));
    copyFileSync(o.tls.key, join(o.dir, "certs", `${host}.key`));
  }
  const file = join(o.dir, "prosody.cfg.lua");
  writeFileSync(file, config(o.dir, port, tlsPort, o.archive));
  execFileSync("chown", ["-R", "prosody:prosody", o.dir]);
  chownSync(o.dir, uid("prosody"), gid("prosody"));
  // runuser's PAM session lowers the soft open-file limit to 1024: raise it back to the hard one.
  const p = spawnPinned(o.cpus, "runuser", ["-u", "prosody", "--", "sh", "-c", 'ulimit -n "$(ulimit -Hn)"; exec prosody --config "$0" -F', file],
    { cwd: o.dir, logFile: join(o.dir, "prosody.out") });
  let alive = true;
  void p.exited.then(() => (alive = false));
  await waitPort("127.0.0.1", port, 30_000, () => alive);
  const target = { name: "prosody", host: "127.0.0.1", port, tlsPort, domain: DOMAIN, mucDomain: `conference.${DOMAIN}` };
  await registerInBand(target, o.users, o.password);
  const worker = () => descendants(p.pid).find((d) => /lua|prosody/.test(d.comm))?.pid ?? p.pid;
  return {
    target,
    version: version(),
    settings: [
      "storage internal (files), authentication internal_hashed (4096 iterations), network_backend epoll (tcp_backlog 1024), log level warn",
      `modules: roster saslauth tls disco ping time version private vcard lastactivity register offline${o.archive ? " mam" : ""}; muc${o.archive ? " + muc_mam" : ""}`,
      `mod_limits not loaded (no c2s rate limit);${o.archive ? " default_archive_policy true;" : " archive off;"} muc_room_locking false`,
      `runuser -u prosody, taskset -c ${o.cpus}`,
    ],
    workerPid: worker,
    stop: async () => {
      const pids = [worker(), p.pid];
      await stopPids(pids, p.exited, 20_000);
    },
  };
}

export function uid(user: string): number {
  return Number(execFileSync("id", ["-u", user], { encoding: "utf8" }).trim());
}
export function gid(user: string): number {
  return Number(execFileSync("id", ["-g", user], { encoding: "utf8" }).trim());
}
