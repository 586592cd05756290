// XEP-0402 §5.3 (compatibility with XEP-0048): the same bookmarks in two shapes. XEP-0048 keeps
// them all in one <storage xmlns='storage:bookmarks'/> (conferences and urls); XEP-0402 keeps one
// item per room, its id the room's JID, holding <conference xmlns='urn:xmpp:bookmarks:1'/>.
// Pure conversions, unit-tested; what XEP-0048 has no place for (XEP-0402's <extensions/>) is
// carried over from the item it replaces, and what XEP-0402 has no place for (<url/>) stays in
// the legacy storage.
import { clone, elementChildren, xml, type Element } from "../../xml/element.ts";
import { tryParseJid } from "../../xml/jid.ts";

export const NATIVE = "urn:xmpp:bookmarks:1";
export const LEGACY = "storage:bookmarks";

export interface Bookmark {
  /** The room's bare JID. */
  readonly jid: string;
  readonly name: string | undefined;
  readonly autojoin: boolean;
  readonly nick: string | undefined;
  readonly password: string | undefined;
}

const truthy = (v: string | undefined) => v === "true" || v === "1";

function read(jid: string, el: Element): Bookmark | undefined {
  const room = tryParseJid(jid);
  if (!room || room.local === "" || room.resource !== "") return undefined;
  return { jid: room.toString(), name: el.attrs.name || undefined, autojoin: truthy(el.attrs.autojoin), nick: el.getChildText("nick") ?? undefined, password: el.getChildText("password") ?? undefined };
}

/** The bookmarks of a legacy <storage/>, and its other children (urls), kept as they are. */
export function fromLegacy(storage: Element | undefined): { bookmarks: Bookmark[]; others: Element[] } {
  const bookmarks: Bookmark[] = [];
  const others: Element[] = [];
  const seen = new Set<string>();
  for (const c of storage ? elementChildren(storage) : []) {
    const b = c.name === "conference" ? read(c.attrs.jid ?? "", c) : undefined;
    if (b && !seen.has(b.jid)) {
      seen.add(b.jid);
      bookmarks.push(b);
    } else if (c.name !== "conference") others.push(c);
  }
  return { bookmarks, others };
}

export function toLegacy(bookmarks: readonly Bookmark[], others: readonly Element[]): Element {
  return xml("storage", { xmlns: LEGACY },
    bookmarks.map((b) => xml("conference", { jid: b.jid, name: b.name, autojoin: b.autojoin ? "true" : "false" },
      b.nick !== undefined ? xml("nick", null, b.nick) : undefined,
      b.password !== undefined ? xml("password", null, b.password) : undefined)),
    others.map((o) => clone(o)));
}

/** A XEP-0402 item (its id, its <conference/>) as a bookmark; undefined when it is not one. */
export function fromNative(id: string, conference: Element | undefined): Bookmark | undefined {
  if (!conference || conference.name !== "conference" || conference.attrs.xmlns !== NATIVE) return undefined;
  return read(id, conference);
}

/** The <conference/> payload of a XEP-0402 item, with the <extensions/> of the item it replaces. */
export function toNative(b: Bookmark, extensions?: Element): Element {
  return xml("conference", { xmlns: NATIVE, name: b.name, autojoin: b.autojoin ? "true" : "false" },
    b.nick !== undefined ? xml("nick", null, b.nick) : undefined,
    b.password !== undefined ? xml("password", null, b.password) : undefined,
    extensions ? clone(extensions) : undefined);
}

export function sameBookmark(a: Bookmark, b: Bookmark): boolean {
  return a.jid === b.jid && a.name === b.name && a.autojoin === b.autojoin && a.nick === b.nick && a.password === b.password;
}
