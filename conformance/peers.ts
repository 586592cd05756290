// For scale, not for CI: the same suite, with the same selection (excluded.json) as xmppd's plain
// profile, against the Debian packages of Prosody and ejabberd. Each runs on a free loopback port
// from a temporary folder as a child process of this script (stopped by its PID; never a system
// service), with an admin account made by its own command line, so that sinttest provisions
// accounts through XEP-0133 as it does for xmppd. Writes results/peer-<server>.json, which
// `node conformance/run.ts --report` shows in RESULTS.md.
//
//   node conformance/peers.ts [prosody] [ejabberd] [--only Class,Class.method]   (--only: printed, nothing written)
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, createWriteStream } from "node:fs";
import { tmpdir } from "node:os";
import { parseArgs } from "node:util";
import { join } from "node:path";
import { ADMIN, DOMAIN, freePort } from "./lib/server.ts";
import { build, runSinttest } from "./lib/smack.ts";
import { forProfile, formatRun, readRun, type RunnerJson } from "./lib/report.ts";
import { readExclusions } from "./run.ts";

const dir = import.meta.dirname;
const logs = join(dir, "target", "logs");

interface Peer {
  /** The version the package reports, for the report. */
  version: string;
  port: number;
  stop(): Promise<void>;
}

async function waitForPort(port: number, child: ChildProcess, what: string, ms = 60_000): Promise<void> {
  const { connect } = await import("node:net");
  const deadline = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode}) before listening`);
    const open = await new Promise<boolean>((r) => {
      const s = connect({ host: "127.0.0.1", port }, () => (s.end(), r(true)));
      s.once("error", () => r(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on ${port} in ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The installed Debian package's version (the servers' own --version flags start them). */
function debianVersion(pkg: string): string {
  return spawnSync("dpkg-query", ["-W", "-f", "${Version}", pkg], { encoding: "utf8" }).stdout.trim() || "?";
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const t = setTimeout(() => child.kill("SIGKILL"), 15_000);
  await exited;
  clearTimeout(t);
}

// ---- Prosody ------------------------------------------------------------------------------------

async function prosody(): Promise<Peer> {
  const home = mkdtempSync(join(tmpdir(), "conformance-prosody-"));
  const port = await freePort();
  const cfg = join(home, "prosody.cfg.lua");
  // Debian's default module set, without what needs the system (posix daemon, admin socket).
  writeFileSync(cfg, `
run_as_root = true
pidfile = "${home}/prosody.pid"
data_path = "${home}"
admins = { "${ADMIN.username}@${DOMAIN}" }
modules_enabled = {
  "disco"; "roster"; "saslauth"; "tls"; "blocklist"; "bookmarks"; "carbons"; "pep"; "private";
  "smacks"; "vcard4"; "vcard_legacy"; "csi_simple"; "ping"; "register"; "time"; "uptime";
  "version"; "admin_adhoc";
}
modules_disabled = { "s2s" }
c2s_ports = { ${port} }
c2s_interfaces = { "127.0.0.1" }
c2s_direct_tls_ports = { }
s2s_ports = { }
component_ports = { }
http_ports = { }
https_ports = { }
c2s_require_encryption = false
authentication = "internal_hashed"
log = { { levels = { min = "info" }, to = "file", filename = "${home}/prosody.log" } }
certificates = "${home}/certs"
VirtualHost "${DOMAIN}"
`);
  const reg = spawnSync("prosodyctl", ["--config", cfg, "register", ADMIN.username, DOMAIN, ADMIN.password], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 30_000 });
  if (reg.status !== 0) throw new Error(`prosodyctl register failed: ${reg.stderr}${reg.stdout}`);
  const version = `Prosody ${debianVersion("prosody")}`;
  const child = spawn("prosody", ["--config", cfg, "-F"], { stdio: ["ignore", "pipe", "pipe"] });
  const out = createWriteStream(join(logs, "peer-prosody-server.log"));
  child.stdout.pipe(out);
  child.stderr.pipe(out);
  await waitForPort(port, child, "prosody");
  return {
    version, port,
    stop: async () => {
      await stopChild(child);
      if (existsSync(join(home, "prosody.log"))) writeFileSync(join(logs, "peer-prosody.log"), readFileSync(join(home, "prosody.log")));
      rmSync(home, { recursive: true, force: true });
    },
  };
}

// ---- ejabberd -----------------------------------------------------------------------------------

async function ejabberd(): Promise<Peer> {
  const home = mkdtempSync(join(tmpdir(), "conformance-ejabberd-"));
  const [port, epmdPort] = [await freePort(), await freePort()];
  const node = `conformance-${process.pid}@localhost`;
  const yml = join(home, "ejabberd.yml");
  const ctlCfg = join(home, "ejabberdctl.cfg");
  // A plain-text c2s listener on loopback only; Debian's default modules, with XEP-0133 (mod_configure) for the admin.
  writeFileSync(yml, `
loglevel: info
hosts: [${DOMAIN}]
listen:
  - port: ${port}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    max_stanza_size: 262144
    access: c2s
auth_password_format: scram
acl:
  admin:
    user:
      - "${ADMIN.username}@${DOMAIN}"
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    allow: all
  configure:
    allow: admin
  pubsub_createnode:
    allow: local
shaper_rules:
  max_user_sessions: 10
  max_user_offline_messages: 100
