// The keys of a blob store (BlobStore in types.ts): "<id>/<name>". The id is 22 URL-safe
// characters (16 random bytes in base64url), a folder name or key prefix that needs no escaping;
// the name is one path segment of printable characters, at most 255 bytes in UTF-8, neither "."
// nor "..", so that no backend makes a path outside its own of a key (disk) or has one
// normalised by an HTTP client into another (S3).

/** A key outside the grammar: a caller's mistake, or a request that names no blob. */
export class BlobKeyError extends Error {
  constructor(key: string) {
    super(`not a blob key: ${JSON.stringify(key.slice(0, 300))}`);
  }
}

const ID = /^[A-Za-z0-9_-]{22}$/;
const NAME_CHARS = /^[^/\\\u0000-\u001f\u007f]+$/;

/** Whether `id` is an id of the grammar (the folder of a blob on disk). */
export function isBlobId(id: string): boolean {
  return ID.test(id);
}

/** The key's id and name; undefined when it is not a key. */
export function parseBlobKey(key: string): { id: string; name: string } | undefined {
  const slash = key.indexOf("/");
  if (slash < 0) return undefined;
  const id = key.slice(0, slash);
  const name = key.slice(slash + 1);
  if (!ID.test(id) || name === "." || name === ".." || !NAME_CHARS.test(name) || Buffer.byteLength(name) > 255) return undefined;
  return { id, name };
}

/** The key's id and name, or BlobKeyError. */
export function checkBlobKey(key: string): { id: string; name: string } {
  const k = parseBlobKey(key);
  if (k === undefined) throw new BlobKeyError(key);
  return k;
}

export function blobKey(id: string, name: string): string {
  return `${id}/${name}`;
}
