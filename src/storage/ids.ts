// Time-ordered ids of log entries (types.ts: archives and queues, whose ids are XEP-0359
// stanza-ids): fixed width, so string order is time order, which the stores page by and the
// Cassandra backend buckets by; strictly increasing within a process even when the clock steps
// back. The node tag keeps ids of different server processes distinct once several share one store.
//   9 chars: ms since the epoch, base 36   4 chars: sequence within the ms   2 chars: node tag

const TIME_WIDTH = 9;
const SEQ_WIDTH = 4;
const SEQ_MAX = 36 ** SEQ_WIDTH - 1;
/** Node tags: two base-36 characters. */
export const NODE_TAGS = 36 * 36;

export class IdGenerator {
  private lastMs = 0;
  /** lastMs as the ids spell it (made once per millisecond, not once per id). */
  private lastText = "";
  private seq = 0;
  private node = "00";
  private readonly now: () => number;

  constructor(node = 0, now: () => number = Date.now) {
    this.setNode(node);
    this.now = now;
  }

  /** The node tag of the ids made from now on (a cluster gives each node its own, src/cluster/). */
  setNode(node: number): void {
    if (!Number.isInteger(node) || node < 0 || node >= NODE_TAGS) throw new RangeError(`node tag ${node} is outside 0..${NODE_TAGS - 1}`);
    this.node = node.toString(36).padStart(2, "0");
  }

  next(): string {
    const ms = this.now();
    if (ms > this.lastMs) {
      this.setTime(ms);
    } else if (++this.seq > SEQ_MAX) {
      // More than 1.6 million ids in one millisecond, or a clock that went back: borrow from the future.
      this.setTime(this.lastMs + 1);
    }
    return this.lastText + this.seq.toString(36).padStart(SEQ_WIDTH, "0") + this.node;
  }

  /** The time of the last id made (ms since the epoch): idTime() of it, without reading it back. */
  get lastTime(): number {
    return this.lastMs;
  }

  private setTime(ms: number): void {
    this.lastMs = ms;
    this.lastText = ms.toString(36).padStart(TIME_WIDTH, "0");
    this.seq = 0;
  }
}

/** The time an id was made (ms since the epoch), or undefined for a string that is not one of ours. */
export function idTime(id: string): number | undefined {
  if (id.length !== TIME_WIDTH + SEQ_WIDTH + 2 || !/^[0-9a-z]+$/.test(id)) return undefined;
  return parseInt(id.slice(0, TIME_WIDTH), 36);
}

/** The smallest id of a given millisecond: a bound for range queries by time. */
export function idFloor(ms: number): string {
  return Math.max(0, Math.floor(ms)).toString(36).padStart(TIME_WIDTH, "0") + "0".repeat(SEQ_WIDTH + 2);
}
