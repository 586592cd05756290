// XEP-0402 §5.3: compatibility of PEP native bookmarks (urn:xmpp:bookmarks:1) with XEP-0048's
// legacy bookmarks, in both places old clients read them: private XML storage (XEP-0049,
// storage:bookmarks; feature #compat) and the PEP node storage:bookmarks (XEP-0048 §3.3 via
// XEP-0223; feature #compat-pep). A client's change in any of the three is written to the other
// two before the client gets its reply: a native item published or retracted rewrites the legacy
// <storage/> (keeping its urls); a legacy <storage/> stored publishes each room that changed as a
// native item (keeping the item's <extensions/>) and retracts the rooms it no longer has. The
// server's own writes tell no listener, so nothing loops. Native items are notified to the
// account's +notify resources like any publication.
// XEP-0411 (Bookmarks Conversion, deprecated in favour of XEP-0402 §5.3, which this is a part of):
// the two XEP-0048 places kept in step with each other, both ways, announced on the account as
// urn:xmpp:bookmarks-conversion:0. It goes when XEP-0048's private-storage clients are gone.
import type { Element } from "../../xml/element.ts";
import type { JID } from "../../xml/jid.ts";
import { parseJid } from "../../xml/jid.ts";
import { defineModule } from "../../core/module.ts";
import { PEP } from "../pep/service.ts";
import { PRIVATE } from "../private.ts";
import { fromLegacy, fromNative, LEGACY, NATIVE, sameBookmark, toLegacy, toNative } from "./convert.ts";

/** XEP-0411 §2: the account feature of a server converting between private XML and PEP bookmarks. */
export const CONVERSION = "urn:xmpp:bookmarks-conversion:0";
/** Where XEP-0048 bookmarks are in private XML storage (src/modules/private.ts's key). */
export const PRIVATE_KEY = `{${LEGACY}}storage`;
const options = (o: Record<string, string>) => new Map(Object.entries(o).map(([k, v]) => [k, [v]]));
/** XEP-0402 §3: the node's configuration. */
export const NATIVE_OPTIONS = options({ "pubsub#persist_items": "true", "pubsub#max_items": "max", "pubsub#send_last_published_item": "never", "pubsub#access_model": "whitelist" });
/** XEP-0048 §3.3 (XEP-0223): one item, private. */
export const LEGACY_OPTIONS = options({ "pubsub#persist_items": "true", "pubsub#access_model": "whitelist" });

export default defineModule({
  name: "bookmarks",
  specs: [{ spec: "XEP-0048", version: "1.2" }, { spec: "XEP-0411", version: "1.1.0" }],
  depends: ["pep", "private"],
  setup(ctx) {
    const pep = ctx.use(PEP);
    const store = ctx.use(PRIVATE);
    ctx.accountFeature(`${NATIVE}#compat`);
    ctx.accountFeature(`${NATIVE}#compat-pep`);
    // XEP-0411 §2: the account says the server converts between private XML and PEP.
    ctx.accountFeature(CONVERSION);

    /** The native node changed: both legacy places get the whole list. */
    async function nativeChanged(owner: JID): Promise<void> {
      const bookmarks = (await pep.items(owner, NATIVE)).map((i) => fromNative(i.id, i.payload)).filter((b) => b !== undefined);
      const { others } = fromLegacy(await store.get(owner.toString(), PRIVATE_KEY));
      const storage = toLegacy(bookmarks, others);
      await store.set(owner.toString(), PRIVATE_KEY, storage);
      await pep.publish(owner, LEGACY, "current", storage, LEGACY_OPTIONS);
    }

    /** A legacy <storage/> was stored (in `from`): the native node follows, then the other legacy place. */
    async function legacyChanged(owner: JID, storage: Element | undefined, from: "private" | "pep"): Promise<void> {
      const { bookmarks } = fromLegacy(storage);
      const current = new Map((await pep.items(owner, NATIVE)).map((i) => [i.id, i.payload] as const));
      for (const b of bookmarks) {
        const had = current.get(b.jid);
        const old = fromNative(b.jid, had);
        if (old && sameBookmark(old, b)) continue;
        await pep.publish(owner, NATIVE, b.jid, toNative(b, had?.getChild("extensions", NATIVE)), NATIVE_OPTIONS);
      }
      const kept = new Set(bookmarks.map((b) => b.jid));
      for (const id of current.keys()) if (!kept.has(id)) await pep.retract(owner, NATIVE, id);
      if (from === "private") {
        if (storage) await pep.publish(owner, LEGACY, "current", storage, LEGACY_OPTIONS);
      } else await store.set(owner.toString(), PRIVATE_KEY, storage);
    }

    pep.onChange(NATIVE, nativeChanged);
    pep.onChange(LEGACY, async (owner) => legacyChanged(owner, (await pep.items(owner, LEGACY)).at(-1)?.payload, "pep"));
    store.onChange(PRIVATE_KEY, async (owner) => legacyChanged(parseJid(owner), await store.get(owner, PRIVATE_KEY), "private"));
  },
});
