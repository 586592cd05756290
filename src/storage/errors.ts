// A storage backend that cannot be reached (a cluster down, a wrong address): the CLI says so in
// one line instead of a driver's stack trace.
export class StorageUnavailableError extends Error {}
