// ejabberd 23.01 as a federation peer (see ../peers.ts): its configuration and process.
//
// Names: ejabberd resolves with Erlang's inet_res, configured by the inetrc file that
// ejabberdctl hands the VM (ERL_INETRC=<config dir>/inetrc, the folder given by --config-dir):
// the test DNS server as the only name server, no resolv.conf, no hosts file; "localhost" (the
// node's own host, for its Erlang distribution) and the machine's name from the file, every
// other name from DNS. That covers SRV lookups; the targets' addresses ejabberd asks of the C
// library (net:getaddrinfo), which in its namespace asks the test DNS server (../peers.ts, confined).
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { descendants, freePort, spawnPinned, stopPids, waitPort } from "../../bench/lib/proc.ts";
import { sleep } from "../../bench/lib/stats.ts";
import type { TestDns } from "../dns.ts";
import { confined, type PeerPlan, type StartedPeer } from "../peers.ts";

const yaml = (s: string): string => JSON.stringify(s); // a double-quoted YAML scalar

/** Erlang's resolver configuration (an inetrc file): the test DNS server only (also the benchmark's s2s row). */
export function inetrc(dns: TestDns): string {
  const [host, port] = dns.address.split(":");
  return [
    "%% Written by test/helpers/peers/ejabberd.ts.",
    '{resolv_conf, ""}.',
    '{hosts_file, ""}.',
    `{host, {127,0,0,1}, ["localhost", ${JSON.stringify(hostname())}]}.`,
    `{nameserver, {${host!.split(".").join(",")}}, ${port}}.`,
    "{lookup, [file, dns]}.",
    "",
  ].join("\n");
}

function modules(p: PeerPlan): string {
  return `modules:
  mod_adhoc: {}
  mod_caps: {}
  mod_carboncopy: {}
  mod_disco: {}
  mod_last: {}
  mod_ping: {}
  mod_private: {}
  mod_roster: {}
  mod_stream_mgmt: {}
  mod_time: {}
  mod_version: {}
  mod_vcard: {}
  mod_vcard_xupdate: {}
  mod_privacy: {}
  mod_blocking: {}
  mod_offline: {}
  mod_mam:
    default: always
  mod_muc:
    hosts: [${yaml(`conference.${p.domain}`)}]
    access_create: all
    default_room_options:
      mam: true
  mod_pubsub:
    plugins: [flat, pep]
  mod_http_upload:
    hosts: [${yaml(`upload.${p.domain}`)}]
    put_url: ${yaml(`http://127.0.0.1:${p.httpPort}/upload`)}
    docroot: ${yaml(`${p.dir}/upload`)}
    max_size: 10485760
  mod_register:
    ip_access: all
    access: register
${p.auth === "dialback" ? "  mod_s2s_dialback: {}\n" : ""}${p.extraModules.map((m) => `  ${m}: {}\n`).join("")}`;
}

function config(p: PeerPlan): string {
  return `# Written by test/helpers/peers/ejabberd.ts.
hosts: [${yaml(p.domain)}]
loglevel: info
log_rotate_count: 0
certfiles: [${yaml(`${p.dir}/combined.pem`)}]
${p.trust ? `ca_file: ${yaml(`${p.dir}/trusted-ca.pem`)}\ns2s_cafile: ${yaml(`${p.dir}/trusted-ca.pem`)}\n` : ""}s2s_use_starttls: ${p.auth === "external" ? "required" : "optional"}
s2s_access: all
outgoing_s2s_families: [ipv4]
s2s_max_retry_delay: 5
registration_timeout: infinity
auth_method: internal
listen:
  - port: ${p.c2sPort}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls: true
  - port: ${p.s2sPort}
    ip: "127.0.0.1"
    module: ejabberd_s2s_in
  - port: ${p.httpPort}
    ip: "127.0.0.1"
    module: ejabberd_http
    request_handlers:
      /upload: mod_http_upload
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
${modules(p)}${p.extraConfig}
`;
}

export async function startEjabberdPeer(p: PeerPlan): Promise<StartedPeer> {
  const distPort = await freePort();
  for (const d of ["spool", "logs", "upload"]) mkdirSync(join(p.dir, d), { recursive: true });
  copyFileSync(p.cert.combined, join(p.dir, "combined.pem"));
  if (p.trust) copyFileSync(p.trust, join(p.dir, "trusted-ca.pem"));
  writeFileSync(join(p.dir, "inetrc"), inetrc(p.dns));
  const cfg = join(p.dir, "ejabberd.yml");
  writeFileSync(cfg, config(p));
  const ctl = join(p.dir, "ejabberdctl.cfg");
  // The Erlang distribution on a port of its own (no epmd), on loopback.
  writeFileSync(ctl, [`ERLANG_NODE=xmppdpeer${p.c2sPort}@localhost`, `ERL_DIST_PORT=${distPort}`, "INET_DIST_INTERFACE=127.0.0.1",
    "EJABBERD_BYPASS_WARNINGS=true", ""].join("\n"));
  execFileSync("chown", ["-R", "ejabberd:ejabberd", p.dir]);
  const args = ["--config-dir", p.dir, "--config", cfg, "--ctl-config", ctl, "--spool", join(p.dir, "spool"), "--logs", join(p.dir, "logs")];
  const out = join(p.dir, "ejabberd.out");
  const [cmd, ...argv] = confined(p, ["runuser", "-u", "ejabberd", "--", "ejabberdctl", ...args, "foreground"]);
  const proc = spawnPinned("0-1", cmd!, argv, { cwd: p.dir, logFile: out });
  let alive = true;
  void proc.exited.then(() => (alive = false));
  let stopped = false;
  const logs = () => [out, join(p.dir, "logs", "ejabberd.log"), join(p.dir, "logs", "error.log")].map((f) => {
    try {
      return readFileSync(f, "utf8");
    } catch {
      return "";
    }
  }).join("");
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // SIGTERM to the VM stops it as init:stop() would; its helper processes end with it.
    const beam = descendants(proc.pid).find((d) => d.comm.startsWith("beam"))?.pid;
    await stopPids([beam ?? proc.pid], proc.exited, 20_000);
  };
  try {
    await waitPort("127.0.0.1", p.c2sPort, 60_000, () => alive);
    await waitPort("127.0.0.1", p.s2sPort, 10_000, () => alive);
    await sleep(500); // modules finish starting after the listeners
  } catch (e) {
    await stop();
    throw new Error(`ejabberd ${p.domain}: ${(e as Error).message}\n${logs().slice(-3000)}`);
  }
  return { logs, stop };
}
