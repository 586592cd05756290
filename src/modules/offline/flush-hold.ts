// While a session's stored messages are being flushed, messages routed to it directly (it is
// available already) must not overtake the older stored ones. From the moment it announces
// itself until its flush is done, the session's messages are held back in arrival order and
// written after the last stored one (or, if the session ended meanwhile, sent another way). Other stanzas (presence, iq) pass; any hold already in
// place (client state indication, XEP-0352) keeps working underneath.
import { clone, type Element } from "../../xml/element.ts";
import type { Session } from "../../core/session.ts";
import { addHold } from "../../core/session-holds.ts";

export interface MessageHold {
  /** Writes a stanza past this hold (but through the one underneath). */
  pass(stanza: Element): void;
  /** Writes a stored stanza's text past this hold (Hold.passSerialized); false if it had to be parsed and would not. */
  passSerialized(text: string, parsed?: Element): boolean;
  /** Ends the hold and hands over what it held, in order, for the caller to write (or, the session gone, to send another way). */
  release(): Element[];
}

export function holdMessages(session: Session): MessageHold {
  const held: Element[] = [];
  const hold = addHold(session, (stanza) => {
    if (stanza.name !== "message") return false;
    // A copy: a room reuses its element for the next occupant once it is handed over (muc/fanout.ts).
    held.push(clone(stanza));
    return true;
  });
  return {
    pass: (stanza) => hold.pass(stanza),
    passSerialized: (text, parsed) => hold.passSerialized(text, parsed),
    release() {
      hold.remove();
      return held.splice(0);
    },
  };
}
