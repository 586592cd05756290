// The module API. A module is one XEP (or RFC chapter) with a small declared surface: its name,
// the specifications it implements, the disco features it adds, its typed options, what it
// depends on, and a setup that works only through the context it is given. Everything a module
// registers is recorded by its context, so unloading it removes handlers, features and timers.
import type { Element } from "../xml/element.ts";
import type { JID } from "../xml/jid.ts";
import type { Band, Events, FoldHooks, HandleHooks, NotifyHooks } from "./events.ts";
import type { IqHandlers, IqTarget } from "./iq.ts";
import type { Logger } from "./log.ts";
import type { Router } from "./router.ts";
import type { Infer, Shape } from "./schema.ts";
import type { SessionDirectory } from "./session.ts";
import type { KeyValueStore, MapStore, StorageProvider } from "../storage/types.ts";
import type { Accounts } from "./accounts.ts";
import type { IdGenerator } from "./ids.ts";
import type { ServerConfig } from "./config.ts";
import type { PreAuthIqHandler, StreamElementHandler } from "../stream/context.ts";
import type { HttpRoutes } from "../transports/http.ts";

/** A specification a module implements, as listed in xeps/ (e.g. { spec: "XEP-0199", version: "2.0.1" }). */
export interface SpecRef { spec: string; version: string }

export interface ModuleDefinition<S extends Shape = Shape> {
  readonly name: string;
  readonly specs: SpecRef[];
  readonly options?: S;
  readonly depends?: string[];
  setup(ctx: ModuleContext<Infer<S>>): void | Promise<void>;
}

export function defineModule<S extends Shape = Record<never, never>>(def: ModuleDefinition<S>): ModuleDefinition<S> {
  return def;
}

export interface Identity { category: string; type: string; name?: string }

declare const serviceType: unique symbol;
/** A typed name for something one module provides and others use (e.g. the roster). */
export interface ServiceKey<T> { readonly name: string; readonly [serviceType]?: T }
export function serviceKey<T>(name: string): ServiceKey<T> {
  return { name } as ServiceKey<T>;
}

/** Services provided by loaded modules. A user declares `depends` on the provider, so it loads first. */
export class ServiceRegistry {
  private readonly services = new Map<string, { value: unknown; provider: string }>();

  provide<T>(key: ServiceKey<T>, value: T, provider: string): () => void {
    const had = this.services.get(key.name);
    if (had) throw new Error(`service ${key.name} is provided twice (by ${had.provider} and ${provider})`);
    this.services.set(key.name, { value, provider });
    return () => this.services.delete(key.name);
  }

  /** The service if a loaded module provides it (for optional collaborations, asked at the time of use). */
  find<T>(key: ServiceKey<T>): T | undefined {
    return this.services.get(key.name)?.value as T | undefined;
  }

