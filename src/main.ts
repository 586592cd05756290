#!/usr/bin/env -S node --max-semi-space-size=4 --single-threaded-gc
// The command line: start the server, manage accounts, check the configuration.
// Every failure a person can cause (bad config, port in use, unknown user) is one clear line.
import { parseArgs } from "node:util";
import { existsSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import { loadConfig, documentConfig, type LoadedConfig } from "./core/config.ts";
import { ConfigError } from "./core/schema.ts";
import { AccountError } from "./core/accounts.ts";
import { modules as defaultModules } from "./modules/index.ts";
import { askNewPassword, PromptError } from "./prompt.ts";
import { checkListeners, type ListenerAddress, type ListenerName, XmppServer } from "./server.ts";
import { StorageUnavailableError } from "./storage/errors.ts";
import { MemoryStorage } from "./storage/memory.ts";
import { describeStorage } from "./storage/open.ts";
import { tightenDataDir } from "./storage/data-dir.ts";
import { JidError, parseJid } from "./xml/jid.ts";

const USAGE = `usage: xmppd <command> [options]

commands:
  start                  run the server
  adduser <jid> [pass]   create an account (password asked twice, not echoed, when not given;
                         read from the first line of stdin when it is not a terminal)
  passwd <jid> [pass]    change an account's password (asked the same way)
  deluser <jid>          delete an account and everything stored for it
  users                  list accounts
  check                  validate the configuration and print the result
  config-doc             print the configuration reference (markdown)

options:
  -c, --config <file>    config file (default: $XMPPD_CONFIG, else ./xmppd.jsonc when present)
  -h, --help             this text`;

class UsageError extends Error {}

function configPath(arg: string | undefined): string | undefined {
  if (arg) return arg;
  if (process.env.XMPPD_CONFIG) return process.env.XMPPD_CONFIG;
  return existsSync("xmppd.jsonc") ? "xmppd.jsonc" : undefined;
}

/** An account command: parse the JID, check its domain, run with the storage open. */
async function withAccount(cfg: LoadedConfig, jidArg: string | undefined, fn: (server: XmppServer, local: string) => Promise<void>): Promise<void> {
  if (!jidArg) throw new UsageError("missing <jid>");
  const j = parseJid(jidArg.includes("@") ? jidArg : `${jidArg}@${cfg.server.domain}`);
  const server = new XmppServer(cfg);
  try {
    if (j.domain !== server.domain.domain) throw new UsageError(`${j.domain} is not this server's domain (${server.domain.domain})`);
    if (!j.local) throw new UsageError("the JID needs a local part");
    await fn(server, j.local);
  } finally {
    await server.storage.close();
  }
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
  const cert = server.certificate;
  return `xmppd: serving ${server.domain} on ${listeners.join(", ")}${cert ? `; certificate ${cert.path}, SHA-256 ${cert.sha256}` : ""}`;
}

/** What a start checks before it creates anything: the server is made on a store in memory. */
function checkConfig(cfg: LoadedConfig): void {
  new XmppServer(cfg, { storage: new MemoryStorage() });
}

/**
 * Starts the server; resolves once it listens. A start that fails leaves nothing behind: the
 * configuration and every listener's address are checked before storage is opened, a failure
 * after that closes what was opened, and a data folder this start made is removed.
 */
async function start(cfg: LoadedConfig): Promise<number> {
  checkConfig(cfg);
  await checkListeners(cfg.server);
  const dataDir = resolve(cfg.server.dataDir);
  const madeDataDir = !existsSync(dataDir);
  // Before the database opens: SQLite makes its -wal and -shm files with the database's mode.
  const modes = tightenDataDir(dataDir);
  let server: XmppServer | undefined;
  try {
    server = new XmppServer(cfg);
    if (modes.changed.length > 0) server.log.warn({ dataDir, changed: modes.changed }, "group and other permissions removed: the data folder is the server's only");
    if (modes.failed.length > 0) server.log.error({ dataDir, failed: modes.failed }, "could not make these private to the server's user");
    await server.start();
  } catch (e) {
    if (madeDataDir) {
      await server?.storage.close().catch(() => {});
      rmSync(dataDir, { recursive: true, force: true });
    }
    throw e;
  }
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
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  console.error(servingLine(server));
  return -1;
}

async function run(argv: string[]): Promise<number> {
  // What the commands make in dataDir (the database and its journal, keys, uploads) is the server user's only.
  process.umask(0o077);
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { config: { type: "string", short: "c" }, help: { type: "boolean", short: "h" } },
  });
  const [command, ...rest] = positionals;
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
    case "adduser":
      await withAccount(cfg, rest[0], async (s, local) => {
        await s.accounts.create(local, rest[1] ?? (await askNewPassword()));
        console.log(`created ${local}@${s.domain}`);
      });
      return 0;
    case "passwd":
      await withAccount(cfg, rest[0], async (s, local) => {
        await s.accounts.setPassword(local, rest[1] ?? (await askNewPassword()));
        console.log(`password changed for ${local}@${s.domain}`);
      });
      return 0;
    case "deluser":
      await withAccount(cfg, rest[0], async (s, local) => {
        await s.accounts.delete(local);
        console.log(`deleted ${local}@${s.domain}`);
      });
      return 0;
    case "users": {
      const s = new XmppServer(cfg);
      for (const u of await s.accounts.list()) console.log(u);
      await s.storage.close();
      return 0;
    }
    case "check": {
      checkConfig(cfg);
      console.log(`configuration OK${cfg.path ? ` (${cfg.path})` : " (defaults)"}: domain ${cfg.server.domain}, data in ${resolve(cfg.server.dataDir)}, ${describeStorage(cfg.server.storage, cfg.server.dataDir)}`);
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
    else if (e instanceof AccountError || e instanceof JidError || e instanceof PromptError) console.error(`xmppd: ${e.message}`);
    else if (e instanceof StorageUnavailableError) console.error(`xmppd: storage unavailable: ${e.message}`);
    else if (e instanceof Error && /already in use|cannot listen/.test(e.message)) console.error(`xmppd: ${e.message}`);
    else if (e instanceof TypeError && (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) console.error(`xmppd: ${e.message}\n\n${USAGE}`);
    else console.error(e);
    process.exitCode = 1;
  },
);
