#!/usr/bin/env -S node --max-semi-space-size=8 --single-threaded-gc
// The command line: start the server, manage accounts, check the configuration.
// Every failure a person can cause (bad config, port in use, unknown user) is one clear line.
import { parseArgs } from "node:util";
import { existsSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadConfig, documentConfig, type LoadedConfig } from "./core/config.ts";
import { ConfigError, parseShape } from "./core/schema.ts";
import { StanzaError } from "./core/errors.ts";
import { AccountError } from "./core/accounts.ts";
import { modules as defaultModules } from "./modules/index.ts";
import { askNewPassword, PromptError } from "./prompt.ts";
import { checkListeners, type ListenerAddress, type ListenerName, XmppServer } from "./server.ts";
import { StorageUnavailableError } from "./storage/errors.ts";
import { MemoryStorage } from "./storage/memory.ts";
import { describeStorage } from "./storage/open.ts";
import { certificateSources } from "./core/certificates/manager.ts";
import { loadCertificates } from "./core/certificates/load.ts";
import { certificateReport } from "./core/certificates/report.ts";
import { tightenDataDir } from "./storage/data-dir.ts";
import { BackupError, backupDataDir, restoreDataDir } from "./storage/embedded/backup.ts";
import { DataDirLock, LOCK_FILE } from "./storage/embedded/lock.ts";
import { type JID, JidError, normalizeLocal, parseJid } from "./xml/jid.ts";
import { AdminRefusal, adminRequest, adminSocketPath, NotRunningError } from "./ops/admin-client.ts";
import { answers } from "./ops/admin-socket.ts";
import type { ReloadReport, SessionInfo } from "./ops/admin-commands.ts";
import { DEFAULT_MAX_BYTES, exportAccounts, importFiles, pieLimits, PieError, type ImportSummary } from "./modules/pie/index.ts";
import { INVITE_OPTIONS } from "./modules/invite/index.ts";
import { invitationStores, Invitations } from "./modules/invite/store.ts";
import { dateTime, invitationUri } from "./modules/invite/uri.ts";

const USAGE = `usage: xmppd <command> [options]

commands:
  start                  run the server
  adduser <jid> [pass]   create an account of any hosted domain, a bare name being the domain's
                         (password asked twice, not echoed, when not given;
                         read from the first line of stdin when it is not a terminal)
  passwd <jid> [pass]    change an account's password (asked the same way)
  deluser <jid>          delete an account and everything stored for it
  users                  list accounts (of every hosted domain)
  invite [--domain <domain>] [--contact <jid>] [--username <name>]
                         make an invitation and print its link (xmpp:...?register;preauth=...):
                         it lets one person register at the domain (default: the configuration's
                         domain; with --contact, the contact's) although registration is closed;
                         with --contact they and that account become contacts; with --username
                         the new account gets that name
  invite --revoke <token>  revoke an invitation not used yet
  check                  validate the configuration and print the result
  import <file>...       add the accounts of a XEP-0227 export (Prosody's prosody-migrator, ejabberd's
                         export_piefxis, ours): all of them or, when anything is wrong, none
    --dry-run            check the export and say what would be imported; write nothing
    --skip-unknown       import what can be kept, leave out (and list) what cannot
    --max-size <MiB>     the export's size limit (default ${DEFAULT_MAX_BYTES >> 20} MiB)
  export <file>          write every account to a new XEP-0227 file (mode 0600)
  backup <dir>           copy the embedded store (consistent, while the server serves), uploaded files
                         and the self-signed certificate into a new folder
  restore <dir>          put a backup into dataDir; refused while a server runs there
    --replace            move what dataDir holds aside (into dataDir.before-restore-<time>) first
  config-doc             print the configuration reference (markdown)

commands for the running server (through its admin socket, adminSocket.path):
  sessions               list the sessions on this server
  kick <jid>             end a session (full JID), or every session of an account (bare JID)
  announce <text>        send a headline message from the server to every session (XEP-0133)
  stats                  the server's figures (sessions, connections, stanzas, queues, memory)
  reload                 read the configuration again: the certificate, log level and admins
                         take effect, connections stay; says what else needs a restart
  adduser, passwd, deluser and users go through the admin socket when the server runs
  (sessions of a deleted account end at once), and to the database when it does not;
  invite works on the database either way (the server reads invitations from there).

options:
  -c, --config <file>    config file (default: $XMPPD_CONFIG, else ./xmppd.jsonc when present)
      --json             sessions, stats: print the answer as JSON
  -h, --help             this text`;

