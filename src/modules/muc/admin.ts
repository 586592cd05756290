// XEP-0045 §8-§10: the muc#admin iq (role changes by moderators, affiliation changes and lists by
// admins and owners) and the muc#owner iq (configuration §10.2, instant rooms §10.1.2,
// destruction §10.9). A set is checked whole before any of it is applied.
import { xml, type Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { tryParseJid, type JID } from "../../xml/jid.ts";
import { StanzaError } from "../../core/errors.ts";
import { applyConfigForm, configForm, type RoomConfig } from "./config.ts";
import type { Occupant } from "./occupant.ts";
import { type Affiliation, type Role, checkAffiliationChange, checkRoleChange, isAffiliation, isRole } from "./roles.ts";
import type { Room } from "./room.ts";

export const MUC_ADMIN = "http://jabber.org/protocol/muc#admin";
export const MUC_OWNER = "http://jabber.org/protocol/muc#owner";
const MAX_ITEMS = 100;

function actorOf(room: Room, from: JID): { o: Occupant | undefined; role: Role; aff: Affiliation } {
  const o = room.occupantOf(from);
  return { o, role: o?.role ?? "none", aff: room.affiliation(from.bare) };
}

/** §9.5, §8.5, §10.5: the list of an affiliation (admins, owners) or a role (moderators). */
export function adminGet(room: Room, from: JID, query: Element): Element {
  const item = query.getChild("item");
  const actor = actorOf(room, from);
  const out = xml("query", { xmlns: MUC_ADMIN });
  if (isAffiliation(item?.attrs.affiliation)) {
    const wanted = item.attrs.affiliation;
    if (actor.aff !== "owner" && actor.aff !== "admin") throw new StanzaError("forbidden", "only admins and owners see affiliation lists");
    for (const [bare, aff] of room.affiliations) if (aff === wanted) out.append(xml("item", { affiliation: aff, jid: bare }));
    return out;
  }
  if (isRole(item?.attrs.role) && item.attrs.role !== "none") {
    const wanted = item.attrs.role;
    if (actor.role !== "moderator") throw new StanzaError("forbidden", "only moderators see role lists");
    for (const o of room.occupants.values()) {
      if (o.role === wanted) out.append(xml("item", { role: o.role, affiliation: room.affiliation(o.jid.bare), nick: o.nick, jid: o.jid.toString() }));
    }
    return out;
  }
  throw new StanzaError("bad-request", "ask for one affiliation or role");
}

type Change =
  | { kind: "role"; target: Occupant; role: Role; reason: string | undefined }
  | { kind: "affiliation"; bare: JID; aff: Affiliation; reason: string | undefined };

/** §8, §9, §10: a set of role and affiliation changes, all checked, then all applied. */
export function adminSet(room: Room, from: JID, query: Element): void {
  const items = query.getChildren("item");
  if (items.length === 0) throw new StanzaError("bad-request", "no item to change");
  if (items.length > MAX_ITEMS) throw new StanzaError("policy-violation", `at most ${MAX_ITEMS} items at once`);
  const actor = actorOf(room, from);
  const changes = items.map((i) => parseChange(room, i));
  const owners = new Set([...room.affiliations].filter(([, a]) => a === "owner").map(([b]) => b));
  for (const c of changes) {
    if (c.kind === "role") {
      const err = checkRoleChange(actor, { role: c.target.role, aff: room.affiliation(c.target.jid.bare) }, c.role);
      if (err) throw err;
    } else {
      const err = checkAffiliationChange(actor.aff, room.affiliation(c.bare), c.aff);
      if (err) throw err;
      if (c.aff === "owner") owners.add(c.bare.toString());
      else owners.delete(c.bare.toString());
    }
  }
  // §10.7: "If the owner is the only owner, the service MUST return a <conflict/>" when it would leave none.
  if (owners.size === 0) throw new StanzaError("conflict", "the room would have no owner");
  const actorNick = actor.o?.nick;
  for (const c of changes) {
    const extra = { actor: actorNick, reason: c.reason };
    if (c.kind === "role") {
      if (room.occupants.get(c.target.nick) === c.target) room.setRole(c.target, c.role, extra);
    } else room.setAffiliation(c.bare, c.aff, extra);
  }
}

function parseChange(room: Room, item: Element): Change {
  const reason = item.getChildText("reason") ?? undefined;
  const aff = item.attrs.affiliation;
  const role = item.attrs.role;
  if (aff !== undefined) {
    if (!isAffiliation(aff)) throw new StanzaError("bad-request", `no affiliation '${aff}'`);
    let bare = item.attrs.jid !== undefined ? tryParseJid(item.attrs.jid)?.bare : undefined;
    if (item.attrs.jid !== undefined && !bare) throw new StanzaError("jid-malformed");
    if (!bare && item.attrs.nick !== undefined) bare = room.occupants.get(item.attrs.nick)?.jid.bare;
    if (!bare) throw new StanzaError(item.attrs.nick !== undefined ? "item-not-found" : "bad-request", "an affiliation change names a jid (or the nick of an occupant)");
    return { kind: "affiliation", bare, aff, reason };
  }
  if (!isRole(role)) throw new StanzaError("bad-request", "an item changes a role or an affiliation");
  const target = item.attrs.nick !== undefined ? room.occupants.get(item.attrs.nick) : undefined;
  if (!target) throw new StanzaError(item.attrs.nick !== undefined ? "item-not-found" : "bad-request", "a role change names an occupant's nick");
  return { kind: "role", target, role, reason };
}

/** §10.2: the configuration form, for owners. */
export function ownerGet(room: Room, from: JID, maxHistory: number): Element {
  if (room.affiliation(from.bare) !== "owner") throw new StanzaError("forbidden", "only owners configure the room");
  return xml("query", { xmlns: MUC_OWNER }, configForm(room.config, maxHistory));
}

/** §10.1.2 instant room, §10.2 configuration, §10.9 destruction. */
export function ownerSet(room: Room, from: JID, query: Element, maxHistory: number): void {
  if (room.affiliation(from.bare) !== "owner") throw new StanzaError("forbidden", "only owners configure or destroy the room");
  const destroy = query.getChild("destroy");
  if (destroy) {
    const alt = destroy.attrs.jid !== undefined ? tryParseJid(destroy.attrs.jid) : undefined;
    if (destroy.attrs.jid !== undefined && !alt) throw new StanzaError("jid-malformed", "the alternate venue is not a JID");
    room.destroy(alt?.toString(), destroy.getChildText("reason") ?? undefined, destroy.getChildText("password") ?? undefined);
    return;
  }
  const x = query.getChild("x", NS.dataForms);
  if (!x) throw new StanzaError("bad-request", "expected a data form or <destroy/>");
  if (x.attrs.type === "cancel") {
    // §10.1.3: cancelling the configuration of a new (locked) room destroys it.
    if (room.locked) room.destroy(undefined, undefined, undefined);
    return;
  }
  const next = applyConfigForm(x, room.config, maxHistory);
  if (next instanceof StanzaError) throw next;
  configure(room, next);
}

function configure(room: Room, next: RoomConfig): void {
  const before = room.config;
  const wasLocked = room.locked;
  room.config = next;
  room.locked = false;
  room.history.resize(next.historyLength);
  if (!wasLocked) {
    const statuses = ["104"];
    if (before.whois !== next.whois) statuses.push(next.whois === "anyone" ? "172" : "173");
    room.notify(statuses);
  }
  // §9.4 / §10.2: becoming members-only removes those without membership, with status 322.
  if (next.membersOnly && !before.membersOnly) {
    for (const o of [...room.occupants.values()]) if (room.affiliation(o.jid.bare) === "none") room.remove(o, ["322"]);
  }
  if (before.whois !== next.whois) for (const o of room.occupants.values()) o.cached = [undefined, undefined];
  room.host.changed(room);
  if (!next.persistent && room.occupants.size === 0) room.host.gone(room);
}
