// XEP-0313 Message Archive Management (urn:xmpp:mam:2, with #extended), for one-to-one messages:
// every account's archive of what it sends and receives, stamped with XEP-0359 stanza-ids, read
// page by page through XEP-0059; the preferences of XEP-0441; a retention in days.
//
// - Incoming: in "message/deliver" (band early, before any copy leaves) forged stanza-ids are
//   removed and an archived message gets <stanza-id by='account' id/>; the copy in the archive
//   carries it too. Outgoing: in "stanza/out" (band late, after whatever refuses the stanza) a
//   copy goes to the sender's archive under its own id; the routed stanza is not changed (§3.5:
//   the sender's id "MUST NOT" reach the recipient). A message to oneself is archived once.
// - Writes go through a bounded in-memory queue (queue.ts): delivery never waits for the store,
//   only for room in the queue. Queries first wait for their owner's queued writes.
// - Retention 0 archives nothing: delivered messages are not kept (the offline store keeps what
//   was not delivered). Entries expire `retention` days after they were archived (hourly sweep).
import { NS } from "../../xml/ns.ts";
import type { JID } from "../../xml/jid.ts";
import { StanzaError } from "../../core/errors.ts";
import { idTime } from "../../core/ids.ts";
import type { IqRequest } from "../../core/iq.ts";
import { defineModule, serviceKey } from "../../core/module.ts";
import { int, oneOf } from "../../core/schema.ts";
import type { Session } from "../../core/session.ts";
import { clone, type Element } from "../../xml/element.ts";
import { parseStored, serializeDetached } from "../../xml/stored.ts";
import type { MessageDelivery } from "../../core/events.ts";
import { ARCHIVE_QUERIED, stanzaIdBy } from "../shared.ts";
import { ROSTER } from "../roster/service.ts";
import { finElement, metadata, readPage, resultMessage } from "./archive.ts";
import { archivable, hasForged, stanzaIdElement, stripForged } from "./policy.ts";
import { allows, DEFAULTS, parsePrefs, PrefsCache, prefsElement, type Prefs } from "./prefs.ts";
import { parseMamQuery, queryForm } from "./query.ts";
import { ArchiveQueue, type QueueStats } from "./queue.ts";

export const MAM_EXTENDED = `${NS.mam}#extended`;
const DAY = 86_400_000;
const HOUR = 3_600_000;

/** What the archive offers other modules and operators: its write queue's figures, and a flush. */
export interface ArchiveService {
  stats(): QueueStats;
  /** Resolves once everything queued so far is written. */
  flush(): Promise<void>;
}
export const ARCHIVE = serviceKey<ArchiveService>("mam");

let results = 0;
const resultId = () => `mam-${(++results).toString(36)}`;

