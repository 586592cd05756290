// The composition root: configuration, storage, router, modules and listeners, wired explicitly.
// Module dependencies are declared by the modules and checked here at boot, not implied by order.
import type { AddressInfo, Server as NetServer } from "node:net";
import { Accounts } from "./core/accounts.ts";
import type { LoadedConfig, ServerConfig } from "./core/config.ts";
import { StreamError } from "./core/errors.ts";
import { Events } from "./core/events.ts";
import { WindowCounter } from "./core/limits.ts";
import { createLogger, type Logger } from "./core/log.ts";
import { DiscoRegistry } from "./core/disco.ts";
import { ModuleContext, ServiceRegistry, orderModules, type ModuleDefinition, type ModuleHost } from "./core/module.ts";
import { Router } from "./core/router.ts";
import { ConfigError, parseShape, type Infer, type Shape } from "./core/schema.ts";
import { LocalSessions } from "./core/session.ts";
import { startCluster, type Cluster } from "./cluster/index.ts";
import type { AuthThrottle } from "./cluster/redis.ts";
import { modules as defaultModules } from "./modules/index.ts";
import { openStorage, storageReady } from "./storage/open.ts";
import type { StorageProvider } from "./storage/types.ts";
import { C2SStream } from "./stream/c2s.ts";
import { LocalResumption, type ResumptionRegistry } from "./stream/sm.ts";
import { IdGenerator } from "./storage/ids.ts";
import type { PreAuthIqHandler, StreamElementHandler } from "./core/stream-handlers.ts";
import type { StreamContext } from "./stream/context.ts";
import { listenTcp, probeAddresses } from "./transports/tcp.ts";
import { HttpRoutes, listenHttp } from "./transports/http.ts";
import { loadTls } from "./core/certificates.ts";
import type { TlsMaterial } from "./transports/tls.ts";
import { type JID, parseJid } from "./xml/jid.ts";

/** How long a stopping server waits for a client's last <a/>: a round trip, on a slow mobile link. */
const LAST_ACK_WAIT_MS = 2000;

export type ListenerName = "c2s" | "directTls" | "http" | "https";

/** A listener and the address it binds; a port of 0 turns it off. */
export interface ListenerAddress { name: ListenerName; host: string; port: number }

/** The listeners the configuration turns on, in the order they open (`all`: the ones turned off too). */
export function listenerAddresses(config: ServerConfig, all = false): ListenerAddress[] {
  const { c2s, http } = config;
  const list: ListenerAddress[] = [
    { name: "c2s", host: c2s.host, port: c2s.port },
    { name: "directTls", host: c2s.host, port: c2s.directTlsPort },
    { name: "http", host: http.host, port: http.port },
    { name: "https", host: http.tlsHost, port: http.tlsPort },
  ];
  return all ? list : list.filter((l) => l.port !== 0);
}

/**
 * Whether every configured listener can bind its address, checked before the server is made: a
 * port in use stops the start before the data folder, the database or a certificate is created.
 */
export function checkListeners(config: ServerConfig): Promise<void> {
  return probeAddresses(listenerAddresses(config));
}

export interface ServerOptions {
  log?: Logger;
  storage?: StorageProvider;
  modules?: ModuleDefinition<Shape>[];
  /** Tests: bind every listener to a free port chosen by the system (read back from ports). */
  ephemeralPorts?: boolean;
}

export class XmppServer implements StreamContext {
  readonly config: ServerConfig;
  readonly domain: JID;
  readonly log: Logger;
  readonly events = new Events();
  readonly sessions = new LocalSessions();
  readonly disco = new DiscoRegistry();
  readonly storage: StorageProvider;
  readonly accounts: Accounts;
  readonly router: Router;
  authFailures: AuthThrottle;
  readonly streamElements = new Map<string, StreamElementHandler>();
  readonly preAuthIq = new Map<string, PreAuthIqHandler>();
  readonly streams = new Set<C2SStream>();
  resumption: ResumptionRegistry<C2SStream> = new LocalResumption<C2SStream>();
  readonly ids = new IdGenerator();
  readonly services = new ServiceRegistry();
  /** Session-closed listeners still running (presence unavailable, last activity writes). */
  readonly closing = new Set<Promise<void>>();
  /** Bound ports by listener name, once started (tests listen on port 0). */
  readonly ports: { c2s?: number; directTls?: number; http?: number; https?: number } = {};
  /** The listeners open, with the addresses they are bound to. */
  readonly listening: ListenerAddress[] = [];
  /** The modules' paths on the HTTP listeners (HTTP upload). */
  readonly http = new HttpRoutes();