class UsageError extends Error {}
/** A command refused for a reason the message gives in full. */
class CommandError extends Error {}

function configPath(arg: string | undefined): string | undefined {
  if (arg) return arg;
  if (process.env.XMPPD_CONFIG) return process.env.XMPPD_CONFIG;
  return existsSync("xmppd.jsonc") ? "xmppd.jsonc" : undefined;
}

/** An account's local part from the command line's <jid>, checked against the domain. */
/** An account of any hosted domain (domain, hosts), by its JID; a bare name is one of domain's. */
function accountOf(cfg: LoadedConfig, jidArg: string | undefined): JID {
  if (!jidArg) throw new UsageError("missing <jid>");
  const j = parseJid(jidArg.includes("@") ? jidArg : `${jidArg}@${cfg.server.domain}`);
  const hosted = [parseJid(cfg.server.domain).domain, ...Object.keys(cfg.server.hosts)];
  if (!hosted.includes(j.domain)) throw new UsageError(`${j.domain} is not a domain of this server (${hosted.join(", ")})`);
  if (!j.local) throw new UsageError("the JID needs a local part");
  return j.bare;
}

/** Each hosted domain's accounts, by domain (import and export). */
function hostAccounts(s: XmppServer) {
  return new Map([...s.hosts.all()].map((h) => [h.domain, h.accounts]));
}

/** The accounts of the account's host (accountOf checked that the server serves it). */
function accountsOf(s: XmppServer, account: JID) {
  return s.hosts.get(account.domain)!.accounts;
}

/** Runs with the storage open (the server is not running). */
async function offline(cfg: LoadedConfig, fn: (server: XmppServer) => Promise<void>): Promise<void> {
  const server = new XmppServer(cfg);
  try {
    await fn(server);
  } finally {
    await server.storage.close();
  }
}

/**
 * Asks the running server, through its admin socket; `notRunning` is what happens when none runs
 * (the account commands work on the database then). Without it, no server is an error.
 */
async function live<T>(cfg: LoadedConfig, command: string, args: string[], notRunning?: () => Promise<T>): Promise<T> {
  const path = adminSocketPath(cfg.server);
  if (!cfg.server.adminSocket.enabled) {
    if (notRunning) return notRunning();
    throw new CliError(`the admin socket is off (adminSocket.enabled): '${command}' needs it`);
  }
  try {
    return (await adminRequest(path, command, args)) as T;
  } catch (e) {
    if (e instanceof NotRunningError) {
      if (notRunning) return notRunning();
      throw new CliError(`the server is not running (${e.message})`);
    }
    if (e instanceof AdminRefusal) throw new CliError(e.message);
    throw e;
  }
}

class CliError extends Error {}

function printSessions(list: SessionInfo[]): void {
  if (list.length === 0) return void console.log("no sessions");
  const width = Math.max(...list.map((s) => s.jid.length));
  for (const s of list) {
    const state = s.detached ? "detached" : s.available ? "available" : "connected";
    console.log(`${s.jid.padEnd(width)}  ${state.padEnd(9)}  ${s.secure ? "tls  " : "plain"}  priority ${s.priority}  idle ${s.idle} s`);
  }
}

/** Nested figures as `a.b: value` lines. */
function printFigures(v: unknown, path = ""): void {
  if (typeof v === "object" && v !== null && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) printFigures(x, path ? `${path}.${k}` : k);
  } else console.log(`${path}: ${v === null ? "-" : String(v)}`);
}

const LISTENERS: [ListenerName, string][] = [["c2s", "c2s"], ["directTls", "direct TLS"], ["http", "http (ws://)"], ["https", "https (wss://)"]];

/**
 * The start line: every listener with the address it is bound to, and the certificate clients
 * are shown, with the SHA-256 fingerprint to compare before accepting a self-signed one.
 */
