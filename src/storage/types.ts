// Storage is a few narrow shapes; every backend implements them and passes one contract suite
// (test/storage-contract.ts). Owners are bare JIDs as strings ("juliet@example.com"); values
// are JSON-serialisable (XML payloads are stored as their serialised string).

/** One value per owner: account credentials, roster version, vCard, preferences. */
export interface KeyValueStore<T> {
  get(owner: string): Promise<T | undefined>;
  /** Writing undefined deletes. */
  set(owner: string, value: T | undefined): Promise<void>;
  /** Writes only when the owner has no value yet; false when one was there (atomic). */
  add(owner: string, value: T): Promise<boolean>;
}

/** Many keyed values per owner: roster items, private XML fragments. */
export interface MapStore<T> {
  get(owner: string, key: string): Promise<T | undefined>;
  set(owner: string, key: string, value: T | undefined): Promise<void>;
  getAll(owner: string): Promise<Map<string, T>>;
  /** Deletes every key of the owner. */
  clear(owner: string): Promise<void>;
}

/**
 * One entry of a per-owner log ordered by id: a message archive (XEP-0313), an offline queue
 * (XEP-0160). Ids are time-ordered strings (ids.ts): string order is time order.
 */
export interface LogEntry {
  readonly id: string;
  /** When the entry was made, ms since the epoch. */
  readonly at: number;
  /** The other party (full or bare JID), for the archive's 'with' filter; "" when none. */
  readonly with: string;
  /** The payload, usually a serialised stanza. */
  readonly value: string;
  /** When the entry may be deleted, ms since the epoch; 0 keeps it until removed. */
  readonly expires: number;
}

export interface LogQuery {
  /** A bare JID matches every resource of it; a full JID only itself; a domain only the domain. */
  with?: string;
  /** Inclusive bounds on `at`, ms since the epoch. */
  start?: number;
  end?: number;
  /** Exclusive bounds on the id. */
  after?: string;
  before?: string;
  /** Only these ids (XEP-0313 'ids' filter). */
  ids?: string[];
  /** At most this many entries. */
  limit: number;
  /** Take the newest `limit` entries instead of the oldest (RSM paging backwards). */
  fromEnd?: boolean;
}

export interface LogPage {
  /** Oldest first, whichever end the page was taken from. */
  entries: LogEntry[];
  /** No entry matched the query beyond this page, in the direction it was taken. */
  complete: boolean;
}

export interface LogStore {
  /** Adds entries, each under its owner. An id already stored is left as it is: a retry cannot duplicate. */
  append(entries: readonly (LogEntry & { owner: string })[]): Promise<void>;
  query(owner: string, q: LogQuery): Promise<LogPage>;
  /** How many entries match (RSM count); the query's limit and direction are ignored. */
  count(owner: string, q: Omit<LogQuery, "limit" | "fromEnd">): Promise<number>;
  remove(owner: string, ids: readonly string[]): Promise<void>;
  clear(owner: string): Promise<void>;
  /** Deletes every entry whose expiry has passed; returns how many (backends with native TTL may return 0). */
  expire(now: number): Promise<number>;
}

export interface StorageProvider {
  keyval<T>(name: string): KeyValueStore<T>;
  map<T>(name: string): MapStore<T>;
  log(name: string): LogStore;
  /** Every owner with a value in this key-value store (administration: listing accounts). */
  owners(name: string): Promise<string[]>;
  /** Removes everything an owner has in every store (account deletion). */
  purgeOwner(owner: string): Promise<void>;
  close(): Promise<void>;
}
