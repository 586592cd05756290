// What one client connection's stream sees of the server: the server's registries and lookups,
// read through at every use (the cluster replaces `resumption` and `loginThrottle` after start),
// with one difference: the pre-authentication iq handlers that modules registered learn which
// stream asks. A stream carries no state for modules before it is bound, and XEP-0445 needs one
// (the invitation a client presented, kept until it registers); the stream's requests are keyed
// by this object, which lives as long as the connection.
import type { PreAuthIqHandler, PreAuthRequestHandler } from "./core/stream-handlers.ts";
import type { StreamContext } from "./stream/context.ts";

/** The server as the composition root holds it: a stream context whose pre-auth handlers take the stream. */
export interface ServerStreamContext extends Omit<StreamContext, "preAuthIq"> {
  readonly preAuthHandlers: ReadonlyMap<string, PreAuthRequestHandler>;
}

export class ConnectionContext implements StreamContext {
  private readonly server: ServerStreamContext;

  constructor(server: ServerStreamContext) {
    this.server = server;
  }

  /** The handlers, each bound to this connection; made when a stream asks (a few times before login, never after). */
  get preAuthIq(): Map<string, PreAuthIqHandler> {
    const bound = new Map<string, PreAuthIqHandler>();
    for (const [ns, handler] of this.server.preAuthHandlers) bound.set(ns, (req) => handler({ ...req, stream: this }));
    return bound;
  }

  get config() { return this.server.config; }
  get router() { return this.server.router; }
  get sessions() { return this.server.sessions; }
  get events() { return this.server.events; }
  get log() { return this.server.log; }
  get resumption() { return this.server.resumption; }
  get closing() { return this.server.closing; }
  get domain() { return this.server.domain; }
  get loginThrottle() { return this.server.loginThrottle; }
  get unknownUsers() { return this.server.unknownUsers; }
  get telemetry() { return this.server.telemetry; }
  get streamElements() { return this.server.streamElements; }
  get streams() { return this.server.streams; }

  credentials(username: string) {
    return this.server.credentials(username);
  }
}

/** Every member of StreamContext is passed through, optional ones too: a member added there and not here does not compile. */
type Missing = Exclude<keyof StreamContext, keyof ConnectionContext>;
export const CONNECTION_CONTEXT_COMPLETE: [Missing] extends [never] ? true : Missing = true;
