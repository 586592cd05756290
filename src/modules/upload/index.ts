// XEP-0363: HTTP File Upload, the way media goes: never through the chat socket. A service on its
// own domain (default upload.<domain>) hands a local account a slot for a file it names, with its
// size and type: a PUT URL signed for exactly that file and the GET URL to share, on the server's
// HTTP listeners under /upload/. The files live on the local disk (the embedded default) or in an
// S3 bucket that every node of a cluster shares. Limits: the largest file, a daily quota per
// account, and a retention after which files go; a deleted account's files go with it.
//   slots.ts  slot tokens and the checks on names and types
//   files.ts  the files taken and served by the server (PUT once, GET with ranges, CORS)
//   direct.ts the files clients PUT to the store itself; shared links redirect to its GET URL
// The files themselves are in a blob store: src/storage/disk/blob.ts or src/storage/s3/blob.ts.
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { xml, type Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { parseJid, type JID } from "../../xml/jid.ts";
import { StanzaError } from "../../core/errors.ts";
import type { Send } from "../../core/capabilities.ts";
import { defineModule } from "../../core/module.ts";
import type { Component } from "../../core/router.ts";
import { iqResult, serviceRequest } from "../../core/stanza.ts";
import { bool, int, oneOf, optStr, section, str } from "../../core/schema.ts";
import { DiskBlobStore } from "../../storage/disk/blob.ts";
import { S3BlobStore } from "../../storage/s3/blob.ts";
import type { BlobStore, KeyValueStore } from "../../storage/types.ts";
import { buildForm } from "../../core/forms.ts";
import { DirectFiles } from "./direct.ts";
import { ServedFiles, type UploadStore } from "./files.ts";
import { cleanName, cleanType, newSlot } from "./slots.ts";

export const UPLOAD = "urn:xmpp:http:upload:0";
const PREFIX = "/upload/";
const DAY_MS = 24 * 3600_000;

interface Usage {
  /** The UTC day (YYYY-MM-DD) the bytes count for. */
  day: string;
  bytes: number;
}

interface Limits {
  maxFileSize: number;
  dailyQuota: number;
  slotTtlMs: number;
}

/** What the service uses of the server: its domain (whose accounts upload) and sending its answers. */
interface UploadHost {
  readonly domain: JID;
  readonly send: Send;
}

class UploadService implements Component {
  private readonly jid: JID;
  private readonly name: string;
  private readonly server: UploadHost;
  private readonly limits: Limits;
  private readonly usage: KeyValueStore<Usage>;
  private readonly files: UploadStore;
  private readonly base: () => string | undefined;

  constructor(jid: JID, name: string, server: UploadHost, limits: Limits, usage: KeyValueStore<Usage>, files: UploadStore, base: () => string | undefined) {
    this.jid = jid;
    this.name = name;
    this.server = server;
    this.limits = limits;
    this.usage = usage;
    this.files = files;
    this.base = base;
  }

  async receive(stanza: Element, from: JID, to: JID): Promise<void> {
    const type = serviceRequest(stanza, to);
    if (type === undefined) return;
    const payload = stanza.getChildElements()[0];
    let result: Element | undefined;
    if (type === "get" && payload?.name === "query" && payload.attrs.xmlns === NS.discoInfo && payload.attrs.node === undefined) result = this.info();
    else if (type === "get" && payload?.name === "query" && payload.attrs.xmlns === NS.discoItems) result = xml("query", { xmlns: NS.discoItems });
    else if (type === "get" && payload?.name === "request" && payload.attrs.xmlns === UPLOAD) result = await this.request(payload, from);
    else throw new StanzaError("service-unavailable");
    const reply = iqResult(stanza, result);
    reply.attrs.from = this.jid.toString();
    reply.attrs.to = from.toString();
    await this.server.send(reply);
  }

  private info(): Element {
    return xml("query", { xmlns: NS.discoInfo },
      xml("identity", { category: "store", type: "file", name: this.name }),
      xml("feature", { var: NS.discoInfo }),
      xml("feature", { var: NS.discoItems }),
      xml("feature", { var: UPLOAD }),
      // §2: the largest file, for clients to check before asking.
      buildForm({ type: "result", formType: UPLOAD, fields: [{ type: "text-single", var: "max-file-size", values: [String(this.limits.maxFileSize)] }] }));
  }

  /** §4: a slot for the file, or the error that says why not. */
  private async request(req: Element, from: JID): Promise<Element> {
    if (from.domain !== this.server.domain.domain || from.local === "") throw new StanzaError("not-allowed", "uploads are for the accounts of this service's domain");
    const name = cleanName(req.attrs.filename);
    if (name === undefined) throw new StanzaError("bad-request", "filename: one path segment of printable characters, at most 255 bytes");
    const sizeText = req.attrs.size;
    if (sizeText === undefined || !/^\d{1,15}$/.test(sizeText)) throw new StanzaError("bad-request", "size: the file's size in bytes");
    const size = Number(sizeText);
    const type = cleanType(req.attrs["content-type"]);
    if (type === false) throw new StanzaError("bad-request", "content-type: a MIME type");
    if (size > this.limits.maxFileSize) {
      throw new StanzaError("not-acceptable", `the largest file is ${this.limits.maxFileSize} bytes`, {
        type: "modify",
        extra: xml("file-too-large", { xmlns: UPLOAD }, xml("max-file-size", null, String(this.limits.maxFileSize))),
      });
    }
    const base = this.base();
    if (base === undefined) throw new StanzaError("service-unavailable", "no HTTP listener to upload to");
    const owner = from.bare.toString();
    await this.charge(owner, size);
    const slot = newSlot({ name, size, type }, owner, this.limits.slotTtlMs);
    const get = `${base}/${slot.id}/${encodeURIComponent(name)}`;
    const put = await this.files.putUrl(slot, get);
    return xml("slot", { xmlns: UPLOAD }, xml("put", { url: put }), xml("get", { url: get }));
  }

  /** Counts the slot's bytes against the account's quota of the day; over it, resource-constraint with when to retry (§4). */
  private async charge(owner: string, size: number): Promise<void> {
    const quota = this.limits.dailyQuota;
    if (quota === 0) return;
    const now = new Date();
    const day = now.toISOString().slice(0, 10);
    const used = await this.usage.get(owner);
    const bytes = used?.day === day ? used.bytes : 0;
    if (bytes + size > quota) {
      const tomorrow = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1));
      throw new StanzaError("resource-constraint", `the daily quota of ${quota} bytes is used up`, {
        type: "wait",
        extra: xml("retry", { xmlns: UPLOAD, stamp: tomorrow.toISOString().replace(".000Z", "Z") }),
      });
    }
    await this.usage.set(owner, { day, bytes: bytes + size });
  }
}

