// Time buckets of the Cassandra log tables: a log partition is (store, owner, month), so no
// partition grows without bound however long an archive is kept. The month comes from the id
// (src/storage/ids.ts: the id's time) so that a retried append lands in the same partition and
// upserts the same row; an id not made by us (imported archives, tests) falls back to `at`.
import { idTime } from "../ids.ts";

/** Months since January 1970, UTC: 0 for 1970-01, 671 for 2025-12. */
export function monthOf(ms: number): number {
  const d = new Date(ms);
  return (d.getUTCFullYear() - 1970) * 12 + d.getUTCMonth();
}

export function bucketOf(entry: { id: string; at: number }): number {
  return monthOf(idTime(entry.id) ?? entry.at);
}

/** The bounds a query puts on buckets: time bounds always, id bounds when the id is one of ours. */
export interface BucketBounds {
  start?: number;
  end?: number;
  after?: string;
  before?: string;
}

/**
 * The buckets to read, in reading order (newest first when `fromEnd`), out of those the owner
 * has (`known`, from the log_partitions index). A query walks them until its page is full.
 */
export function bucketsToRead(known: readonly number[], q: BucketBounds, fromEnd = false): number[] {
  let lo = -Infinity;
  let hi = Infinity;
  if (q.start !== undefined) lo = Math.max(lo, monthOf(q.start));
  if (q.end !== undefined) hi = Math.min(hi, monthOf(q.end));
  const afterMs = q.after === undefined ? undefined : idTime(q.after);
  const beforeMs = q.before === undefined ? undefined : idTime(q.before);
  if (afterMs !== undefined) lo = Math.max(lo, monthOf(afterMs));
  if (beforeMs !== undefined) hi = Math.min(hi, monthOf(beforeMs));
  const chosen = known.filter((b) => b >= lo && b <= hi).sort((a, b) => a - b);
  return fromEnd ? chosen.reverse() : chosen;
}
