// The composition root: configuration, storage, router, modules and listeners, wired explicitly.
// Module dependencies are declared by the modules and checked here at boot, not implied by order.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { AddressInfo, Server as NetServer } from "node:net";
import { hostname } from "node:os";
import { join } from "node:path";
import type { Accounts } from "./core/accounts.ts";
import { Hosts } from "./core/hosts.ts";
import { loadConfig, type HostConfig, type LoadedConfig, type ServerConfig } from "./core/config.ts";
import { StreamError } from "./core/errors.ts";
import { Events } from "./core/events.ts";
import { createLogger, type Logger } from "./core/log.ts";
import { DiscoRegistry } from "./core/disco.ts";
import { ModuleContext, ServiceRegistry, orderModules, type ModuleDefinition, type ModuleHost } from "./core/module.ts";
import { Router } from "./core/router.ts";
import { removeAccount } from "./core/account-removal.ts";
import { Telemetry } from "./core/telemetry.ts";
import { ConfigError, parseShape, type Infer, type Shape } from "./core/schema.ts";
import { SessionDirectory } from "./core/session.ts";
import { startCluster, type Cluster } from "./cluster/index.ts";
import { modules as defaultModules } from "./modules/index.ts";
import { openStorage, storageReady } from "./storage/open.ts";
import { ObservedStorage } from "./storage/observed.ts";
import type { StorageProvider } from "./storage/types.ts";
import { C2SStream } from "./stream/c2s.ts";
import { ComponentStream } from "./stream/component.ts";
import { ExternalComponents } from "./stream/components.ts";
import type { ClientSession } from "./stream/client-session.ts";
import { LocalResumption, type ResumptionRegistry } from "./stream/sm.ts";
import { BacklogLedger } from "./stream/backlog.ts";
import { LocalLoginThrottle, type LoginThrottle, type LoginThrottleOptions } from "./stream/login-throttle.ts";
import { FastTokens } from "./stream/fast-tokens.ts";
import type { UnknownUsers } from "./core/credentials.ts";
import { IdGenerator } from "./storage/ids.ts";
import type { InlineBindHandler, PreAuthRequestHandler, StreamElementHandler } from "./core/stream-handlers.ts";
import type { OpenStream, StreamContext } from "./stream/context.ts";
import { listenTcp, probeAddresses } from "./transports/tcp.ts";
import { loadTrustStore } from "./transports/tls.ts";
import { Federation } from "./stream/s2s/federation.ts";
import { HttpRoutes, listenHttp, openBoshSessions, openWebSockets } from "./transports/http.ts";
import type { Transport } from "./transports/transport.ts";
import { adminCommands, type ReloadReport } from "./ops/admin-commands.ts";
import { adminSocketPath } from "./ops/admin-client.ts";
import { listenAdmin, type AdminSocket } from "./ops/admin-socket.ts";
import { listenMetrics } from "./ops/endpoint.ts";
import { StorageCounts, TRANSPORTS, type MetricsSource, type TransportName } from "./ops/metrics.ts";
import { readiness } from "./ops/readiness.ts";
import { ServerCertificates } from "./core/certificates/manager.ts";
import { AcmeService, acmeNames } from "./core/acme/service.ts";
import { acmeCertificates } from "./core/acme/store.ts";
import { type JID, parseJid } from "./xml/jid.ts";

/** How long a stopping server waits for a client's last <a/>: a round trip, on a slow mobile link. */
const LAST_ACK_WAIT_MS = 2000;

export type ListenerName = "c2s" | "directTls" | "http" | "https" | "s2s" | "s2sDirectTls" | "component" | "metrics";

/** The transport a client listener's connections count under in the metrics (components are no clients). */
const TRANSPORT_OF: Partial<Record<ListenerName, TransportName>> = { c2s: "tcp", directTls: "tls", http: "websocket", https: "websocket" };

/**
 * Connections the component listener takes at once: one per configured component, the rest
 * handshakes under way (a component reconnecting while its old connection is not gone yet).
 */
const COMPONENT_CONNECTIONS = 64;

/** How long /ready waits for storage and Redis to answer. */
const READY_TIMEOUT_MS = 2000;

