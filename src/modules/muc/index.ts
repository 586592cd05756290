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
// Persistent rooms (configuration, affiliations, subject) are kept in a map store and loaded at
// start; history is in memory only.
import { parseJid } from "../../xml/jid.ts";
import { defineModule } from "../../core/module.ts";
import { int, optStr, str } from "../../core/schema.ts";
import { localDelivery } from "./fanout.ts";
import { MucService, type StoredRoom } from "./service.ts";

export default defineModule({
  name: "muc",
  specs: [
    { spec: "XEP-0045", version: "1.35.1" },
    { spec: "XEP-0410", version: "1.1.0" },
    { spec: "XEP-0421", version: "0.2.0" },
  ],
  options: {
    domain: optStr("The service's domain; default conference.<server domain>."),
    name: str("The service's name in service discovery.", "Chatrooms"),
    maxHistory: int("Most messages of history a room may keep (muc#roomconfig_historylength is capped to it).", 100, 0, 10_000),
    maxUsers: int("Most occupants of one room.", 5000, 1),
    maxRooms: int("Most rooms of the service.", 10_000, 1),
  },
  async setup(ctx) {
    const server = ctx.server;
    const domain = parseJid(ctx.options.domain ?? `conference.${server.domain.domain}`);
    const service = new MucService(
      { domain, name: ctx.options.name, maxHistory: ctx.options.maxHistory, maxUsers: ctx.options.maxUsers, maxRooms: ctx.options.maxRooms },
      server.router,
      localDelivery(server.sessions, server.router),
      ctx.map<StoredRoom>("muc-rooms"),
    );
    await service.load();
    ctx.onUnload(server.router.addComponent(domain.domain, service));
    ctx.item({ jid: domain.toString(), name: ctx.options.name });
    // An occupant whose session ends without leaving is removed, and the others see it go (§7.14 style, status 333).
    ctx.on("session/closed", ({ session }) => service.sessionEnded(session.jid));
  },
});
