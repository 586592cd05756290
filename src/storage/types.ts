// Storage is a few narrow shapes; every backend implements them and passes one contract suite
// (test/storage/contract.ts). Owners are bare JIDs as strings ("juliet@example.com"); values
// are JSON-serialisable (XML payloads are stored as their serialised string).
import type { Readable } from "node:stream";

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

/**
 * Entries gathered for one append, packed as each arrives in the form the store writes them
 * (LogStore.batch). A write queue holds its entries until they are written, tens of
 * milliseconds under load: held as strings and objects, they outlived the young generation's
 * collections, each of which copied them, and were promoted to be collected again by the old
 * generation's. Packed, the strings die where they were made.
 */
export interface LogBatch {
  /** Entries added so far. */
  readonly size: number;
  add(entry: LogEntry & { owner: string }): void;
  /** Called once the batch is written or given up: it is not used again. */
  release(): void;
}

export interface LogStore {
  /** Adds entries, each under its owner. An id already stored is left as it is: a retry cannot duplicate. */
  append(entries: readonly (LogEntry & { owner: string })[]): Promise<void>;
  /**
   * Optional, with appendBatch: a store that packs entries (the embedded one, as the bytes of
   * its statement, outside the JavaScript heap) gives its batches to fill; without it, a write
   * queue keeps arrays of entries for append.
   */
  batch?(): LogBatch;
  /** Appends a batch made by batch(), as append does; it may be called again with the same batch (a retry). */
  appendBatch?(batch: LogBatch): Promise<void>;
  query(owner: string, q: LogQuery): Promise<LogPage>;
  /** How many entries match (RSM count); the query's limit and direction are ignored. */
  count(owner: string, q: Omit<LogQuery, "limit" | "fromEnd">): Promise<number>;
  remove(owner: string, ids: readonly string[]): Promise<void>;
  /**
   * Replaces the payload of an entry, keeping its id, time, correspondent and expiry (a retracted
   * message's tombstone, XEP-0424); false when the owner has no entry with that id.
   */
  replace(owner: string, id: string, value: string): Promise<boolean>;
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

/**
 * A blob store: files kept whole under a key, with a little metadata (HTTP File Upload, XEP-0363).
 * Keys are "<id>/<name>" (src/storage/blob-key.ts): an id of 22 URL-safe characters, one per
 * blob, and the file's name; a key outside that grammar is refused (BlobKeyError) before any
 * path or request is made of it. The contract is test/storage/blob-contract.ts.
 */
export interface BlobStore {
  /**
   * Stores the body under a new key, streaming it. "exists" when a blob is there or being written
   * (nothing is read); "incomplete" when the body ends short of `size`, runs past it, or fails
   * (nothing is kept). A reader never sees a blob before all of it is in place.
   */
  put(key: string, body: Uint8Array | AsyncIterable<Uint8Array>, blob: BlobInfo): Promise<"created" | "exists" | "incomplete">;
  /** The blob's metadata; undefined when there is none under the key. */
  head(key: string): Promise<BlobMeta | undefined>;
  /** The blob's bytes, or those of `range` (which lies within it); undefined when there is none. */
  read(key: string, range?: ByteRange): Promise<Readable | undefined>;
  /** Deletes the blob; a key with none is no error. */
  delete(key: string): Promise<void>;
  /** Deletes the blobs stored before `before` (ms since the epoch), and a backend's leftovers of writes that never finished; how many. */
  sweep(before: number): Promise<number>;
  /** Deletes every blob of an owner (the account is deleted); how many (a backend that indexes owners may count keys given out and never written). */
  removeOwner(owner: string): Promise<number>;
  /** Clients PUT and GET the blobs themselves (a bucket's presigned URLs); undefined when they go through the server. */
  readonly direct: BlobDirectAccess | undefined;
  close(): void;
}

/** What a blob is stored with. */
export interface BlobInfo {
  /** Its length in bytes. */
  readonly size: number;
  /** Its MIME type; undefined when it has none. */
  readonly type: string | undefined;
  /** Who stored it: a bare JID. */
  readonly owner: string;
}

export interface BlobMeta {
  readonly size: number;
  /** The type it was stored with; for one stored without, undefined or the store's own default (S3: application/octet-stream). */
  readonly type: string | undefined;
  /** Undefined when the store does not keep it with the blob (an object a client PUT to S3 itself). */
  readonly owner: string | undefined;
  /** When it was stored, ms since the epoch (S3: to the second). */
  readonly at: number;
}

/** Bytes `start` to `end`, both included (as in HTTP's Range and node:fs). */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/** URLs a client uses without the server in between; each signs what it allows. */
export interface BlobDirectAccess {
  /** A URL to PUT the blob to until `expires` (ms since the epoch); the store takes only a body of the blob's size and type. */
  putUrl(key: string, blob: BlobInfo, expires: number): Promise<string>;
  /** A URL to GET the blob from, valid for `ttlS` seconds. */
  getUrl(key: string, ttlS: number): Promise<string>;
}
