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
  /**
   * The sender counts the stanza in XEP-0198's 'h' once these writes settle. False for a sender
   * without stream management: its stream only keeps its answers to later requests behind them.
   */
  readonly acknowledged: boolean;
  private writes: Promise<unknown>[] | undefined;
  private required: Promise<unknown>[] | undefined;

  constructor(acknowledged = true) {
    this.acknowledged = acknowledged;
  }

  /** The acknowledgement waits for `write` too (a failed write is its writer's to report). */
  after(write: Promise<unknown>): void {
    (this.writes ??= []).push(write);
  }

  /**
   * The acknowledgement waits for `write`, and is withheld if it fails: the stanza was not
   * stored and no one else has it (the offline store's write of a message no session took).
   */
  require(write: Promise<unknown>): void {
    (this.required ??= []).push(write);
  }

  /**
   * Settles once every write added so far has; undefined when none was. Rejects only when a
   * required write failed.
   */
  settled(): Promise<void> | undefined {
    const { writes, required } = this;
    const all = writes === undefined ? undefined : Promise.allSettled(writes).then(nothing);
    if (required === undefined) return all;
    return Promise.all(all === undefined ? required : [all, ...required]).then(nothing);
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

/**
 * Writes on their way, counted: settled() resolves once none is. A stream's requests wait behind
 * the writes of what it sent before (c2s), a flush behind an account's offline writes. A counter
 * and one waiter, rather than a promise chained onto the last for each write: those chains, kept
 * until the commit, were a large part of what a burst of stored messages left for the collector.
 */
export class InFlight {
  private count = 0;
  private idle: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private readonly done = (): void => {
    if (--this.count > 0 || this.wake === undefined) return;
    const wake = this.wake;
    this.idle = this.wake = undefined;
    wake();
  };

  /** Counts `write` until it settles (its failure is its writer's to report). */
  add(write: Promise<unknown>): void {
    this.count++;
    write.then(this.done, this.done);
  }

  /** Writes still on their way. */
  get size(): number {
    return this.count;
  }

  /** Resolves once no write is on its way, those added meanwhile included. */
  settled(): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return (this.idle ??= new Promise<void>((r) => (this.wake = r)));
  }
}
