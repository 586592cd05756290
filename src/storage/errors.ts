// A storage backend that cannot be reached (a cluster down, a wrong address): the CLI says so in
// one line instead of a driver's stack trace.
export class StorageUnavailableError extends Error {}

/**
 * The store refused a write for lack of space (SQLite's SQLITE_FULL: the disk, or the database's
 * size limit). Nothing of the write was kept; the same write may succeed once space is back.
 * Stanzas it held up get resource-constraint (RFC 6120 §8.3.3.18, type wait).
 */
export class StorageFullError extends Error {}