/** A host's service domain: modules.<name>.domain for the configuration's domain, else upload.<host>. */
const serviceDomain = (o: { domain?: string }, host: string, primary: boolean): string => (primary ? o.domain : undefined) ?? `upload.${host}`;

export default defineModule({
  name: "upload",
  specs: [{ spec: "XEP-0363", version: "1.1.0" }],
  options: {
    domain: optStr("The service's domain; default upload.<server domain>. Each further host's is upload.<host>."),
    name: str("The service's name in service discovery.", "HTTP File Upload"),
    maxFileSize: int("Largest file, in bytes.", 104_857_600, 1),
    dailyQuota: int("Bytes one account may upload per day (UTC); 0 lifts it.", 1_073_741_824, 0),
    expireDays: int("Days an uploaded file is kept; 0 keeps files until deleted by hand.", 30, 0),
    slotTimeout: int("Seconds a slot's PUT URL is accepted after it is given.", 300, 10),
    url: optStr("The public base URL of the files (e.g. https://chat.example.org:5281/upload), for every host; default: https://<the uploader's domain>:<http.tlsPort>/upload."),
    storage: oneOf("Where the files go: local (dataDir/uploads, one node) or s3 (a bucket every node shares; clients PUT to it directly).", ["local", "s3"], "local"),
    s3: section("The bucket, when storage is s3.", {
      endpoint: optStr("The S3 endpoint URL (default: AWS's for the region); an S3-compatible store's, e.g. http://127.0.0.1:9000."),
      publicEndpoint: optStr("Where clients reach the store, when that is not the endpoint the server uses (the presigned URLs name it): e.g. https://s3.chat.example.org."),
      region: str("The bucket's region.", "us-east-1"),
      bucket: str("The bucket, made beforehand; private (links go through this server).", "xmppd-uploads"),
      accessKey: optStr("Access key id (default: the AWS SDK's usual sources: environment, profile, instance role)."),
      secretKey: optStr("Secret access key, with accessKey."),
      pathStyle: bool("Path-style URLs (endpoint/bucket/key), which S3-compatible stores usually need.", true),
    }),
  },
  domains: (o, host, primary) => [serviceDomain(o, host, primary)],
  async setup(ctx) {
    const o = ctx.options;
    // One secret per deployment, in storage: every node of a cluster signs and checks alike.
    const secrets = ctx.keyval<string>("upload.secret");
    let secret: Promise<Buffer> | undefined;
    const getSecret = () => (secret ??= (async () => {
      await secrets.add("hmac", randomBytes(32).toString("base64"));
      return Buffer.from((await secrets.get("hmac"))!, "base64");
    })());
    const base = (domain: string) => () => {
      if (o.url !== undefined) return o.url.replace(/\/+$/, "");
      const { https, http } = ctx.httpPorts;
      if (https !== undefined) return `https://${domain}:${https}/upload`;
      return http !== undefined ? `http://${domain}:${http}/upload` : undefined;
    };
    let blobs: BlobStore;
    if (o.storage === "s3") {
      const s3 = new S3BlobStore(o.s3, ctx.map<{ n: string; at: number }>("upload.slots"));
      // Not fatal: the store may come up after the server; slots are given all the same.
      if (!(await s3.ensureBucket())) ctx.log.warn({ bucket: o.s3.bucket, endpoint: o.s3.endpoint }, "upload: the S3 bucket is not reachable, or could not be made");
      blobs = s3;
    } else blobs = new DiskBlobStore(join(ctx.settings.dataDir, "uploads"));
    const files: UploadStore = blobs.direct ? new DirectFiles(blobs.direct) : new ServedFiles(blobs, getSecret, ctx.log);
    ctx.onUnload(() => blobs.close());
    const usage = ctx.keyval<Usage>("upload.usage");
    // One service per hosted domain, for its accounts; the files of all are served under one path.
    for (const host of ctx.hosts.all()) {
      const jid = parseJid(serviceDomain(o, host.domain, host === ctx.hosts.primary));
      const service = new UploadService(jid, o.name, { domain: host.jid, send: ctx.send }, { maxFileSize: o.maxFileSize, dailyQuota: o.dailyQuota, slotTtlMs: o.slotTimeout * 1000 },
        usage, files, base(host.domain));
      ctx.component(jid.domain, service);
      ctx.item({ jid: jid.toString(), name: o.name, host: host.domain });
    }
    ctx.httpRoute(PREFIX, (req, res, path) => files.handle(req, res, path.slice(PREFIX.length)));
    // A deleted account's files go with it (the GET URLs it shared stop working).
    ctx.on("account/deleted", async ({ jid: account }) => {
      const n = await blobs.removeOwner(account.bare.toString());
      if (n > 0) ctx.log.info({ account: account.bare.toString(), removed: n }, "uploads of a deleted account removed");
    });
    if (o.expireDays > 0) {
      const sweep = () => void blobs.sweep(Date.now() - o.expireDays * DAY_MS).then((n) => {
        if (n > 0) ctx.log.info({ removed: n }, "expired uploads removed");
      }, (err: unknown) => ctx.log.warn({ err }, "upload sweep failed"));
      ctx.every(3600_000, sweep);
      sweep();
    }
  },
});