export default defineModule({
  name: "mam",
  specs: [
    { spec: "XEP-0313", version: "1.1.3" },
    { spec: "XEP-0359", version: "0.7.0" },
    { spec: "XEP-0059", version: "1.0" },
    { spec: "XEP-0441", version: "0.2.0" },
  ],
  depends: ["roster"],
  options: {
    retention: int("Days a message stays in the archive; 0 archives nothing (delivered messages are not kept).", 30, 0, 36_500),
    maxPage: int("Results per query at most; a larger RSM <max/> is brought down to it.", 250, 1, 10_000),
    default: oneOf("The archiving default (XEP-0441) of accounts that have set no preferences.", DEFAULTS, "always"),
    queueSize: int("Archive writes held in memory at most; when full, the senders wait for room.", 10_000, 1),
    batchSize: int("Archive writes per storage call at most.", 500, 1),
  },
  setup(ctx) {
    const { retention, maxPage, queueSize, batchSize } = ctx.options;
    const server = ctx.server;
    const domain = server.domain.toString();
    const log = server.storage.log("mam");
    const prefsStore = ctx.keyval<Prefs>("mam-prefs");
    const roster = ctx.use(ROSTER);
    const cache = new PrefsCache();
    const fallback: Prefs = { default: ctx.options.default, always: [], never: [] };
    const queue = new ArchiveQueue(log, {
      bound: queueSize,
      batch: batchSize,
      onError: (err, dropped) => ctx.log.error({ err, dropped }, dropped ? "archive writes lost after retries" : "archive write failed, retrying"),
    });
    let warned = 0;

    ctx.accountFeature(NS.mam);
    ctx.accountFeature(MAM_EXTENDED);
    // XEP-0359 §8: announced by the entity named in 'by' (the account), and by the server.
    ctx.accountFeature(NS.sid);
    ctx.feature(NS.sid);
    ctx.provide(ARCHIVE, { stats: () => queue.stats(), flush: () => queue.settled() });

    async function loadPrefs(owner: string): Promise<Prefs> {
      const p = (await prefsStore.get(owner)) ?? fallback;
      cache.set(owner, p);
      return p;
    }

    /** Whether messages with `target` go into `owner`'s archive; synchronous when the answer is at hand. */
    function wanted(owner: JID, target: JID): boolean | Promise<boolean> {
      const key = owner.toString();
      const p = cache.get(key);
      if (p && p.default !== "roster" && p.always.length === 0 && p.never.length === 0) return p.default === "always";
      return (p ? Promise.resolve(p) : loadPrefs(key)).then((prefs) =>
        allows(prefs, target, async () => (await roster.item(owner, target.bare.toString())) !== undefined));
    }

    function entry(owner: string, id: string, withJid: string, value: string) {
      const at = idTime(id)!;
      return { owner, id, at, with: withJid, value, expires: at + retention * DAY };
    }

    function enqueue(e: ReturnType<typeof entry>): Promise<void> | undefined {
      const wait = queue.push(e);
      if (wait && Date.now() - warned > 60_000) {
        warned = Date.now();
        ctx.log.warn(queue.stats(), "archive write queue full: senders wait for the store");
      }
      return wait;
    }

    /**
     * A message that carries this archive's id and comes back through the router without a
     * sending session: the offline store re-routes what a session never acknowledged. It is the
     * archived message when the entry under that id is from the same sender with the same id
     * and body; then it keeps its stanza-id and is not archived twice. Anything else is forged.
     */
    async function archivedAlready(owner: string, id: string, d: MessageDelivery): Promise<boolean> {
      const e = queue.find(owner, id) ?? (await log.query(owner, { ids: [id], limit: 1 })).entries[0];
      if (!e || e.with !== d.from.toString()) return false;
      const stored = parseStored(e.value);
      return stored?.attrs.id === d.stanza.attrs.id && stored?.getChildText("body") === d.stanza.getChildText("body");
    }

    // The recipient's archive, before any copy of the message leaves.
    ctx.handle("message/deliver", (d) => {
      const owner = d.to.bare.toString();
      const id = d.origin ? undefined : stanzaIdBy(d.stanza, owner);
      if (id !== undefined && retention > 0) {
        return archivedAlready(owner, id, d).then((ours) => (ours ? undefined : archiveIncoming(d)));
      }
      return archiveIncoming(d);
    }, "early");

    function archiveIncoming(d: MessageDelivery): Promise<void> | undefined {
      const owner = d.to.bare;
      const by = [owner.toString(), domain];
      if (hasForged(d.stanza, by)) stripForged(d.stanza, by);
      if (retention === 0 || !archivable(d.stanza)) return;
      const archive = (yes: boolean) => {
        if (!yes) return;
        const id = server.ids.next();
        d.stanza.append(stanzaIdElement(by[0]!, id));
        return enqueue(entry(by[0]!, id, d.from.toString(), serializeDetached(d.stanza)));
      };
      // Nobody to deliver to: the account may not exist (the router bounces then); archive nothing for it.
      if (d.targets.length === 0) {
        return server.accounts.exists(owner.local).then((exists) => (exists ? Promise.resolve(wanted(owner, d.from)).then(archive) : undefined));
      }
      const yes = wanted(owner, d.from);
      return typeof yes === "boolean" ? archive(yes) : yes.then(archive);
    }

    // The sender's archive: a copy under the sender's own id; the routed stanza stays as it is.
    ctx.handle("stanza/out", (ev) => {
      if (retention === 0 || ev.stanza.name !== "message" || !archivable(ev.stanza)) return;
      const owner = ev.from.bare;
      if (ev.to.bare.equals(owner)) return; // to oneself: archived once, as received
      if (ev.to.local === "" && ev.to.domain === server.domain.domain) return; // to the server itself
      const by = [owner.toString(), domain];
      const archive = (yes: boolean) => {
        if (!yes) return;
        let copy: Element = ev.stanza;
        if (hasForged(copy, by)) stripForged((copy = clone(copy)), by);
        return enqueue(entry(by[0]!, server.ids.next(), ev.to.toString(), serializeDetached(copy)));
      };
      const yes = wanted(owner, ev.to);
      return typeof yes === "boolean" ? archive(yes) : yes.then(archive);
    }, "late");

    // The common policy on unacknowledged messages: a client that reads the archive gets them there.
    ctx.handle("message/undelivered", ({ stanza, session }) => {
      return session.get(ARCHIVE_QUERIED) === true && stanzaIdBy(stanza, session.jid.bare.toString()) !== undefined;
    }, "early");

    /** §8.1 (Data privacy): an archive is its owner's; anyone else is refused with 'forbidden'. */
    function ownSession(req: IqRequest): Session {
      if (!req.from.bare.equals(req.to.bare) || !req.origin) throw new StanzaError("forbidden", "an archive is open to its owner only");
      return req.origin;
    }

    ctx.iq("account", NS.mam, "query", {
      get: (req) => {
        ownSession(req);
        return queryForm();
      },
      set: async (req) => {
        const session = ownSession(req);
        const q = parseMamQuery(req.payload, maxPage);
        const owner = req.to.bare.toString();
        await queue.settled(owner);
        const page = await readPage(log, owner, q);
        session.set(ARCHIVE_QUERIED, true);
        const to = session.jid.toString();
        const list = q.flip ? [...page.entries].reverse() : page.entries;
        // Past any CSI hold: the results must reach the client before the iq result that ends them.
        for (const e of list) {
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
        await queue.settled(owner);
        return metadata(log, owner);
      },
    });

    ctx.iq("account", NS.mam, "prefs", {
      get: async (req) => {
        ownSession(req);
        const owner = req.to.bare.toString();
        return prefsElement(cache.get(owner) ?? (await loadPrefs(owner)));
      },
      set: async (req) => {
        ownSession(req);
        const owner = req.to.bare.toString();
        const prefs = parsePrefs(req.payload);
        await prefsStore.set(owner, prefs);
        cache.set(owner, prefs);
        return prefsElement(prefs);
      },
    });

    // The core purges the account's stores (purgeOwner); writes still queued for it must not bring entries back.
    ctx.on("account/deleted", async ({ jid }) => {
      const owner = jid.bare.toString();
      cache.delete(owner);
      await queue.discard(owner);
      await log.clear(owner);
    });

    ctx.on("server/stopping", () => queue.settled());

    const sweep = () => {
      log.expire(Date.now()).then(
        (n) => n > 0 && ctx.log.info({ expired: n }, "archive entries past retention removed"),
        (err: unknown) => ctx.log.error({ err }, "archive expiry failed"));
    };
    sweep();
    ctx.every(HOUR, sweep);
  },
});