function servingLine(server: XmppServer): string {
  const at = ({ host, port }: ListenerAddress) => `${host.includes(":") ? `[${host}]` : host}:${port}`;
  const listeners = LISTENERS.map(([name, label]) => {
    const l = server.listening.find((x) => x.name === name);
    return `${label} ${l ? at(l) : "off"}`;
  });
  for (const [name, label] of [["s2s", "s2s"], ["s2sDirectTls", "s2s direct TLS"]] as const) {
    const l = server.listening.find((x) => x.name === name);
    if (l) listeners.push(`${label} ${at(l)}`);
  }
  const component = server.listening.find((x) => x.name === "component");
  if (component) listeners.push(`components ${at(component)} (${server.config.components.map((c) => c.domain).join(", ")})`);
  const metrics = server.listening.find((x) => x.name === "metrics");
  if (metrics) listeners.push(`metrics http://${at(metrics)}${server.config.metrics.path}`);
  const cert = server.certificate;
  const more = cert && cert.more > 0 ? ` (and ${cert.more} more chosen by name)` : "";
  return `xmppd: serving ${server.hosts.domains.join(", ")} on ${listeners.join(", ")}${cert ? `; certificate ${cert.path}, SHA-256 ${cert.sha256}${more}` : ""}`;
}

/** What a start checks before it creates anything: the server is made on a store in memory. */
function checkConfig(cfg: LoadedConfig): XmppServer {
  return new XmppServer(cfg, { storage: new MemoryStorage() });
}

/** `check`'s lines on the certificates: which covers each name served, and what is wrong. Reads only; makes nothing. */
function certificateLines(server: XmppServer): string[] {
  const loaded = loadCertificates(certificateSources(server.certificateSettings()), { makeSelfSigned: false });
  const report = certificateReport(loaded, server.servedNames(), server.acme?.names);
  return [...report.lines, ...report.warnings.map((w) => `warning: ${w}`)];
}

/**
 * Starts the server; resolves once it listens. A start that fails leaves nothing behind: the
 * configuration and every listener's address are checked before storage is opened, a failure
 * after that closes what was opened, and a data folder this start made is removed.
 */
async function start(cfg: LoadedConfig): Promise<number> {
  checkConfig(cfg);
  const socket = adminSocketPath(cfg.server);
  if (cfg.server.adminSocket.enabled && (await answers(socket))) throw new CliError(`a server is running already: it answers on ${socket}`);
  await checkListeners(cfg.server);
  const dataDir = resolve(cfg.server.dataDir);
  const madeDataDir = !existsSync(dataDir);
  // Before the database opens: SQLite makes its -wal and -shm files with the database's mode.
  const modes = tightenDataDir(dataDir);
  // Held until the process ends: a second server, or a restore, is refused on this folder meanwhile.
  const lock = DataDirLock.take(dataDir);
  if (!lock) {
    if (madeDataDir) rmSync(dataDir, { recursive: true, force: true });
    throw new CommandError(`another server is running on ${dataDir} (it holds ${join(dataDir, LOCK_FILE)})`);
  }
  let server: XmppServer | undefined;
  try {
    server = new XmppServer(cfg);
    if (modes.changed.length > 0) server.log.warn({ dataDir, changed: modes.changed }, "group and other permissions removed: the data folder is the server's only");
    if (modes.failed.length > 0) server.log.error({ dataDir, failed: modes.failed }, "could not make these private to the server's user");
    await server.start();
  } catch (e) {
    if (madeDataDir) {
      await server?.storage.close().catch(() => {});
      lock.release();
      rmSync(dataDir, { recursive: true, force: true });
    }
    throw e;
  }
  // Referenced until the process ends: a lock object left to the garbage collector would have its
  // database closed, and the folder's lock with it, while the server still serves.
  process.once("exit", () => lock.release());
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    server.log.info({ signal, drainTimeout: cfg.server.shutdown.drainTimeout }, "shutting down");
    // The drain is bounded by shutdown.drainTimeout; storing what the closed sessions left
    // unacknowledged and closing storage get half a minute more before the process gives up.
    setTimeout(() => {
      server.log.error("shutdown did not finish in time");
      process.exit(1);
    }, (cfg.server.shutdown.drainTimeout + 30) * 1000).unref();
    // Exit once the closed connections have flushed (a TLS socket writes its last records
    // asynchronously); something left holding the loop open gets three seconds.
    void server.stop().then(() => {
      process.exitCode = 0;
      setTimeout(() => process.exit(0), 3000).unref();
    }, (e: unknown) => {
      server.log.error({ err: e }, "shutdown failed");
      process.exit(1);
    });
  };
  // SIGHUP: what `xmppd reload` does (the certificate renewed by certbot, the log level, the admins).
  process.on("SIGHUP", () => void server.reload().catch((e: unknown) => server.log.error({ err: e }, "reload failed")));
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  console.error(servingLine(server));
  return -1;
}

