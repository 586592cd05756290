// XEP-0398: User Avatar to vCard-Based Avatars Conversion. An account's avatar lives in two
// places that clients read: PEP (XEP-0084, urn:xmpp:avatar:data and :metadata) and its vCard's
// PHOTO (XEP-0054, XEP-0153). Each is kept to the other as the client changes it, before the
// client gets its reply:
// - §3.1, PEP to vCard: a metadata item published (or the node emptied) puts the image of the data
//   item it names into the vCard's PHOTO (or takes the PHOTO out), when the data node's access
//   model is open (§7: "SHOULD perform conversion only if the access model of the
//   'urn:xmpp:avatar:data' node has been set to 'open'", as the vCard is readable by anyone here)
//   and the image's SHA-1 is the item's id (§3.1: "SHOULD verify").
// - §3.2, vCard to PEP: a vCard set with a photo publishes it as a data item (id: its SHA-1) and a
//   metadata item, both open, and notifies the metadata as any publication; a vCard set without
//   one leaves PEP as it is (the XEP converts "a vCard publication request with a valid photo").
// - §4: every available presence the account sends, broadcast or directed (a room's, say), carries
//   its vCard photo's hash in XEP-0153's <x xmlns='vcard-temp:x:update'/> (convert.ts says how a
//   client's own <x/> is treated). As §5.1 notes, a change is not itself broadcast: the next
//   presence carries the new hash.
// The server's own writes (to the vCard, to PEP) tell no listener, so nothing loops.
import type { Element } from "../../xml/element.ts";
import type { JID } from "../../xml/jid.ts";
import { defineModule } from "../../core/module.ts";
import { StanzaError } from "../../core/errors.ts";
import type { StanzaEvent } from "../../core/events.ts";
import { PEP, type PepApi } from "../pep/service.ts";
import { photoFromBase64, photosOf, withPhoto } from "../vcard/photo.ts";
import { VCARDS, type VCardApi } from "../vcard/index.ts";
import { AVATAR_DATA, AVATAR_METADATA, CONVERSION, dataPayload, injectHash, metadataPayload, publishedAvatar } from "./convert.ts";
import { PhotoHashes } from "./hashes.ts";

const OPEN = new Map([["pubsub#access_model", ["open"]]]);

/** §3.1: the avatar the metadata node names, into the vCard; returns the vCard photo's hash now ("" for none), undefined when unchanged. */
async function pepToVCard(pep: PepApi, vcards: VCardApi, owner: JID): Promise<string | undefined> {
  const published = publishedAvatar((await pep.items(owner, AVATAR_METADATA)).at(-1)?.payload);
  if (published === undefined) return undefined; // external URLs only: nothing a vCard can hold
  const vcard = await vcards.get(owner);
  const current = photosOf(vcard)[0];
  if (published.kind === "none") {
    if (!vcard?.getChild("PHOTO")) return undefined;
    await vcards.set(owner, withPhoto(vcard, undefined)); // an empty vCard is deleted
    return "";
  }
  if (current?.hash === published.id || (await pep.access(owner, AVATAR_DATA)) !== "open") return undefined;
  const item = (await pep.items(owner, AVATAR_DATA)).find((i) => i.id === published.id);
  const data = item?.payload;
  const text = data?.name === "data" && data.attrs.xmlns === AVATAR_DATA ? data.getText() : undefined;
  const photo = text === undefined ? undefined : photoFromBase64(text, published.type);
  if (photo?.hash !== published.id) return undefined;
  await vcards.set(owner, withPhoto(vcard, photo));
  return photo.hash;
}

/** §3.2: the vCard's photo, published as the account's avatar unless it is that already; its hash ("" for none). */
async function vcardToPep(pep: PepApi, owner: JID, vcard: Element | undefined): Promise<string> {
  const photo = photosOf(vcard)[0];
  if (!photo) return "";
  const published = publishedAvatar((await pep.items(owner, AVATAR_METADATA)).at(-1)?.payload);
  if (published?.kind === "avatar" && published.id === photo.hash) return photo.hash;
  await pep.publish(owner, AVATAR_DATA, photo.hash, dataPayload(photo), OPEN);
  await pep.publish(owner, AVATAR_METADATA, photo.hash, metadataPayload(photo), OPEN);
  return photo.hash;
}

export default defineModule({
  name: "avatar-conversion",
  specs: [{ spec: "XEP-0398", version: "1.0.0" }],
  depends: ["vcard", "pep"],
  setup(ctx) {
    const pep = ctx.use(PEP);
    const vcards = ctx.use(VCARDS);
    const hashes = new PhotoHashes(async (owner) => photosOf(await vcards.get(owner))[0]?.hash ?? "");
    // §2: "The service MUST include a feature of 'urn:xmpp:pep-vcard-conversion:0' on the account."
    ctx.accountFeature(CONVERSION);

    // A photo too large for a vCard (modules.vcard.maxSize) is no fault of the server's.
    const failed = (err: unknown, owner: JID, what: string) =>
      ctx.log[err instanceof StanzaError ? "info" : "error"]({ err, owner: owner.toString() }, `avatar conversion: ${what}`);
    pep.onChange(AVATAR_METADATA, async (owner) => {
      try {
        const hash = await pepToVCard(pep, vcards, owner);
        if (hash !== undefined) hashes.set(owner, hash);
      } catch (err) {
        failed(err, owner, "the vCard was not updated");
      }
    });
    vcards.onSet(async (owner, vcard) => {
      hashes.forget(owner);
      try {
        hashes.set(owner, await vcardToPep(pep, owner, vcard));
      } catch (err) {
        failed(err, owner, "the avatar was not published");
      }
    });

    // §4: in every available presence, broadcast or directed ("MUC joins").
    const inject = (ev: StanzaEvent): false | Promise<false> => {
      if (ev.stanza.name !== "presence" || ev.stanza.attrs.type !== undefined || !ev.origin) return false;
      const hash = hashes.get(ev.from.bare);
      if (typeof hash === "string") return (injectHash(ev.stanza, hash), false);
      return hash.then((h) => (injectHash(ev.stanza, h), false), (err: unknown) => (failed(err, ev.from.bare, "no hash for the presence"), false));
    };
    ctx.handle("presence/broadcast", inject, "first");
    ctx.handle("stanza/out", inject, "first");
    ctx.on("account/deleted", ({ jid }) => hashes.forget(jid));
  },
});
