// What modules hand to client streams (RFC 6120 §4): answers to iqs that come before
// authentication (XEP-0077 in-band registration) and handlers of top-level elements that are
// not stanzas (XEP-0352's <active/>), and features enabled inline at Bind 2 (XEP-0386). Streams
// call them; module contexts register them.
import type { Element } from "../xml/element.ts";
import type { JID } from "../xml/jid.ts";
import type { Session } from "./session.ts";

/** A top-level element outside jabber:client stanzas (XEP-0198's <r/>, XEP-0352's <active/>, ...). */
export type StreamElementHandler = (session: Session, el: Element) => void | Promise<void>;

/**
 * A feature a client asks for inside its Bind 2 request (XEP-0386: XEP-0280's <enable/>,
 * XEP-0352's <inactive/>), for the session just bound. It runs before the session is announced
 * (session/bound) and before anything is routed to it, so it must not wait: synchronous only.
 */
export type InlineBindHandler = (session: Session, el: Element) => void;

/**
 * A pre-authentication iq (in-band registration, XEP-0077), and which stream it came on: `stream`
 * is the same object for every request of one connection and is dropped with it, a key for a
 * WeakMap of what a module remembers of a stream before any session exists (XEP-0445: the
 * invitation a client presented before it registers).
 */
export interface PreAuthRequest {
  readonly stanza: Element;
  readonly payload: Element;
  readonly secure: boolean;
  /** The hosted domain the stream is to (its header's 'to'). */
  readonly domain: string;
  readonly remoteAddress: string;
  /** An authenticated stream's account, when the iq comes after SASL (password change). */
  readonly account: JID | undefined;
  readonly stream: object;
  reply(el: Element): void;
}
export type PreAuthRequestHandler = (req: PreAuthRequest) => Promise<void>;
