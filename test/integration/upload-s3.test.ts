// XEP-0363 with the files in an S3 bucket (scripts/services/s3.sh: S3Proxy over a local folder):
// the client PUTs straight to the bucket with the presigned URL of its slot, which takes only
// that size and type; the shared URL is the server's, and redirects to a short presigned GET.
// Clients reach the store under its public name (publicEndpoint), the server under its own.
// Retention deletes old objects; a deleted account's objects go. Skipped when S3Proxy does not
// answer, except in CI (test/helpers/services.ts).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { S3BlobStore } from "../../src/storage/s3/blob.ts";
import type { MapStore } from "../../src/storage/types.ts";
import { xml } from "../../src/xml/element.ts";
import { parseJid } from "../../src/xml/jid.ts";
import { removeAccount } from "../../src/core/account-removal.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { accounts, connect, type Im } from "../helpers/im.ts";
import { serviceUp, services } from "../helpers/services.ts";

const up = await serviceUp("s3");
const UPLOAD = "urn:xmpp:http:upload:0";
const bucket = `xmppd-test-${process.pid}-${Date.now().toString(36)}`;
const endpoint = `http://${services.s3.host}:${services.s3.port}`;
/** The same store under another name, as clients would reach it from outside. */
const publicEndpoint = `http://localhost:${services.s3.port}`;
const s3 = new S3Client({ region: "us-east-1", endpoint, forcePathStyle: true, credentials: { accessKeyId: services.s3.accessKey, secretAccessKey: services.s3.secretKey },
  requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED" });

async function slot(c: Im, filename: string, size: number, type?: string): Promise<{ put: string; get: string }> {
  const r = await c.ask(xml("iq", { type: "get", to: "upload.localhost" }, xml("request", { xmlns: UPLOAD, filename, size: String(size), "content-type": type })));
  expect(r.attrs.type, r.toString()).toBe("result");
  const s = r.getChild("slot", UPLOAD)!;
  return { put: s.getChild("put")!.attrs.url!, get: s.getChild("get")!.attrs.url! };
}

const keys = async () => ((await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key);

describe.skipIf(!up)("XEP-0363 with S3 storage", () => {
  let t: TestServer;
  beforeAll(async () => {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    t = await startServer({
      config: {
        modules: {
          upload: {
            storage: "s3",
            s3: { endpoint, publicEndpoint, region: "us-east-1", bucket, accessKey: services.s3.accessKey, secretKey: services.s3.secretKey, pathStyle: true },
          },
        },
      },
    });
  });
  afterAll(async () => {
    await t?.stop();
    const left = await keys().catch(() => []);
    // Files only: S3Proxy's filesystem store lists its folders as keys ending in '/', and goes quiet on their delete.
    for (const Key of left.filter((k) => k !== undefined && !k.endsWith("/"))) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key })).catch(() => undefined);
    await s3.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
    s3.destroy();
  });

  it("the client PUTs to the bucket; the shared URL is the server's and redirects to the object", async () => {
    const [romeo] = await accounts(t, "romeo");
    const r = await connect(t, romeo!);
    const s = await slot(r, "photo 1.jpg", 9, "image/jpeg");
    expect(s.put.startsWith(`${publicEndpoint}/${bucket}/`)).toBe(true);
    expect(s.put).toContain("X-Amz-Signature=");
    expect(s.get).toMatch(new RegExp(`^https://localhost:${t.server.ports.https}/upload/[\\w-]{22}/photo%201\\.jpg$`));
    // The presigned PUT takes the slot's size and type only.
    expect((await fetch(s.put, { method: "PUT", body: "not 9 bytes long", headers: { "content-type": "image/jpeg" } })).status).toBe(403);
    expect((await fetch(s.put, { method: "PUT", body: "123456789", headers: { "content-type": "text/html" } })).status).toBe(403);
    expect((await fetch(s.put, { method: "PUT", body: "123456789", headers: { "content-type": "image/jpeg" } })).status).toBe(200);

    const redirect = await fetch(s.get, { redirect: "manual" });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get("location")).toContain(`${publicEndpoint}/${bucket}/`);
    const got = await fetch(s.get);
    expect(await got.text()).toBe("123456789");
    expect(got.headers.get("content-type")).toBe("image/jpeg");
    expect((await fetch(s.get, { method: "PUT", body: "x" })).status).toBe(405);
    await r.stop();
  });

  it("a deleted account's objects go", async () => {
    const [juliet] = await accounts(t, "juliet");
    const j = await connect(t, juliet!);
    const s = await slot(j, "mine.txt", 4, "text/plain");
    expect((await fetch(s.put, { method: "PUT", body: "mine", headers: { "content-type": "text/plain" } })).status).toBe(200);
    const key = new URL(s.put).pathname.slice(`/${bucket}/`.length);
    expect(await keys()).toContain(decodeURIComponent(key));
    await j.stop();
    expect(await removeAccount(t.context, parseJid(`${juliet}@localhost`))).toBe(true);
    expect(await keys()).not.toContain(decodeURIComponent(key));
  });

  it("retention: objects older than the limit are deleted, newer ones kept", async () => {
    const files = new S3BlobStore({ endpoint, publicEndpoint: undefined, region: "us-east-1", bucket, accessKey: services.s3.accessKey, secretKey: services.s3.secretKey, pathStyle: true },
      { get: async () => undefined, set: async () => undefined, getAll: async () => new Map() } as unknown as MapStore<{ n: string; at: number }>);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "AAAAAAAAAAAAAAAAAAAAAA/old.txt", Body: "old" }));
    const cut = Date.now() + 1000; // S3 times are to the second: "before" lies past this upload
    await new Promise((r) => setTimeout(r, 2100)); // a whole second past the cut, whatever its rounding
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "BBBBBBBBBBBBBBBBBBBBBB/new.txt", Body: "new" }));
    expect(await files.sweep(cut)).toBeGreaterThanOrEqual(1);
    const left = await keys();
    expect(left).not.toContain("AAAAAAAAAAAAAAAAAAAAAA/old.txt");
    expect(left).toContain("BBBBBBBBBBBBBBBBBBBBBB/new.txt");
    files.close();
  });
});
