// The module API. A module is one XEP (or RFC chapter) with a small declared surface: its name,
// the specifications it implements, the disco features it adds, its typed options, what it
// depends on, and a setup that works only through the context it is given. Everything a module
// registers is recorded by its context, so unloading it removes handlers, features and timers.
import type { Element } from "../xml/element.ts";
import type { JID } from "../xml/jid.ts";
import type { Accounts } from "./accounts.ts";
import type { Hosts } from "./hosts.ts";
import type { Delivery, Dispatch, HttpPorts, Notify, RequestIq, Send, ServerSettings, Sessions } from "./capabilities.ts";
import type { DiscoItem, DiscoNode, DiscoRegistry, DiscoView, Identity } from "./disco.ts";
import type { Band, Events, FoldHooks, HandleHooks, NotifyHooks } from "./events.ts";
import type { IqHandlers, IqTarget } from "./iq.ts";
import type { Logger } from "./log.ts";
import type { Component, Router } from "./router.ts";
import type { Infer, Shape } from "./schema.ts";
import type { InlineBindHandler, PreAuthRequestHandler, StreamElementHandler } from "./stream-handlers.ts";
import { type OfflineCounts, Telemetry } from "./telemetry.ts";
import type { QueueStats } from "../storage/archive-queue.ts";
import type { IdGenerator } from "../storage/ids.ts";
import type { KeyValueStore, LogStore, MapStore, StorageProvider } from "../storage/types.ts";
import type { HttpHandler, HttpRoutes } from "../transports/http.ts";

/** A specification a module implements, as listed in xeps/ (e.g. { spec: "XEP-0199", version: "2.0.1" }). */
export interface SpecRef { spec: string; version: string }

export interface ModuleDefinition<S extends Shape = Shape> {
  readonly name: string;
  readonly specs: SpecRef[];
  readonly options?: S;
  readonly depends?: string[];
  /**
   * The domains the module's services take (ModuleContext.component) for one hosted domain, by
   * its options (`primary`: the host is the configuration's `domain`, to which a service's
   * `domain` option applies): read when the configuration is checked, before any setup, so that
   * an external component (XEP-0114) configured on one of them is refused then.
   */
  domains?(options: Infer<S>, host: string, primary: boolean): string[];
  setup(ctx: ModuleContext<Infer<S>>): void | Promise<void>;
}

export function defineModule<S extends Shape = Record<never, never>>(def: ModuleDefinition<S>): ModuleDefinition<S> {
  return def;
}

declare const serviceType: unique symbol;
/** A typed name for something one module provides and others use (e.g. the roster). */
export interface ServiceKey<T> { readonly name: string; readonly [serviceType]?: T }
export function serviceKey<T>(name: string): ServiceKey<T> {
  return { name } as ServiceKey<T>;
}

/** A module using a service: what it registers through the service is recorded on it, and undone when it unloads. */
export interface ServiceUser {
  readonly name: string;
  own(removal: () => void): void;
}

/** Services provided by loaded modules. A user declares `depends` on the provider, so it loads first. */
export class ServiceRegistry {
  private readonly services = new Map<string, { open: (user: ServiceUser | undefined) => unknown; provider: string }>();

  provide<T>(key: ServiceKey<T>, value: T, provider: string): () => void {
    return this.add(key, () => value, provider);
  }

  /** A service of which each user gets its own view, so that what a user registers through it is that user's to undo. */
  provideEach<T>(key: ServiceKey<T>, open: (user: ServiceUser) => T, provider: string): () => void {
    return this.add(key, (user) => {
      if (!user) throw new Error(`service ${key.name} registers for its users: use it through a module context`);
      return open(user);
    }, provider);
  }

  /** The service if a loaded module provides it (for optional collaborations, asked at the time of use). */
  find<T>(key: ServiceKey<T>, user?: ServiceUser): T | undefined {
    return this.services.get(key.name)?.open(user) as T | undefined;
  }

  /** The service for `user` (a module context, or a name where the service registers nothing for its users). */
  use<T>(key: ServiceKey<T>, user: ServiceUser | string): T {
    const s = this.services.get(key.name);
    const [name, as] = typeof user === "string" ? [user, undefined] : [user.name, user];
    if (!s) throw new Error(`module ${name} uses service ${key.name}, which no loaded module provides (declare depends on its provider)`);
    return s.open(as) as T;
  }