  use<T>(key: ServiceKey<T>, user: string): T {
    const s = this.services.get(key.name);
    if (!s) throw new Error(`module ${user} uses service ${key.name}, which no loaded module provides (declare depends on its provider)`);
    return s.value as T;
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

/** An item of a disco#items answer (XEP-0030 §4). */
export interface DiscoItem { jid: string; node?: string; name?: string }

/**
 * A node of the server (XEP-0030 §3.2, §4.2), e.g. the ad-hoc command list and each command.
 * Both answers are for one requester: a node may show different items to different entities,
 * and may refuse (by throwing a StanzaError such as forbidden) what the requester may not see.
 */
export interface DiscoNode {
  info(requester: JID): { identities: Identity[]; features: string[] };
  items(requester: JID): DiscoItem[];
}

/** What disco#info reports for the server and for accounts; filled by module contexts. */
export class DiscoRegistry {
  readonly hostFeatures = new Map<string, number>();
  /** The server's nodes other than its caps node, by node name. */
  readonly hostNodes = new Map<string, DiscoNode>();
  readonly accountFeatures = new Map<string, number>();
  /** Items of the server's disco#items (XEP-0030 §4.1): its services, such as a MUC domain. */
  readonly items: DiscoItem[] = [];
  readonly identities: Identity[] = [];
  /** Identities of every account besides account/registered (XEP-0163 §6: pubsub/pep). */
  readonly accountIdentities: Identity[] = [];
  /** Service discovery extensions (XEP-0128) of the server, e.g. contact addresses. */
  readonly extensions: Element[] = [];
  /** Bumped by every change made through a module context: what is derived from the lists (the caps hash) is kept until it moves. */
  revision = 0;

  /** Adds a node of the server; returns its removal. One owner per node name. */
  addNode(node: string, handler: DiscoNode): () => void {
    if (this.hostNodes.has(node)) throw new Error(`disco node ${node} is registered twice`);
    this.hostNodes.set(node, handler);
    return () => {
      if (this.hostNodes.get(node) === handler) this.hostNodes.delete(node);
    };
  }

  count(map: Map<string, number>, ns: string): () => void {
    this.revision++;
    map.set(ns, (map.get(ns) ?? 0) + 1);
    return () => {
      this.revision++;
      const n = (map.get(ns) ?? 1) - 1;
      if (n <= 0) map.delete(ns);
      else map.set(ns, n);
    };
  }
}

/** The server as modules see it. */
export interface ServerApi {
  readonly domain: JID;
  readonly router: Router;
  readonly sessions: SessionDirectory;
  readonly accounts: Accounts;
  readonly events: Events;
  readonly disco: DiscoRegistry;
  readonly storage: StorageProvider;
  readonly log: Logger;
  /** Admin JIDs from the config (bare JIDs). */
  isAdmin(jid: JID): boolean;
  /** The server-level config (e.g. the `registration` section) and the stream's pre-auth iq handlers (XEP-0077). */
  readonly config: ServerConfig;
  readonly preAuthIq: Map<string, PreAuthIqHandler>;
  /** Handlers of top-level elements other than stanzas on bound streams (XEP-0352's <active/>), by namespace. */
  readonly streamElements: Map<string, StreamElementHandler>;
  readonly services: ServiceRegistry;
  /** Time-ordered ids (archive stanza-ids, offline queue): one generator per server, so ids never repeat. */
  readonly ids: IdGenerator;
  /** Resolves when the listeners of sessions that closed so far have finished (presence, last activity). */
  settled(): Promise<void>;
  /** The modules' paths on the HTTP listeners. */
  readonly http: HttpRoutes;
  /** Bound ports by listener name, once the server listens (http, https: the HTTP listeners). */
  readonly ports: { readonly http?: number; readonly https?: number };
}

export class ModuleContext<O> {
  private readonly undo: (() => void)[] = [];
  readonly name: string;
  readonly options: O;
  readonly server: ServerApi;
  readonly log: Logger;

  constructor(name: string, options: O, server: ServerApi, log: Logger) {
    this.name = name;
    this.options = options;
    this.server = server;
    this.log = log;
  }

  /** A feature of the server's disco#info. */
  feature(ns: string): void {
    this.undo.push(this.server.disco.count(this.server.disco.hostFeatures, ns));
  }

  /** A feature of every account's disco#info (bare JID). */
  accountFeature(ns: string): void {
    this.undo.push(this.server.disco.count(this.server.disco.accountFeatures, ns));
  }

  /** A node of the server's disco#info and disco#items; one module owns each node name. */
  hostNode(node: string, handler: DiscoNode): void {
    this.undo.push(this.server.disco.addNode(node, handler));
  }

  /** An item of the server's disco#items (a service on its own domain). */
  item(item: DiscoItem): void {
    const list = this.server.disco.items;
    list.push(item);
    this.undo.push(() => list.splice(list.indexOf(item), 1));
  }

  identity(identity: Identity): void {
    this.addIdentity(this.server.disco.identities, identity);
  }

  /** An identity of every account's disco#info (bare JID). */
  accountIdentity(identity: Identity): void {
    this.addIdentity(this.server.disco.accountIdentities, identity);
  }

  private addIdentity(list: Identity[], identity: Identity): void {
    const disco = this.server.disco;
    disco.revision++;
    list.push(identity);
    this.undo.push(() => {
      disco.revision++;
      list.splice(list.indexOf(identity), 1);
    });
  }

  iq(target: IqTarget, ns: string, name: string, handlers: IqHandlers): void {
    this.undo.push(this.server.router.iq.add(target, ns, name, handlers));
  }

  handle<K extends keyof HandleHooks>(name: K, fn: (v: HandleHooks[K]) => boolean | void | Promise<boolean | void>, band?: Band): void {
    this.undo.push(this.server.events.onHandle(name, fn, band));
  }

  fold<K extends keyof FoldHooks>(name: K, fn: (v: FoldHooks[K]) => FoldHooks[K] | Promise<FoldHooks[K]>, band?: Band): void {
    this.undo.push(this.server.events.onFold(name, fn, band));
  }

  on<K extends keyof NotifyHooks>(name: K, fn: (v: NotifyHooks[K]) => void | Promise<void>, band?: Band): void {
    this.undo.push(this.server.events.onNotify(name, fn, band));
  }

  /** Takes the top-level elements of a namespace on bound streams (nonzas such as XEP-0352's <inactive/>). */
  streamElement(ns: string, handler: StreamElementHandler): void {
    const map = this.server.streamElements;
    if (map.has(ns)) throw new Error(`stream elements of ${ns} are taken already`);
    map.set(ns, handler);
    this.undo.push(() => map.delete(ns));
  }

  /** A repeating timer owned by the module (unref'd: it never keeps the process alive). */
  every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.undo.push(() => clearInterval(t));
  }

  /** Undo on unload, for anything registered outside the context's own helpers. */
  onUnload(fn: () => void): void {
    this.undo.push(fn);
  }

  /** Offers a service to modules that declare `depends` on this one. */
  provide<T>(key: ServiceKey<T>, value: T): void {
    this.undo.push(this.server.services.provide(key, value, this.name));
  }

  use<T>(key: ServiceKey<T>): T {
    return this.server.services.use(key, this.name);
  }

  /** A service that may or may not be loaded (no `depends`): ask at the time of use, not at setup. */
  optional<T>(key: ServiceKey<T>): T | undefined {
    return this.server.services.find(key);
  }

  keyval<T>(name: string): KeyValueStore<T> {
    return this.server.storage.keyval<T>(name);
  }

  map<T>(name: string): MapStore<T> {
    return this.server.storage.map<T>(name);
  }

  unload(): void {
    while (this.undo.length) this.undo.pop()!();
  }
}