/** The version in package.json, read once. */
let version: string | undefined;
function serverVersion(): string {
  version ??= (JSON.parse(readFileSync(join(import.meta.dirname, "..", "package.json"), "utf8")) as { version: string }).version;
  return version;
}

/** A listener and the address it binds; a port of 0 turns it off. */
export interface ListenerAddress { name: ListenerName; host: string; port: number }

/** The listeners the configuration turns on, in the order they open (`all`: the ones turned off too). */
export function listenerAddresses(config: ServerConfig, all = false): ListenerAddress[] {
  const { c2s, http, component, metrics, s2s } = config;
  const list: ListenerAddress[] = [
    { name: "c2s", host: c2s.host, port: c2s.port },
    { name: "directTls", host: c2s.host, port: c2s.directTlsPort },
    { name: "http", host: http.host, port: http.port },
    { name: "https", host: http.tlsHost, port: http.tlsPort },
    { name: "s2s", host: s2s.host, port: s2s.enabled ? s2s.port : 0 },
    { name: "s2sDirectTls", host: s2s.host, port: s2s.enabled ? s2s.directTlsPort : 0 },
    // Only when components are configured: with none, nothing could pass its handshake.
    { name: "component", host: component.host, port: config.components.length > 0 ? component.port : 0 },
    { name: "metrics", host: metrics.host, port: metrics.enabled ? metrics.port : 0 },
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
  readonly sessions = new SessionDirectory();
  readonly disco = new DiscoRegistry();
  readonly storage: StorageProvider;
  /** The accounts of `domain` (each host's: hosts). */
  readonly accounts: Accounts;
  /** The domains served (virtual hosts): `domain` first, then those of `hosts`. */
  readonly hosts: Hosts;
  readonly router: Router;
  /** The external components the configuration allows (XEP-0114), and which are connected. */
  readonly components: ExternalComponents;
  loginThrottle: LoginThrottle;
  /** Set at start, from storage, before any listener opens. */
  unknownUsers!: UnknownUsers;
  readonly streamElements = new Map<string, StreamElementHandler>();
  readonly inlineBind = new Map<string, InlineBindHandler>();
  /** FAST tokens (XEP-0484), in storage so that every node knows them; undefined when FAST is off. */
  readonly fastTokens: FastTokens | undefined;
  /** Pre-authentication iq handlers by namespace, as modules register them. */
  readonly preAuthIq = new Map<string, PreAuthRequestHandler>();
  readonly streams = new Set<OpenStream>();
  resumption: ResumptionRegistry<ClientSession> = new LocalResumption<ClientSession>();
  readonly ids = new IdGenerator();
  readonly services = new ServiceRegistry();
  /** Session-closed listeners still running (presence unavailable, last activity writes). */
  readonly closing = new Set<Promise<void>>();
  /** Unsent output of slow client connections, per account and in all. */
  readonly backlog: BacklogLedger;
  /** Bound ports by listener name, once started (tests listen on port 0). */
  readonly ports: Partial<Record<ListenerName, number>> = {};
  /** What the server counts as it runs (metrics, stats). */
  readonly telemetry = new Telemetry();
  /** Client connections accepted since start, by transport (TRANSPORTS order). */
  readonly accepted = new Float64Array(TRANSPORTS.length);
  /** The admin socket, once started (adminSocket.enabled). */
  adminSocket: AdminSocket | undefined;
  /** The server is stopping: it takes no new clients (/ready says so). */
  draining = false;
  private readonly startedAt = Date.now();
  /** Storage as the metrics see it (calls that failed, write times); undefined with metrics off. */
  private readonly storageCounts: StorageCounts | undefined;
  /** The open listeners by name (their connections count in the metrics). */
  private readonly servers = new Map<ListenerName, NetServer>();
  /** The listeners open, with the addresses they are bound to. */
  readonly listening: ListenerAddress[] = [];
  /** The modules' paths on the HTTP listeners (HTTP upload). */
  readonly http = new HttpRoutes();

  /** What modules reach through their contexts: the registries and lookups, nothing of the streams. */
  readonly moduleHost: ModuleHost;

  private readonly contexts: ModuleContext<unknown>[] = [];
  private readonly listeners: NetServer[] = [];
  /** The certificates the TLS listeners choose from by name; read when the listeners open. */
  private certificates: ServerCertificates | undefined;
  /** The ACME client (acme.enabled), which keeps a certificate from the CA installed. */
  readonly acme: AcmeService | undefined;
  /** The other nodes, when `cluster.redis` is set. */
  private cluster: Cluster | undefined;
  /** Connections with other servers, when s2s.enabled; made at start. */
  federation: Federation | undefined;

  private readonly loaded: LoadedConfig;

  constructor(loaded: LoadedConfig, opts: ServerOptions = {}) {
    this.loaded = loaded;
    this.config = loaded.server;
    this.domain = parseJid(this.config.domain);
    if (this.domain.local || this.domain.resource) throw new ConfigError(`domain: '${this.config.domain}' is not a domain`);
    this.log = opts.log ?? createLogger(this.config.log.level);
    const storage = opts.storage ?? openStorage(this.config.storage, this.config.dataDir);
    // Storage is watched (a promise more per call) only when metrics are on.
    this.storageCounts = this.config.metrics.enabled ? new StorageCounts() : undefined;
    this.storage = this.storageCounts ? new ObservedStorage(storage, this.storageCounts) : storage;
    this.telemetry.timing = this.config.metrics.enabled;
    this.hosts = new Hosts(hostConfigs(this.config), this.storage, this.config.auth.iterations);
    this.accounts = this.hosts.primary.accounts;
    this.router = new Router(this.domain, this.sessions, this.events, this.hosts, this.log, this.telemetry);
    this.events.onNotify("session/bound", () => void this.telemetry.sessionsBound++, "first");
    this.loginThrottle = new LocalLoginThrottle(this.throttleOptions());
    this.backlog = new BacklogLedger({ account: this.config.limits.accountBacklog, process: this.config.limits.processBacklog });
    const { fastTokenDays } = this.config.auth;
    this.fastTokens = fastTokenDays > 0 ? new FastTokens(this.storage.map("fast"), fastTokenDays * 86_400_000) : undefined;
    try {
      this.moduleList = orderModules(opts.modules ?? defaultModules);
    } catch (e) {
      throw new ConfigError((e as Error).message);
    }
    this.ephemeralPorts = opts.ephemeralPorts ?? false;
    this.checkModuleOptions();
    this.checkComponentDomains();
    const { components, component } = this.config;
    this.components = new ExternalComponents(components, component.onConflict, component, this.router, this.disco);
    this.moduleHost = this.hostOfModules();
    this.acme = this.acmeService();
  }

  /** The ACME client, when acme.enabled: checked here, so that `check` refuses what would not work. */
  private acmeService(): AcmeService | undefined {
    const { acme, http, dataDir } = this.config;
    if (!acme.enabled) return undefined;
    if (http.port === 0) throw new ConfigError("acme: the CA's HTTP-01 challenges are answered on the plain HTTP listener: set http.port (and forward port 80 to it)");
    // By default the domain and the modules' services; components' domains only when listed (a
    // gateway's name that does not reach this server would fail the whole order).
    const components = new Set(this.config.components.map((c) => c.domain));
    return new AcmeService(acme, acmeNames(acme.domains, this.servedNames().filter((n) => !components.has(n))), {
      dataDir, routes: this.http, log: this.log.child({ acme: true }),
      installed: () => {
        try {
          this.certificates?.reload();
        } catch (e) {
          this.log.error({ err: e }, "certificates could not be read again after the ACME client installed one");
        }
      },
    });
  }

  /** The names this server answers for, its certificates' concern: each hosted domain and its loaded services', each component's. */
  servedNames(): string[] {
    const names = [...this.serviceDomains().keys()];
    names.push(...this.config.components.map((c) => c.domain));
    return [...new Set(names)];
  }

  /**
   * Each hosted domain and each of its loaded modules' service domains (ModuleDefinition.domains),
   * with what takes it. A name taken twice (a host that is another host's service, two hosts'
   * services on one name) is refused: the router would hand its stanzas to one of them only.
   */
  private serviceDomains(): Map<string, string> {
    const taken = new Map<string, string>();
    for (const host of this.hosts.all()) {
      taken.set(host.domain, host === this.hosts.primary ? "the server's own domain" : `a hosted domain (hosts.${host.domain})`);
    }
    for (const host of this.hosts.all()) {
      for (const m of this.moduleList) {
        for (const d of m.domains?.(this.moduleOptions.get(m.name) as never, host.domain, host === this.hosts.primary) ?? []) {
          const name = parseJid(d).domain;
          const primary = host === this.hosts.primary;
          const owner = `the domain of module ${m.name}${primary ? ` (modules.${m.name}.domain)` : ` on ${host.domain}`}`;
          const before = taken.get(name);
          if (before !== undefined && before !== owner) throw new ConfigError(`${name} is ${before} and ${owner}`);
          taken.set(name, owner);
        }
      }
    }
    return taken;
  }

  /** Where the certificates are read from (the tls section, the ACME client's folder). */
  certificateSettings(tls = this.config.tls) {
    const { dataDir, acme } = this.config;
    return { tls, dataDir, domain: this.domain.domain, hosts: this.hosts.domains.slice(1), optionalDirectories: acme.enabled ? [acmeCertificates(dataDir)] : [] };
  }

  private readonly moduleList: ModuleDefinition<Shape>[];
  private readonly moduleOptions = new Map<string, unknown>();
  private readonly ephemeralPorts: boolean;

  private hostOfModules(): ModuleHost {
    const { dataDir, registration, c2s, sm, http } = this.config;
    return {
      domain: this.domain, hosts: this.hosts, router: this.router, sessions: this.sessions, events: this.events,
      disco: this.disco, storage: this.storage, services: this.services, ids: this.ids,
      preAuthIq: this.preAuthIq, streamElements: this.streamElements, inlineBind: this.inlineBind, http: this.http, httpPorts: this.ports,
      settings: {
        dataDir, registration, c2s: { requireTls: c2s.requireTls }, http: { publicUrl: http.publicUrl, secureProxy: http.secureProxy }, sm: { maxQueue: sm.maxQueue, pushResumeTimeout: sm.pushResumeTimeout },
        ephemeralPorts: this.ephemeralPorts,
      },
      telemetry: this.telemetry,
      isAdmin: (jid, domain) => this.hosts.isAdmin(jid, domain),
      settled: () => this.settled(),
    };
  }

  private throttleOptions(): LoginThrottleOptions {
    return { perAddress: this.config.auth.failuresPerMinute, perAccount: this.config.auth.failuresPerAccount };
  }

  /** A loaded module's options, as validated when the server was made; undefined when the module is not loaded. */
  optionsOf<S extends Shape>(def: ModuleDefinition<S>): Infer<S> | undefined {
    return this.moduleOptions.get(def.name) as Infer<S> | undefined;
  }

  /** SASL's lookup: the account `username` of the hosted domain `domain`. */
  credentials(username: string, domain: string) {
    return this.hosts.get(domain)?.accounts.credentials(username) ?? Promise.resolve(undefined);
  }

  /** Whether the JID is an admin of the host `domain` (default: of its own). */
  isAdmin(jid: JID, domain?: string): boolean {
    return this.hosts.isAdmin(jid, domain);
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

  /**
   * An external component's domain is its own: not the server's, nor a loaded module's service
   * (ModuleDefinition.domains), whose stanzas it would otherwise take.
   */
  private checkComponentDomains(): void {
    const taken = this.serviceDomains();
    for (const c of this.config.components) {
      const owner = taken.get(c.domain);
      if (owner !== undefined) throw new ConfigError(`components: ${c.domain} is ${owner}`);
    }
  }

  async settled(): Promise<void> {
    while (this.closing.size > 0) await Promise.allSettled([...this.closing]);
  }

  async start(): Promise<void> {
    await storageReady(this.storage instanceof ObservedStorage ? this.storage.inner : this.storage);
    this.unknownUsers = await this.accounts.unknownUsers();
    for (const m of this.moduleList) {
      const options = this.moduleOptions.get(m.name);
      const ctx = new ModuleContext<unknown>(m.name, options, this.moduleHost, this.log.child({ module: m.name }));
      await m.setup(ctx as ModuleContext<never>);
      this.contexts.push(ctx);
    }
    this.components.start();
    this.cluster = await startCluster(this);
    if (this.config.s2s.enabled) await this.startFederation();
    if (this.cluster) {
      // Shared with the other nodes: resumption tokens (a client may resume on any node) and the
      // login throttle. A single node keeps the in-process ones, with no round trip.
      this.resumption = this.cluster.resumption(this.resumption);
      this.loginThrottle = this.cluster.loginThrottle(this.loginThrottle as LocalLoginThrottle, this.throttleOptions());
    }
    try {
      await this.listen();
      if (this.config.adminSocket.enabled) {
        this.adminSocket = await listenAdmin(adminSocketPath(this.config), adminCommands(this.adminHost()), this.log.child({ admin: true }));
      }
    } catch (e) {
      // Nothing stays half-started: the listeners opened so far close, and modules and storage with them.
      await this.stop();
      throw e;
    }
    this.acme?.start();
    this.log.info({ domain: this.domain.domain, listening: this.listening, certificate: this.certificate }, "listening");
  }

  /** Federation: the dialback secret (configured, or made once and kept in storage: the same on every node). */
  private async startFederation(): Promise<void> {
    const { s2s } = this.config;
    let secret = s2s.dialbackSecret;
    if (secret === undefined) {
      const store = this.storage.keyval<{ secret: string }>("s2s");
      await store.add("dialback", { secret: randomBytes(32).toString("base64url") });
      secret = (await store.get("dialback"))!.secret;
    }
    this.federation = new Federation({
      config: this.config, log: this.log.child({ s2s: true }), serves: (d) => this.router.serves(d),
      route: (el) => {
        this.federation!.counts.stanzasIn++;
        return this.router.route(el);
      },
      tls: (domain) => this.certificates?.store.select(domain), trust: loadTrustStore(s2s.trustStore), dialbackSecret: secret,
    }, { bounce: (stanza, error) => this.router.bounce(stanza, error), request: (iq, ms) => this.router.request(iq, ms) });
    this.router.remote = this.federation;
  }

  private async listen(): Promise<void> {
    this.certificates = new ServerCertificates(this.certificateSettings(), this.log.child({ tls: true }));
    const tls = this.certificates.store;
    const counted = (name: TransportName) => {
      const slot = TRANSPORTS.indexOf(name);
      return (t: Transport) => {
        this.accepted[slot]!++;
        new C2SStream(t, this);
      };
    };
    const { c2s, http, limits, metrics } = this.config;
    for (const l of listenerAddresses(this.config, this.ephemeralPorts)) {
      if (l.name === "metrics" && !metrics.enabled) continue;
      if (l.name === "component" && !this.components.configured) continue;
      if ((l.name === "s2s" || l.name === "s2sDirectTls") && !this.federation) continue;
      const port = this.ephemeralPorts ? 0 : l.port;
      const federation = this.federation;
      const s = l.name === "metrics"
        ? await listenMetrics({ host: l.host, port, path: metrics.path, source: this.metricsSource(), storage: this.storageCounts, ready: this.ready })
        : l.name === "s2s" || l.name === "s2sDirectTls"
          ? await listenTcp({ host: l.host, port, directTls: l.name === "s2sDirectTls", tls, maxConnections: c2s.maxConnections,
            requestCert: { trust: federation!.ctx.trust }, onConnection: (t) => federation!.accept(t) })
        // No TLS material: XEP-0114 has no STARTTLS, and the listener is on loopback by default.
        : l.name === "component"
          ? await listenTcp({ host: l.host, port, directTls: false, tls: undefined, maxConnections: COMPONENT_CONNECTIONS, onConnection: (t) => new ComponentStream(t, this) })
        : l.name === "c2s" || l.name === "directTls"
          ? await listenTcp({ host: l.host, port, directTls: l.name === "directTls", tls, maxConnections: c2s.maxConnections, onConnection: counted(TRANSPORT_OF[l.name]!) })
          : await listenHttp({
            host: l.host, port, tls: l.name === "https" ? tls : undefined, secureProxy: http.secureProxy, publicUrl: http.publicUrl,
            maxMessage: limits.stanzaSize * 4 + 1024, maxConnections: c2s.maxConnections, onConnection: counted("websocket"), routes: this.http,
            bosh: http.bosh.enabled
              ? { ...http.bosh, maxBody: limits.stanzaSize * 4 + 1024, maxDepth: limits.maxDepth, maxSessions: c2s.maxConnections, onConnection: counted("bosh") }
              : undefined,
          });
      this.listeners.push(s);
      this.servers.set(l.name, s);
      const bound = s.address() as AddressInfo;
      this.ports[l.name] = bound.port;
      this.listening.push({ name: l.name, host: bound.address, port: bound.port });
    }
  }

  /** Whether this node can take clients now (/ready): undefined when it can, else why not. */
  readonly ready = readiness({
    draining: () => this.draining,
    probeStorage: () => this.storage.keyval("accounts").get(""),
    probeRedis: () => this.cluster?.ping(),
  }, READY_TIMEOUT_MS);

  /** What the metrics read, when scraped. */
  private metricsSource(): MetricsSource {
    return {
      telemetry: this.telemetry,
      accepted: this.accepted,
      openConnections: () => this.openConnections(),
      sessions: () => this.sessionCounts(),
      bus: () => this.cluster?.bus,
      s2s: () => this.federation && { open: this.federation.openStreams(), ...this.federation.counts },
      node: this.config.cluster.node ?? hostname(),
      version: serverVersion(),
    };
  }

  /** Client connections open now, by transport: TCP connections on the c2s listeners, WebSockets and BOSH sessions on the HTTP ones. */
  async openConnections(): Promise<Record<TransportName, number>> {
    const open: Record<TransportName, number> = { tcp: 0, tls: 0, websocket: 0, bosh: 0 };
    for (const [name, server] of this.servers) {
      const transport = TRANSPORT_OF[name];
      if (transport === undefined) continue;
      if (transport === "websocket") {
        open.websocket += openWebSockets(server as import("node:http").Server);
        open.bosh += openBoshSessions(server as import("node:http").Server);
      } else open[transport] += await new Promise<number>((resolve) => server.getConnections((err, n) => resolve(err ? 0 : n)));
    }
    return open;
  }

  private sessionCounts(): { bound: number; detached: number } {
    let detached = 0;
    for (const s of this.sessions.all()) if (s.detached) detached++;
    return { bound: this.sessions.size, detached };
  }

  /** The server's figures, for `xmppd stats`. */
  async stats(): Promise<Record<string, unknown>> {
    const t = this.telemetry;
    const byKind = (a: Float64Array) => ({ message: a[0], presence: a[1], iq: a[2] });
    const memory = process.memoryUsage();
    return {
      version: serverVersion(),
      domain: this.domain.toString(),
      hosts: this.hosts.domains,
      node: this.config.cluster.node ?? hostname(),
      uptime: Math.round((Date.now() - this.startedAt) / 1000),
      draining: this.draining,
      sessions: this.sessionCounts(),
      components: this.components.connected(),
      connections: { open: await this.openConnections(), accepted: Object.fromEntries(TRANSPORTS.map((n, i) => [n, this.accepted[i]])) },
      stanzas: { received: byKind(t.stanzasIn), sent: byKind(t.stanzasOut) },
      auth: Object.fromEntries(t.authCounts()),
      offline: { stored: t.offline.stored, delivered: t.offline.delivered, refused: t.offline.refused, pending: t.offline.pending },
      archives: Object.fromEntries([...t.queues].map(([name, q]) => [name, q()])),
      cluster: this.cluster ? { node: this.cluster.node, bus: this.cluster.bus } : null,
      s2s: this.federation ? { open: this.federation.openStreams(), ...this.federation.counts, routes: this.federation.describe() } : null,
      memory: { rss: memory.rss, heapUsed: memory.heapUsed, heapTotal: memory.heapTotal },
    };
  }

  /**
   * Reads the configuration file again and applies what can change while the server runs: the
   * certificates (read again from their files, which certbot renews in place, and the tls
   * section), the log level and the admins. New TLS connections and STARTTLS upgrades get the new
   * certificates; connections open now keep theirs and are not dropped. Whatever else differs
   * from the running configuration is reported as needing a restart, and is not applied. A
   * configuration that does not load, or a certificate that cannot be read, changes nothing.
   */
  async reload(): Promise<ReloadReport> {
    const loaded = loadConfig(this.loaded.path);
    const fresh = loaded.server;
    const applied: string[] = [];
    const restartNeeded = [...changedKeys(this.config, fresh), ...changedKeys(this.loaded.modules, loaded.modules, "modules")]
      .filter((k) => !/^(tls|log|admins)(\.|$)|^hosts\..+\.admins$/.test(k));
    if (this.certificates) {
      // The store is replaced in place: the listeners choose from it at each handshake.
      this.certificates.reload(fresh.tls);
      applied.push(`tls (${this.certificates.describe()})`);
    }
    if (fresh.log.level !== this.log.level) {
      this.log.level = fresh.log.level;
      applied.push(`log.level ${fresh.log.level}`);
    }
    if (this.hosts.setAdmins(hostConfigs(fresh).map(([domain, c]) => [domain, c.admins]))) {
      const hosts = [...this.hosts.all()];
      applied.push(`admins (${hosts.length === 1 ? hosts[0]!.admins.size : hosts.map((h) => `${h.domain}: ${h.admins.size}`).join(", ")})`);
    }
    this.log.info({ applied, restartNeeded }, "configuration reloaded");
    return { applied, restartNeeded };
  }

  /** What the admin socket's commands use. */
  private adminHost() {
    return {
      domain: this.domain,
      sessions: this.sessions,
      domains: this.hosts.domains,
      accountsOf: (domain: string) => this.hosts.get(domain)?.accounts,
      removeAccount: (account: JID) => removeAccount({
        accountsOf: (domain) => this.hosts.get(domain)?.accounts, sessions: this.sessions, settled: () => this.settled(),
        notify: (name, value, onError) => this.events.notify(name, value, onError ?? ((e) => this.log.error({ err: e }, `${name} listener failed`))),
      }, account),
      stats: () => this.stats(),
      reload: () => this.reload(),
    };
  }

  /**
   * The certificate the TLS listeners present by default (tls.cert, the one for the domain, or the
   * self-signed one made at first start), once started; `more`: those chosen by name besides it.
   */
  get certificate(): { path: string; sha256: string; more: number } | undefined {
    const store = this.certificates?.store;
    return store && { path: store.default.certPath, sha256: store.default.fingerprint, more: store.certificates.filter((m) => m !== store.default).length };
  }

  /**
   * The drain: stops accepting connections at once; every stream finishes what it has received
   * and its client is told to reconnect (`condition`, <system-shutdown/> by default), for at most
   * shutdown.drainTimeout seconds, after which what is left is closed. The unacknowledged stanzas
   * of the closed sessions go to offline storage before modules unload and storage closes.
   */
  async stop(condition: "system-shutdown" | "see-other-host" = "system-shutdown", otherHost?: string): Promise<void> {
    this.draining = true;
    // The metrics listener stays open through the drain, its /ready answering 503 "draining".
    const metrics = this.servers.get("metrics");
    for (const l of this.listeners) if (l !== metrics) l.close();
    const err = new StreamError(condition, condition === "system-shutdown" ? "the server is shutting down" : undefined, otherHost);
    const drainMs = this.config.shutdown.drainTimeout * 1000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, drainMs)));
    const drained = Promise.allSettled([...this.streams].map((s) => s.shutdown(err, Math.min(LAST_ACK_WAIT_MS, drainMs))));
    // Sessions waiting to be resumed (XEP-0198) have no stream to drain: they end now.
    for (const s of [...this.sessions.all()]) if (s.detached) s.close(err);
    await Promise.race([drained, timeout]);
    clearTimeout(timer);
    for (const s of [...this.streams]) s.close(err);
    this.federation?.stop();
    this.acme?.stop();
    this.certificates?.close();
    // Unavailable presence and last-activity writes of the closed sessions finish before storage closes.
    await this.settled();
    await this.cluster?.stop();
    await this.events.notify("server/stopping", { condition }, (e) => this.log.error({ err: e }, "server/stopping listener failed"));
    this.components.stop();
    while (this.contexts.length) this.contexts.pop()!.unload();
    await this.storage.close();
    await this.adminSocket?.close();
    metrics?.close();
    this.log.info("stopped");
  }
}

/** Each served domain's settings: `domain`'s are the top-level admins and registration, the others' their `hosts` entries. */
function hostConfigs(config: ServerConfig): [string, HostConfig][] {
  return [[config.domain, { admins: config.admins, registration: config.registration }], ...Object.entries(config.hosts)];
}

/** Dotted keys whose values differ between two configurations (a section's own keys, not the section). */
export function changedKeys(a: unknown, b: unknown, path = ""): string[] {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) => changedKeys(a[k], b[k], path ? `${path}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [path];
}