  private add(key: ServiceKey<unknown>, open: (user: ServiceUser | undefined) => unknown, provider: string): () => void {
    const had = this.services.get(key.name);
    if (had) throw new Error(`service ${key.name} is provided twice (by ${had.provider} and ${provider})`);
    this.services.set(key.name, { open, provider });
    return () => this.services.delete(key.name);
  }
}

/**
 * Orders modules so each comes after what it depends on; throws on a missing dependency or a
 * cycle, naming it. The order of the list is kept where dependencies allow.
 */
export function orderModules<M extends { name: string; depends?: string[] }>(list: M[]): M[] {
  const byName = new Map(list.map((m) => [m.name, m]));
  const out: M[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (m: M, path: string[]) => {
    const st = state.get(m.name);
    if (st === "done") return;
    if (st === "visiting") throw new Error(`modules depend on each other in a cycle: ${[...path, m.name].join(" -> ")}`);
    state.set(m.name, "visiting");
    for (const dep of m.depends ?? []) {
      const d = byName.get(dep);
      if (!d) throw new Error(`module ${m.name} needs module ${dep}, which is not loaded`);
      visit(d, [...path, m.name]);
    }
    state.set(m.name, "done");
    out.push(m);
  };
  for (const m of list) visit(m, []);
  return out;
}

/** The value of a data form's FORM_TYPE field (XEP-0068), if it has one. */
function formTypeOf(form: Element): string | undefined {
  return form.getChildren("field").find((f) => f.attrs.var === "FORM_TYPE")?.getChildText("value") ?? undefined;
}

/**
 * What module contexts are built from: the core's registries and lookups. The composition root
 * makes one for all modules; a module sees only its context.
 */
export interface ModuleHost {
  readonly domain: JID;
  readonly hosts: HostView;
  readonly router: Pick<Router, "iq" | "route" | "request" | "addComponent" | "serves" | "foreign"> & Delivery;
  readonly sessions: Sessions;
  readonly events: Events;
  readonly disco: DiscoRegistry;
  readonly storage: Pick<StorageProvider, "keyval" | "map" | "log">;
  readonly services: ServiceRegistry;
  readonly ids: IdGenerator;
  readonly preAuthIq: Map<string, PreAuthRequestHandler>;
  readonly streamElements: Map<string, StreamElementHandler>;
  /** Features a Bind 2 request (XEP-0386) may enable inline, by namespace. */
  readonly inlineBind: Map<string, InlineBindHandler>;
  readonly http: Pick<HttpRoutes, "add">;
  readonly httpPorts: HttpPorts;
  readonly settings: ServerSettings;
  /** What the server counts (metrics, the admin socket's stats); optional for hosts made by tests. */
  readonly telemetry?: Pick<Telemetry, "offline" | "queues">;
  isAdmin(jid: JID, domain?: string): boolean;
  /** Resolves when the listeners of sessions that closed so far have finished (presence, last activity). */
  settled(): Promise<void>;
}

/** The served domains (virtual hosts) as modules see them: each one's JID, accounts, registration policy and admins. */
export type HostView = Pick<Hosts, "primary" | "get" | "has" | "of" | "all" | "domains" | "exists">;

/**
 * A module's view of the server: named capabilities, and registrations that the context records
 * and undoes on unload. The functions (send, request, notify, ...) may be handed to helpers as they are.
 */
export class ModuleContext<O> {
  readonly name: string;
  readonly options: O;
  readonly log: Logger;
  /**
   * The configuration's domain, the first of the hosts: what the server sends for no host in
   * particular comes from it. A stanza's own host is that of its account (hosts.of).
   */
  readonly domain: JID;
  /** The domains served (virtual hosts): each with its accounts, registration policy and admins. */
  readonly hosts: HostView;
  /** Sessions by JID, and an account's turn. */
  readonly sessions: Sessions;
  /** Time-ordered ids (archive stanza-ids, offline queue): one generator per server, so ids never repeat. */
  readonly ids: IdGenerator;
  /** The few server-level settings modules read. */
  readonly settings: ServerSettings;
  /** Ports of the HTTP listeners, read at the time of use (they are bound after setup). */
  readonly httpPorts: HttpPorts;
  /** The router's delivery steps, for the offline store. */
  readonly delivery: Delivery;
  /** What disco#info and disco#items report, for the module that answers them. */
  readonly disco: DiscoView;
  /** The offline store's counters (XEP-0160), which the offline module keeps. */
  readonly offlineCounts: OfflineCounts;
  private readonly host: ModuleHost;
  private readonly undo: (() => void)[] = [];
  /** This module as a user of other modules' services. */
  private readonly user: ServiceUser;

  constructor(name: string, options: O, host: ModuleHost, log: Logger) {
    this.name = name;
    this.options = options;
    this.host = host;
    this.log = log;
    this.domain = host.domain;
    this.hosts = host.hosts;
    this.sessions = host.sessions;
    this.ids = host.ids;
    this.settings = host.settings;
    this.httpPorts = host.httpPorts;
    this.delivery = host.router;
    this.disco = host.disco;
    this.offlineCounts = host.telemetry?.offline ?? new Telemetry().offline;
    this.user = { name, own: (removal) => void this.own(removal) };
  }

  readonly send: Send = (stanza) => this.host.router.route(stanza);
  readonly request: RequestIq = (iq, timeoutMs) => this.host.router.request(iq, timeoutMs);
  /** Whether a domain is this server's own or one of its services' (a component's subdomain). */
  readonly serves = (domain: string): boolean => this.host.router.serves(domain);
  /** Whether a domain's addresses are contacts of their own: another server's, or an external component's (Router.foreign). */
  readonly foreign = (domain: string): boolean => this.host.router.foreign(domain);
  /** Whether the JID is an admin (compared as bare JIDs) of the host `domain`, by default of its own. */
  readonly isAdmin = (jid: JID, domain?: string): boolean => this.host.isAdmin(jid, domain);
  /** The accounts of a hosted domain (existence, creation, passwords, deletion, the list); undefined for any other domain. */
  readonly accountsOf = (domain: string): Accounts | undefined => this.host.hosts.get(domain)?.accounts;
  /** Resolves when the listeners of sessions that closed so far have finished (presence, last activity). */
  readonly settled = (): Promise<void> => this.host.settled();
  /** Fires a notify hook; a failed listener is logged as "<hook> listener failed" unless `onError` is given. */
  readonly notify: Notify = (name, value, onError) =>
    this.host.events.notify(name, value, onError ?? ((e) => this.log.error({ err: e }, `${name} listener failed`)));
  readonly dispatch: Dispatch = (name, value) => this.host.events.handleNow(name, value);

  /** A feature of the server's disco#info. */
  feature(ns: string): void {
    this.own(this.host.disco.count(this.host.disco.hostFeatures, ns));
  }

  /** A feature of every account's disco#info (bare JID). */
  accountFeature(ns: string): void {
    this.own(this.host.disco.count(this.host.disco.accountFeatures, ns));
  }

  /** A node of the server's disco#info and disco#items; one module owns each node name. Returns its removal, for before unload. */
  hostNode(node: string, handler: DiscoNode): () => void {
    return this.own(this.host.disco.addNode(node, handler));
  }

  /** An item of the server's disco#items (a service on its own domain): of its `host`'s, or of every host's when it names none. */
  item(item: DiscoItem): void {
    const list = this.host.disco.items;
    list.push(item);
    this.own(() => list.splice(list.indexOf(item), 1));
  }

  /**
   * A service discovery extension (XEP-0128) of the server's disco#info: a data form of type
   * "result" whose hidden FORM_TYPE names it, one form per FORM_TYPE (XEP-0115 §5.4 refuses a
   * result with two). It counts in the server's caps hash (XEP-0115 §5.1).
   */
  discoExtension(form: Element): void {
    const disco = this.host.disco;
    const type = formTypeOf(form);
    if (type === undefined) throw new Error("a disco extension form needs a hidden FORM_TYPE field");
    if (disco.extensions.some((f) => formTypeOf(f) === type)) throw new Error(`disco extension ${type} is registered twice`);
    disco.revision++;
    disco.extensions.push(form);
    this.own(() => {
      disco.revision++;
      disco.extensions.splice(disco.extensions.indexOf(form), 1);
    });
  }

  identity(identity: Identity): void {
    this.addIdentity(this.host.disco.identities, identity);
  }

  /** An identity of every account's disco#info (bare JID). */
  accountIdentity(identity: Identity): void {
    this.addIdentity(this.host.disco.accountIdentities, identity);
  }

  private addIdentity(list: Identity[], identity: Identity): void {
    const disco = this.host.disco;
    disco.revision++;
    list.push(identity);
    this.own(() => {
      disco.revision++;
      list.splice(list.indexOf(identity), 1);
    });
  }

  iq(target: IqTarget, ns: string, name: string, handlers: IqHandlers): void {
    this.own(this.host.router.iq.add(target, ns, name, handlers));
  }

  handle<K extends keyof HandleHooks>(name: K, fn: (v: HandleHooks[K]) => boolean | void | Promise<boolean | void>, band?: Band): void {
    this.own(this.host.events.onHandle(name, fn, band));
  }

  fold<K extends keyof FoldHooks>(name: K, fn: (v: FoldHooks[K]) => FoldHooks[K] | Promise<FoldHooks[K]>, band?: Band): void {
    this.own(this.host.events.onFold(name, fn, band));
  }

  on<K extends keyof NotifyHooks>(name: K, fn: (v: NotifyHooks[K]) => void | Promise<void>, band?: Band): void {
    this.own(this.host.events.onNotify(name, fn, band));
  }

  /** A service on its own domain (e.g. conference.<domain>): the router hands it every stanza to that domain. */
  component(domain: string, component: Component): void {
    this.own(this.host.router.addComponent(domain, component));
  }

  /** Answers iqs of a namespace before authentication (XEP-0077 registration); one module per namespace. */
  preAuthIq(ns: string, handler: PreAuthRequestHandler): void {
    this.claim(this.host.preAuthIq, ns, handler, `a pre-auth handler for ${ns} is already registered`);
  }

  /** Takes the top-level elements of a namespace on bound streams (nonzas such as XEP-0352's <inactive/>). */
  streamElement(ns: string, handler: StreamElementHandler): void {
    this.claim(this.host.streamElements, ns, handler, `stream elements of ${ns} are taken already`);
  }

  /**
   * A feature a client may enable inside its Bind 2 request (XEP-0386), by the namespace of its
   * element; the server lists it among Bind 2's inline features. One module per namespace.
   */
  inlineBind(ns: string, handler: InlineBindHandler): void {
    this.claim(this.host.inlineBind, ns, handler, `inline bind features of ${ns} are taken already`);
  }

  /** Requests under a path prefix ("/upload/") on the HTTP listeners; one module per prefix. */
  httpRoute(prefix: string, handler: HttpHandler): void {
    this.own(this.host.http.add(prefix, handler));
  }

  /** A repeating timer owned by the module (unref'd: it never keeps the process alive). */
  every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.own(() => clearInterval(t));
  }

  /** Reports a write queue's figures (an archive's) to the metrics and stats, under `name`, until unload. */
  reportQueue(name: string, stats: () => QueueStats): void {
    const queues = this.host.telemetry?.queues;
    if (queues === undefined) return;
    if (queues.has(name)) throw new Error(`a queue named ${name} is reported already`);
    queues.set(name, stats);
    this.own(() => queues.delete(name));
  }

  /** Teardown on unload of what the module made itself (a connection, pending batches); registrations through the context need none. */
  onUnload(fn: () => void): void {
    this.own(fn);
  }

  /** Offers a service to modules that declare `depends` on this one. */
  provide<T>(key: ServiceKey<T>, value: T): void {
    this.own(this.host.services.provide(key, value, this.name));
  }

  /** Offers a service through which users register things (listeners, commands): each gets its own view, and its registrations go when it unloads. */
  provideEach<T>(key: ServiceKey<T>, open: (user: ServiceUser) => T): void {
    this.own(this.host.services.provideEach(key, open, this.name));
  }

  use<T>(key: ServiceKey<T>): T {
    return this.host.services.use(key, this.user);
  }

  /** A service that may or may not be loaded (no `depends`): ask at the time of use, not at setup. */
  optional<T>(key: ServiceKey<T>): T | undefined {
    return this.host.services.find(key, this.user);
  }

  keyval<T>(name: string): KeyValueStore<T> {
    return this.host.storage.keyval<T>(name);
  }

  map<T>(name: string): MapStore<T> {
    return this.host.storage.map<T>(name);
  }

  /** An archive store (time-ordered entries per owner: offline messages, MAM, room history). */
  logStore(name: string): LogStore {
    return this.host.storage.log(name);
  }

  unload(): void {
    while (this.undo.length) this.undo.pop()!();
  }

  private claim<V>(map: Map<string, V>, key: string, value: V, taken: string): void {
    if (map.has(key)) throw new Error(taken);
    map.set(key, value);
    this.own(() => map.delete(key));
  }

  /** Records a removal for unload; returns it to run earlier, once. */
  private own(removal: () => void): () => void {
    let done = false;
    const once = () => {
      if (done) return;
      done = true;
      const i = this.undo.indexOf(once);
      if (i >= 0) this.undo.splice(i, 1);
      removal();
    };
    this.undo.push(once);
    return once;
  }
}
