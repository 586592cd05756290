// Holds on a session's outgoing stanzas, stacked: client state indication (XEP-0352) keeps
// presence back while the client is inactive, the offline store keeps live messages behind
// stored ones while it flushes. Each hold is put over the ones already there and sees a stanza
// first; what it does not take goes on to the hold below. Holds come off in any order.
import type { Element } from "../xml/element.ts";
import { parseStored } from "../xml/stored.ts";
import type { Session } from "./session.ts";

export interface Hold {
  /** Writes a stanza past this hold and the ones above it, through the ones below. */
  pass(stanza: Element): void;
  /**
   * As pass, for a stanza this server serialised and stored (`parsed`: its element, if the
   * caller has it): with no hold below, the text goes out as it is, neither parsed nor
   * serialised again; a hold below gets the element to look at. False if it must be parsed and
   * does not parse (nothing is written).
   */
  passSerialized(text: string, parsed?: Element): boolean;
  /** Takes the hold off (with another put over it meanwhile, it stays and lets everything by). */
  remove(): void;
}

/** Puts a hold on the session: `takes` returns true for each stanza it keeps (its owner writes it later through pass). */
export function addHold(session: Session, takes: (stanza: Element) => boolean): Hold {
  const below = session.hold;
  const link = { on: true, below };
  const mine = (stanza: Element): boolean => (link.on && takes(stanza)) || (below ? below(stanza) : false);
  links.set(mine, link);
  session.hold = mine;
  const pass = (stanza: Element): void => {
    if (!below?.(stanza)) session.sendNow(stanza);
  };
  return {
    pass,
    passSerialized(text, parsed) {
      if (!below) {
        session.sendSerialized(text);
        return true;
      }
      const stanza = parsed ?? parseStored(text);
      if (stanza !== undefined) pass(stanza);
      return stanza !== undefined;
    },
    remove() {
      link.on = false;
      if (session.hold === mine) session.hold = live(below);
    },
  };
}

type HoldFn = (stanza: Element) => boolean;
const links = new WeakMap<HoldFn, { on: boolean; below: HoldFn | undefined }>();

/** The first hold from `top` down that is still on (holds taken off under another are skipped). */
function live(top: HoldFn | undefined): HoldFn | undefined {
  let h = top;
  for (let link = h && links.get(h); link && !link.on; link = h && links.get(h)) h = link.below;
  return h;
}
