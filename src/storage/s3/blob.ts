// The blob store in an S3 bucket (scale-out: every node shares it, none holds files), through
// @aws-sdk/client-s3. Clients may PUT and GET objects themselves with presigned URLs (`direct`):
// a PUT URL signs the object's size and type, so the bucket takes exactly the blob it was made for.
// Retention lists the bucket and deletes what is older than the limit. An owner's objects are
// found through an index in the server's storage (a map: owner → id → name), written when a key
// is given out or written; the objects themselves carry no owner that can be listed.
// S3-compatible stores differ from S3 (S3Proxy 2.6 is the one tested): see the notes marked
// "compatibility".
import { Readable } from "node:stream";
import {
  CreateBucketCommand, DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand,
  ListObjectsV2Command, PutObjectCommand, S3Client,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { blobKey, checkBlobKey, parseBlobKey } from "../blob-key.ts";
import type { BlobDirectAccess, BlobInfo, BlobMeta, BlobStore, ByteRange, MapStore } from "../types.ts";

export interface S3BlobOptions {
  endpoint: string | undefined;
  /** Where clients reach the store, when not at `endpoint` (the server's own address for it is internal). */
  publicEndpoint: string | undefined;
  region: string;
  bucket: string;
  accessKey: string | undefined;
  secretKey: string | undefined;
  pathStyle: boolean;
}

/** The index of the owners' keys: under an owner's index name, each id with its name and when it was given out. */
export type BlobOwnerIndex = MapStore<{ n: string; at: number }>;

/**
 * The owner an account's keys are indexed under: not the account's own name, whose rows
 * purgeOwner deletes before the account's blobs are removed. "upload/" is what stored indexes use.
 */
const indexOwner = (owner: string) => `upload/${owner}`;

const QUIET = { debug() {}, info() {}, warn() {}, error() {} };

const status = (e: unknown) => (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;

export class S3BlobStore implements BlobStore {
  readonly direct: BlobDirectAccess;
  private readonly s3: S3Client;
  private readonly presigner: S3Client;
  private readonly bucket: string;
  private readonly index: BlobOwnerIndex;
  /** Keys with a write from this node under way. */
  private readonly writing = new Set<string>();
  /** Compatibility: the store answered a multi-object delete with 501 Not Implemented (S3Proxy); can go with support for such stores. */
  private singleDeletes = false;

  constructor(o: S3BlobOptions, index: BlobOwnerIndex) {
    const client = (endpoint: string | undefined) => new S3Client({
      region: o.region,
      endpoint,
      forcePathStyle: o.pathStyle,
      credentials: o.accessKey !== undefined && o.secretKey !== undefined ? { accessKeyId: o.accessKey, secretAccessKey: o.secretKey } : undefined,
      // Compatibility: checksums only where S3 requires them. S3-compatible stores (S3Proxy, older
      // MinIO) refuse the CRC32 headers the SDK otherwise adds to every upload.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      // The SDK logs nothing by default, except a console warning when a streamed PUT fails: the
      // caller hears of that from put()'s answer.
      logger: QUIET,
    });
    this.s3 = client(o.endpoint);
    // The host is signed: URLs for clients are made for the address they reach the store at.
    this.presigner = o.publicEndpoint === undefined || o.publicEndpoint === o.endpoint ? this.s3 : client(o.publicEndpoint);
    this.bucket = o.bucket;
    this.index = index;
    this.direct = { putUrl: (key, blob, expires) => this.putUrl(key, blob, expires), getUrl: (key, ttlS) => this.getUrl(key, ttlS) };
  }

  /** Makes the bucket when it is not there (a fresh S3-compatible store); false when it cannot be reached or made. */
  async ensureBucket(): Promise<boolean> {
    try {
      await this.s3.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return true;
    } catch (e) {
      if (status(e) !== 404) return false;
    }
    try {
      await this.s3.send(new CreateBucketCommand({ Bucket: this.bucket }));
      return true;
    } catch {
      return false;
    }
  }

  async put(key: string, body: Uint8Array | AsyncIterable<Uint8Array>, blob: BlobInfo): Promise<"created" | "exists" | "incomplete"> {
    const { id, name } = checkBlobKey(key);
    if (this.writing.has(key)) return "exists";
    this.writing.add(key);
    try {
      // S3 refuses an existing key by If-None-Match; the look first leaves the body unread, and is
      // all there is on a store that ignores the header (compatibility: S3Proxy 2.6).
      if ((await this.head(key)) !== undefined) return "exists";
      await this.index.set(indexOwner(blob.owner), id, { n: name, at: Date.now() });
      const abort = new AbortController();
      const put = new PutObjectCommand({
        Bucket: this.bucket, Key: key, Body: Readable.from(counted(body instanceof Uint8Array ? [body] : body, blob.size, () => abort.abort()), { objectMode: false }),
        ContentLength: blob.size, ContentType: blob.type, Metadata: { owner: encodeURIComponent(blob.owner) }, IfNoneMatch: "*",
      });
      try {
        await this.s3.send(put, { abortSignal: abort.signal });
        return "created";
      } catch (e) {
        if (abort.signal.aborted) return "incomplete";
        if (status(e) === 412 || status(e) === 409) return "exists";
        throw e;
      }
    } finally {
      this.writing.delete(key);
    }
  }

  async head(key: string): Promise<BlobMeta | undefined> {
    checkBlobKey(key);
    try {
      const h = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      const owner = h.Metadata?.owner;
      return { size: h.ContentLength ?? 0, type: h.ContentType, owner: owner === undefined ? undefined : decode(owner), at: h.LastModified?.getTime() ?? 0 };
    } catch (e) {
      if (status(e) === 404) return undefined;
      throw e;
    }
  }

  async read(key: string, range?: ByteRange): Promise<Readable | undefined> {
    checkBlobKey(key);
    try {
      const r = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: range && `bytes=${range.start}-${range.end}` }));
      if (!(r.Body instanceof Readable)) throw new Error("s3: the SDK gave no Node stream");
      return r.Body;
    } catch (e) {
      if (status(e) === 404) return undefined;
      throw e;
    }
  }

  async delete(key: string): Promise<void> {
    checkBlobKey(key);
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  private async putUrl(key: string, blob: BlobInfo, expires: number): Promise<string> {
    const { id, name } = checkBlobKey(key);
    await this.index.set(indexOwner(blob.owner), id, { n: name, at: Date.now() });
    const put = new PutObjectCommand({ Bucket: this.bucket, Key: key, ContentLength: blob.size, ContentType: blob.type });
    // Content-Length and Content-Type are signed: S3 refuses another size or type.
    const expiresIn = Math.max(1, Math.ceil((expires - Date.now()) / 1000));
    return getSignedUrl(this.presigner, put, { expiresIn, signableHeaders: new Set(["content-length", "content-type"]) });
  }

  private async getUrl(key: string, ttlS: number): Promise<string> {
    checkBlobKey(key);
    return getSignedUrl(this.presigner, new GetObjectCommand({ Bucket: this.bucket, Key: key }), { expiresIn: ttlS });
  }

  /** Deletes the objects stored before `before`; S3 keeps their times to the second. */
  async sweep(before: number): Promise<number> {
    let removed = 0;
    let token: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, ContinuationToken: token }));
      // Only blob keys: the bucket may hold other things (and a filesystem-backed store lists its folders).
      const old = (page.Contents ?? []).filter((o) => o.Key !== undefined && parseBlobKey(o.Key) !== undefined && (o.LastModified?.getTime() ?? Infinity) < before);
      removed += await this.deleteMany(old.map((o) => o.Key!));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return removed;
  }

  async removeOwner(owner: string): Promise<number> {
    const keys = await this.index.getAll(indexOwner(owner));
    const removed = await this.deleteMany([...keys].map(([id, v]) => blobKey(id, v.n)));
    for (const id of keys.keys()) await this.index.set(indexOwner(owner), id, undefined);
    return removed;
  }

  /**
   * Deletes the keys (those given out and never written are not there: no error), a thousand per
   * request (S3's limit); one by one on a store without multi-object delete.
   */
  private async deleteMany(keys: string[]): Promise<number> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      if (!this.singleDeletes) {
        try {
          await this.s3.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
          continue;
        } catch (e) {
          if (status(e) !== 501) throw e;
          this.singleDeletes = true;
        }
      }
      for (const Key of batch) await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }));
    }
    return keys.length;
  }

  close(): void {
    this.s3.destroy();
    if (this.presigner !== this.s3) this.presigner.destroy();
  }
}

/**
 * The body as it goes to S3, which is told its length beforehand: when it ends short of `size`,
 * runs past it or fails, `abort` is called before the stream ends, so that no object is made
 * of part of it (a body past its size is left unread: a request being received is destroyed with it).
 */
async function* counted(body: Iterable<Uint8Array> | AsyncIterable<Uint8Array>, size: number, abort: () => void): AsyncGenerator<Uint8Array> {
  let got = 0;
  try {
    for await (const chunk of body) {
      got += chunk.length;
      if (got > size) break;
      yield chunk;
    }
  } catch {
    got = -1;
  }
  if (got !== size) abort();
}

function decode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}
