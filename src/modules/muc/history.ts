// XEP-0045 §7.2.15: the discussion history sent on entry, and §7.2.16: the history the entering
// client asks for (maxchars, maxstanzas, seconds, since). Kept in memory, at most the room's
// configured length; each entry is the message as the room sent it, with a XEP-0203 delay
// stamped by the room's JID, built once when it was said.
import { xml } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import type { Element } from "../../xml/element.ts";
import { Fanout } from "./fanout.ts";

export interface HistoryRequest {
  maxchars?: number;
  maxstanzas?: number;
  seconds?: number;
  since?: number;
}

interface Entry { stanza: Fanout; readonly at: number; chars: number | undefined }

/** The <history/> of an entry presence, bounded values only (bad values are ignored, §7.2.16 gives no error). */
export function parseHistoryRequest(x: Element | undefined): HistoryRequest {
  const h = x?.getChild("history");
  if (!h) return {};
  const n = (name: string) => {
    const v = h.attrs[name];
    if (v === undefined || !/^\d{1,9}$/.test(v)) return undefined;
    return Number(v);
  };
  const since = h.attrs.since !== undefined ? Date.parse(h.attrs.since) : NaN;
  return { maxchars: n("maxchars"), maxstanzas: n("maxstanzas"), seconds: n("seconds"), since: Number.isNaN(since) ? undefined : since };
}

export class History {
  private entries: Entry[] = [];
  private length: number;

  constructor(length: number) {
    this.length = length;
  }

  resize(length: number): void {
    this.length = length;
    if (this.entries.length > length) this.entries.splice(0, this.entries.length - length);
  }

  /** Keeps a copy of a groupchat message as sent (sharing its children), with the delay of `now`. */
  add(message: Element, roomJid: string, now = Date.now()): void {
    if (this.length === 0) return;
    const copy = new Fanout("message", { ...message.attrs, to: undefined });
    delete copy.attrs.to;
    copy.children = [...message.children, xml("delay", { xmlns: NS.delay, from: roomJid, stamp: new Date(now).toISOString() })];
    this.entries.push({ stanza: copy, at: now, chars: undefined });
    if (this.entries.length > this.length) this.entries.shift();
  }

  /**
   * Replaces the entry that carries the stanza-id `id` by `by` (the room) with `make`'s version of
   * it (a tombstone, XEP-0424 §7: a retracted message is not replayed to new occupants as it was);
   * undefined from `make` leaves it. Whether an entry was replaced.
   */
  rewrite(by: string, id: string, make: (stanza: Element) => Element | undefined): boolean {
    for (const e of this.entries) {
      const sid = e.stanza.getChildren("stanza-id", NS.sid).find((s) => s.attrs.by === by);
      if (sid?.attrs.id !== id) continue;
      const next = make(e.stanza);
      if (!next) return false;
      const copy = new Fanout("message", { ...next.attrs });
      copy.children = next.children;
      e.stanza = copy;
      e.chars = undefined;
      return true;
    }
    return false;
  }

  /** The entries to send an entering occupant, oldest first. */
  select(req: HistoryRequest, now = Date.now()): Fanout[] {
    let list = this.entries;
    const after = Math.max(req.since ?? -Infinity, req.seconds !== undefined ? now - req.seconds * 1000 : -Infinity);
    if (after > -Infinity) list = list.filter((e) => e.at >= after);
    if (req.maxstanzas !== undefined) list = req.maxstanzas === 0 ? [] : list.slice(-req.maxstanzas);
    if (req.maxchars !== undefined) {
      let budget = req.maxchars;
      let i = list.length;
      while (i > 0) {
        const e = list[i - 1]!;
        e.chars ??= e.stanza.toString().length;
        if (e.chars > budget) break;
        budget -= e.chars;
        i--;
      }
      list = list.slice(i);
    }
    return list.map((e) => e.stanza);
  }
}
