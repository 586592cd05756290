// XEP-0352 §3.2 lists what a server may do while a client is inactive; this is what we do. Held
// back, newest only: presence updates (available or unavailable) per sender's full JID, and
// messages that carry nothing but a chat state (XEP-0085) per sender. Everything else goes out
// at once, after what was held, so the order the client sees stays the order of arrival within
// each kind and nothing important is reordered behind a stale update.
//
// Not held, and therefore flushing the queue: iq (someone waits for the answer), messages with a
// body or a subject, encrypted payloads, receipts (XEP-0184) and chat markers (XEP-0333) — a
// receipt or marker names one message, so keeping only the newest would lose ticks, and a
// "displayed" marker from another device is what clears the phone's notification; subscription
// requests, errors, and a MUC occupant's own presence (status 110: the client is waiting for
// its join to complete). A stanza that goes out wakes the radio anyway, so sending what was held
// with it costs bytes, not another wake-up.
import { clone, type Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";

/** Children a chat-state-only message may carry besides its chat state. */
const INCIDENTAL = new Set<string>([NS.chatStates, NS.sid, NS.hints, NS.delay]);

/** The key under which the stanza is held (a newer one with the same key replaces it), or undefined when it must go out now. */
export function holdKey(stanza: Element): string | undefined {
  if (stanza.name === "presence") {
    const type = stanza.attrs.type;
    if (type !== undefined && type !== "unavailable") return undefined;
    if (isMucSelfPresence(stanza)) return undefined;
    return `p ${stanza.attrs.from ?? ""}`;
  }
  if (stanza.name === "message") {
    const type = stanza.attrs.type;
    if (type === "error") return undefined;
    const carried = carbonPayload(stanza);
    const inner = carried ?? stanza;
    if (!chatStateOnly(inner)) return undefined;
    return carried ? `c ${inner.attrs.from ?? ""} ${inner.attrs.to ?? ""}` : `s ${stanza.attrs.from ?? ""}`;
  }
  return undefined;
}

/** A message whose only content is a chat state (plus thread, ids, hints, delay). */
export function chatStateOnly(message: Element): boolean {
  let state = false;
  for (const c of message.children) {
    if (typeof c === "string") continue;
    const ns = c.attrs.xmlns;
    if (ns === NS.chatStates) state = true;
    else if (!(c.name === "thread" && ns === undefined) && !(ns !== undefined && INCIDENTAL.has(ns))) return false;
  }
  return state;
}

/** The message inside a carbon copy (XEP-0280 received/sent), if the stanza is one. */
function carbonPayload(stanza: Element): Element | undefined {
  const wrap = stanza.getChild("received", NS.carbons) ?? stanza.getChild("sent", NS.carbons);
  return wrap?.getChild("forwarded", NS.forward)?.getChild("message");
}

function isMucSelfPresence(presence: Element): boolean {
  const x = presence.getChild("x", NS.mucUser);
  return x?.getChildren("status").some((s) => s.attrs.code === "110") ?? false;
}

/** What an inactive session holds back, oldest first. `write` sends past the hold (Session.sendNow). */
export class HeldStanzas {
  private readonly held = new Map<string, Element>();
  private readonly write: (stanza: Element) => void;
  private readonly max: number;

  constructor(write: (stanza: Element) => void, max: number) {
    this.write = write;
    this.max = max;
  }

  get size(): number {
    return this.held.size;
  }

  /**
   * True when the stanza is held. Otherwise what was held is written first and the caller writes
   * the stanza itself, so it arrives last. A full queue is written out as a whole.
   */
  offer(stanza: Element): boolean {
    const key = holdKey(stanza);
    if (key === undefined) {
      this.flush();
      return false;
    }
    // The newer replaces the older and takes its place at the end. A copy, since a sender may
    // reuse the element (a room rewrites 'to' for each occupant) after it was handed over.
    this.held.delete(key);
    this.held.set(key, clone(stanza));
    if (this.held.size >= this.max) this.flush();
    return true;
  }

  flush(): void {
    if (this.held.size === 0) return;
    const out = [...this.held.values()];
    this.held.clear();
    for (const s of out) this.write(s);
  }

  /** Forgets what was held (the session is gone; presence and chat states of a closed session mean nothing). */
  clear(): void {
    this.held.clear();
  }
}
