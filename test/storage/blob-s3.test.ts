// The blob store contract on S3 (src/storage/s3/blob.ts) against the S3Proxy of
// scripts/services/s3.sh: each test in a bucket of its own, with its owner index in memory; the
// run's objects and buckets are deleted at the end. Skipped when S3Proxy does not answer, except
// in CI (test/helpers/services.ts).
import { afterAll, describe } from "vitest";
import { DeleteBucketCommand, DeleteObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { MemoryStorage } from "../../src/storage/memory.ts";
import { S3BlobStore } from "../../src/storage/s3/blob.ts";
import { serviceUp, services } from "../helpers/services.ts";
import { blobContract } from "./blob-contract.ts";

const up = await serviceUp("s3");
const { host, port, accessKey, secretKey } = services.s3;
const endpoint = `http://${host}:${port}`;
const run = `xmppd-blob-${process.pid}-${Date.now().toString(36)}`;
const buckets: string[] = [];

afterAll(async () => {
  if (!up) return;
  const s3 = new S3Client({ region: "us-east-1", endpoint, forcePathStyle: true, credentials: { accessKeyId: accessKey, secretAccessKey: secretKey } });
  for (const Bucket of buckets) {
    const left = ((await s3.send(new ListObjectsV2Command({ Bucket })).catch(() => undefined))?.Contents ?? []).map((o) => o.Key);
    // Files only: S3Proxy's filesystem store lists its folders as keys ending in '/', and goes quiet on their delete.
    for (const Key of left.filter((k) => k !== undefined && !k.endsWith("/"))) await s3.send(new DeleteObjectCommand({ Bucket, Key })).catch(() => undefined);
    await s3.send(new DeleteBucketCommand({ Bucket })).catch(() => undefined);
  }
  s3.destroy();
});

describe.skipIf(!up)("s3", () => {
  blobContract("s3 (S3Proxy)", async () => {
    const bucket = `${run}-${buckets.length}`;
    buckets.push(bucket);
    const store = new S3BlobStore({ endpoint, publicEndpoint: undefined, region: "us-east-1", bucket, accessKey, secretKey, pathStyle: true },
      new MemoryStorage().map("upload.slots"));
    if (!(await store.ensureBucket())) throw new Error(`s3: could not make the bucket ${bucket}`);
    return store;
  }, { direct: true });
});
