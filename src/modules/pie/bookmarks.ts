// XEP-0402 §5.3 at import. The bookmarks module keeps a user's bookmarks in three places in step:
// the PEP node urn:xmpp:bookmarks:1 (one item per room, what Conversations and Dino read), private
// XML storage:bookmarks (XEP-0049, what older clients read) and the PEP node storage:bookmarks
// (XEP-0048 §3.3). An export may have them in one place only (Prosody without mod_bookmarks keeps
// what each client stored where it stored it); the places it lacks are filled from the one it has,
// the native node first, as the module would have had a client stored them here. Places the
// export has are left as they are.
import { StanzaError } from "../../core/errors.ts";
import type { IdGenerator } from "../../storage/ids.ts";
import { parseStored } from "../../xml/stored.ts";
import { LEGACY_OPTIONS, NATIVE_OPTIONS, PRIVATE_KEY } from "../bookmarks/index.ts";
import { fromLegacy, fromNative, LEGACY, NATIVE, toLegacy, toNative, type Bookmark } from "../bookmarks/convert.ts";
import { applyConfig, DEFAULT_CONFIG, type NodeConfig } from "../pubsub/config.ts";
import type { Element } from "../../xml/element.ts";
import type { PepLimits } from "./pep.ts";
import type { UserPlan } from "./plan.ts";

/** Fills the places the plan lacks; returns a note of what was copied where, or undefined. */
export function alignBookmarks(plan: UserPlan, ids: IdGenerator, limits: PepLimits): string | undefined {
  const native = plan.pep.get(NATIVE);
  const privateText = plan.privateItems.get(PRIVATE_KEY);
  const legacyPep = plan.pep.get(LEGACY)?.items.at(-1);
  let bookmarks: Bookmark[];
  let others: Element[] = [];
  let from: string;
  if (native && native.items.length > 0) {
    bookmarks = native.items.map((i) => fromNative(i.id, i.xml ? parseStored(i.xml) : undefined)).filter((b) => b !== undefined);
    from = `PEP ${NATIVE}`;
  } else if (privateText !== undefined || legacyPep?.xml) {
    ({ bookmarks, others } = fromLegacy(parseStored(privateText ?? legacyPep!.xml)));
    from = privateText !== undefined ? `private XML ${LEGACY}` : `PEP ${LEGACY}`;
  } else return undefined;
  const filled: string[] = [];
  if (!native && bookmarks.length > 0) {
    plan.pep.set(NATIVE, {
      config: config(NATIVE_OPTIONS, limits),
      items: bookmarks.map((b) => ({ node: NATIVE, id: b.jid, seq: ids.next(), xml: toNative(b).toString(), publisher: plan.jid })),
    });
    filled.push(`PEP ${NATIVE}`);
  }
  const legacy = toLegacy(bookmarks, others).toString();
  if (privateText === undefined) {
    plan.privateItems.set(PRIVATE_KEY, legacy);
    filled.push(`private XML ${LEGACY}`);
  }
  if (!plan.pep.has(LEGACY)) {
    plan.pep.set(LEGACY, { config: config(LEGACY_OPTIONS, limits), items: [{ node: LEGACY, id: "current", seq: ids.next(), xml: legacy, publisher: plan.jid }] });
    filled.push(`PEP ${LEGACY}`);
  }
  return filled.length > 0 ? `bookmarks (${bookmarks.length}) copied from ${from} to ${filled.join(" and ")}, as the bookmarks module keeps them` : undefined;
}

function config(options: ReadonlyMap<string, readonly string[]>, limits: PepLimits): NodeConfig {
  const c = applyConfig(DEFAULT_CONFIG, options, limits.maxItems);
  if (c instanceof StanzaError) throw new Error(`bookmark node options: ${c.message}`);
  return c;
}
