// XEP-0054: vcard-temp. The server answers on behalf of accounts (§3.3: "a compliant server MUST
// respond on behalf of the requestor and not forward the IQ"); the vCard is stored serialised.
//
// Choices:
// - Own vCard missing: an empty <vCard/> result (§3.1 allows it or an error; clients treat the
//   empty element as "nothing set yet" without an error dialog).
// - Another account's vCard missing: <service-unavailable/> (§3.3: "MUST return a stanza error,
//   which SHOULD be service-unavailable or item-not-found"); it is the router's answer for an
//   account that does not exist, so the reply does not tell whether the account exists.
// - Set on anyone else's JID: <forbidden/> (§3.2). Too large: <not-acceptable/> (the XEP-0060
//   payload-too-big precedent); the size is counted on the serialised form that is stored.
// - The server has no vCard of its own: get -> item-not-found, set -> forbidden.
// - Advertised on the server (§4: where clients look) and on accounts' bare JIDs, since the
//   server answers vcard-temp for them.
import { xml, elementChildren, type Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { parseStored, serializeDetached } from "../../xml/stored.ts";
import { defineModule } from "../../core/module.ts";
import { StanzaError } from "../../core/errors.ts";
import { int } from "../../core/schema.ts";
import type { IqRequest } from "../../core/iq.ts";

/** No child elements and no text but whitespace. */
export function isEmptyElement(el: Element): boolean {
  return elementChildren(el).length === 0 && el.getText().trim() === "";
}

// ---- the module -----------------------------------------------------------------------------

export const emptyVCard = (): Element => xml("vCard", { xmlns: NS.vcard });

/** The key-value store of vCards (owner: the account's bare JID; value: the vCard serialised). */
export const VCARD_STORE = "vcard";

export default defineModule({
  name: "vcard",
  specs: [{ spec: "XEP-0054", version: "1.2" }],
  options: {
    maxSize: int("Largest vCard stored, in bytes of its XML (photos included).", 65_536, 1024),
  },
  setup(ctx) {
    const store = ctx.keyval<string>(VCARD_STORE);
    ctx.feature(NS.vcard);
    ctx.accountFeature(NS.vcard);

    const isOwn = (req: IqRequest) => req.from.bare.equals(req.to);

    ctx.iq("account", NS.vcard, "vCard", {
      get: async (req) => {
        const stored = await store.get(req.to.toString());
        const vcard = stored === undefined ? undefined : parseStored(stored);
        if (vcard) return vcard;
        if (isOwn(req)) return emptyVCard();
        throw new StanzaError("service-unavailable");
      },
      set: async (req) => {
        if (!isOwn(req)) throw new StanzaError("forbidden", "only the account itself may set its vCard");
        if (isEmptyElement(req.payload)) {
          await store.set(req.to.toString(), undefined);
          return;
        }
        const text = serializeDetached(req.payload);
        const size = Buffer.byteLength(text, "utf8");
        if (size > ctx.options.maxSize) {
          throw new StanzaError("not-acceptable", `the vCard is ${size} bytes; the limit is ${ctx.options.maxSize}`);
        }
        await store.set(req.to.toString(), text);
      },
    });
    ctx.iq("host", NS.vcard, "vCard", {
      get: () => {
        throw new StanzaError("item-not-found", "the server has no vCard");
      },
      set: () => {
        throw new StanzaError("forbidden", "the server's vCard is not set in-band");
      },
    });
  },
});
