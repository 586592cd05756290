// XEP-0045: Multi-User Chat, as a service on its own domain (default conference.<domain>), with
// XEP-0421 occupant-ids and XEP-0410 self-ping. The folder, one file per part:
// - service.ts   the component: rooms, service and room discovery, iq between occupants
// - room.ts      a room's state and presence flows (enter, update, nick change, leave, kick, ban, destroy)
// - messages.ts  groupchat, subject, private messages, mediated invitations
// - admin.ts     muc#admin (roles, affiliations, lists) and muc#owner (configuration, destruction)
// - config.ts    the configuration form and the room's disco#info features
// - history.ts   the discussion history sent on entry
// - roles.ts     who may change which role or affiliation (pure)
// - occupant.ts  an occupant and its presence as others see it
// - fanout.ts    stanzas built once and written to each occupant with only 'to' changed
// - archive.ts   the room archive (XEP-0313 on the room JID, stanza-ids by the room, XEP-0359)
// - avatar.ts    the room's vCard and avatar (XEP-0486)
// - moderation.ts retractions: occupants' own (XEP-0424) and moderators' (XEP-0425), with tombstones
// - wake.ts      who a room message wakes by push: members away, occupants whose session is detached
// - directory.ts rooms in order (disco#items pages), who created each, the rooms each account is in (quotas)
// Persistent rooms (configuration, affiliations, subject) are kept in a map store and loaded at
// start; the history on entry is kept in memory, and loaded from the archive at start. Phones
// asleep are woken by push (the push module, if loaded) as wake.ts decides.
import { parseJid } from "../../xml/jid.ts";
import { defineModule } from "../../core/module.ts";
import { bool, int, optStr, str } from "../../core/schema.ts";
import { ArchiveQueue } from "../../storage/archive-queue.ts";
import { ArchiveQuota } from "../../storage/archive-quota.ts";
import { PUSH } from "../push/service.ts";
import { RoomArchive } from "./archive.ts";
import { localDelivery } from "./fanout.ts";
import { MucService, type StoredRoom } from "./service.ts";

/** A host's service domain: modules.<name>.domain for the configuration's domain, else conference.<host>. */
const serviceDomain = (o: { domain?: string }, host: string, primary: boolean): string => (primary ? o.domain : undefined) ?? `conference.${host}`;

export default defineModule({
  name: "muc",
  specs: [
    { spec: "XEP-0045", version: "1.35.1" },
    { spec: "XEP-0410", version: "1.1.0" },
    { spec: "XEP-0421", version: "0.2.0" },
    { spec: "XEP-0249", version: "1.2" },
    { spec: "XEP-0425", version: "0.3.0" },
    { spec: "XEP-0486", version: "0.1.0" },
  ],
  options: {
    domain: optStr("The service's domain; default conference.<server domain>. Each further host's is conference.<host>."),
    name: str("The service's name in service discovery.", "Chatrooms"),
    maxHistory: int("Most messages of history a room may keep (muc#roomconfig_historylength is capped to it).", 100, 0, 10_000),
    maxUsers: int("Most occupants of one room.", 5000, 1),
    maxRooms: int("Most rooms of the service.", 10_000, 1),
    maxRoomsPerAccount: int("Rooms one account may have created that exist (beneath maxRooms, so that one account cannot take them all; admins are not counted).", 100, 1),
    maxJoinedPerAccount: int("Rooms one account may be in at once, however many of its devices are in each (admins are not counted).", 100, 1),
    discoPage: int("Rooms listed per disco#items answer at most; clients page through the rest (XEP-0059).", 100, 1, 10_000),
    archive: bool("Whether new rooms archive their messages (XEP-0313; owners may change it: muc#roomconfig_enablearchiving).", true),
    retention: int("Days a room's message stays in its archive; 0 archives nothing.", 30, 0, 36_500),
    archiveQuota: int("Entries one room's archive keeps at most: beyond it the oldest go (counted in the store at its first write and every 10% of it, at most 1,000 writes, and in memory between); 0 sets none.", 50_000, 0),
    maxPage: int("Results per archive query at most.", 250, 1, 10_000),
    maxVCardSize: int("Largest room vCard (XEP-0486 avatars) stored, in bytes of its XML (photos included).", 65_536, 1024),
  },
  domains: (o, host, primary) => [serviceDomain(o, host, primary)],
  async setup(ctx) {
    const o = ctx.options;
    const log = ctx.logStore("muc-mam");
    const queue = new ArchiveQueue(log, {
      bound: 10_000,
      batch: 500,
      onError: (err, dropped) => ctx.log.error({ err, dropped }, dropped ? "room archive writes lost after retries" : "room archive write failed, retrying"),
      quota: o.archiveQuota > 0 ? new ArchiveQuota(log, { entries: o.archiveQuota, onError: (err) => ctx.log.error({ err }, "room archive quota: dropping the oldest entries failed") }) : undefined,
    });
    ctx.reportQueue("muc", () => queue.stats());
    const archive = new RoomArchive({
      log, queue, ids: ctx.ids, retention: o.retention, maxPage: o.maxPage,
      onError: (err, room) => ctx.log.error({ err, room }, "room archive: a retracted message's tombstone not written"),
    });
    const store = ctx.map<StoredRoom>("muc-rooms");
    const vcards = ctx.keyval<string>("muc-vcard");
    // One service per hosted domain, each with its rooms (stored under the service's JID) and its host's admins.
    const services: MucService[] = [];
    for (const host of ctx.hosts.all()) {
      const domain = parseJid(serviceDomain(o, host.domain, host === ctx.hosts.primary));
      const service = new MucService(
        {
          domain, name: o.name, maxHistory: o.maxHistory, maxUsers: o.maxUsers, maxRooms: o.maxRooms, archiveByDefault: o.archive,
          perAccount: { created: o.maxRoomsPerAccount, joined: o.maxJoinedPerAccount }, discoPage: o.discoPage,
        },
        {
          send: ctx.send,
          delivery: localDelivery(ctx.sessions, ctx.send, (ev) => ctx.dispatch("stanza/in", ev)),
          store,
          local: (full) => ctx.sessions.get(full),
          isAdmin: (j) => ctx.isAdmin(j, host.domain),
          clean: (ev) => void ctx.dispatch("stanza/clean", ev),
          storeFailed: (err, room) => ctx.log.error({ err, room: room.toString() }, "room record not written"),
          archive,
          vcards: { store: vcards, maxSize: o.maxVCardSize },
          push: () => ctx.optional(PUSH)?.notify,
        },
      );
      await service.load();
      services.push(service);
      ctx.component(domain.domain, service);
      ctx.item({ jid: domain.toString(), name: o.name, host: host.domain });
    }
    // Before storage closes, what is queued is written (as the account archive does).
    ctx.on("server/stopping", async () => {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([queue.flush(), new Promise((r) => (timer = setTimeout(r, 10_000)))]);
      clearTimeout(timer);
    });
    const sweep = () => void archive.expire(Date.now()).catch((err: unknown) => ctx.log.error({ err }, "room archive expiry failed"));
    sweep();
    ctx.every(3_600_000, sweep);
    // An occupant whose session ends without leaving is removed, and the others see it go (§7.14 style, status 333).
    ctx.on("session/closed", ({ session }) => {
      for (const service of services) service.sessionEnded(session.jid);
    });
  },
});
