// What a client stream needs from the server: the pieces of the composition root it talks to.
import type { JID } from "../xml/jid.ts";
import type { StreamError } from "../core/errors.ts";
import type { InlineBindHandler, PreAuthRequestHandler, StreamElementHandler } from "../core/stream-handlers.ts";
import type { Credentials, UnknownUsers } from "../core/credentials.ts";
import type { LoginThrottle } from "./login-throttle.ts";
import type { FastTokens } from "./fast-tokens.ts";
import type { SessionContext } from "./client-session.ts";

/** An open stream as the server's drain sees it. */
export interface OpenStream {
  /** Finishes what was read, tells the client how much of it the server holds, and closes with `error`. */
  shutdown(error: StreamError, ackWaitMs: number): Promise<void>;
  close(error?: StreamError): void;
}

export interface StreamContext extends SessionContext {
  /** The configuration's domain, the first of those served. */
  readonly domain: JID;
  /** The domains served (virtual hosts): a client stream is to one of them (its header's 'to'). */
  readonly hosts: { has(domain: string): boolean };
  /** Login attempts per address and per account (in a cluster, counted in Redis too). */
  readonly loginThrottle: LoginThrottle;
  /** Credentials lookup for SASL: an account of the hosted `domain` (username as sent; normalised by the callee). */
  credentials(username: string, domain: string): Promise<Credentials | undefined>;
  /** Stand-ins for the users credentials() does not know, the same on every node and across restarts. */
  readonly unknownUsers: UnknownUsers;
  /** Top-level non-stanza elements, by namespace. */
  readonly streamElements: Map<string, StreamElementHandler>;
  /** Features a Bind 2 request (XEP-0386) may enable, by namespace (XEP-0198's are the stream's own). */
  readonly inlineBind: ReadonlyMap<string, InlineBindHandler>;
  /** FAST tokens (XEP-0484); undefined when FAST is off. */
  readonly fastTokens: FastTokens | undefined;
  /** Iq payloads a stream answers before authentication, by namespace. */
  readonly preAuthIq: ReadonlyMap<string, PreAuthRequestHandler>;
  /** Streams open now, for shutdown. */
  readonly streams: Set<OpenStream>;
}
