// The archive's iq protocol on the account's bare JID: queries (XEP-0313 §4) and their form
// (§4.1.5), metadata (§5), and preferences (XEP-0441). Only the owner may use any of it.
import { NS } from "../../xml/ns.ts";
import { StanzaError } from "../../core/errors.ts";
import type { IqRequest } from "../../core/iq.ts";
import type { ModuleContext } from "../../core/module.ts";
import { sessionKey, type Session } from "../../core/session.ts";
import type { LogStore } from "../../storage/types.ts";
import { finElement, metadata, readPage, resultMessage } from "./archive.ts";
import { parsePrefs, prefsElement, type AccountPrefs } from "./prefs.ts";
import { parseMamQuery, queryForm } from "./query.ts";
import type { ArchiveQueue } from "../../storage/archive-queue.ts";
import type { Tombstones } from "./retract.ts";

/**
 * The session has queried its archive: it catches up from there, not from offline floods or
 * resends. Other modules read it (offline); without this module it is never set.
 */
export const ARCHIVE_QUERIED = sessionKey<boolean>("mam.queried");

export interface ArchiveIqDeps {
  log: LogStore;
  queue: ArchiveQueue;
  prefs: AccountPrefs;
  maxPage: number;
  /** Tombstones of retracted messages being written: a query waits for them. */
  tombstones: Tombstones;
}

let results = 0;
const resultId = () => `mam-${(++results).toString(36)}`;

/** §8.1 (Data privacy): an archive is its owner's; anyone else is refused with 'forbidden'. */
function ownSession(req: IqRequest): Session {
  if (!req.from.bare.equals(req.to.bare) || !req.origin) throw new StanzaError("forbidden", "an archive is open to its owner only");
  return req.origin;
}

export function archiveIq(ctx: Pick<ModuleContext<unknown>, "iq" | "log" | "fold">, { log, queue, prefs, maxPage, tombstones }: ArchiveIqDeps): void {
  ctx.iq("account", NS.mam, "query", {
    get: (req) => {
      ownSession(req);
      return queryForm();
    },
    set: async (req) => {
      const session = ownSession(req);
      const q = parseMamQuery(req.payload, maxPage);
      const owner = req.to.bare.toString();
      await queue.readable(owner); // the owner reads its own writes
      await tombstones.settled(owner);
      const page = await readPage(log, owner, q);
      session.set(ARCHIVE_QUERIED, true);
      const to = session.jid.toString();
      // Past any CSI hold: the results must reach the client before the iq result that ends them.
      for (const e of q.flip ? [...page.entries].reverse() : page.entries) {
        const m = resultMessage(e, to, owner, q.queryid, resultId());
        if (m) session.sendNow(m);
        else ctx.log.warn({ owner, id: e.id }, "unreadable archive entry skipped");
      }
      return finElement(page);
    },
  });

  ctx.iq("account", NS.mam, "metadata", {
    get: async (req) => {
      ownSession(req);
      const owner = req.to.bare.toString();
      await queue.readable(owner);
      return metadata(log, owner);
    },
  });

  // XEP-0386: "The server SHOULD include a <metadata/> element as defined by XEP-0313, describing
  // the state of the user's message archive at the precise time of resource binding."
  ctx.fold("stream/bound", async (v) => {
    const owner = v.account.bare.toString();
    await queue.readable(owner);
    v.bound.push(await metadata(log, owner));
    return v;
  });

  ctx.iq("account", NS.mam, "prefs", {
    get: async (req) => {
      ownSession(req);
      return prefsElement(await prefs.get(req.to.bare.toString()));
    },
    set: async (req) => {
      ownSession(req);
      const p = parsePrefs(req.payload);
      await prefs.set(req.to.bare.toString(), p);
      return prefsElement(p);
    },
  });
}
