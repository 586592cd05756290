// Stream management (XEP-0198) state of one session: the count of stanzas handled from the
// client (each counted once its writes are durable), and the stanzas sent to it that it has not
// acknowledged yet. Counts are 32-bit and wrap (§4: h is an unsigned integer modulo 2^32). The
// queue keeps the serialised text, not the element: an element may be shared and changed after
// it was sent (a room changes 'to' for each occupant), while what must be resent is exactly what
// was written. The elements themselves are sm-negotiation.ts; resumption across nodes is below.
import { randomToken } from "../core/ids.ts";

const MOD = 2 ** 32;

export class StreamManagement {
  /** Stanzas received from the client and handled, modulo 2^32. */
  handled = 0;
  /** The token under which the session can be resumed; undefined when the client did not ask for it. */
  readonly token: string | undefined;
  /** The resumption wait the client asked for (its 'max'), seconds. */
  readonly clientMax: number | undefined;
  /** An <r/> was sent and its <a/> has not come back yet. */
  awaitingAck = false;
  /** Settles when the writes of the stanzas handled so far have (they are then counted in h). */
  durable: Promise<void> | undefined = undefined;

  private queue: string[] = [];
  private head = 0;
  /** Characters of the unacknowledged stanzas. */
  private chars = 0;
  /** The client's last h: stanzas it has acknowledged, modulo 2^32. */
  private acked = 0;
  /** Called when the client's acknowledgements cover everything sent, or its stream ends (the drain waits for it). */
  private ackWaiter: (() => void) | undefined = undefined;

  constructor(resumable: boolean, clientMax: number | undefined, token?: string) {
    this.token = token ?? (resumable ? randomToken(18, "base64url") : undefined);
    this.clientMax = clientMax;
  }

  /** The state another node handed over (a session resumed there moves here). */
  static restore(t: SessionTransfer): StreamManagement {
    const sm = new StreamManagement(true, t.clientMax, t.token);
    sm.handled = t.handled;
    sm.acked = t.acked;
    sm.queue = t.pending.slice();
    for (const text of sm.queue) sm.chars += text.length;
    return sm;
  }

  /** What the client acknowledged so far (its last h). */
  get ackedCount(): number {
    return this.acked;
  }

  /** Stanzas sent and not acknowledged. */
  get unacked(): number {
    return this.queue.length - this.head;
  }

  /** Characters of the stanzas sent and not acknowledged (about their bytes). */
  get size(): number {
    return this.chars;
  }

  /** Stanzas sent so far, modulo 2^32 (what the client's h will reach). */
  get sent(): number {
    return (this.acked + this.unacked) % MOD;
  }

  countHandled(): void {
    this.handled = (this.handled + 1) % MOD;
  }

  /**
   * Counts a stanza from the client once it is delivered or durably stored: the router has
   * delivered it; the writes still running for it (`durable`, the archive's) settle first, after
   * those of the stanzas before it, so that h counts in order. A stanza the server gave up on
   * (`durable` rejected) is never counted: `refused` is told, and h stops before it (§4: the
   * client sends it again).
   */
  countWhenDurable(durable: Promise<unknown> | undefined, refused: () => void): void {
    if (durable === undefined && this.durable === undefined) {
      this.countHandled();
      return;
    }
    const done = (this.durable ?? Promise.resolve()).then(() => durable).then(() => this.countHandled(), refused).then(() => {
      if (this.durable === done) this.durable = undefined;
    });
    this.durable = done;
  }

  push(text: string): void {
    this.queue.push(text);
    this.chars += text.length;
  }

  /**
   * Applies the client's h: drops what it acknowledged. Returns false when h counts more stanzas
   * than were sent (§4 handled-count-too-high), leaving the queue as it was.
   */
  ack(h: number): boolean {
    const n = (h - this.acked + MOD) % MOD;
    if (n > this.unacked) return false;
    for (let i = this.head; i < this.head + n; i++) this.chars -= this.queue[i]!.length;
    this.head += n;
    this.acked = h;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return true;
  }

  /** The client's <a h/> (§4): as ack, and it ends a wait for everything to be acknowledged. */
  acknowledge(h: number): boolean {
    this.awaitingAck = false;
    if (!this.ack(h)) return false;
    if (this.unacked === 0) this.ackWaiter?.();
    return true;
  }

  /** Resolves once the client acknowledged everything sent, stopWaiting is called, or `ms` passed. */
  async untilAcked(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      this.ackWaiter = () => {
        clearTimeout(t);
        resolve();
      };
    });
    this.ackWaiter = undefined;
  }

  /** The stream ended: nothing more will be acknowledged there. */
  stopWaiting(): void {
    this.ackWaiter?.();
  }

  /** What is still unacknowledged, oldest first (resent on resumption). */
  pending(): string[] {
    return this.queue.slice(this.head);
  }

  /** Empties the queue, returning what it held (the session ends; these go another way). */
  drain(): string[] {
    const out = this.pending();
    this.queue = [];
    this.head = 0;
    this.chars = 0;
    return out;
  }
}

/** Parses an h attribute: an unsigned 32-bit integer, or undefined when it is not one. */
export function parseH(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,10}$/.test(value)) return undefined;
  const n = Number(value);
  return n < MOD ? n : undefined;
}

/**
 * A resumable session as it moves between nodes (a cluster): the client resumed it on another
 * node, which takes it over with its counters, its unacknowledged stanzas and its shared state.
 */
export interface SessionTransfer {
  /** Its full JID. */
  jid: string;
  token: string;
  clientMax: number | undefined;
  /** Stanzas handled from the client (the h of <resumed/>). */
  handled: number;
  /** The client's h, once the one of its <resume/> is applied. */
  acked: number;
  /** Sent and not acknowledged, oldest first: replayed after <resumed/>. */
  pending: string[];
  /** The shared session keys, by name. */
  keys: Record<string, unknown>;
  presence: string | null;
  priority: number;
  interested: boolean;
}

/** The answer of a session's node to a resumption on another node. */
export type ClaimResult =
  | { kind: "moved" }
  | { kind: "not-found" }
  /** The client's h counts more than was sent (§4): the session stays where it is. */
  | { kind: "h-too-high"; sent: number };

/** Where resumable sessions are found by token. In-process here; a shared registry can hold node names for scale-out. */
export interface ResumptionRegistry<S> {
  add(token: string, session: S): void;
  get(token: string): S | undefined;
  /** Removes the token if it still names this session. */
  delete(token: string, session: S): void;
  /**
   * In a cluster, for a token not held here: has the session's node hand it over. `adopt` is
   * called (synchronously, before anything else is routed to it here) with its state.
   */
  claim?(token: string, bare: string, h: number, adopt: (t: SessionTransfer) => void): Promise<ClaimResult>;
}

export class LocalResumption<S> implements ResumptionRegistry<S> {
  private readonly byToken = new Map<string, S>();
  add(token: string, session: S): void {
    this.byToken.set(token, session);
  }
  get(token: string): S | undefined {
    return this.byToken.get(token);
  }
  delete(token: string, session: S): void {
    if (this.byToken.get(token) === session) this.byToken.delete(token);
  }
}
