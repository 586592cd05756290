// Reading an archive (XEP-0313 §4): the query's filters make the full result set, the RSM request
// (XEP-0059) picks a page of it; ids named by the client must exist (§4.1.3, §4.3.2); the answer
// is the page, oldest first, with what <fin/> reports: complete, count and the first item's index.
import { xml, type Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { StanzaError } from "../../core/errors.ts";
import { parseStored } from "../../xml/stored.ts";
import type { LogEntry, LogQuery, LogStore } from "../../storage/types.ts";
import { dateTime, type MamQuery } from "./query.ts";

/** The log store of the accounts' archives (owner: the account's bare JID). */
export const ARCHIVE_STORE = "mam";

export interface ArchivePage {
  entries: LogEntry[];
  complete: boolean;
  count: number;
  /** Position of the first entry in the full result set (XEP-0059 §2.2 'index'). */
  index: number | undefined;
}

type Filter = Omit<LogQuery, "limit" | "fromEnd">;

const later = (a: string | undefined, b: string | undefined) => (a === undefined ? b : b === undefined || a > b ? a : b);
const earlier = (a: string | undefined, b: string | undefined) => (a === undefined ? b : b === undefined || a < b ? a : b);

/** §4.1.3 and §4.3.2: every id the client names must be in the archive, else item-not-found. */
async function checkIds(log: LogStore, owner: string, q: MamQuery): Promise<void> {
  const named = new Set<string>();
  for (const id of [q.afterId, q.beforeId, q.after, q.before, ...(q.ids ?? [])]) if (id) named.add(id);
  if (named.size === 0) return;
  const found = await log.query(owner, { ids: [...named], limit: named.size });
  if (found.entries.length === named.size) return;
  const have = new Set(found.entries.map((e) => e.id));
  const missing = [...named].find((id) => !have.has(id));
  throw new StanzaError("item-not-found", `no message with id ${missing} in the archive`);
}

export async function readPage(log: LogStore, owner: string, q: MamQuery): Promise<ArchivePage> {
  await checkIds(log, owner, q);
  const full: Filter = { with: q.with, start: q.start, end: q.end, after: q.afterId, before: q.beforeId, ids: q.ids };
  const fromEnd = q.before !== undefined;
  const page = await log.query(owner, {
    ...full,
    after: later(q.afterId, q.after),
    before: earlier(q.beforeId, q.before || undefined),
    limit: q.max,
    fromEnd,
  });
  const count = await log.count(owner, full);
  const first = page.entries[0];
  let index: number | undefined;
  if (first) {
    // The two cheap cases need no second count: the start of the set, and its very end.
    if (!fromEnd && q.after === undefined) index = 0;
    else if (fromEnd && !q.before) index = count - page.entries.length;
    else index = await log.count(owner, { ...full, before: first.id });
  }
  return { entries: page.entries, complete: page.complete, count, index };
}

/** One result message (§4.2): the stored message forwarded (XEP-0297) with the time it was archived. */
export function resultMessage(entry: LogEntry, to: string, from: string, queryid: string | undefined, id: string): Element | undefined {
  const original = parseStored(entry.value);
  if (!original) return undefined;
  // Stored detached from its stream, it has no namespace of its own; inside <forwarded/> it needs one.
  original.attrs.xmlns = NS.client;
  return xml("message", { to, from, id },
    xml("result", { xmlns: NS.mam, queryid, id: entry.id },
      xml("forwarded", { xmlns: NS.forward },
        xml("delay", { xmlns: NS.delay, stamp: dateTime(entry.at) }),
        original)));
}

/** The iq result's payload (§4.3): RSM first/last only when the page has items (XEP-0059 §2.2), count always. */
export function finElement(page: ArchivePage): Element {
  const first = page.entries[0];
  const last = page.entries[page.entries.length - 1];
  return xml("fin", { xmlns: NS.mam, complete: page.complete ? "true" : undefined },
    xml("set", { xmlns: NS.rsm },
      first && xml("first", { index: page.index }, first.id),
      last && xml("last", null, last.id),
      xml("count", null, String(page.count))));
}

/** §5 (Archive metadata): the first and last entries, or an empty element for an empty archive. */
export async function metadata(log: LogStore, owner: string): Promise<Element> {
  const [oldest, newest] = await Promise.all([log.query(owner, { limit: 1 }), log.query(owner, { limit: 1, fromEnd: true })]);
  const a = oldest.entries[0];
  const b = newest.entries[0];
  return xml("metadata", { xmlns: NS.mam },
    a && xml("start", { id: a.id, timestamp: dateTime(a.at) }),
    b && xml("end", { id: b.id, timestamp: dateTime(b.at) }));
}
