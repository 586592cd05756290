// RFC 6121 §4.7: the syntax of presence, read once at the module's edge. A client's malformed
// presence is bad-request for that client only (RFC 6120 §8.3.3.1).
import { elementChildren, type Element } from "../../xml/element.ts";
import { StanzaError } from "../../core/errors.ts";

export type PresenceType =
  | "available" | "unavailable" | "probe" | "error"
  | "subscribe" | "subscribed" | "unsubscribe" | "unsubscribed";

const TYPES: ReadonlySet<string> = new Set(["unavailable", "probe", "error", "subscribe", "subscribed", "unsubscribe", "unsubscribed"]);
const SHOWS: ReadonlySet<string> = new Set(["away", "chat", "dnd", "xa"]);
const PRIORITY = /^[+-]?\d{1,4}$/;

/** The stanza's type ("available" when absent, RFC 6121 §4.7.1), or undefined when not a valid one. */
export function presenceType(el: Element): PresenceType | undefined {
  const t = el.attrs.type;
  if (t === undefined) return "available";
  return TYPES.has(t) ? (t as PresenceType) : undefined;
}

/** RFC 6121 §4.7.2.3: an integer from -128 to +127, 0 when absent. Throws bad-request. */
export function parsePriority(el: Element): number {
  let found: Element | undefined;
  for (const c of elementChildren(el)) {
    if (c.name !== "priority" || (c.attrs.xmlns !== undefined && c.attrs.xmlns !== "jabber:client")) continue;
    if (found) throw new StanzaError("bad-request", "more than one <priority/>");
    found = c;
  }
  if (!found) return 0;
  const text = found.getText().trim();
  const n = PRIORITY.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < -128 || n > 127) throw new StanzaError("bad-request", "<priority/> must be an integer from -128 to 127");
  return n;
}

/**
 * RFC 6121 §4.7.2.1: at most one <show/>, one of away, chat, dnd, xa. Throws bad-request. An
 * empty <show/> counts as none: go-xmpp (go-sendxmpp) sends one with every initial presence, and
 * refusing it would leave those users offline (Prosody and ejabberd accept it too).
 */
export function checkShow(el: Element): void {
  let seen = false;
  for (const c of elementChildren(el)) {
    if (c.name !== "show" || (c.attrs.xmlns !== undefined && c.attrs.xmlns !== "jabber:client")) continue;
    if (seen) throw new StanzaError("bad-request", "more than one <show/>");
    seen = true;
    const show = c.getText().trim();
    if (show !== "" && !SHOWS.has(show)) throw new StanzaError("bad-request", "<show/> must be away, chat, dnd or xa");
  }
}

/** A presence a client sent: its type, and for availability its priority. Throws bad-request. */
export function parseClientPresence(el: Element): { type: PresenceType; priority: number } {
  const type = presenceType(el);
  if (type === undefined) throw new StanzaError("bad-request", `unknown presence type '${el.attrs.type}'`);
  if (type !== "available") return { type, priority: 0 };
  checkShow(el);
  return { type, priority: parsePriority(el) };
}
