// Starts a real server on loopback with ephemeral ports and a throwaway data folder.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/core/config.ts";
import { createLogger } from "../../src/core/log.ts";
import { XmppServer } from "../../src/server.ts";
import { ModuleContext, type ModuleDefinition } from "../../src/core/module.ts";
import type { Shape } from "../../src/core/schema.ts";
import type { StorageProvider } from "../../src/storage/types.ts";

// Tests trust the server's self-signed certificate.
process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";

export interface TestServer {
  server: XmppServer;
  /** The server as a module sees it, for a test that acts as one (deleting an account). */
  context: ModuleContext<unknown>;
  domain: string;
  port: number;
  tlsPort: number;
  dataDir: string;
  /** Stops the server; keeps the data folder unless `purge` (default true). */
  stop(purge?: boolean): Promise<void>;
}

export interface TestServerOptions {
  /** Raw config, as in the config file. */
  config?: Record<string, unknown>;
  dataDir?: string;
  users?: Record<string, string>;
  /** The storage to run on (a test double around the embedded one, say); default: the embedded store in dataDir. */
  storage?: (dataDir: string) => StorageProvider;
  /** The module list instead of the default one (a test adds a module of its own). */
  modules?: ModuleDefinition<Shape>[];
  /** Where the log goes (pino's JSON lines), at `level` or TEST_LOG's; default stderr at TEST_LOG's level or silent. */
  log?: { level: string; destination: NodeJS.WritableStream };
}

export async function startServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "xmppd-test-"));
  const file = join(dataDir, "config.json");
  const { writeFileSync } = await import("node:fs");
  writeFileSync(file, JSON.stringify({
    domain: "localhost",
    dataDir,
    c2s: { host: "127.0.0.1", requireTls: true },
    http: { host: "127.0.0.1", tlsHost: "127.0.0.1" },
    // Federation only where a test turns it on (with its own resolver): no DNS query leaves the machine.
    s2s: { enabled: false, host: "127.0.0.1" },
    log: { level: process.env.TEST_LOG ?? opts.log?.level ?? "silent" },
    // Tests send as fast as they can: the input shapers are lifted unless a test's config has a
    // limits section of its own (test/integration/limits.test.ts runs them as shipped).
    limits: { bytesPerSecond: 0, stanzasPerSecond: 0 },
    ...opts.config,
    // @xmpp/client takes SASL2 (XEP-0388) when it is offered, and then Bind 2 (XEP-0386) chooses
    // the resource; tests address their clients by the resource they asked for, so SASL2 is off
    // unless a test turns it on (test/integration/sasl2.test.ts).
    auth: { sasl2: false, ...(opts.config?.auth as Record<string, unknown> | undefined) },
  }));
  const loaded = loadConfig(file, {});
  const server = new XmppServer(loaded, { ephemeralPorts: true, log: createLogger(loaded.server.log.level, opts.log?.destination), storage: opts.storage?.(dataDir), modules: opts.modules });
  await server.start();
  for (const [user, pass] of Object.entries(opts.users ?? {})) {
    if (!(await server.accounts.exists(user))) await server.accounts.create(user, pass);
  }
  return {
    server,
    context: new ModuleContext("test", {}, server.moduleHost, server.log),
    domain: server.domain.toString(),
    port: server.ports.c2s!,
    tlsPort: server.ports.directTls!,
    dataDir,
    async stop(purge = true) {
      await server.stop();
      if (purge) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