/**
 * Runs `fn` with the configured storage open. A data folder made for it is removed afterwards
 * unless `fn` says it wrote something: a refused import (or an export of nothing) leaves no
 * empty database behind, as a failed start does not.
 */
async function withStorage(cfg: LoadedConfig, fn: (server: XmppServer) => Promise<boolean>): Promise<void> {
  const dataDir = resolve(cfg.server.dataDir);
  const made = !existsSync(dataDir);
  const s = new XmppServer(cfg);
  let wrote = false;
  try {
    wrote = await fn(s);
  } finally {
    await s.storage.close();
    if (made && !wrote) rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Backups here are of the embedded store; Cassandra's are its own (nodetool snapshot, see the README). */
function embeddedOnly(cfg: LoadedConfig, command: string): void {
  if (cfg.server.storage.backend !== "embedded") {
    throw new CommandError(`${command} copies the embedded store; with storage.backend ${cfg.server.storage.backend} the data is in the cluster: back it up with nodetool snapshot (README, Backups)`);
  }
}

/** What an import did (or, with --dry-run, would do), for the operator. */
function importReport(s: ImportSummary): string {
  const counted = (n: number, what: string) => `${n} ${n === 1 ? what.replace(/s$/, "") : what}`;
  const counts = Object.entries(s.counts).filter(([, n]) => n > 0).map(([what, n]) => counted(n, what));
  const lines = [`${s.written ? "imported" : "would import (--dry-run: nothing was written)"} ${counted(s.accounts.length, "accounts")}: ${s.accounts.join(", ")}`];
  if (counts.length > 0) lines.push(`with ${counts.join(", ")}`);
  for (const n of s.notes) lines.push(`note: ${n}`);
  for (const l of s.leftOut) lines.push(`left out: ${l}`);
  return lines.join("\n");
}

interface InviteArgs { domain?: string; contact?: string; username?: string; revoke?: string }

/** The hosted domain an invitation is for: --domain's, else --contact's, else the configuration's. */
function inviteDomain(server: XmppServer, args: InviteArgs): string {
  const contactDomain = args.contact?.includes("@") ? parseJid(args.contact).domain : undefined;
  const given = args.domain !== undefined ? parseJid(args.domain).domain : undefined;
  if (given !== undefined && contactDomain !== undefined && given !== contactDomain) throw new UsageError(`${args.contact} is not an account of ${given}`);
  const domain = given ?? contactDomain ?? server.hosts.primary.domain;
  if (!server.hosts.has(domain)) throw new UsageError(`${domain} is not a domain of this server (${server.hosts.domains.join(", ")})`);
  return domain;
}

/** `invite`: an invitation made on the database, as the module's commands make them (XEP-0401). */
async function invite(cfg: LoadedConfig, args: InviteArgs): Promise<void> {
  if (args.revoke !== undefined && (args.contact !== undefined || args.username !== undefined || args.domain !== undefined)) throw new UsageError("--revoke takes no other option");
  if (args.contact !== undefined && args.username !== undefined) throw new UsageError("--username is for an account invitation, not with --contact");
  const { expiry } = parseShape(INVITE_OPTIONS, cfg.modules.invite, "modules.invite.", cfg.modulesFromEnv);
  const server = new XmppServer(cfg);
  try {
    const invitations = new Invitations(invitationStores(server.storage), server.hosts);
    if (args.revoke !== undefined) {
      if (!(await invitations.revoke(args.revoke))) throw new StanzaError("item-not-found", `no open invitation ${args.revoke}`);
      console.log(`revoked ${args.revoke}`);
      return;
    }
    const domain = inviteDomain(server, args);
    let inviter: string | undefined;
    if (args.contact !== undefined) {
      const j = parseJid(args.contact.includes("@") ? args.contact : `${args.contact}@${domain}`);
      if (!j.local) throw new UsageError(`${args.contact} is not an account of ${domain}`);
      if (!(await server.hosts.get(domain)!.accounts.exists(j.local))) throw new AccountError(`no account ${j.bare}`);
      inviter = j.local;
    }
    const invitation = await invitations.create({
      kind: inviter !== undefined ? "contact" : "account", domain, creator: "", ttlMs: expiry * 1000,
      ...(inviter !== undefined ? { inviter } : {}), ...(args.username !== undefined ? { username: normalizeLocal(args.username) } : {}),
    });
    console.log(invitationUri(invitation));
    console.log(`expires ${dateTime(invitation.expires)}`);
  } finally {
    await server.storage.close();
  }
}

async function run(argv: string[]): Promise<number> {
  // What the commands make in dataDir (the database and its journal, keys, uploads) is the server user's only.
  process.umask(0o077);
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: "string", short: "c" }, help: { type: "boolean", short: "h" }, json: { type: "boolean" },
      "dry-run": { type: "boolean" }, "skip-unknown": { type: "boolean" }, "max-size": { type: "string" }, replace: { type: "boolean" },
      contact: { type: "string" }, username: { type: "string" }, revoke: { type: "string" }, domain: { type: "string" },
    },
  });
  const [command, ...rest] = positionals;
  const { contact, username, revoke, domain } = values;
  if (command !== "invite" && (contact ?? username ?? revoke ?? domain) !== undefined) throw new UsageError("--domain, --contact, --username and --revoke are options of invite");
  if (values.help || !command) {
    console.log(USAGE);
    return command || values.help ? 0 : 1;
  }
  if (command === "config-doc") {
    console.log(documentConfig(defaultModules));
    return 0;
  }
  const cfg = loadConfig(configPath(values.config));
  switch (command) {
    case "start":
      return start(cfg);
    case "adduser": {
      const account = accountOf(cfg, rest[0]);
      const password = rest[1] ?? (await askNewPassword());
      const r = await live<{ created: string }>(cfg, "adduser", [account.toString(), password], async () => {
        let created = "";
        await offline(cfg, async (s) => {
          await accountsOf(s, account).create(account.local, password);
          created = account.toString();
        });
        return { created };
      });
      console.log(`created ${r.created}`);
      return 0;
    }
    case "passwd": {
      const account = accountOf(cfg, rest[0]);
      const password = rest[1] ?? (await askNewPassword());
      const r = await live<{ changed: string }>(cfg, "passwd", [account.toString(), password], async () => {
        let changed = "";
        await offline(cfg, async (s) => {
          await accountsOf(s, account).setPassword(account.local, password);
          changed = account.toString();
        });
        return { changed };
      });
      console.log(`password changed for ${r.changed}`);
      return 0;
    }
    case "deluser": {
      const account = accountOf(cfg, rest[0]);
      const r = await live<{ deleted: string }>(cfg, "deluser", [account.toString()], async () => {
        let deleted = "";
        await offline(cfg, async (s) => {
          await accountsOf(s, account).delete(account.local);
          deleted = account.toString();
        });
        return { deleted };
      });
      console.log(`deleted ${r.deleted}`);
      return 0;
    }
    case "users": {
      const users = await live<string[]>(cfg, "users", [], async () => {
        let list: string[] = [];
        await offline(cfg, async (s) => {
          for (const host of s.hosts.all()) list.push(...(await host.accounts.listMarked()));
          list.sort();
        });
        return list;
      });
      for (const u of users) console.log(u);
      return 0;
    }
    case "sessions": {
      const list = await live<SessionInfo[]>(cfg, "sessions", []);
      if (values.json) console.log(JSON.stringify(list, null, 2));
      else printSessions(list);
      return 0;
    }
    case "kick": {
      if (!rest[0]) throw new UsageError("missing <jid>");
      const r = await live<{ kicked: string[] }>(cfg, "kick", [rest[0]]);
      for (const j of r.kicked) console.log(`kicked ${j}`);
      return 0;
    }
    case "announce": {
      if (rest.length === 0) throw new UsageError("missing <text>");
      const r = await live<{ sent: number }>(cfg, "announce", [rest.join(" ")]);
      console.log(`announced to ${r.sent} session${r.sent === 1 ? "" : "s"}`);
      return 0;
    }
    case "stats": {
      const figures = await live<Record<string, unknown>>(cfg, "stats", []);
      if (values.json) console.log(JSON.stringify(figures, null, 2));
      else printFigures(figures);
      return 0;
    }
    case "reload": {
      const r = await live<ReloadReport>(cfg, "reload", []);
      console.log(`reloaded: ${r.applied.length > 0 ? r.applied.join(", ") : "nothing changed that applies live"}`);
      if (r.restartNeeded.length > 0) console.log(`changed, needs a restart: ${r.restartNeeded.join(", ")}`);
      return 0;
    }
    case "import": {
      if (rest.length === 0) throw new UsageError("import needs the export's file(s)");
      const maxMiB = values["max-size"] === undefined ? undefined : Number(values["max-size"]);
      if (maxMiB !== undefined && !(Number.isInteger(maxMiB) && maxMiB > 0)) throw new UsageError("--max-size takes a whole number of MiB");
      await withStorage(cfg, async (s) => {
        const summary = await importFiles(rest, {
          storage: s.storage, hosts: hostAccounts(s),
          limits: pieLimits((def) => s.optionsOf(def), cfg.server.auth.iterations),
        }, { dryRun: values["dry-run"], skipUnknown: values["skip-unknown"], maxBytes: maxMiB === undefined ? undefined : maxMiB << 20 });
        console.log(importReport(summary));
        return summary.written;
      });
      return 0;
    }
    case "export": {
      if (rest.length !== 1) throw new UsageError("export needs one file to write");
      await withStorage(cfg, async (s) => {
        const summary = await exportAccounts(rest[0]!, { storage: s.storage, hosts: hostAccounts(s) });
        console.log(`exported ${summary.accounts} accounts of ${s.hosts.domains.join(", ")} (${summary.offline} offline and ${summary.archived} archived messages) to ${resolve(rest[0]!)}, readable by this user only`);
        if (summary.skipped.length > 0) console.log(`left out, being imported: ${summary.skipped.join(", ")}`);
        return false;
      });
      return 0;
    }
    case "backup": {
      if (rest.length !== 1) throw new UsageError("backup needs the folder to make");
      embeddedOnly(cfg, "backup");
      const b = await backupDataDir(cfg.server.dataDir, rest[0]!);
      console.log(`backed up ${resolve(cfg.server.dataDir)} to ${b.dir}: the database (${b.databaseBytes} bytes) and ${b.files} files (${b.fileBytes} bytes)`);
      return 0;
    }
    case "restore": {
      if (rest.length !== 1) throw new UsageError("restore needs the backup's folder");
      embeddedOnly(cfg, "restore");
      const r = restoreDataDir(rest[0]!, cfg.server.dataDir, { replace: values.replace });
      console.log(`restored ${resolve(rest[0]!)} into ${resolve(cfg.server.dataDir)}: the database (${r.databaseBytes} bytes) and ${r.files} files` +
        (r.movedAside ? `; what it held before is in ${r.movedAside}` : ""));
      return 0;
    }
    case "invite":
      await invite(cfg, { domain, contact, username, revoke });
      return 0;
    case "check": {
      const server = checkConfig(cfg);
      const certificates = certificateLines(server);
      const hosts = Object.keys(cfg.server.hosts);
      const served = hosts.length > 0 ? `domains ${[cfg.server.domain, ...hosts].join(", ")}` : `domain ${cfg.server.domain}`;
      console.log(`configuration OK${cfg.path ? ` (${cfg.path})` : " (defaults)"}: ${served}, data in ${resolve(cfg.server.dataDir)}, ${describeStorage(cfg.server.storage, cfg.server.dataDir)}`);
      for (const line of certificates) console.log(line);
      return 0;
    }
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

run(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof ConfigError) console.error(`xmppd: configuration error: ${e.message}`);
    else if (e instanceof UsageError) console.error(`xmppd: ${e.message}\n\n${USAGE}`);
    else if (e instanceof AccountError || e instanceof JidError || e instanceof PromptError || e instanceof CliError || e instanceof PieError || e instanceof BackupError || e instanceof CommandError) console.error(`xmppd: ${e.message}`);
    else if (e instanceof StanzaError) console.error(`xmppd: ${e.text ?? e.condition}`);
    else if (e instanceof StorageUnavailableError) console.error(`xmppd: storage unavailable: ${e.message}`);
    else if (e instanceof Error && /already in use|cannot listen/.test(e.message)) console.error(`xmppd: ${e.message}`);
    else if (e instanceof TypeError && (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) console.error(`xmppd: ${e.message}\n\n${USAGE}`);
    else console.error(e);
    process.exitCode = 1;
  },
);
