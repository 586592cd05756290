// The photos of vcard-temp (XEP-0054 <PHOTO/>) as avatars: their hashes as XEP-0153 gives them
// ("the SHA1 hash of the image data itself (not the base64-encoded version)", in hex, the same
// value XEP-0084 takes as item id), the <x xmlns='vcard-temp:x:update'/> of presence that carries
// them, and a vCard's PHOTO replaced. Used for accounts (XEP-0398, ../avatar-conversion/) and for
// rooms (XEP-0486, ../muc/avatar.ts). Pure functions, unit-tested beside this file.
import { createHash } from "node:crypto";
import { xml, type Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";

export const VCARD_UPDATE = "vcard-temp:x:update";

export interface Photo {
  /** Its media type (TYPE), if the vCard says. */
  readonly type: string | undefined;
  /** The image, as stored in the vCard: base64 without whitespace. */
  readonly base64: string;
  /** Its length in bytes. */
  readonly bytes: number;
  /** XEP-0153 §3.2: SHA-1 of the image, hex. */
  readonly hash: string;
}

/** Hex SHA-1 of an image's bytes. */
export function imageHash(data: Uint8Array): string {
  return createHash("sha1").update(data).digest("hex");
}

/** A photo from its base64 text (whitespace allowed, as vCards wrap it); undefined when empty or not base64. */
export function photoFromBase64(text: string, type: string | undefined): Photo | undefined {
  const base64 = text.replace(/\s+/g, "");
  if (base64 === "" || !/^[A-Za-z0-9+/]+={0,2}$/.test(base64) || base64.length % 4 === 1) return undefined;
  const data = Buffer.from(base64, "base64");
  if (data.length === 0) return undefined;
  return { type, base64, bytes: data.length, hash: imageHash(data) };
}

/** The photos of a vCard that hold their image (BINVAL); one that only points elsewhere (EXTVAL) has none here. */
export function photosOf(vcard: Element | undefined): Photo[] {
  const out: Photo[] = [];
  for (const p of vcard?.getChildren("PHOTO") ?? []) {
    const bin = p.getChildText("BINVAL");
    const photo = bin === null ? undefined : photoFromBase64(bin, p.getChildText("TYPE")?.trim() || undefined);
    if (photo) out.push(photo);
  }
  return out;
}

/** The vCard (a new empty one when none) with its PHOTOs replaced by `photo`, or removed when undefined. */
export function withPhoto(vcard: Element | undefined, photo: Photo | undefined): Element {
  const kept = (vcard?.children ?? []).filter((c) => typeof c !== "string" && c.name !== "PHOTO");
  return xml("vCard", { xmlns: NS.vcard }, ...kept,
    photo && xml("PHOTO", null, photo.type !== undefined ? xml("TYPE", null, photo.type) : undefined, xml("BINVAL", null, photo.base64)));
}

/**
 * XEP-0153's presence payload: the hash of the current photo, an empty <photo/> for "no photo"
 * (`hash` ""), or an <x/> without <photo/> ("not ready to advertise", `hash` undefined).
 */
export function updateElement(hash: string | undefined): Element {
  return xml("x", { xmlns: VCARD_UPDATE }, hash === undefined ? undefined : xml("photo", null, hash));
}
