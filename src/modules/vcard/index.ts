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
// - Other modules read and write vCards through VCARDS, and hear of the ones clients set
//   (XEP-0398's conversion of avatars, ../avatar-conversion/); the server's own writes tell no one.
import { xml, elementChildren, type Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { parseStored, serializeDetached } from "../../xml/stored.ts";
import type { JID } from "../../xml/jid.ts";
import { defineModule, serviceKey } from "../../core/module.ts";
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

/** Accounts' vCards for other modules. */
export interface VCardApi {
  /** The account's vCard; undefined when it has none. */
  get(owner: JID): Promise<Element | undefined>;
  /**
   * Writes the account's vCard on its behalf (undefined, or an empty one, deletes it), telling no
   * onSet listener; not-acceptable beyond the size limit.
   */
  set(owner: JID, vcard: Element | undefined): Promise<void>;
  /** Runs `fn` after the account sets its vCard, before its reply; until the listening module unloads. */
  onSet(fn: (owner: JID, vcard: Element | undefined) => Promise<void>): void;
}

export const VCARDS = serviceKey<VCardApi>("vcard");

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
    const read = async (owner: JID): Promise<Element | undefined> => {
      const stored = await store.get(owner.toString());
      return stored === undefined ? undefined : parseStored(stored);
    };
    const write = async (owner: JID, vcard: Element | undefined): Promise<void> => {
      if (vcard === undefined || isEmptyElement(vcard)) return store.set(owner.toString(), undefined);
      const text = serializeDetached(vcard);
      const size = Buffer.byteLength(text, "utf8");
      if (size > ctx.options.maxSize) {
        throw new StanzaError("not-acceptable", `the vCard is ${size} bytes; the limit is ${ctx.options.maxSize}`);
      }
      await store.set(owner.toString(), text);
    };
    const listeners = new Set<(owner: JID, vcard: Element | undefined) => Promise<void>>();
    ctx.provideEach(VCARDS, (user) => ({
      get: read,
      set: write,
      onSet: (fn) => {
        listeners.add(fn);
        user.own(() => listeners.delete(fn));
      },
    }));

    ctx.iq("account", NS.vcard, "vCard", {
      get: async (req) => {
        const vcard = await read(req.to);
        if (vcard) return vcard;
        if (isOwn(req)) return emptyVCard();
        throw new StanzaError("service-unavailable");
      },
      set: async (req) => {
        if (!isOwn(req)) throw new StanzaError("forbidden", "only the account itself may set its vCard");
        const vcard = isEmptyElement(req.payload) ? undefined : req.payload;
        await write(req.to, vcard);
        for (const fn of listeners) await fn(req.to.bare, vcard);
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
