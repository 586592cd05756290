// Fan-out (XEP-0045 §7.4, §7.2.3): a room's message or an occupant's presence is built once and
// written to every occupant with only its 'to' changed. A Fanout element serialises everything
// but 'to' on its first write and reuses that text for every later recipient, so a join of the
// N-th occupant costs N string concatenations, not N serialisations of a presence tree.
// Once handed out, a Fanout is never changed (holds that keep one clone it: ltx's clone builds a
// fresh Fanout with an empty cache).
import { Element, escapeXML } from "../../xml/element.ts";
import type { JID } from "../../xml/jid.ts";
import type { Session } from "../../core/session.ts";
import type { Router } from "../../core/router.ts";
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

/** Writes stanzas to occupants' real JIDs: straight to a local session, else through the router. */
export interface Delivery {
  send(stanza: Fanout, to: JID): void;
}

export function localDelivery(sessions: { get(full: JID): Session | undefined }, router: Router): Delivery {
  return {
    send(stanza, to) {
      const s = sessions.get(to);
      if (s) {
        // The session serialises at once (or a hold clones it), so the next recipient may reuse the element.
        stanza.attrs.to = to.toString();
        s.send(stanza);
        return;
      }
      void router.route(readdress(stanza, to.toString()));
    },
  };
}
