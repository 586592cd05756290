// Upload slots (XEP-0363 §4): what a client asked to upload, and the signed URL it may PUT it to.
// Nothing is stored when a slot is given: the PUT URL carries the slot's expiry and an HMAC over
// the slot, the file's name, size and content type, and the HTTP side checks the request against
// them. A slot that is never used costs nothing; one that is used once cannot be used again
// (the file is there).
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export interface SlotRequest {
  readonly name: string;
  readonly size: number;
  /** The MIME type the client will send; undefined when it gave none (any is then accepted). */
  readonly type: string | undefined;
}

export interface Slot extends SlotRequest {
  /** Random, URL-safe: the folder of the file. */
  readonly id: string;
  /** The bare JID it was given to (kept with the file, for quotas and account deletion). */
  readonly owner: string;
  /** Until when (ms since the epoch) the PUT URL is accepted. */
  readonly expires: number;
}

function signature(secret: Buffer, s: Slot): Buffer {
  return createHmac("sha256", secret).update([s.id, s.owner, s.name, s.size, s.type ?? "", s.expires].join("\n")).digest();
}

/** A new slot for the request, valid for `ttlMs`. */
export function newSlot(r: SlotRequest, owner: string, ttlMs: number, now = Date.now()): Slot {
  return { ...r, owner, id: randomBytes(16).toString("base64url"), expires: now + ttlMs };
}

/** The PUT URL's token: the expiry and the signature. */
export function slotToken(secret: Buffer, s: Slot): string {
  return `${s.expires}.${signature(secret, s).toString("base64url")}`;
}

/**
 * Checks a PUT against the token of its URL: the signature over the slot as the request
 * describes it (name from the path, size from Content-Length, type from Content-Type), and the
 * expiry. Returns why not, or undefined when the PUT is the one the slot was given for.
 */
export function checkToken(secret: Buffer, token: string, put: Omit<Slot, "expires">, now = Date.now()): "forbidden" | "expired" | undefined {
  const dot = token.indexOf(".");
  const expires = Number(token.slice(0, dot));
  if (dot < 1 || !Number.isSafeInteger(expires)) return "forbidden";
  const given = Buffer.from(token.slice(dot + 1), "base64url");
  const want = signature(secret, { ...put, expires });
  if (given.length !== want.length || !timingSafeEqual(given, want)) return "forbidden";
  return now > expires ? "expired" : undefined;
}

/**
 * A file name as a client may ask for it: one path segment of printable characters, at most 255
 * bytes in UTF-8; undefined for anything else (the request is refused, not rewritten).
 */
export function cleanName(name: string | undefined): string | undefined {
  if (name === undefined || name === "" || name === "." || name === "..") return undefined;
  if (Buffer.byteLength(name) > 255 || /[/\\\u0000-\u001f\u007f]/.test(name)) return undefined;
  return name;
}

/** A MIME type as it may go into a header: type/subtype with parameters, no line breaks. */
export function cleanType(type: string | undefined): string | undefined | false {
  if (type === undefined || type === "") return undefined;
  return /^[\w.+-]+\/[\w.+-]+(\s*;\s*[\w.+-]+=("[^"\r\n]*"|[\w.+-]+))*$/.test(type) ? type : false;
}
