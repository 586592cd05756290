// RFC 6121 §2.2-§2.5: roster get, roster set and removal, over the "jabber:iq:roster" iq of the
// account. Only the account's own connected resources may read or change its roster (§2.1.5).
// Versioning (§2.6, XEP-0237): an up-to-date 'ver' gets an empty result; any other 'ver' gets
// the whole roster with the current version (every change since is then pushed).
import type { JID } from "../../xml/jid.ts";
import { StanzaError } from "../../core/errors.ts";
import type { IqHandlers, IqRequest } from "../../core/iq.ts";
import type { Session } from "../../core/session.ts";
import { itemElement, parseRosterSet, rosterQuery, updatedItem, type ItemLimits } from "./item.ts";
import { removeContact, type RemovalEffects } from "./remove.ts";
import type { RosterService } from "./service.ts";

export interface RosterLimits extends ItemLimits {
  maxItems: number;
}

/** §2.6.3: the client's cached roster is current when it names the server's version. */
export function versionIsCurrent(requested: string | undefined, current: number): boolean {
  return requested !== undefined && requested !== "" && requested === String(current);
}

/** §2.1.5 / §2.3.3: a roster is its owner's business: anyone else gets forbidden. */
function ownSession(req: IqRequest): Session {
  if (!req.origin || !req.from.bare.equals(req.to.bare)) throw new StanzaError("forbidden");
  return req.origin;
}

export function rosterHandlers(effects: RemovalEffects, roster: RosterService, limits: RosterLimits): IqHandlers {
  return {
    get: async (req) => {
      ownSession(req).interested = true;
      const ver = req.payload.attrs.ver;
      const snap = await roster.snapshot(req.to);
      if (versionIsCurrent(ver, snap.version)) return undefined;
      return rosterQuery(snap.items.map(itemElement), ver === undefined ? undefined : String(snap.version));
    },
    set: async (req) => {
      ownSession(req);
      const owner = req.to.bare;
      const op = parseRosterSet(req.payload, owner, limits);
      if (op.kind === "remove") await removeContact(effects, roster, owner, op.jid);
      else await upsert(roster, owner, op.jid, op.name, op.groups, limits.maxItems);
      return undefined;
    },
  };
}

async function upsert(roster: RosterService, owner: JID, jid: JID, name: string | undefined, groups: string[], maxItems: number): Promise<void> {
  const contact = jid.toString();
  if (!(await roster.item(owner, contact)) && (await roster.count(owner)) >= maxItems) {
    throw new StanzaError("resource-constraint", "the roster is full", { type: "cancel" });
  }
  await roster.change(owner, contact, (item, pending) => ({ item: updatedItem(item, contact, name, groups), pending, result: undefined }));
}
