// XEP-0398's conversions as pure functions: which avatar a XEP-0084 metadata item publishes (§3.1:
// "MUST pick the info element that does not point to an exernal URL"), the data and metadata
// items a vCard photo becomes (§3.2), and the XEP-0153 hash a presence carries (§4). Unit-tested
// beside this file.
import { xml, type Element } from "../../xml/element.ts";
import { updateElement, VCARD_UPDATE, type Photo } from "../vcard/photo.ts";

export const CONVERSION = "urn:xmpp:pep-vcard-conversion:0";
export const AVATAR_DATA = "urn:xmpp:avatar:data";
export const AVATAR_METADATA = "urn:xmpp:avatar:metadata";

/** What the account's newest metadata item says: an avatar stored in the data node, none at all, or nothing a vCard can hold (external URLs only). */
export type Published = { readonly kind: "avatar"; readonly id: string; readonly type: string | undefined } | { readonly kind: "none" } | undefined;

/** `metadata`: the payload of the metadata node's newest item. */
export function publishedAvatar(metadata: Element | undefined): Published {
  const m = metadata?.name === "metadata" && metadata.attrs.xmlns === AVATAR_METADATA ? metadata : undefined;
  // XEP-0084 §4.5: an empty <metadata/> disables the avatar (and so does a node with no item).
  if (!m || m.getChildren("info").length === 0) return { kind: "none" };
  const info = m.getChildren("info").find((i) => i.attrs.url === undefined && i.attrs.id);
  return info ? { kind: "avatar", id: info.attrs.id!, type: info.attrs.type } : undefined;
}

/** The image's media type from its first bytes, for a vCard photo without TYPE (XEP-0084 requires one). */
export function sniffType(base64: string): string | undefined {
  const head = Buffer.from(base64.slice(0, 16), "base64");
  if (head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return "image/png";
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return "image/jpeg";
  if (head.subarray(0, 4).toString("latin1") === "GIF8") return "image/gif";
  if (head.subarray(0, 4).toString("latin1") === "RIFF" && head.subarray(8, 12).toString("latin1") === "WEBP") return "image/webp";
  return undefined;
}

/** §3.2: the data item's payload (its id is the photo's hash). */
export const dataPayload = (photo: Photo): Element => xml("data", { xmlns: AVATAR_DATA }, photo.base64);

/** §3.2: the metadata item's payload: one <info/> for the photo, "using the type value from the vCard". */
export function metadataPayload(photo: Photo): Element {
  const type = photo.type ?? sniffType(photo.base64) ?? "image/png";
  return xml("metadata", { xmlns: AVATAR_METADATA }, xml("info", { bytes: String(photo.bytes), id: photo.hash, type }));
}

/**
 * §4 on an available presence of the account: its photo's `hash` ("" for none) put in. A
 * presence with an empty <photo/> is left as it is (the client says it has none); an <x/>
 * without <photo/> is overwritten; a different hash is overwritten too (the server holds the
 * vCard, so its hash is the current one: §4's MAY). With no photo, a presence without <x/> stays
 * as it is. Whether the presence changed (it is changed in place).
 */
export function injectHash(presence: Element, hash: string): boolean {
  const xs = presence.getChildren("x", VCARD_UPDATE);
  const photo = xs[0]?.getChild("photo");
  if (photo && photo.getText().trim() === "") return false;
  if (hash === "" && xs.length === 0) return false;
  if (xs.length === 1 && photo?.getText().trim() === hash && hash !== "") return false;
  presence.children = presence.children.filter((c) => typeof c === "string" || !xs.includes(c));
  presence.append(updateElement(hash));
  return true;
}
