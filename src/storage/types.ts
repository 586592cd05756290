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

export interface StorageProvider {
  keyval<T>(name: string): KeyValueStore<T>;
  map<T>(name: string): MapStore<T>;
  /** Every owner with a value in this key-value store (administration: listing accounts). */
  owners(name: string): Promise<string[]>;
  /** Removes everything an owner has in every store (account deletion). */
  purgeOwner(owner: string): Promise<void>;
  close(): Promise<void>;
}