  /** What modules reach through their contexts: the registries and lookups, nothing of the streams. */
  readonly moduleHost: ModuleHost;

  private readonly admins: Set<string>;
  private readonly contexts: ModuleContext<unknown>[] = [];
  private readonly listeners: NetServer[] = [];
  private tls: TlsMaterial | undefined;
  /** The other nodes, when `cluster.redis` is set. */
  private cluster: Cluster | undefined;

  private readonly loaded: LoadedConfig;

  constructor(loaded: LoadedConfig, opts: ServerOptions = {}) {
    this.loaded = loaded;
    this.config = loaded.server;
    this.domain = parseJid(this.config.domain);
    if (this.domain.local || this.domain.resource) throw new ConfigError(`domain: '${this.config.domain}' is not a domain`);
    this.log = opts.log ?? createLogger(this.config.log.level);
    this.admins = new Set(this.config.admins.map((a) => parseJid(a).bare.toString()));
    this.storage = opts.storage ?? openStorage(this.config.storage, this.config.dataDir);
    this.accounts = new Accounts(this.storage, this.domain.domain, this.config.auth.iterations);
    this.router = new Router(this.domain, this.sessions, this.events, this.accounts, this.log);
    this.authFailures = new WindowCounter(60_000, this.config.auth.failuresPerMinute);
    try {
      this.moduleList = orderModules(opts.modules ?? defaultModules);
    } catch (e) {
      throw new ConfigError((e as Error).message);
    }
    this.ephemeralPorts = opts.ephemeralPorts ?? false;
    this.checkModuleOptions();
    this.moduleHost = this.hostOfModules();
  }

  private readonly moduleList: ModuleDefinition<Shape>[];
  private readonly moduleOptions = new Map<string, unknown>();
  private readonly ephemeralPorts: boolean;

  private hostOfModules(): ModuleHost {
    const { dataDir, registration, c2s, sm } = this.config;
    return {
      domain: this.domain, router: this.router, sessions: this.sessions, accounts: this.accounts, events: this.events,
      disco: this.disco, storage: this.storage, services: this.services, ids: this.ids,
      preAuthIq: this.preAuthIq, streamElements: this.streamElements, http: this.http, httpPorts: this.ports,
      settings: { dataDir, registration, c2s: { requireTls: c2s.requireTls }, sm: { maxQueue: sm.maxQueue, pushResumeTimeout: sm.pushResumeTimeout } },
      isAdmin: (jid) => this.isAdmin(jid),
      settled: () => this.settled(),
    };
  }

  /** A loaded module's options, as validated when the server was made; undefined when the module is not loaded. */
  optionsOf<S extends Shape>(def: ModuleDefinition<S>): Infer<S> | undefined {
    return this.moduleOptions.get(def.name) as Infer<S> | undefined;
  }

  credentials(username: string) {
    return this.accounts.credentials(username);
  }

  isAdmin(jid: JID): boolean {
    return this.admins.has(jid.bare.toString());
  }

  /**
   * Validates the 'modules' section of the config against each module's schema, when the server
   * is made: `check` refuses what `start` would. start() sets the modules up with these values.
   */
  private checkModuleOptions(): void {
    const names = new Set(this.moduleList.map((m) => m.name));
    for (const key of Object.keys(this.loaded.modules)) {
      if (!names.has(key)) throw new ConfigError(`modules.${key}: no such module (loaded: ${[...names].join(", ")})`);
    }
    for (const m of this.moduleList) {
      this.moduleOptions.set(m.name, parseShape(m.options ?? {}, this.loaded.modules[m.name], `modules.${m.name}.`, this.loaded.modulesFromEnv));
    }
  }

