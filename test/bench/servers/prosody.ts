// Prosody from Debian, run as its own user (`runuser -u prosody`, foreground) on a config written
// into the scratch folder: loopback ports of its own, no s2s (unless asked, below), internal
// storage, mod_mam, mod_offline and mod_smacks (XEP-0198, its defaults) on, MUC with its
// archive, no rate limits (mod_limits not loaded), SCRAM keys stored with 4096 iterations like
// the others. Accounts through in-band registration.
// With `s2s` (the s2s row) it federates on a port of its own with mod_dialback, its defaults
// otherwise (s2s_require_encryption true, s2s_secure_auth false: a self-signed certificate, then
// dialback over TLS), resolving only through the test DNS server: libunbound forwards there
// (the global `unbound` table, as test/helpers/peers/prosody.ts sets it), and the process runs in
// a mount namespace whose resolv.conf names only that server (test/helpers/peers.ts, confined).
import { execFileSync } from "node:child_process";
import { chownSync, copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { confined } from "../../helpers/peers.ts";
import { descendants, freePort, spawnPinned, stopPids, waitPort } from "../lib/proc.ts";
import { registerInBand } from "./register.ts";
import type { RunningServer, S2sOptions, ServerOptions } from "./types.ts";

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

/** The federation part of the global section: off, or its port, dialback and the test DNS server. */
function s2sConfig(s2s: S2sOptions | undefined): string {
  if (!s2s) return `s2s_ports = { }
modules_disabled = { "s2s"; "s2s_auth_certs" }`;
  if (!s2s.dns) throw new Error("Prosody federates only through the test DNS server (s2s.dns)");
  return `s2s_ports = { ${s2s.port} }
s2s_direct_tls_ports = { }
local_interfaces = { "127.0.0.1" }
use_ipv6 = false
s2s_require_encryption = true
s2s_secure_auth = false
unbound = {
  resolvconf = false;
  hoststxt = false;
  forward = ${JSON.stringify(s2s.dns.address.replace(":", "@"))};
  options = { ["local-zone:"] = "test. transparent" };
}`;
}

function config(dir: string, domain: string, port: number, tlsPort: number, archive: boolean, s2s: S2sOptions | undefined): string {
  return `-- Written by the xmppd benchmark (test/bench/servers/prosody.ts).
pidfile = "${dir}/prosody.pid"
data_path = "${dir}/data"
admin_socket = "${dir}/prosody.sock"
log = { { levels = { min = "warn" }, to = "file", filename = "${dir}/prosody.log" } }
interfaces = { "127.0.0.1" }
c2s_ports = { ${port} }
c2s_direct_tls_ports = { ${tlsPort} }
${s2sConfig(s2s)}
http_ports = { }
https_ports = { }
network_backend = "epoll"
network_settings = { tcp_backlog = 1024 }
modules_enabled = {
  "roster"; "saslauth"; "tls"; "disco"; "ping"; "time"; "version"; "private"; "vcard";
  "lastactivity"; "register"; "smacks"; ${archive ? '"mam"; ' : ""}"offline";${s2s ? ' "dialback";' : ""}
}
authentication = "internal_hashed"
default_iteration_count = 4096
storage = "internal"
default_archive_policy = true
archive_expires_after = "1w"
allow_registration = true
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
certificates = "${dir}/certs"

VirtualHost "${domain}"

Component "conference.${domain}" "muc"
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
  const domain = o.domain ?? DOMAIN;
  for (const host of [domain, `conference.${domain}`]) {
    copyFileSync(o.tls.cert, join(o.dir, "certs", `${host}.crt`));
    copyFileSync(o.tls.key, join(o.dir, "certs", `${host}.key`));
  }
  const file = join(o.dir, "prosody.cfg.lua");
  writeFileSync(file, config(o.dir, domain, port, tlsPort, o.archive, o.s2s));
  execFileSync("chown", ["-R", "prosody:prosody", o.dir]);
  chownSync(o.dir, uid("prosody"), gid("prosody"));
  // runuser's PAM session lowers the soft open-file limit to 1024: raise it back to the hard one.
  const argv = ["runuser", "-u", "prosody", "--", "sh", "-c", 'ulimit -n "$(ulimit -Hn)"; exec prosody --config "$0" -F', file];
  const [cmd, ...args] = o.s2s?.dns ? confined({ dir: o.dir, dns: o.s2s.dns }, argv) : argv;
  const p = spawnPinned(o.cpus, cmd!, args, { cwd: o.dir, logFile: join(o.dir, "prosody.out") });
  let alive = true;
  void p.exited.then(() => (alive = false));
  await waitPort("127.0.0.1", port, 30_000, () => alive);
  const target = { name: "prosody", host: "127.0.0.1", port, tlsPort, domain, mucDomain: `conference.${domain}` };
  await registerInBand(target, o.users, o.password);
  const worker = () => descendants(p.pid).find((d) => /lua|prosody/.test(d.comm))?.pid ?? p.pid;
  return {
    target,
    version: version(),
    settings: [
      "storage internal (files), authentication internal_hashed (4096 iterations), network_backend epoll (tcp_backlog 1024), log level warn",
      `modules: roster saslauth tls disco ping time version private vcard lastactivity register smacks offline${o.archive ? " mam" : ""}; muc${o.archive ? " + muc_mam" : ""}`,
      `mod_limits not loaded (no c2s rate limit);${o.archive ? " default_archive_policy true;" : " archive off;"} muc_room_locking false`,
      `runuser -u prosody, taskset -c ${o.cpus}`,
      ...(o.s2s ? [`s2s on port ${o.s2s.port}: mod_dialback, s2s_require_encryption true and s2s_secure_auth false (its defaults), libunbound forwarding to the test DNS server ${o.s2s.dns!.address} only`] : []),
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
