// ejabberd from Debian, started with its own `ejabberdctl foreground` (which runs the VM as the
// ejabberd user) on a config, ctl config, spool and log folder in the scratch folder. Its Erlang
// distribution listens on a port of its own (ERL_DIST_PORT), so no epmd is started; the VM
// runs one scheduler (+S 1:1) since it is pinned to one core. Mnesia (its embedded default),
// mod_mam (default: always), mod_offline and mod_stream_mgmt (XEP-0198, its defaults) on, MUC
// with archive, shapers off, SCRAM keys stored.
// With `s2s` (the s2s row) it federates on a port of its own as its shipped ejabberd.yml does
// (s2s_use_starttls required, mod_s2s_dialback: a self-signed certificate, then dialback over
// TLS), under a node name of its own (two run at once), resolving only through the test DNS
// server: inet_res by the inetrc in its config folder (--config-dir), as
// test/helpers/peers/ejabberd.ts writes it, and getaddrinfo in a mount namespace whose
// resolv.conf names only that server (test/helpers/peers.ts, confined).
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { confined } from "../../helpers/peers.ts";
import { inetrc } from "../../helpers/peers/ejabberd.ts";
import { descendants, freePort, spawnPinned, stopPids, waitPort } from "../lib/proc.ts";
import { sleep } from "../lib/stats.ts";
import { registerInBand } from "./register.ts";
import type { RunningServer, S2sOptions, ServerOptions } from "./types.ts";

const DOMAIN = "localhost";

