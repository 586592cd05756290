// RFC 6121 §3.1.3: a subscription request the owner has neither approved nor denied is kept
// ("None + Pending In" needs no roster item) and delivered again at each login until answered.
// Stored as the stanza's XML, so it comes back exactly as the contact sent it.
import type { Element } from "../../xml/element.ts";
import { xml } from "../../xml/element.ts";
import { parseStored, serializeDetached } from "../../xml/stored.ts";

export interface PendingRequest {
  /** The presence stanza, serialised. */
  xml: string;
  /** When it arrived (ms since epoch). */
  at: number;
}

/** Bigger requests are kept without their payload (a status text can't be worth more). */
export const MAX_STORED_REQUEST = 16 * 1024;

export function pendingRequest(stanza: Element, now = Date.now()): PendingRequest {
  const text = serializeDetached(stanza);
  if (text.length <= MAX_STORED_REQUEST) return { xml: text, at: now };
  return { xml: xml("presence", { ...stanza.attrs }).toString(), at: now };
}

/** The stored request as a stanza again (undefined if the stored text is unreadable). */
export function storedRequest(p: PendingRequest): Element | undefined {
  return parseStored(p.xml);
}
