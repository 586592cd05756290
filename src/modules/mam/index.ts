// XEP-0313 Message Archive Management (urn:xmpp:mam:2, with #extended), for one-to-one messages:
// every account's archive of what it sends and receives, stamped with XEP-0359 stanza-ids, read
// page by page through XEP-0059, with the preferences of XEP-0441 and a retention in days.
//
// - archiver.ts records (incoming in "message/deliver" band early, before any copy leaves;
//   outgoing in "stanza/out" band late, after whatever refuses the stanza); policy.ts says which
//   messages; a write queue (src/storage/archive-queue.ts) holds the writes so that delivery
//   never waits for the store.
// - iq.ts answers queries (archive.ts reads the pages, query.ts reads the request), metadata
//   and preferences (prefs.ts).
// - Each archive keeps at most `quota` entries, its oldest dropped beyond (src/storage/archive-quota.ts
//   says why the oldest rather than the newest).
// - retract.ts: a retraction (XEP-0424) turns the message it names into a tombstone in each
//   archive that holds it (the sender's and the recipient's), after the archive's queued writes.
// - Retention 0 archives nothing: delivered messages are not kept (the offline store keeps what
//   was not delivered). Entries expire `retention` days after they were archived (hourly sweep).
import type { Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import type { JID } from "../../xml/jid.ts";
import { defineModule, serviceKey } from "../../core/module.ts";
import type { StanzaEvent } from "../../core/events.ts";
import { int, oneOf } from "../../core/schema.ts";
import { ROSTER } from "../roster/service.ts";
import { ARCHIVE_STORE } from "./archive.ts";
import { Archiver } from "./archiver.ts";
import { ARCHIVE_QUERIED, archiveIq } from "./iq.ts";
import { stanzaIdBy, stripForgedResults } from "./policy.ts";
import { RETRACT, retractInArchive, TOMBSTONE, Tombstones } from "./retract.ts";
import { AccountPrefs, DEFAULTS, type Prefs } from "./prefs.ts";
import { ArchiveQueue, type QueueStats } from "../../storage/archive-queue.ts";
import { ArchiveQuota } from "../../storage/archive-quota.ts";

export const MAM_EXTENDED = `${NS.mam}#extended`;
const HOUR = 3_600_000;
/** How long a stopping server waits for the archive's queued writes. */
const STOP_WAIT = 10_000;

/** What the archive offers other modules, operators and tests: its write queue's figures, and a flush. */
export interface ArchiveService {
  stats(): QueueStats;
  /** Resolves once every write queued or waiting for room is done. */
  flush(): Promise<void>;
  /**
   * The stanza-id the sender's archive gave a message a local session is sending, once the archive
   * has taken it ("stanza/out", band late): its sent carbon copies carry it (XEP-0313 §3.4).
   */
  sentId(stanza: Element): string | undefined;
}
export const ARCHIVE = serviceKey<ArchiveService>("mam");

export default defineModule({
  name: "mam",
  specs: [
    { spec: "XEP-0313", version: "1.1.3" },
    { spec: "XEP-0359", version: "0.7.0" },
    { spec: "XEP-0059", version: "1.0" },
    { spec: "XEP-0441", version: "0.2.0" },
    { spec: "XEP-0424", version: "0.4.2" },
  ],
  depends: ["roster"],
  options: {
    retention: int("Days a message stays in the archive; 0 archives nothing (delivered messages are not kept).", 30, 0, 36_500),
    quota: int("Entries one account's archive keeps at most: beyond it the oldest go (counted in the store at its first write and every 10% of it, at most 1,000 writes, and in memory between); 0 sets none.", 10_000, 0),
    maxPage: int("Results per query at most; a larger RSM <max/> is brought down to it.", 250, 1, 10_000),
    default: oneOf("The archiving default (XEP-0441) of accounts that have set no preferences.", DEFAULTS, "always"),
    // The queue holds an entry until its commit, and a batch of the embedded store commits what
    // queued while the one before it was committing: the bound is what one commit can carry, and
    // a full queue stalls every sender while the writer works. At 10,000 entries in batches of 500
    // the one-to-one benchmark's senders waited on it throughout (20,563 delivered messages/s);
    // at 40,000 in batches of 2,500 the same row ran at 32,112 msg/s, with some 50 MB more at its
    // peak RSS (700 against 650 MB) and nothing more at rest.
    queueSize: int("Archive writes held in memory at most; when full, the senders wait for room.", 40_000, 1),
    batchSize: int("Archive writes per storage call at most.", 2_500, 1),
  },
  setup(ctx) {
    const { retention, maxPage, queueSize, batchSize, quota } = ctx.options;
    const log = ctx.logStore(ARCHIVE_STORE);
    const roster = ctx.use(ROSTER);
    const prefs = new AccountPrefs(ctx.keyval<Prefs>("mam-prefs"), ctx.options.default,
      async (owner, contact) => (await roster.item(owner, contact)) !== undefined);
    const queue = new ArchiveQueue(log, {
      bound: queueSize,
      batch: batchSize,
      onError: (err, dropped) => ctx.log.error({ err, dropped }, dropped ? "archive writes lost after retries" : "archive write failed, retrying"),
      quota: quota > 0 ? new ArchiveQuota(log, { entries: quota, onError: (err) => ctx.log.error({ err }, "archive quota: dropping the oldest entries failed") }) : undefined,
    });
    let warned = 0;
    const archiver = new Archiver({
      queue, prefs, retention, ids: ctx.ids, hosted: (d) => ctx.hosts.has(d), hasOtherSessions: (owner) => ctx.sessions.several(owner),
      onFull: () => {
        if (Date.now() - warned < 60_000) return;
        warned = Date.now();
        ctx.log.warn(queue.stats(), "archive write queue full: senders wait for the store");
      },
    });

    ctx.accountFeature(NS.mam);
    ctx.accountFeature(MAM_EXTENDED);
    // XEP-0359 §8: announced by the entity named in 'by' (the account), and by the server.
    ctx.accountFeature(NS.sid);
    ctx.feature(NS.sid);
    // XEP-0424 §2: "a server that is aware of message retractions and will therefore ensure that
    // they're archived ... MUST also advertise the 'urn:xmpp:message-retract:1' feature"; and
    // §4 the tombstones. On the account (where §4's example asks) and on the server.
    for (const f of [RETRACT, TOMBSTONE]) {
      ctx.accountFeature(f);
      ctx.feature(f);
    }
    ctx.provide(ARCHIVE, { stats: () => queue.stats(), flush: () => queue.flush(), sentId: (stanza) => archiver.sentId(stanza) });
    ctx.reportQueue("mam", () => queue.stats());

    // Delivery does not wait for the archive; the sender's ack (XEP-0198 h) does, through ev.durability.
    const durable = (ev: StanzaEvent, owner: JID) => {
      if (ev.durability?.acknowledged !== true) return;
      const written = queue.pendingFor(owner.toString());
      if (written) ev.durability.after(written);
    };
    // Synchronous when the archiver is (the common case): no promise and no turn per message.
    const afterArchive = (started: Promise<void> | undefined, ev: StanzaEvent, owner: JID) =>
      started === undefined ? durable(ev, owner) : started.then(() => durable(ev, owner));
    // Results only from an archive (policy.ts): a forged one is taken out before anything else sees the message.
    ctx.handle("stanza/clean", ({ stanza, from, to }) => {
      if (stanza.name === "message") stripForgedResults(stanza, from, to, ctx.serves);
      return false;
    });
    // XEP-0424: the retracted message becomes a tombstone in `owner`'s archive; the sender's ack waits for it.
    const tombstones = new Tombstones(log, queue, (err, owner) => ctx.log.error({ err, owner }, "archive: a retracted message's tombstone not written"));
    const retracted = (ev: StanzaEvent, owner: JID, peer: JID) => {
      if (retention === 0 || ev.stanza.name !== "message" || ev.stanza.attrs.type === "groupchat" || ev.returned) return;
      const done = retractInArchive(tombstones, log, owner.toString(), peer.bare.toString(), ev.from, ev.stanza);
      if (done) ev.durability?.after(done);
    };
    ctx.handle("message/deliver", (d) => {
      retracted(d, d.to.bare, d.from);
      return afterArchive(archiver.incoming(d), d, d.to.bare);
    }, "early");
    ctx.handle("stanza/out", (ev) => {
      // To oneself, archived once, as received; to the server, not at all (as archiver.ts does).
      if (!ev.to.bare.equals(ev.from.bare) && !(ev.to.local === "" && ctx.hosts.has(ev.to.domain))) retracted(ev, ev.from.bare, ev.to);
      return afterArchive(archiver.outgoing(ev), ev, ev.from.bare);
    }, "late");
    // The common policy on unacknowledged messages: a client that reads the archive gets them there.
    ctx.handle("message/undelivered", ({ stanza, session }) =>
      session.get(ARCHIVE_QUERIED) === true && stanzaIdBy(stanza, session.jid.bare.toString()) !== undefined, "early");
    archiveIq(ctx, { log, queue, prefs, maxPage, tombstones });

    // The core purges the account's stores (purgeOwner); writes still queued for it must not bring entries back.
    ctx.on("account/deleted", async ({ jid }) => {
      const owner = jid.bare.toString();
      prefs.forget(owner);
      await queue.discard(owner);
    });
    // Before storage closes: what is queued is written, unless the store is stuck (then it is lost, as in a crash).
    ctx.on("server/stopping", async () => {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([queue.flush(), new Promise((r) => (timer = setTimeout(r, STOP_WAIT)))]);
      clearTimeout(timer);
      if (queue.depth > 0) ctx.log.error({ lost: queue.depth }, "archive writes still queued at shutdown are lost");
    });

    const sweep = () => {
      log.expire(Date.now()).then(
        (n) => n > 0 && ctx.log.info({ expired: n }, "archive entries past retention removed"),
        (err: unknown) => ctx.log.error({ err }, "archive expiry failed"));
    };
    sweep();
    ctx.every(HOUR, sweep);
  },
});
