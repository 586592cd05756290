// What a client stream needs from the server: the pieces of the composition root it talks to.
import type { Element } from "../xml/element.ts";
import type { JID } from "../xml/jid.ts";
import type { Events } from "../core/events.ts";
import type { Logger } from "../core/log.ts";
import type { Router } from "../core/router.ts";
import type { LocalSessions, Session } from "../core/session.ts";
import type { ServerConfig } from "../core/config.ts";
import type { Credentials, UnknownUsers } from "./sasl/credentials.ts";
import type { ResumptionRegistry } from "./sm.ts";
import type { LoginThrottle } from "./login-throttle.ts";
import type { C2SStream } from "./c2s.ts";

/** A top-level element outside jabber:client stanzas (XEP-0198's <r/>, XEP-0352's <active/>, ...). */
export type StreamElementHandler = (session: Session, el: Element) => void | Promise<void>;

/** Pre-authentication iq handlers (in-band registration, XEP-0077). */
export interface PreAuthIq {
  readonly stanza: Element;
  readonly payload: Element;
  readonly secure: boolean;
  readonly remoteAddress: string;
  /** An authenticated stream's account, when the iq comes after SASL (password change). */
  readonly account: JID | undefined;
  reply(el: Element): void;
}
export type PreAuthIqHandler = (req: PreAuthIq) => Promise<void>;

export interface StreamContext {
  readonly domain: JID;
  readonly config: ServerConfig;
  readonly router: Router;
  readonly sessions: LocalSessions;
  readonly events: Events;
  readonly log: Logger;
  /** Login attempts per address and per account (in a cluster, counted in Redis too). */
  readonly loginThrottle: LoginThrottle;
  /** Credentials lookup for SASL (username as sent; normalised by the callee). */
  credentials(username: string): Promise<Credentials | undefined>;
  /** Stand-ins for the users credentials() does not know, the same on every node and across restarts. */
  readonly unknownUsers: UnknownUsers;
  /** Top-level non-stanza elements, by namespace. */
  readonly streamElements: Map<string, StreamElementHandler>;
  /** Iq payloads a stream answers before authentication, by namespace. */
  readonly preAuthIq: Map<string, PreAuthIqHandler>;
  /** Sessions that can be resumed (XEP-0198), by token. */
  readonly resumption: ResumptionRegistry<C2SStream>;
  /** Streams open now, for shutdown. */
  readonly streams: Set<C2SStream>;
  /** Session-closed listeners in flight; shutdown waits for them. */
  readonly closing: Set<Promise<void>>;
}
