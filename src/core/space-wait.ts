// Messages the storage refused for lack of space (StorageFullError: the disk is full), held and
// routed again until it takes them. Their sender got resource-constraint (type wait) at once;
// their acknowledgement (XEP-0198 h) waits for the store, so that an acked message is still a
// stored one. While an account has messages held, its next messages wait behind them, and each
// is routed only after the one before it: when space returns they are stored in the order they
// were sent, then acked. Holding is bounded per account and per process; a message beyond the
// bounds, or whose sender's session has ended, is given up unacknowledged, and its client sends
// it again (XEP-0198 §4: what the server's h does not cover is the client's to resend). Messages a
// session that ended had not acknowledged are held the same way, as their recipient's, and bounce
// to their sender only when given up.

export interface SpaceWaitLimits {
  /** Messages held at once in the process, and for one account. */
  readonly process: number;
  readonly account: number;
}

/** The first pause before a refused message is routed again, doubling up to MAX_PAUSE. */
const FIRST_PAUSE = 250;
const MAX_PAUSE = 4000;

/** What the hold's promise rejects with when the message is given up. */
export class GivenUp extends Error {}

/** Routes the message (again): "full" when the store refused it for lack of space. */
export type Attempt = () => Promise<"full" | "done">;

export class SpaceWait {
  private readonly limits: SpaceWaitLimits;
  private total = 0;
  /** Per account: messages held, and the last one's settling (the next waits for it). */
  private readonly accounts = new Map<string, { held: number; tail: Promise<unknown> }>();

  constructor(limits: SpaceWaitLimits) {
    this.limits = limits;
  }

  /** Messages held now. */
  get size(): number {
    return this.total;
  }

  /** Whether the account has messages held: its next ones wait behind them (hold with refused false). */
  holding(account: string): boolean {
    return this.accounts.has(account);
  }

  /**
   * Holds a message of `account` until `attempt` routes it: after a pause when the store has just
   * refused it (`refused`), else as soon as the messages held before it are through. `alive`
   * says whether its sender's session is still there. Rejects with GivenUp when it is given up.
   */
  hold(account: string, refused: boolean, attempt: Attempt, alive: () => boolean): Promise<void> {
    const a = this.accounts.get(account) ?? { held: 0, tail: Promise.resolve() };
    if (this.total >= this.limits.process || a.held >= this.limits.account) return Promise.reject(new GivenUp("too many messages wait for storage"));
    this.total++;
    a.held++;
    this.accounts.set(account, a);
    const before = a.tail;
    const done = (async () => {
      await before;
      await this.loop(refused, attempt, alive);
    })().finally(() => {
      this.total--;
      if (--a.held === 0) this.accounts.delete(account);
    });
    a.tail = done.catch(() => {});
    return done;
  }

  private async loop(refused: boolean, attempt: Attempt, alive: () => boolean): Promise<void> {
    for (let pause = refused ? FIRST_PAUSE : 0; ; pause = Math.min(MAX_PAUSE, Math.max(FIRST_PAUSE, pause * 2))) {
      if (pause > 0) await new Promise((r) => setTimeout(r, pause).unref());
      if (!alive()) throw new GivenUp("the sender's session ended");
      if ((await attempt()) === "done") return;
    }
  }
}
