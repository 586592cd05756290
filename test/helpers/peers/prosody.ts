// Prosody 0.12 as a federation peer (see ../peers.ts): its configuration and process.
//
// Names: Prosody resolves through net.unbound (package lua-unbound), configured by the global
// `unbound` table, which goes to libunbound: no resolv.conf, no hosts file, every query
// forwarded to the test DNS server ("HOST@PORT"). libunbound answers the special-use zone
// "test." NXDOMAIN itself (RFC 6761 §6.2); the local-zone option makes it transparent, so that
// names under .test are asked of the test DNS server like any other. Without lua-unbound,
// Prosody's own resolver reads /etc/resolv.conf, which in its namespace names the test DNS
// server as well (../peers.ts, confined).
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { descendants, spawnPinned, stopPids, waitPort } from "../../bench/lib/proc.ts";
import { confined, SERVICES, type PeerPlan, type StartedPeer } from "../peers.ts";

const lua = (s: string): string => JSON.stringify(s); // a Lua string literal for paths and names

function modules(p: PeerPlan): string[] {
  return [
    "roster", "saslauth", "tls", "disco", "ping", "time", "version", "uptime", "private", "blocklist",
    "carbons", "pep", "vcard4", "vcard_legacy", "bookmarks", "mam", "offline", "smacks", "register",
    ...(p.auth === "dialback" ? ["dialback"] : []), ...p.extraModules,
  ];
}

function config(p: PeerPlan): string {
  const d = p.dir;
  const list = (xs: string[]) => xs.map(lua).join("; ");
  return `-- Written by test/helpers/peers/prosody.ts.
pidfile = ${lua(`${d}/prosody.pid`)}
data_path = ${lua(`${d}/data`)}
admin_socket = ${lua(`${d}/prosody.sock`)}
log = { { levels = { min = "debug" }, to = "file", filename = ${lua(`${d}/prosody.log`)} } }
interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { ${p.c2sPort} }
c2s_direct_tls_ports = { }
s2s_ports = { ${p.s2sPort} }
s2s_direct_tls_ports = { }
http_ports = { ${p.httpPort} }
http_interfaces = { "127.0.0.1" }
https_ports = { }
-- Upload URLs are http://127.0.0.1:PORT/file_share/...: a request naming no known host is the upload service's.
http_default_host = ${lua(`upload.${p.domain}`)}
use_ipv6 = false
unbound = {
  resolvconf = false;
  hoststxt = false;
  forward = ${lua(p.dns.address.replace(":", "@"))};
  options = { ["local-zone:"] = "test. transparent" };
}
modules_enabled = { ${list(modules(p))} }
modules_disabled = { ${p.auth === "external" ? '"dialback"' : ""} }
authentication = "internal_hashed"
storage = "internal"
default_archive_policy = true
allow_registration = true
c2s_require_encryption = false
s2s_require_encryption = true
s2s_secure_auth = ${p.auth === "external"}
certificates = ${lua(`${d}/certs`)}
${p.trust ? `ssl = { cafile = ${lua(`${d}/certs/trusted-ca.pem`)} }` : ""}
${p.extraConfig}

VirtualHost ${lua(p.domain)}

Component ${lua(`conference.${p.domain}`)} "muc"
  modules_enabled = { "muc_mam" }
  restrict_room_creation = false

Component ${lua(`upload.${p.domain}`)} "http_file_share"
  http_external_url = ${lua(`http://127.0.0.1:${p.httpPort}/`)}
`;
}

export async function startProsodyPeer(p: PeerPlan): Promise<StartedPeer> {
  mkdirSync(join(p.dir, "data"), { recursive: true });
  // Prosody finds a host's certificate by name in its certificates folder.
  const certs = join(p.dir, "certs");
  mkdirSync(certs, { recursive: true });
  for (const host of [p.domain, ...SERVICES.map((s) => `${s}.${p.domain}`)]) {
    copyFileSync(p.cert.fullchain, join(certs, `${host}.crt`));
    copyFileSync(p.cert.key, join(certs, `${host}.key`));
  }
  if (p.trust) copyFileSync(p.trust, join(certs, "trusted-ca.pem"));
  const file = join(p.dir, "prosody.cfg.lua");
  writeFileSync(file, config(p));
  execFileSync("chown", ["-R", "prosody:prosody", p.dir]);
  const out = join(p.dir, "prosody.out");
  const [cmd, ...args] = confined(p, ["runuser", "-u", "prosody", "--", "prosody", "--config", file, "-F"]);
  const proc = spawnPinned("0-1", cmd!, args, { cwd: p.dir, logFile: out });
  let alive = true;
  void proc.exited.then(() => (alive = false));
  let stopped = false;
  const logs = () => [out, join(p.dir, "prosody.log")].map((f) => {
    try {
      return readFileSync(f, "utf8");
    } catch {
      return "";
    }
  }).join("");
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // The signal goes to prosody itself (lua, under runuser); runuser ends after it.
    const luaPid = descendants(proc.pid).at(-1)?.pid;
    await stopPids([luaPid ?? proc.pid], proc.exited, 15_000);
  };
  try {
    await waitPort("127.0.0.1", p.c2sPort, 30_000, () => alive);
    await waitPort("127.0.0.1", p.s2sPort, 5_000, () => alive);
  } catch (e) {
    await stop();
    throw new Error(`prosody ${p.domain}: ${(e as Error).message}\n${logs().slice(-3000)}`);
  }
  return { logs, stop };
}
