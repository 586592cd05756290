// A storage provider that reports to an observer (the metrics): every call that fails, by store,
// and how long the log stores' writes take (the archives' batches, the offline store's messages).
// It wraps each store once, when the store is first asked for, with the observer's handle for that
// store resolved then: a call costs a promise more and nothing is looked up or built per call.
// The composition root wraps storage this way only when metrics are on.
import type { KeyValueStore, LogBatch, LogEntry, LogPage, LogQuery, LogStore, MapStore, StorageProvider } from "./types.ts";

/** What the observer is told of one store. */
export interface StoreObserver {
  /** A call on the store failed (its promise rejected). */
  failed(): void;
  /** A write of a log store (append, remove, replace) took this long. */
  wrote(seconds: number): void;
}

export interface StorageObserver {
  /** The handle for a store, asked once per store: kind is "keyval", "map" or "log", name the store's. */
  store(kind: "keyval" | "map" | "log", name: string): StoreObserver;
}

async function watched<T>(o: StoreObserver, p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    o.failed();
    throw e;
  }
}

async function timed<T>(o: StoreObserver, p: Promise<T>): Promise<T> {
  const started = performance.now();
  let out: T;
  try {
    out = await p;
  } catch (e) {
    o.failed();
    throw e;
  }
  o.wrote((performance.now() - started) / 1000);
  return out;
}

/**
 * Calls the backend inside a try, so that a backend which throws instead of rejecting is counted
 * as well (and still reaches the caller as a rejection, as an async backend's would).
 */
function call<T>(o: StoreObserver, f: () => Promise<T>): Promise<T> {
  let p: Promise<T>;
  try {
    p = f();
  } catch (e) {
    p = Promise.reject(e as Error);
  }
  return watched(o, p);
}

class ObservedKeyVal<T> implements KeyValueStore<T> {
  private readonly inner: KeyValueStore<T>;
  private readonly o: StoreObserver;
  constructor(inner: KeyValueStore<T>, o: StoreObserver) {
    this.inner = inner;
    this.o = o;
  }
  get(owner: string): Promise<T | undefined> {
    return call(this.o, () => this.inner.get(owner));
  }
  set(owner: string, value: T | undefined): Promise<void> {
    return call(this.o, () => this.inner.set(owner, value));
  }
  add(owner: string, value: T): Promise<boolean> {
    return call(this.o, () => this.inner.add(owner, value));
  }
}

class ObservedMap<T> implements MapStore<T> {
  private readonly inner: MapStore<T>;
  private readonly o: StoreObserver;
  constructor(inner: MapStore<T>, o: StoreObserver) {
    this.inner = inner;
    this.o = o;
  }
  get(owner: string, key: string): Promise<T | undefined> {
    return call(this.o, () => this.inner.get(owner, key));
  }
  set(owner: string, key: string, value: T | undefined): Promise<void> {
    return call(this.o, () => this.inner.set(owner, key, value));
  }
  getAll(owner: string): Promise<Map<string, T>> {
    return call(this.o, () => this.inner.getAll(owner));
  }
  clear(owner: string): Promise<void> {
    return call(this.o, () => this.inner.clear(owner));
  }
}

class ObservedLog implements LogStore {
  private readonly inner: LogStore;
  private readonly o: StoreObserver;
  readonly batch?: () => LogBatch;
  readonly appendBatch?: (batch: LogBatch) => Promise<void>;
  constructor(inner: LogStore, o: StoreObserver) {
    this.inner = inner;
    this.o = o;
    // Packed batches only where the backend packs (a queue looks for both).
    if (inner.batch && inner.appendBatch) {
      this.batch = () => inner.batch!();
      this.appendBatch = (batch) => this.timedWrite(() => inner.appendBatch!(batch));
    }
  }
  append(entries: readonly (LogEntry & { owner: string })[]): Promise<void> {
    return this.timedWrite(() => this.inner.append(entries));
  }
  private timedWrite<T>(f: () => Promise<T>): Promise<T> {
    let p: Promise<T>;
    try {
      p = f();
    } catch (e) {
      p = Promise.reject(e as Error);
    }
    return timed(this.o, p);
  }
  query(owner: string, q: LogQuery): Promise<LogPage> {
    return call(this.o, () => this.inner.query(owner, q));
  }
  count(owner: string, q: Omit<LogQuery, "limit" | "fromEnd">): Promise<number> {
    return call(this.o, () => this.inner.count(owner, q));
  }
  remove(owner: string, ids: readonly string[]): Promise<void> {
    return this.timedWrite(() => this.inner.remove(owner, ids));
  }
  replace(owner: string, id: string, value: string): Promise<boolean> {
    return this.timedWrite(() => this.inner.replace(owner, id, value));
  }
  clear(owner: string): Promise<void> {
    return call(this.o, () => this.inner.clear(owner));
  }
  expire(now: number): Promise<number> {
    return call(this.o, () => this.inner.expire(now));
  }
}

/** The provider's own calls (listing owners, purging one) count under this store. */
const PROVIDER = "provider";

export class ObservedStorage implements StorageProvider {
  /** The backend this wraps (its own type, for what asks for it: readiness, closing). */
  readonly inner: StorageProvider;
  private readonly observer: StorageObserver;
  private readonly stores = new Map<string, unknown>();
  private readonly own: StoreObserver;

  constructor(inner: StorageProvider, observer: StorageObserver) {
    this.inner = inner;
    this.observer = observer;
    this.own = observer.store("keyval", PROVIDER);
  }

  keyval<T>(name: string): KeyValueStore<T> {
    return this.wrapped(`k${name}`, () => new ObservedKeyVal(this.inner.keyval<T>(name), this.observer.store("keyval", name)));
  }

  map<T>(name: string): MapStore<T> {
    return this.wrapped(`m${name}`, () => new ObservedMap(this.inner.map<T>(name), this.observer.store("map", name)));
  }

  log(name: string): LogStore {
    return this.wrapped(`l${name}`, () => new ObservedLog(this.inner.log(name), this.observer.store("log", name)));
  }

  owners(name: string): Promise<string[]> {
    return call(this.own, () => this.inner.owners(name));
  }

  purgeOwner(owner: string): Promise<void> {
    return call(this.own, () => this.inner.purgeOwner(owner));
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  // Stores are asked for at setup, not per call; the key is made only then.
  private wrapped<S>(key: string, make: () => S): S {
    let s = this.stores.get(key) as S | undefined;
    if (s === undefined) this.stores.set(key, (s = make()));
    return s;
  }
}
