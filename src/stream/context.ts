// What a client stream needs from the server: the pieces of the composition root it talks to.
import type { JID } from "../xml/jid.ts";
import type { Events } from "../core/events.ts";
import type { Logger } from "../core/log.ts";
import type { Router } from "../core/router.ts";
import type { LocalSessions } from "../core/session.ts";
import type { PreAuthIqHandler, StreamElementHandler } from "../core/stream-handlers.ts";
import type { ServerConfig } from "../core/config.ts";
import type { Credentials } from "../core/credentials.ts";
import type { Telemetry } from "../core/telemetry.ts";
import type { ResumptionRegistry } from "./sm.ts";
import type { C2SStream } from "./c2s.ts";

export interface StreamContext {
  readonly domain: JID;
  readonly config: ServerConfig;
  readonly router: Router;
  readonly sessions: LocalSessions;
  readonly events: Events;
  readonly log: Logger;
  /** Failed logins per address (a WindowCounter; in a cluster, counted in Redis too). */
  readonly authFailures: { allowed(address: string): boolean | Promise<boolean>; hit(address: string): void };
  /** Credentials lookup for SASL (username as sent; normalised by the callee). */
  credentials(username: string): Promise<Credentials | undefined>;
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
  /** Counters the stream adds to: stanzas written, logins by mechanism. */
  readonly telemetry?: Telemetry;
}
