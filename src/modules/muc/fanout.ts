// Fan-out (XEP-0045 §7.4, §7.2.3): a room's message or an occupant's presence is built once and
// written to every occupant with only its 'to' changed. A Fanout element serialises everything
// but 'to' on its first write and reuses that text for every later recipient, so a join of the
// N-th occupant costs N string concatenations, not N serialisations of a presence tree.
// Once handed out, a Fanout is never changed (holds that keep one clone it: ltx's clone builds a
// fresh Fanout with an empty cache).
import { Element, escapeXML } from "../../xml/element.ts";
import { tryParseJid, type JID } from "../../xml/jid.ts";
import type { StanzaEvent } from "../../core/events.ts";
import type { Send } from "../../core/capabilities.ts";
import type { Session } from "../../core/session.ts";
import { readdress } from "../../core/stanza.ts";

export class Fanout extends Element {
  private tail: string | undefined;

  override write(writer: (s: string) => void): void {
    if (this.tail === undefined) {
      const { to, ...rest } = this.attrs;
      const probe = new Element(this.name, rest);
      probe.children = this.children;
      let s = "";
      probe.write((c) => {
        s += c;
      });
      this.tail = s.slice(1 + this.name.length);
      if (to === undefined) {
        writer(s);
        return;
      }
    }
    const to = this.attrs.to;
    writer(to === undefined ? `<${this.name}${this.tail}` : `<${this.name} to="${escapeXML(to)}"${this.tail}`);
  }
}

/**
 * Writes stanzas to occupants' real JIDs: straight to a local session, else through the router.
 * With `session` (the id of the session of this node that entered the room), a different session
 * of this node bound to that JID since gets nothing: it is not the occupant.
 */
export interface Delivery {
  send(stanza: Fanout, to: JID, session?: string): void;
}

/** The check every stanza to a local account passes ("stanza/in": blocklists), synchronous when it can be. */
export type InboundFilter = (ev: StanzaEvent) => boolean | Promise<boolean>;

/**
 * Local recipients get the stanza written at once, after the "stanza/in" check (XEP-0191: an
 * occupant who blocked the room or a nick gets nothing from it). When the check has to wait (a
 * blocklist not cached yet), that recipient's stanzas queue behind it, so each still gets them in
 * the room's order; a refused stanza is dropped (the room's fan-out has nobody to bounce it to).
 */
export function localDelivery(sessions: { get(full: JID): Session | undefined }, send: Send, inbound: InboundFilter): Delivery {
  const queues = new Map<string, Fanout[]>();
  const senders = new WeakMap<Fanout, JID | null>();

  const senderOf = (stanza: Fanout): JID | null => {
    let from = senders.get(stanza);
    if (from === undefined) senders.set(stanza, (from = tryParseJid(stanza.attrs.from ?? "") ?? null));
    return from;
  };
  /** False: deliver; true: refused; a promise when the answer is not at hand. */
  const check = (stanza: Fanout, to: JID): boolean | Promise<boolean> => {
    const from = senderOf(stanza);
    if (!from) return false;
    try {
      return inbound({ stanza, from, to, origin: undefined });
    } catch {
      return true; // the filter's error reply (service-unavailable) has no one to go to here
    }
  };
  const write = (s: Session, stanza: Fanout, to: JID) => {
    // The session serialises at once (or a hold clones it), so the next recipient may reuse the element.
    stanza.attrs.to = to.toString();
    s.send(stanza);
  };
  const drain = async (key: string, to: JID, queue: Fanout[], first: Promise<boolean>) => {
    let verdict: boolean | Promise<boolean> = first;
    while (queue.length > 0) {
      let refused: boolean;
      try {
        refused = await verdict;
      } catch {
        refused = true;
      }
      const stanza = queue.shift()!;
      const s = sessions.get(to);
      if (!refused && s) write(s, stanza, to);
      if (queue.length > 0) verdict = check(queue[0]!, to);
    }
    queues.delete(key);
  };

  return {
    send(stanza, to, session) {
      const s = sessions.get(to);
      if (s && session !== undefined && s.deliver === undefined && s.id !== session) return;
      if (!s) {
        void send(readdress(stanza, to.toString()));
        return;
      }
      const key = to.toString();
      const waiting = queues.get(key);
      if (waiting) {
        waiting.push(stanza);
        return;
      }
      const verdict = check(stanza, to);
      if (verdict === false) return write(s, stanza, to);
      if (verdict === true) return;
      const queue = [stanza];
      queues.set(key, queue);
      void drain(key, to, queue, verdict);
    },
  };
}