modules:
  mod_adhoc: {}
  mod_admin_extra: {}
  mod_blocking: {}
  mod_caps: {}
  mod_carboncopy: {}
  mod_configure: {}
  mod_disco: {}
  mod_last: {}
  mod_offline: {}
  mod_ping: {}
  mod_privacy: {}
  mod_private: {}
  mod_pubsub:
    access_createnode: pubsub_createnode
    plugins: [flat, pep]
  mod_register: {}
  mod_roster:
    versioning: true
  mod_stream_mgmt: {}
  mod_vcard: {}
  mod_time: {}
  mod_version: {}
`);
  // Erlang distribution and its port mapper on loopback, on a port of their own.
  writeFileSync(ctlCfg, `INET_DIST_INTERFACE=127.0.0.1\nERL_EPMD_ADDRESS=127.0.0.1\nEJABBERD_PID_PATH=${home}/ejabberd.pid\n`);
  mkdirSync(join(home, "db"));
  spawnSync("chown", ["-R", "ejabberd:ejabberd", home]);
  const env = { ...process.env, ERL_EPMD_PORT: String(epmdPort) };
  const ctl = (...args: string[]) => ["--ctl-config", ctlCfg, "--config", yml, "--spool", join(home, "db"), "--logs", home, "--node", node, ...args];
  const child = spawn("ejabberdctl", ctl("foreground"), { stdio: ["ignore", "pipe", "pipe"], env, detached: true });
  const out = createWriteStream(join(logs, "peer-ejabberd-server.log"));
  child.stdout.pipe(out);
  child.stderr.pipe(out);
  const stop = async () => {
    spawnSync("ejabberdctl", ctl("stop"), { env, stdio: "ignore", timeout: 30_000 });
    await Promise.race([new Promise((r) => child.once("exit", r)), new Promise((r) => setTimeout(r, 15_000))]);
    // ejabberdctl runs erl through su: the whole process group is ours.
    if (child.exitCode === null && child.pid) try { process.kill(-child.pid, "SIGKILL"); } catch {}
    // The port mapper erl started for this node, found by its own port.
    const ss = spawnSync("ss", ["-Hltnp", `sport = :${epmdPort}`], { encoding: "utf8" }).stdout;
    for (const m of ss.matchAll(/pid=(\d+)/g)) try { process.kill(Number(m[1]), "SIGTERM"); } catch {}
    if (existsSync(join(home, "ejabberd.log"))) writeFileSync(join(logs, "peer-ejabberd.log"), readFileSync(join(home, "ejabberd.log")));
    rmSync(home, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, child, "ejabberd", 90_000);
    const reg = spawnSync("ejabberdctl", ctl("register", ADMIN.username, DOMAIN, ADMIN.password), { encoding: "utf8", env, stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 });
    if (reg.status !== 0) throw new Error(`ejabberdctl register failed: ${reg.stderr}${reg.stdout}`);
  } catch (e) {
    await stop();
    throw e;
  }
  return { version: `ejabberd ${debianVersion("ejabberd")}`, port, stop };
}

const PEERS: Record<string, () => Promise<Peer>> = { prosody, ejabberd };

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({ options: { only: { type: "string" } }, allowPositionals: true });
  const names = positionals.length ? positionals : Object.keys(PEERS);
  mkdirSync(logs, { recursive: true });
  mkdirSync(join(dir, "results"), { recursive: true });
  const classpath = build();
  const ex = forProfile(readExclusions(), "plain");
  let failed = false;
  for (const name of names) {
    const start = PEERS[name];
    if (!start) throw new Error(`no peer '${name}' (${Object.keys(PEERS).join(", ")})`);
    let peer: Peer;
    try {
      peer = await start();
    } catch (e) {
      console.error(`peer ${name}: could not start: ${(e as Error).message}`);
      failed = true;
      continue;
    }
    const resultsFile = join(logs, `peer-${name}-results.json`);
    const t0 = Date.now();
    try {
      await runSinttest({
        classpath, port: peer.port, securityMode: "disabled", admin: ADMIN, replyTimeoutMs: 5000, exclusions: ex, only: values.only,
        resultsFile, logFile: join(logs, `peer-${name}-sinttest.log`),
      });
    } finally {
      await peer.stop();
    }
    if (!existsSync(resultsFile)) {
      console.error(`peer ${name}: no results; see ${join(logs, `peer-${name}-sinttest.log`)}`);
      failed = true;
      continue;
    }
    const run = readRun(JSON.parse(readFileSync(resultsFile, "utf8")) as RunnerJson, ex, `${peer.version} (plain, same selection)`, (Date.now() - t0) / 1000, "admin commands (XEP-0133)");
    if (values.only) {
      // A look at some tests (run.ts's --only): printed, nothing written.
      for (const [id, t] of Object.entries(run.tests)) if (t.result !== "excluded") console.log(`peer ${name}: ${t.result.padEnd(10)} ${id}${t.reason ? `: ${t.reason}` : ""}`);
      continue;
    }
    writeFileSync(join(dir, "results", `peer-${name}.json`), formatRun(run));
    const c = Object.values(run.tests).reduce((a, t) => ((a[t.result] = (a[t.result] ?? 0) + 1), a), {} as Record<string, number>);
    console.log(`peer ${name}: ${c.passed ?? 0} passed, ${c.failed ?? 0} failed, ${c.impossible ?? 0} impossible, ${c.excluded ?? 0} excluded${run.aborted ? ` (stopped part way: ${run.aborted})` : ""}`);
  }
  return failed ? 1 : 0;
}

main().then((code) => (process.exitCode = code), (e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
