// XEP-0227 §4.5 (offline messages: <offline-messages/>, the messages "starting with the oldest")
// and §4.11 (the message archive: XEP-0313 <result/> elements in <archive xmlns='urn:xmpp:pie:0#mam'/>,
// "in chronological order", each a XEP-0297 <forwarded/> message with its XEP-0203 delay).
//
// Entries get this server's time-ordered ids (src/storage/ids.ts), made from each message's time,
// since both stores page by id: the ids the old server gave do not sort here, and a client that
// resumes its archive after one of them starts again from the beginning. The ids carry a node tag
// of their own, so no id of the import equals one the running server makes.
//
// Offline messages keep their delay (or get this server's, stamped with the time the file gives)
// and wait `expireDays` counted from the import. Archive entries older than the retention are
// left out, with a note: the archive's hourly sweep would delete them anyway.
import { elementChildren, xml, type Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { parseStored } from "../../xml/stored.ts";
import { IdGenerator } from "../../storage/ids.ts";
import type { LogEntry } from "../../storage/types.ts";
import { tryParseJid } from "../../xml/jid.ts";
import { isClientStanza, storedStanza } from "./xml.ts";

export const PIE_MAM = "urn:xmpp:pie:0#mam";
/** The node tag of ids the import makes (src/storage/ids.ts: 0..1295; a server's own are the low ones). */
export const IMPORT_NODE_TAG = 1295;
const DAY = 86_400_000;

export interface MessagesRead {
  entries: LogEntry[];
  errors: string[];
  notes: string[];
}

/** XEP-0082 date-time; undefined when it is not one. */
function parseStamp(stamp: string | undefined): number | undefined {
  if (!stamp || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(stamp)) return undefined;
  const t = Date.parse(stamp);
  return Number.isNaN(t) ? undefined : t;
}

function delayOf(message: Element): Element | undefined {
  return elementChildren(message).find((c) => c.getName() === "delay" && c.getNS() === NS.delay);
}

/** Ids for one account's store, ordered as the entries' times. */
function idsFor(): { next(at: number): string } {
  let at = 0;
  const gen = new IdGenerator(IMPORT_NODE_TAG, () => at);
  return { next: (t) => ((at = t), gen.next()) };
}

export interface OfflineOptions {
  domain: string;
  quota: number;
  expireDays: number;
  now: number;
}

/** The messages of <offline-messages/>, as the offline queue stores them. */
export function readOffline(list: Element, owner: string, o: OfflineOptions): MessagesRead {
  const out: MessagesRead = { entries: [], errors: [], notes: [] };
  const ids = idsFor();
  for (const m of elementChildren(list)) {
    if (!isClientStanza(m, "message")) {
      out.errors.push(`offline messages: a <${m.name}/> that is not a jabber:client message`);
      continue;
    }
    const delay = delayOf(m);
    const at = parseStamp(delay?.attrs.stamp) ?? o.now;
    if (!delay) m.append(xml("delay", { xmlns: NS.delay, from: o.domain, stamp: new Date(at).toISOString() }, "Offline Storage"));
    const from = m.attrs.from ?? "";
    out.entries.push({
      id: ids.next(at), at, with: tryParseJid(from)?.toString() ?? "",
      value: storedStanza(m, [owner, o.domain]),
      expires: o.expireDays > 0 ? o.now + o.expireDays * DAY : 0,
    });
  }
  if (out.entries.length > o.quota) out.errors.push(`offline messages: ${out.entries.length}, more than ${o.quota} (modules.offline.quota)`);
  return out;
}

export interface ArchiveOptions {
  domain: string;
  /** Days entries are kept. */
  retention: number;
  now: number;
}

/** The results of <archive xmlns='urn:xmpp:pie:0#mam'/>, as the archive stores them. */
export function readArchive(archive: Element, owner: string, o: ArchiveOptions): MessagesRead {
  const out: MessagesRead = { entries: [], errors: [], notes: [] };
  const ids = idsFor();
  const oldest = o.now - o.retention * DAY;
  let old = 0;
  for (const r of elementChildren(archive)) {
    const forwarded = r.getName() === "result" && r.getNS() === NS.mam
      ? elementChildren(r).find((c) => c.getName() === "forwarded" && c.getNS() === NS.forward) : undefined;
    const message = forwarded && elementChildren(forwarded).find((c) => isClientStanza(c, "message"));
    const at = parseStamp(forwarded && delayOf(forwarded)?.attrs.stamp);
    if (!message || at === undefined) {
      out.errors.push(`archive: a <${r.name}/> that is not a XEP-0313 result with a forwarded message and its delay`);
      continue;
    }
    if (at < oldest) {
      old++;
      continue;
    }
    // The other party: the recipient of what the account sent, the sender of what it received.
    const from = tryParseJid(message.attrs.from ?? "");
    const to = tryParseJid(message.attrs.to ?? "");
    const sent = from?.bare.toString() === owner;
    out.entries.push({
      id: ids.next(at), at, with: (sent ? to : from)?.toString() ?? "",
      value: storedStanza(message, [owner, o.domain]), expires: at + o.retention * DAY,
    });
  }
  if (old > 0) out.notes.push(`archive: ${old} messages older than modules.mam.retention (${o.retention} days) were left out`);
  return out;
}

/** §4.5 for the export: the queue, oldest first, each message with its delay (the time it was stored). */
export function offlineElement(entries: readonly LogEntry[], domain: string): Element | undefined {
  const messages: Element[] = [];
  for (const e of entries) {
    const m = clientStanza(e.value);
    if (!m) continue;
    if (!delayOf(m)) m.append(xml("delay", { xmlns: NS.delay, from: domain, stamp: new Date(e.at).toISOString() }, "Offline Storage"));
    messages.push(m);
  }
  return messages.length ? xml("offline-messages", null, messages) : undefined;
}

/** §4.11 for the export: one <result/> per entry, with the time it was archived. */
export function archiveResult(entry: LogEntry): Element | undefined {
  const message = clientStanza(entry.value);
  return message && xml("result", { xmlns: NS.mam, id: entry.id },
    xml("forwarded", { xmlns: NS.forward }, xml("delay", { xmlns: NS.delay, stamp: new Date(entry.at).toISOString() }), message));
}

function clientStanza(text: string): Element | undefined {
  const el = parseStored(text);
  if (el) el.attrs.xmlns = NS.client;
  return el;
}
