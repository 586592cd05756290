// The HTTP side of the uploaded files when clients reach the blob store themselves (an S3
// bucket: scale-out, every node gives slots, none holds files). The client PUTs straight to the
// store with a URL that signs the file's size and type, so the store takes exactly the file the
// slot was given for; the URL it shares is this server's /upload/<slot>/<name>, which answers
// with a redirect to a GET URL of a few minutes, so shared links keep working for the whole
// retention while the bucket stays private.
import type { IncomingMessage, ServerResponse } from "node:http";
import { blobKey } from "../../storage/blob-key.ts";
import type { BlobDirectAccess } from "../../storage/types.ts";
import { COMMON, answer, filePath, type UploadStore } from "./files.ts";
import type { Slot } from "./slots.ts";

/** How long the GET URL a shared link redirects to is valid. */
const GET_TTL_S = 300;

export class DirectFiles implements UploadStore {
  private readonly direct: BlobDirectAccess;

  constructor(direct: BlobDirectAccess) {
    this.direct = direct;
  }

  putUrl(slot: Slot): Promise<string> {
    return this.direct.putUrl(blobKey(slot.id, slot.name), { size: slot.size, type: slot.type, owner: slot.owner }, slot.expires);
  }

  handle(req: IncomingMessage, res: ServerResponse, path: string): void {
    const file = filePath(path);
    if (typeof file === "number") return answer(res, file, file === 400 ? "bad file name\n" : "not found\n");
    if (req.method === "OPTIONS") {
      res.writeHead(204, COMMON);
      return void res.end();
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD, OPTIONS");
      return answer(res, 405, "uploads go to the URL of the slot\n");
    }
    void this.direct.getUrl(file.key, GET_TTL_S).then((url) => {
      res.writeHead(302, { ...COMMON, location: url, "cache-control": `private, max-age=${GET_TTL_S - 60}`, "content-length": 0 });
      res.end();
    }, () => answer(res, 500, "internal error\n"));
  }
}
