// The uploaded files in an S3 bucket (scale-out: every node gives slots, none holds files). The
// client PUTs straight to S3 with a presigned URL that signs the object's size and type, so the
// bucket takes exactly the file the slot was given for; the URL it shares is this server's
// /upload/<slot>/<name>, which answers with a redirect to a presigned GET of a few minutes, so
// shared links keep working for the whole retention while the bucket stays private. Retention:
// objects older than the limit are listed and deleted (sweep). A deleted account's objects are
// found through an index of its slots in the server's storage, under an owner of its own
// ("upload/<bare JID>", which outlives the account's own rows long enough to be read).
import type { IncomingMessage, ServerResponse } from "node:http";
import { CreateBucketCommand, DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand, HeadBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { MapStore } from "../../storage/types.ts";
import type { Slot } from "./slots.ts";
import { COMMON, answer, filePath, type UploadStore } from "./files.ts";

export interface S3Options {
  endpoint: string | undefined;
  /** Where clients reach the store, when not at `endpoint` (the server's own address for it is internal). */
  publicEndpoint: string | undefined;
  region: string;
  bucket: string;
  accessKey: string | undefined;
  secretKey: string | undefined;
  pathStyle: boolean;
}

/** How long the presigned GET a shared link redirects to is valid. */
const GET_TTL_S = 300;
/** The key of an uploaded file: "<slot>/<name>". */
const OBJECT_KEY = /^[A-Za-z0-9_-]{22}\/[^/]+$/;

export class S3Files implements UploadStore {
  private readonly s3: S3Client;
  private readonly presigner: S3Client;
  private readonly bucket: string;
  private readonly index: MapStore<{ n: string; at: number }>;
  /** The store answered a multi-object delete with 501 Not Implemented. */
  private singleDeletes = false;

  constructor(o: S3Options, index: MapStore<{ n: string; at: number }>) {
    const client = (endpoint: string | undefined) => new S3Client({
      region: o.region,
      endpoint,
      forcePathStyle: o.pathStyle,
      credentials: o.accessKey !== undefined && o.secretKey !== undefined ? { accessKeyId: o.accessKey, secretAccessKey: o.secretKey } : undefined,
      // Checksums only where S3 requires them: S3-compatible stores (S3Proxy, older MinIO) refuse
      // the CRC32 headers the SDK otherwise adds to every upload.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
    this.s3 = client(o.endpoint);
    // The host is signed: URLs for clients are made for the address they reach the store at.
    this.presigner = o.publicEndpoint === undefined || o.publicEndpoint === o.endpoint ? this.s3 : client(o.publicEndpoint);
    this.bucket = o.bucket;
    this.index = index;
  }

  /** Makes the bucket when it is not there (a fresh S3-compatible store); false when it cannot be reached or made. */
  async ensureBucket(): Promise<boolean> {
    try {
      await this.s3.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return true;
    } catch (e) {
      if ((e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 404) return false;
    }
    try {
      await this.s3.send(new CreateBucketCommand({ Bucket: this.bucket }));
      return true;
    } catch {
      return false;
    }
  }

  private static key(id: string, name: string): string {
    return `${id}/${name}`;
  }

  async putUrl(slot: Slot): Promise<string> {
    await this.index.set(`upload/${slot.owner}`, slot.id, { n: slot.name, at: Date.now() });
    const put = new PutObjectCommand({
      Bucket: this.bucket, Key: S3Files.key(slot.id, slot.name), ContentLength: slot.size, ContentType: slot.type,
    });
    // Content-Length and Content-Type are signed: S3 refuses another size or type.
    const expiresIn = Math.max(1, Math.ceil((slot.expires - Date.now()) / 1000));
    return getSignedUrl(this.presigner, put, { expiresIn, signableHeaders: new Set(["content-length", "content-type"]) });
  }

  handle(req: IncomingMessage, res: ServerResponse, path: string): void {
    const file = filePath(path);
    if (typeof file === "number") return answer(res, file, file === 400 ? "bad file name\n" : "not found\n");
    const { id, name } = file;
    if (req.method === "OPTIONS") {
      res.writeHead(204, COMMON);
      return void res.end();
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD, OPTIONS");
      return answer(res, 405, "uploads go to the URL of the slot\n");
    }
    const get = new GetObjectCommand({ Bucket: this.bucket, Key: S3Files.key(id, name) });
    void getSignedUrl(this.presigner, get, { expiresIn: GET_TTL_S }).then((url) => {
      res.writeHead(302, { ...COMMON, location: url, "cache-control": `private, max-age=${GET_TTL_S - 60}`, "content-length": 0 });
      res.end();
    }, () => answer(res, 500, "internal error\n"));
  }

  async sweep(before: number): Promise<number> {
    let removed = 0;
    let token: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, ContinuationToken: token }));
      // Only keys of slots: the bucket may hold other things (and a filesystem-backed store lists its folders).
      const old = (page.Contents ?? []).filter((o) => o.Key !== undefined && OBJECT_KEY.test(o.Key) && (o.LastModified?.getTime() ?? Infinity) < before);
      removed += await this.delete(old.map((o) => o.Key!));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return removed;
  }

  async removeOwner(owner: string): Promise<number> {
    const slots = await this.index.getAll(`upload/${owner}`);
    const removed = await this.delete([...slots].map(([id, v]) => S3Files.key(id, v.n)));
    for (const id of slots.keys()) await this.index.set(`upload/${owner}`, id, undefined);
    return removed;
  }

  /**
   * Deletes the keys (those of slots never used are not there: no error), a thousand per request
   * (S3's limit); one by one on a store without multi-object delete with checksums (S3Proxy).
   */
  private async delete(keys: string[]): Promise<number> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      if (!this.singleDeletes) {
        try {
          await this.s3.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
          continue;
        } catch (e) {
          if ((e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 501) throw e;
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