  async settled(): Promise<void> {
    while (this.closing.size > 0) await Promise.allSettled([...this.closing]);
  }

  async start(): Promise<void> {
    await storageReady(this.storage);
    for (const m of this.moduleList) {
      const options = this.moduleOptions.get(m.name);
      const ctx = new ModuleContext<unknown>(m.name, options, this.moduleHost, this.log.child({ module: m.name }));
      await m.setup(ctx as ModuleContext<never>);
      this.contexts.push(ctx);
    }
    this.cluster = await startCluster(this);
    if (this.cluster) {
      // Shared with the other nodes: resumption tokens (a client may resume on any node) and the
      // failed-login throttle. A single node keeps the in-process ones, with no round trip.
      this.resumption = this.cluster.resumption(this.resumption);
      this.authFailures = this.cluster.authThrottle(this.authFailures as WindowCounter, 60_000, this.config.auth.failuresPerMinute);
    }
    try {
      await this.listen();
    } catch (e) {
      // Nothing stays half-started: the listeners opened so far close, and modules and storage with them.
      await this.stop();
      throw e;
    }
    this.log.info({ domain: this.domain.domain, listening: this.listening, certificate: this.certificate }, "listening");
  }

  private async listen(): Promise<void> {
    this.tls = loadTls({ ...this.config.tls, dataDir: this.config.dataDir, domain: this.domain.domain });
    const onConnection = (t: import("./transports/transport.ts").Transport) => new C2SStream(t, this);
    const { c2s, http, limits } = this.config;
    for (const l of listenerAddresses(this.config, this.ephemeralPorts)) {
      const port = this.ephemeralPorts ? 0 : l.port;
      const s = l.name === "c2s" || l.name === "directTls"
        ? await listenTcp({ host: l.host, port, directTls: l.name === "directTls", tls: this.tls, maxConnections: c2s.maxConnections, onConnection })
        : await listenHttp({
          host: l.host, port, tls: l.name === "https" ? this.tls : undefined, secureProxy: http.secureProxy, publicUrl: http.publicUrl,
          maxMessage: limits.stanzaSize * 4 + 1024, maxConnections: c2s.maxConnections, onConnection, routes: this.http,
        });
      this.listeners.push(s);
      const bound = s.address() as AddressInfo;
      this.ports[l.name] = bound.port;
      this.listening.push({ name: l.name, host: bound.address, port: bound.port });
    }
  }

  /** The certificate the TLS listeners present (the self-signed one made at first start, or tls.cert), once started. */
  get certificate(): { path: string; sha256: string } | undefined {
    return this.tls && { path: this.tls.certPath, sha256: this.tls.fingerprint };
  }

  /**
   * The drain: stops accepting connections at once; every stream finishes what it has received
   * and its client is told to reconnect (`condition`, <system-shutdown/> by default), for at most
   * shutdown.drainTimeout seconds, after which what is left is closed. The unacknowledged stanzas
   * of the closed sessions go to offline storage before modules unload and storage closes.
   */
  async stop(condition: "system-shutdown" | "see-other-host" = "system-shutdown", otherHost?: string): Promise<void> {
    for (const l of this.listeners) l.close();
    const err = new StreamError(condition, condition === "system-shutdown" ? "the server is shutting down" : undefined, otherHost);
    const drainMs = this.config.shutdown.drainTimeout * 1000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, drainMs)));
    const drained = Promise.allSettled([...this.streams].map((s) => s.shutdown(err, Math.min(LAST_ACK_WAIT_MS, drainMs))));
    await Promise.race([drained, timeout]);
    clearTimeout(timer);
    for (const s of [...this.streams]) s.close(err);
    // Unavailable presence and last-activity writes of the closed sessions finish before storage closes.
    await this.settled();
    await this.cluster?.stop();
    await this.events.notify("server/stopping", { condition }, (e) => this.log.error({ err: e }, "server/stopping listener failed"));
    while (this.contexts.length) this.contexts.pop()!.unload();
    await this.storage.close();
    this.log.info("stopped");
  }
}
