// What a sender's acknowledgement of a stanza waits for. XEP-0198 §4 counts a stanza in 'h' once
// the server has handled it; here that means delivered or durably stored, so that an acked
// message survives a crash. Routing resolves once the stanza is delivered, stored or refused.
// Some writes are left running so that delivery does not wait for them (the archives' batched
// writes); they are gathered while the stanza is routed, and the acknowledgement waits for them.

/**
 * The writes left running for one routed stanza, for its sender's acknowledgement. Only a stanza
 * whose sender acknowledges what it sends (XEP-0198) gets one (StanzaEvent.durability): without
 * it, handlers have nothing to wait for and start no wait.
 */
export class Durability {
  private writes: Promise<unknown>[] | undefined;

  /** The acknowledgement waits for `write` too (a failed write is its writer's to report). */
  after(write: Promise<unknown>): void {
    (this.writes ??= []).push(write);
  }

  /** Settles, never rejecting, once every write added so far has; undefined when none was. */
  settled(): Promise<void> | undefined {
    const writes = this.writes;
    return writes === undefined ? undefined : Promise.allSettled(writes).then(nothing);
  }
}

/** What routing a stanza from a sender that acknowledges it came to (Router.routeAcked). */
export interface Routed {
  /**
   * Settles once the writes left running for the stanza have: its sender counts it in 'h' then.
   * Undefined when nothing is left running (it counts at once). Rejects only when the server gave
   * the stanza up unstored (a message held for storage space, src/core/space-wait.ts): it is not
   * counted, and its sender's stream ends so that the client sends it again.
   */
  readonly durable: Promise<void> | undefined;
}

/** A stanza routed with nothing left running. */
export const SETTLED: Routed = { durable: undefined };

function nothing(): void {}