export function ejabberdInstalled(): boolean {
  try {
    execFileSync("sh", ["-c", "command -v ejabberdctl"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

function version(): string {
  try {
    return `ejabberd ${execFileSync("dpkg-query", ["-W", "-f=${Version}", "ejabberd"], { encoding: "utf8" }).trim()}`;
  } catch {
    return "ejabberd";
  }
}

/** The federation options: off, or required STARTTLS and dialback on loopback IPv4. */
function s2sConfig(s2s: S2sOptions | undefined): string {
  if (!s2s) return "s2s_access: none\n";
  return `s2s_access: all
s2s_use_starttls: required
outgoing_s2s_families: [ipv4]
`;
}

function s2sListener(s2s: S2sOptions | undefined): string {
  if (!s2s) return "";
  return `  - port: ${s2s.port}
    ip: "127.0.0.1"
    module: ejabberd_s2s_in
    shaper: none
    max_stanza_size: 262144
`;
}

function config(dir: string, domain: string, port: number, tlsPort: number, archive: boolean, s2s: S2sOptions | undefined): string {
  return `# Written by the xmppd benchmark (test/bench/servers/ejabberd.ts).
hosts: ["${domain}"]
loglevel: warning
log_rotate_count: 0
certfiles: ["${dir}/combined.pem"]
max_fsm_queue: 1000000
registration_timeout: infinity
listen:
  - port: ${port}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    backlog: 1024
    starttls: true
    shaper: none
    max_stanza_size: 262144
    access: c2s
  - port: ${tlsPort}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    backlog: 1024
    tls: true
    shaper: none
    max_stanza_size: 262144
    access: c2s
${s2sListener(s2s)}auth_method: internal
auth_password_format: scram
auth_scram_hash: sha
${s2sConfig(s2s)}acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    allow: all
  register:
    allow: all
shaper_rules:
  max_user_sessions: 100
  max_user_offline_messages: 100000
  c2s_shaper: none
${s2s ? "  s2s_shaper: none\n" : ""}modules:
  mod_disco: {}
  mod_ping: {}
  mod_roster: {}
  mod_vcard: {}
  mod_private: {}
  mod_last: {}
  mod_time: {}
  mod_version: {}
  mod_register:
    ip_access: all
    access: register
  mod_offline:
    access_max_user_messages: max_user_offline_messages
  mod_stream_mgmt: {}
${archive ? "  mod_mam:\n    default: always\n" : ""}${s2s ? "  mod_s2s_dialback: {}\n" : ""}  mod_muc:
    host: "conference.${domain}"
    access_create: all
    max_users: 100000
    max_users_presence: 100000
    max_user_conferences: 100000
    min_message_interval: 0
    min_presence_interval: 0
    default_room_options:
      mam: ${archive}
      max_users: 100000
`;
}

export async function startEjabberd(o: ServerOptions): Promise<RunningServer> {
  const port = await freePort();
  const tlsPort = await freePort();
  const distPort = await freePort();
  for (const d of ["spool", "logs"]) mkdirSync(join(o.dir, d), { recursive: true });
  copyFileSync(o.tls.combined, join(o.dir, "combined.pem"));
  const domain = o.domain ?? DOMAIN;
  const cfg = join(o.dir, "ejabberd.yml");
  writeFileSync(cfg, config(o.dir, domain, port, tlsPort, o.archive, o.s2s));
  if (o.s2s?.dns) writeFileSync(join(o.dir, "inetrc"), inetrc(o.s2s.dns));
  const ctl = join(o.dir, "ejabberdctl.cfg");
  writeFileSync(ctl, [
    // Mnesia keeps the node name: a restart on the same spool must use the same one. The two
    // nodes of the s2s row have names of their own, one per domain.
    `ERLANG_NODE=xmppdbench${domain === DOMAIN ? "" : `_${domain.replace(/\W/g, "_")}`}@localhost`,
    `ERL_DIST_PORT=${distPort}`,
    "INET_DIST_INTERFACE=127.0.0.1",
    "ERL_MAX_PORTS=1000000",
    "ERL_PROCESSES=4000000",
    'ERL_OPTIONS="+S 1:1 +SDcpu 1:1"',
    "EJABBERD_BYPASS_WARNINGS=true",
    "",
  ].join("\n"));
  execFileSync("chown", ["-R", "ejabberd:ejabberd", o.dir]);
  // The config folder is where ejabberdctl points ERL_INETRC: the s2s row's resolver settings.
  const args = [...(o.s2s ? ["--config-dir", o.dir] : []), "--config", cfg, "--ctl-config", ctl, "--spool", join(o.dir, "spool"), "--logs", join(o.dir, "logs")];
  // Started as the ejabberd user, ejabberdctl runs the VM itself (as root it would `su`, whose
  // PAM session lowers the soft open-file limit to 1024); the limit is raised to the hard one.
  const argv = ["runuser", "-u", "ejabberd", "--", "sh", "-c", 'ulimit -n "$(ulimit -Hn)"; exec ejabberdctl "$@" foreground', "sh", ...args];
  const [cmd, ...rest] = o.s2s?.dns ? confined({ dir: o.dir, dns: o.s2s.dns }, argv) : argv;
  const p = spawnPinned(o.cpus, cmd!, rest, { cwd: o.dir, logFile: join(o.dir, "ejabberd.out") });
  let alive = true;
  void p.exited.then(() => (alive = false));
  await waitPort("127.0.0.1", port, 60_000, () => alive);
  await sleep(1000); // modules finish starting after the listener
  const target = { name: "ejabberd", host: "127.0.0.1", port, tlsPort, domain, mucDomain: `conference.${domain}` };
  await registerInBand(target, o.users, o.password);
  const beam = () => descendants(p.pid).find((d) => d.comm.startsWith("beam"))?.pid ?? p.pid;
  return {
    target,
    version: version(),
    settings: [
      "mnesia (its embedded default); auth_password_format scram (sha); log level warning",
      `modules: disco ping roster vcard private last time version register offline stream_mgmt${o.archive ? " mam (default: always)" : ""}; muc (${o.archive ? "mam, " : ""}max_users 100000)`,
      "listen backlog 1024, c2s shaper none, no c2s_shaper, max_user_offline_messages 100000, MUC message/presence intervals 0",
      `VM +S 1:1 +SDcpu 1:1, taskset -c ${o.cpus}; run as the ejabberd user (runuser), open-file limit raised to the hard limit`,
      ...(o.s2s ? [`s2s on port ${o.s2s.port}: s2s_use_starttls required and mod_s2s_dialback (as its shipped ejabberd.yml), listener shaper none, s2s_shaper none; inet_res and getaddrinfo asking the test DNS server ${o.s2s.dns!.address} only`] : []),
    ],
    workerPid: beam,
    stop: async () => {
      const pid = beam();
      try {
        execFileSync("runuser", ["-u", "ejabberd", "--", "ejabberdctl", ...args, "stop"], { stdio: "ignore", timeout: 30_000 });
      } catch { /* fall back to signals */ }
      await stopPids([pid], p.exited, 20_000);
    },
  };
}
