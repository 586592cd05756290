// The MUC service (XEP-0045 §6): a component on its own domain that takes every stanza to it,
// keeps the rooms, answers service discovery for itself and its rooms (§6.1-§6.4), forwards iq
// between occupants (§7.5 style, with its own ids) and answers XEP-0410 self-pings.
import { randomUUID } from "node:crypto";
import { xml, type Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { jid, tryParseJid, type JID } from "../../xml/jid.ts";
import type { Durability } from "../../core/durability.ts";
import type { StanzaEvent } from "../../core/events.ts";
import { StanzaError } from "../../core/errors.ts";
import type { Send } from "../../core/capabilities.ts";
import type { Component } from "../../core/router.ts";
import type { Session } from "../../core/session.ts";
import type { MapStore } from "../../storage/types.ts";
import { worthKeeping } from "../mam/policy.ts";
import { archiveFeatures, type RoomArchive } from "./archive.ts";
import { defaultConfig, roomFeatures, roomInfoForm, type RoomConfig } from "./config.ts";
import type { Delivery } from "./fanout.ts";
import { Room, type RoomHost } from "./room.ts";
import { toOccupant, toRoom } from "./messages.ts";
import { isModeration, moderate } from "./moderation.ts";
import { getRoomVCard, setRoomVCard, type RoomVCards } from "./avatar.ts";
import { MUC_ADMIN, MUC_OWNER, adminGet, adminSet, ownerGet, ownerSet } from "./admin.ts";
import { OCCUPANT_ID, type Occupant } from "./occupant.ts";
import { toWake } from "./wake.ts";
import type { Affiliation } from "./roles.ts";
import { RoomDirectory, type RoomQuotas } from "./directory.ts";
import { parseRsm, rsmPage, rsmSet } from "../../core/rsm.ts";

export const SELF_PING = "http://jabber.org/protocol/muc#self-ping-optimization";
const STABLE_ID = "http://jabber.org/protocol/muc#stable_id";

/** What a persistent room keeps across restarts. */
export interface StoredRoom {
  config: RoomConfig;
  affiliations: [string, Affiliation][];
  secret: string;
  subject: { text: string; by: string };
  /** The bare JID of the account that created the room (counted in its quota); absent in rooms stored before it was kept. */
  creator?: string;
  /** XEP-0486: the hashes of the photos of the room's vCard, when it has one (avatar.ts keeps the vCard). */
  avatar?: readonly string[];
}

export interface ServiceOptions {
  domain: JID;
  name: string;
  maxHistory: number;
  maxUsers: number;
  maxRooms: number;
  /** Quotas of one account beneath maxRooms (admins have none). */
  perAccount: RoomQuotas;
  /** Rooms listed per disco#items answer at most (XEP-0059 pages beyond). */
  discoPage: number;
  /** Whether new rooms archive their messages (muc#roomconfig_enablearchiving). */
  archiveByDefault: boolean;
}

/** What the service needs: sending, local sessions, the archive, push for members away. */
export interface ServiceDeps {
  send: Send;
  delivery: Delivery;
  store: MapStore<StoredRoom>;
  local(full: JID): Session | undefined;
  isAdmin(jid: JID): boolean;
  /** A room's record or archive could not be written or cleared. */
  storeFailed?(err: unknown, room: JID): void;
  archive?: RoomArchive;
  /** The rooms' vCards (XEP-0486). */
  vcards: Omit<RoomVCards, "isAdmin">;
  /** Wakes a member's devices (XEP-0357) with a message it missed; undefined when push is not loaded. */
  push?(): ((account: JID, message: Element) => void) | undefined;
  /**
   * Takes out of an occupant's message what its sender may not send (the server's "stanza/clean":
   * forged carbons and archive results), before the room builds the copy its occupants get.
   */
  clean?(ev: StanzaEvent): void;
}

interface Forwarded { id: string; from: string; timer: NodeJS.Timeout }

export class MucService implements Component, RoomHost {
  readonly rooms = new Map<string, Room>();
  /** Real full JID -> the rooms it is in, to end its visits when its session ends. */
  private readonly visits = new Map<string, Set<Room>>();
  private readonly forwarded = new Map<string, Forwarded>();
  readonly delivery: Delivery;
  readonly maxHistory: number;
  readonly maxUsers: number;
  readonly archive: RoomArchive | undefined;
  private readonly opts: ServiceOptions;
  private readonly send: Send;
  private readonly store: MapStore<StoredRoom>;
  private readonly deps: ServiceDeps;
  private readonly vcards: RoomVCards;
  private readonly directory = new RoomDirectory();

  constructor(opts: ServiceOptions, deps: ServiceDeps) {
    this.opts = opts;
    this.deps = deps;
    this.vcards = { ...deps.vcards, isAdmin: deps.isAdmin };
    this.send = deps.send;
    this.delivery = deps.delivery;
    this.store = deps.store;
    this.archive = deps.archive;
    this.maxHistory = opts.maxHistory;
    this.maxUsers = opts.maxUsers;
  }

  /** A new room's configuration. */
  newConfig(): RoomConfig {
    return defaultConfig(Math.min(20, this.maxHistory), this.opts.archiveByDefault);
  }

  /** Persistent rooms, with their history on entry taken from their archive (it survives restarts). */
  async load(): Promise<void> {
    for (const [local, s] of await this.store.getAll(this.opts.domain.toString())) {
      // Rooms stored before a configuration field existed get its default.
      const config = { ...this.newConfig(), ...s.config };
      const room = new Room(jid(local, this.opts.domain.domain), this, config, s.secret);
      for (const [bare, aff] of s.affiliations) room.affiliations.set(bare, aff);
      room.subject = s.subject;
      room.avatar = s.avatar;
      this.rooms.set(local, room);
      this.directory.added(room, s.creator);
      if (this.archive?.on(room)) {
        for (const h of await this.archive.recent(room, config.historyLength)) room.history.add(h.message, room.jid.toString(), h.at);
      }
    }
  }

  // ---- RoomHost ------------------------------------------------------------------------------

  route(stanza: Element): void {
    void this.send(stanza);
  }

  changed(room: Room): void {
    const owner = this.opts.domain.toString();
    if (!room.config.persistent) return this.stored(this.store.set(owner, room.jid.local, undefined), room);
    const s: StoredRoom = {
      config: room.config, affiliations: [...room.affiliations], secret: room.secret, subject: room.subject, creator: this.directory.creator(room), avatar: room.avatar,
    };
    this.stored(this.store.set(owner, room.jid.local, s), room);
  }

  /**
   * A write of a room's record, not waited for (the room lives in memory); a failure (the disk
   * full) is reported, and the record is written again with the room's next change.
   */
  private stored(write: Promise<void>, room: Room): void {
    write.catch((err: unknown) => this.deps.storeFailed?.(err, room.jid));
  }

  gone(room: Room): void {
    if (this.rooms.get(room.jid.local) === room) this.rooms.delete(room.jid.local);
    this.directory.removed(room);
    this.stored(this.store.set(this.opts.domain.toString(), room.jid.local, undefined), room);
    // A room that is gone takes its archive and its vCard with it: a new room of the same name starts empty.
    if (this.archive) this.stored(this.archive.clear(room), room);
    if (room.avatar !== undefined) this.stored(this.deps.vcards.store.set(room.jid.toString(), undefined), room);
  }

  /**
   * Groups that reach phones asleep (WhatsApp style): members away from a persistent
   * members-only room, and occupants whose session is detached (XEP-0198), are woken by push
   * (XEP-0357) as wake.ts decides; their clients find the message in the room's archive, or get
   * it when their session is resumed. Sessions on other nodes count as awake.
   */
  posted(room: Room, message: Element, sender: Occupant): void {
    const push = this.deps.push?.();
    if (!push || !worthKeeping(message, false)) return;
    for (const bare of toWake(room, message, sender, (o) => this.deps.local(o.jid)?.detached === true)) {
      const account = tryParseJid(bare);
      if (account) push(account, message);
    }
  }

  /** The id of the session of this node bound to `real`; undefined for none, or one of another node (a cluster). */
  sessionId(real: JID): string | undefined {
    const s = this.deps.local(real);
    return s !== undefined && s.deliver === undefined ? s.id : undefined;
  }

  visiting(room: Room, real: JID, present: boolean): void {
    this.directory.visiting(room, real.bare.toString(), present);
    const key = real.toString();
    let set = this.visits.get(key);
    if (present) {
      if (!set) this.visits.set(key, (set = new Set()));
      set.add(room);
    } else if (set) {
      set.delete(room);
      if (set.size === 0) this.visits.delete(key);
    }
  }

  /** A session ended without leaving its rooms: it leaves them now (others see it unavailable). */
  sessionEnded(real: JID): void {
    const set = this.visits.get(real.toString());
    if (!set) return;
    for (const room of [...set]) {
      const o = room.occupantOf(real);
      if (o) room.remove(o, ["333"]);
    }
  }

  // ---- Component -----------------------------------------------------------------------------

  async receive(stanza: Element, from: JID, to: JID, origin: Session | undefined, durability: Durability | undefined): Promise<void> {
    if (to.local === "") return this.toService(stanza, from);
    const room = this.rooms.get(to.local);
    if (stanza.name === "presence") return this.presence(room, stanza, from, to);
    if (!room) {
      if (stanza.attrs.type === "error" || stanza.attrs.type === "result") return;
      throw new StanzaError("item-not-found", "no such room");
    }
    if (stanza.name === "message") {
      this.deps.clean?.({ stanza, from, to, origin });
      if (to.resource !== "") return toOccupant(room, stanza, from, to.resource);
      // The sender's ack waits for the archive's write. Without an ack to hold (a stream without
      // XEP-0198) the route waits only when the queue is full, as one-to-one messages do: awaiting
      // the write held each such sender to one message per archive batch (10 ms linger).
      const acked = durability?.acknowledged === true;
      const written = toRoom(room, stanza, from, acked);
      if (written) {
        if (acked) durability!.after(written);
        else await written;
      }
      return;
    }
    if (to.resource === "") return this.roomIq(room, stanza, from);
    return this.occupantIq(room, stanza, from, to.resource);
  }

  private presence(room: Room | undefined, stanza: Element, from: JID, to: JID): void {
    const type = stanza.attrs.type;
    if (to.resource === "") {
      if (type === undefined) throw new StanzaError("jid-malformed", "enter a room with a nickname (room@service/nick)");
      return;
    }
    const o = room?.occupantOf(from);
    if (type === "error") {
      if (room && o) room.remove(o, ["333"]);
      return;
    }
    if (type === "unavailable") {
      if (room && o) room.remove(o, [], {}, undefined, statusOf(stanza));
      return;
    }
    if (type !== undefined) return; // subscription requests mean nothing to a room
    if (room && o) return o.nick === to.resource ? room.update(o, stanza) : room.changeNick(o, to.resource);
    this.mayEnter(room, from.bare);
    if (room) return room.join(from, to.resource, stanza, false);
    // §10.1.1: the creator becomes the owner; a room asked for with <x xmlns=muc/> stays locked until configured.
    const created = new Room(to.bare, this, this.newConfig());
    created.affiliations.set(from.bare.toString(), "owner");
    created.locked = stanza.getChild("x", NS.muc) !== undefined;
    this.rooms.set(to.local, created);
    this.directory.added(created, from.bare.toString());
    try {
      created.join(from, to.resource, stanza, true);
    } catch (e) {
      this.rooms.delete(to.local);
      this.directory.removed(created);
      throw e;
    }
  }

  /**
   * The service's room limit, then the account's quotas beneath it (admins have none): rooms it
   * created that exist (§10.1.1: "If the room does not exist and the service does not allow the
   * user to create rooms, not-allowed"), and rooms it is in at once (resource-constraint).
   */
  private mayEnter(room: Room | undefined, account: JID): void {
    if (!room && this.rooms.size >= this.opts.maxRooms) throw new StanzaError("resource-constraint", "the service has too many rooms");
    if (this.deps.isAdmin(account)) return;
    const bare = account.toString();
    const { created, joined } = this.opts.perAccount;
    if (!room && this.directory.created(bare) >= created) throw new StanzaError("not-allowed", `an account creates at most ${created} rooms here`);
    if (this.directory.overJoined(bare, room, joined)) throw new StanzaError("resource-constraint", `an account is in at most ${joined} rooms at once`);
  }

  private async roomIq(room: Room, stanza: Element, from: JID): Promise<void> {
    const type = stanza.attrs.type;
    if (type === "result" || type === "error") return;
    const q = stanza.getChildElements()[0]!;
    const ns = q.attrs.xmlns;
    let payload: Element | undefined;
    if (ns === NS.discoInfo && type === "get") payload = this.roomInfo(room, q);
    else if (ns === NS.discoItems && type === "get") payload = this.roomItems(room, from);
    else if (ns === MUC_ADMIN) payload = type === "get" ? adminGet(room, from, q) : (adminSet(room, from, q), undefined);
    else if (ns === MUC_OWNER) payload = type === "get" ? ownerGet(room, from, this.maxHistory) : (ownerSet(room, from, q, this.maxHistory), undefined);
    else if (ns === NS.ping && type === "get") payload = undefined;
    else if (ns === NS.mam && this.archive) payload = await this.archive.query(room, from, stanza, (m) => this.sendNow(m, from));
    else if (isModeration(q) && type === "set") await moderate(room, from, q);
    else if (ns === NS.vcard && q.name === "vCard") payload = type === "get" ? await getRoomVCard(room, this.vcards) : (await setRoomVCard(room, from, q, this.vcards), undefined);
    else throw new StanzaError("service-unavailable");
    this.reply(stanza, payload);
  }

  /** Archive results: straight to a local session (past any CSI hold, before the iq result), else routed. */
  private sendNow(m: Element, to: JID): void {
    const s = this.deps.local(to);
    if (s) s.sendNow(m);
    else void this.send(m);
  }

  private reply(stanza: Element, payload: Element | undefined): void {
    void this.send(xml("iq", { type: "result", id: stanza.attrs.id, from: stanza.attrs.to, to: stanza.attrs.from }, payload));
  }

  private roomInfo(room: Room, q: Element): Element {
    if (q.attrs.node !== undefined) throw new StanzaError("item-not-found");
    const features = [NS.muc, NS.discoInfo, NS.discoItems, NS.ping, NS.vcard, SELF_PING, STABLE_ID, OCCUPANT_ID, ...roomFeatures(room.config),
      ...archiveFeatures(this.archive?.on(room) ?? false)];
    return xml("query", { xmlns: NS.discoInfo },
      xml("identity", { category: "conference", type: "text", name: room.config.name || room.jid.local }),
      features.sort().map((f) => xml("feature", { var: f })),
      roomInfoForm(room.config, room.occupants.size, room.subject.text, room.avatar));
  }

  /**
   * §6.5: the occupants' room JIDs, to those who may see who is in the room (an empty list to
   * others, which §6.5 allows): occupants; in a public room, anyone who could enter it without a
   * password: members (or admins, owners) of a members-only room, anyone not banned from an open
   * one; owners and admins of a password-protected one. Not a hidden room's outsiders.
   */
  private roomItems(room: Room, from: JID): Element {
    const q = xml("query", { xmlns: NS.discoItems });
    if (!room.occupantOf(from) && !mayListOccupants(room.config, room.affiliation(from.bare))) return q;
    for (const o of room.occupants.values()) q.append(xml("item", { jid: o.roomJid.toString(), name: o.nick }));
    return q;
  }

  /** iq to room/nick: XEP-0410 self-ping answered here; other iq go to the occupant under an id of ours. */
  private occupantIq(room: Room, stanza: Element, from: JID, nick: string): void {
    const type = stanza.attrs.type;
    if (type === "result" || type === "error") return this.iqResponse(stanza);
    const q = stanza.getChildElements()[0]!;
    const isPing = q.name === "ping" && q.attrs.xmlns === NS.ping;
    const sender = room.occupantOf(from);
    // XEP-0410 §3: a self-ping from someone not joined is not-acceptable; other iq from non-occupants are bad-request.
    if (!sender) throw new StanzaError(isPing ? "not-acceptable" : "bad-request", "you are not an occupant of this room");
    const target = room.occupants.get(nick);
    if (!target) throw new StanzaError("item-not-found", "no such occupant");
    if (target === sender && isPing) return this.reply(stanza, undefined);
    if (this.forwarded.size >= 10_000) throw new StanzaError("resource-constraint");
    const id = randomUUID();
    const timer = setTimeout(() => this.forwarded.delete(id), 60_000);
    timer.unref();
    this.forwarded.set(id, { id: stanza.attrs.id ?? "", from: from.toString(), timer });
    const out = xml("iq", { ...stanza.attrs, id, from: sender.roomJid.toString(), to: target.jid.toString() });
    out.children = stanza.children;
    void this.send(out);
  }

  private iqResponse(stanza: Element): void {
    const f = this.forwarded.get(stanza.attrs.id ?? "");
    if (!f) return;
    this.forwarded.delete(stanza.attrs.id ?? "");
    clearTimeout(f.timer);
    const out = xml("iq", { ...stanza.attrs, id: f.id, to: f.from });
    out.attrs.from = stanza.attrs.to ?? "";
    out.children = stanza.children;
    void this.send(out);
  }

  // ---- the service itself --------------------------------------------------------------------

  private toService(stanza: Element, _from: JID): void {
    if (stanza.name !== "iq") {
      if (stanza.name === "message" && stanza.attrs.type !== "error") throw new StanzaError("service-unavailable");
      return;
    }
    const type = stanza.attrs.type;
    if (type === "result" || type === "error") return;
    const q = stanza.getChildElements()[0]!;
    if (type === "get" && q.attrs.xmlns === NS.discoInfo && q.attrs.node === undefined) {
      return this.reply(stanza, xml("query", { xmlns: NS.discoInfo },
        xml("identity", { category: "conference", type: "text", name: this.opts.name }),
        [NS.discoInfo, NS.discoItems, NS.muc, NS.ping, NS.vcard, OCCUPANT_ID].sort().map((f) => xml("feature", { var: f }))));
    }
    if (type === "get" && q.attrs.xmlns === NS.discoItems && q.attrs.node === undefined) {
      return this.reply(stanza, this.publicRooms(q));
    }
    if (type === "get" && q.attrs.xmlns === NS.ping) return this.reply(stanza, undefined);
    throw new StanzaError("service-unavailable");
  }

  /**
   * §6.3: the public rooms (not hidden, not locked), a page at a time in the order of their
   * addresses (XEP-0059, the room's local part as the page's ids; unasked, the first page).
   */
  private publicRooms(q: Element): Element {
    const listed = this.directory.names.list.filter((local) => {
      const r = this.rooms.get(local);
      return r !== undefined && r.config.public && !r.locked;
    });
    const page = rsmPage(listed, parseRsm(q, this.opts.discoPage));
    return xml("query", { xmlns: NS.discoItems }, page.keys.map((local) => {
      const r = this.rooms.get(local)!;
      return xml("item", { jid: r.jid.toString(), name: r.config.name || local });
    }), rsmSet(page));
  }
}

/** Whether someone who is not in the room, with this affiliation, may see who is (roomItems). */
export function mayListOccupants(config: RoomConfig, aff: Affiliation): boolean {
  if (!config.public || aff === "outcast") return false;
  if (config.passwordProtected) return aff === "owner" || aff === "admin";
  return !config.membersOnly || aff !== "none";
}

/** The status text of a leaving occupant, passed on to the others (§7.14). */
function statusOf(stanza: Element): Element[] | undefined {
  const s = stanza.getChild("status");
  return s ? [s] : undefined;
}
