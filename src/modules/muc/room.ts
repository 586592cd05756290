// A room (XEP-0045): its configuration, affiliations and occupants, and the presence flows of
// §7.2 (entering), §7.5 (presence updates), §7.6 (nickname changes), §7.14 (leaving), §8-§9
// (role and affiliation changes as others see them) and §10.9 (destruction). Messages are in
// messages.ts, the admin and owner iq in admin.ts.
import { createHmac, randomBytes } from "node:crypto";
import { xml, type Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import type { JID } from "../../xml/jid.ts";
import { StanzaError } from "../../core/errors.ts";
import { defaultConfig, type RoomConfig } from "./config.ts";
import { type Delivery, Fanout } from "./fanout.ts";
import { History, type HistoryRequest, parseHistoryRequest } from "./history.ts";
import { type ItemExtra, type Occupant, occupantPresence, presencePayload } from "./occupant.ts";
import { type Affiliation, type Role, defaultRole } from "./roles.ts";
import { updateElement } from "../vcard/photo.ts";

/** What a room's messages need of its archive (archive.ts's RoomArchive). */
export interface RoomArchiving {
  /** Whether the room's messages are archived (and carry the room's stanza-ids). */
  on(room: Room): boolean;
  /**
   * Stamps the room's stanza-id on the message and queues it; the pending write when the queue is
   * full. `sender` is the occupant who said it; none for what the room says itself.
   */
  record(room: Room, m: Fanout, sender: Occupant | undefined): Promise<void> | undefined;
  /** The room's writes not yet done. */
  pending(room: Room): Promise<void> | undefined;
  /**
   * Once the room's queued writes have landed: the archived message with the room's stanza-id
   * `id` is replaced by `make`'s tombstone of it (undefined: left as it is, XEP-0424 §4).
   * Resolves with the original, undefined when the archive has none; rejects when the store fails.
   */
  retract(room: Room, id: string, make: (original: Element) => Element | undefined): Promise<Element | undefined>;
}

/** What a room needs from its service. */
export interface RoomHost {
  readonly delivery: Delivery;
  readonly maxHistory: number;
  readonly maxUsers: number;
  /** Routes a stanza from the room (a PM, an invitation, a forwarded iq). */
  route(stanza: Element): void;
  /** The room's lasting state changed (configuration, affiliations, subject). */
  changed(room: Room): void;
  /** The room is gone (destroyed, or temporary and empty). */
  gone(room: Room): void;
  /** A real JID entered or left the room (the service ends visits whose session ends). */
  visiting(room: Room, real: JID, present: boolean): void;
  /** The id of the session of this node bound to `real`; undefined for none, or one of another node. */
  sessionId?(real: JID): string | undefined;
  /** The room's archive (XEP-0313), when the service keeps one. */
  readonly archive?: RoomArchiving;
  /** A groupchat message from `sender` was delivered to the occupants (those asleep are woken by push). */
  posted?(room: Room, message: Element, sender: Occupant): void;
}

export interface Subject { text: string; by: string }

export class Room {
  readonly jid: JID;
  readonly host: RoomHost;
  config: RoomConfig;
  readonly affiliations = new Map<string, Affiliation>();
  readonly occupants = new Map<string, Occupant>();
  readonly byReal = new Map<string, Occupant>();
  subject: Subject = { text: "", by: "" };
  readonly history: History;
  /** §10.1.1: a new room stays locked until its owner configures it (or accepts the defaults). */
  locked = false;
  /** XEP-0421: the key of this room's occupant-ids. */
  readonly secret: string;
  /** XEP-0486: the SHA-1 of each photo of the room's vCard ([] when it has none); undefined: it has no vCard. */
  avatar: readonly string[] | undefined = undefined;

  constructor(jid: JID, host: RoomHost, config?: RoomConfig, secret?: string) {
    this.jid = jid;
    this.host = host;
    this.config = config ?? defaultConfig(Math.min(20, host.maxHistory));
    this.secret = secret ?? randomBytes(32).toString("base64");
    this.history = new History(this.config.historyLength);
  }

  affiliation(bare: JID | string): Affiliation {
    return this.affiliations.get(bare.toString()) ?? "none";
  }

  occupantOf(real: JID): Occupant | undefined {
    return this.byReal.get(real.toString());
  }

  /**
   * Whether an occupant's presence goes to the others (§10.2 muc#roomconfig_presencebroadcast):
   * a room of a thousand can broadcast its moderators only, so that a join costs a few stanzas,
   * not a thousand. Everyone always gets its own presence.
   */
  broadcasts(role: Role): boolean {
    const list = this.config.presenceBroadcast;
    return list.length === 3 || (role !== "none" && (list as string[]).includes(role));
  }

  /** Whether `r` sees occupants' real JIDs (§7.2.3: in a semi-anonymous room, moderators only). */
  sees(r: Occupant): boolean {
    return this.config.whois === "anyone" || r.role === "moderator";
  }

  occupantId(bare: JID): string {
    return createHmac("sha256", this.secret).update(bare.toString()).digest("base64url").slice(0, 22);
  }

  // ---- entering ------------------------------------------------------------------------------

  /** §7.2: an entry attempt, checked in the order of §7.2.6-§7.2.10; `created` when the room was made for it (§10.1). */
  join(real: JID, nick: string, presence: Element, created: boolean): void {
    const x = presence.getChild("x", NS.muc);
    const aff = this.affiliation(real.bare);
    const taken = this.occupants.get(nick);
    if (taken) throw new StanzaError("conflict", "that nickname is in use");
    if (aff === "outcast") throw new StanzaError("forbidden", "you are banned from this room");
    if (this.locked && aff !== "owner") throw new StanzaError("item-not-found", "the room is locked until its owner configures it");
    if (this.config.membersOnly && aff === "none") throw new StanzaError("registration-required", "the room is members-only");
    const privileged = aff === "owner" || aff === "admin";
    const max = this.config.maxUsers === 0 ? this.host.maxUsers : Math.min(this.config.maxUsers, this.host.maxUsers);
    if (this.occupants.size >= max && !privileged) throw new StanzaError("service-unavailable", "the room is full");
    if (this.config.passwordProtected && x?.getChildText("password") !== this.config.password && aff !== "owner") {
      throw new StanzaError("not-authorized", "a password is needed");
    }
    const o: Occupant = {
      nick, roomJid: this.jid.withResource(nick), jid: real, role: defaultRole(aff, this.config.moderated),
      payload: presencePayload(presence), occupantId: this.occupantId(real.bare), cached: [undefined, undefined],
      session: this.host.sessionId?.(real),
    };
    // §7.2.3: the newcomer first gets the presence of everyone already there, then its own.
    const sees = this.sees(o);
    for (const other of this.occupants.values()) if (this.broadcasts(other.role)) this.host.delivery.send(this.current(other, sees), real);
    this.occupants.set(nick, o);
    this.byReal.set(real.toString(), o);
    this.host.visiting(this, real, true);
    const statuses = ["110"];
    if (this.config.whois === "anyone") statuses.push("100");
    if (created) statuses.push("201");
    this.announce(o, statuses);
    this.welcome(o, x);
  }

  /**
   * §7.2.15-§7.2.16: history, then the subject (always, empty when none, so the client knows entry
   * is complete); then the room's avatar, if it has one (avatar.ts).
   */
  welcome(o: Occupant, x: Element | undefined): void {
    const req: HistoryRequest = parseHistoryRequest(x);
    for (const h of this.history.select(req)) this.deliver(h, o);
    this.deliver(this.subjectMessage(), o);
    if (this.avatar?.length) this.deliver(this.avatarPresence(), o);
  }

  /** XEP-0153 from the room's bare JID (XEP-0486 §5.2): the hash of its avatar, an empty <photo/> when it has none. */
  avatarPresence(): Fanout {
    const p = new Fanout("presence", { from: this.jid.toString() });
    p.append(updateElement(this.avatar?.[0] ?? ""));
    return p;
  }

  /**
   * The room's vCard changed (XEP-0486 §3.2): its photos' hashes (undefined: no vCard any more).
   * The record keeps them, and the occupants are told: status 104, and the avatar's presence.
   */
  setAvatar(hashes: readonly string[] | undefined): void {
    const before = this.avatar?.[0];
    this.avatar = hashes;
    this.host.changed(this);
    this.notify(["104"]);
    if (before === hashes?.[0]) return;
    const p = this.avatarPresence();
    for (const o of this.occupants.values()) this.deliver(p, o);
  }

  subjectMessage(): Fanout {
    const from = this.subject.by === "" ? this.jid.toString() : this.jid.withResource(this.subject.by).toString();
    const m = new Fanout("message", { from, type: "groupchat" });
    m.append(xml("subject", null, this.subject.text));
    return m;
  }

  /** The occupant's available presence for a recipient class, built once per change. */
  current(o: Occupant, withJid: boolean): Fanout {
    const i = withJid ? 1 : 0;
    return (o.cached[i] ??= occupantPresence(o, withJid, { aff: this.affiliation(o.jid.bare) }));
  }

  /** Sends the occupant's (new) available presence to everyone, and to itself with `selfStatuses`. */
  announce(o: Occupant, selfStatuses: readonly string[], wasBroadcast = false): void {
    o.cached = [undefined, undefined];
    if (wasBroadcast || this.broadcasts(o.role)) {
      for (const r of this.occupants.values()) if (r !== o) this.deliver(this.current(o, this.sees(r)), r);
    }
    this.deliver(occupantPresence(o, true, { aff: this.affiliation(o.jid.bare), statuses: selfStatuses }), o);
  }

  // ---- presence from occupants ----------------------------------------------------------------

  /** §7.5: a presence update (show, status) from an occupant, to everyone in the room. */
  update(o: Occupant, presence: Element): void {
    o.payload = presencePayload(presence);
    this.announce(o, ["110"]);
  }

  /** §7.6: a nickname change: unavailable with 303 and the new nick, then available from the new nick. */
  changeNick(o: Occupant, nick: string): void {
    if (this.occupants.has(nick)) throw new StanzaError("conflict", "that nickname is in use");
    const aff = this.affiliation(o.jid.bare);
    this.sendAll(o, { aff, type: "unavailable", statuses: ["303"], extra: { nick } });
    this.occupants.delete(o.nick);
    o.nick = nick;
    o.roomJid = this.jid.withResource(nick);
    this.occupants.set(nick, o);
    this.announce(o, ["110"]);
  }

  /**
   * The occupant is gone (§7.14 leaving; §8.2 kicked 307; §9.1 banned 301; §9.4 removed from a
   * members-only room 321; §10.9 destroyed; 333 for a session that ended without leaving).
   */
  remove(o: Occupant, statuses: readonly string[] = [], extra: ItemExtra = {}, destroy?: Element, payload?: Element[]): void {
    if (this.occupants.get(o.nick) !== o) return;
    const aff = destroy ? "none" : this.affiliation(o.jid.bare);
    const spec = { aff, type: "unavailable" as const, statuses, extra, destroy };
    this.occupants.delete(o.nick);
    this.byReal.delete(o.jid.toString());
    this.host.visiting(this, o.jid, false);
    let anon: Fanout | undefined;
    let full: Fanout | undefined;
    for (const r of this.broadcasts(o.role) ? this.occupants.values() : []) {
      const el = this.sees(r) ? (full ??= withPayload(occupantPresence(o, true, spec), payload)) : (anon ??= withPayload(occupantPresence(o, false, spec), payload));
      this.deliver(el, r);
    }
    this.deliver(withPayload(occupantPresence(o, true, { ...spec, statuses: ["110", ...statuses] }), payload), o);
    if (this.occupants.size === 0 && !this.config.persistent && !destroy) this.host.gone(this);
  }

  /** A presence (usually unavailable with statuses) of `o` to everyone, itself included with 110. */
  private sendAll(o: Occupant, spec: Parameters<typeof occupantPresence>[2]): void {
    let anon: Fanout | undefined;
    let full: Fanout | undefined;
    for (const r of this.broadcasts(o.role) ? this.occupants.values() : []) {
      if (r === o) continue;
      const el = this.sees(r) ? (full ??= occupantPresence(o, true, spec)) : (anon ??= occupantPresence(o, false, spec));
      this.deliver(el, r);
    }
    this.deliver(occupantPresence(o, true, { ...spec, statuses: ["110", ...(spec.statuses ?? [])] }), o);
  }

  /**
   * Writes to an occupant's real JID, but only to the session that entered: when that session has
   * ended and a new one bound the same resource before the room heard of the end, the new one
   * never entered, and the room's presences and messages (its own "you left", 110) would be news
   * to it about a room it knows nothing of.
   */
  deliver(stanza: Fanout, o: Occupant): void {
    this.host.delivery.send(stanza, o.jid, o.session);
  }

  // ---- roles and affiliations as others see them ------------------------------------------------

  setRole(o: Occupant, role: Role, extra: ItemExtra = {}): void {
    if (role === "none") return this.remove(o, ["307"], extra);
    const wasModerator = o.role === "moderator";
    const wasBroadcast = this.broadcasts(o.role);
    o.role = role;
    this.announce(o, ["110"], wasBroadcast);
    // A new or former moderator now sees (or no longer sees) real JIDs: send everyone's presence again.
    if (wasModerator !== (role === "moderator") && this.config.whois !== "anyone") {
      for (const other of this.occupants.values()) if (other !== o && this.broadcasts(other.role)) this.deliver(this.current(other, this.sees(o)), o);
    }
  }

  /** §9, §10: a bare JID's new affiliation, and what it does to its occupants. */
  setAffiliation(bare: JID, aff: Affiliation, extra: ItemExtra = {}): void {
    if (aff === "none") this.affiliations.delete(bare.toString());
    else this.affiliations.set(bare.toString(), aff);
    for (const o of [...this.occupants.values()]) {
      if (!o.jid.bare.equals(bare)) continue;
      if (aff === "outcast") this.remove(o, ["301"], extra);
      else if (aff === "none" && this.config.membersOnly) this.remove(o, ["321"], extra);
      else this.setRole(o, defaultRole(aff, this.config.moderated));
    }
    this.host.changed(this);
  }

  /** §10.9: everyone leaves with the <destroy/> (alternate venue and reason); the room is gone. */
  destroy(alternate: string | undefined, reason: string | undefined, password: string | undefined): void {
    const d = xml("destroy", { jid: alternate },
      reason !== undefined ? xml("reason", null, reason) : undefined,
      password !== undefined ? xml("password", null, password) : undefined);
    for (const o of [...this.occupants.values()]) this.remove(o, [], {}, d);
    this.host.gone(this);
  }

  /** Sends a message from the room itself (statuses of §10.2: 104 config changed, 172/173 anonymity) to everyone. */
  notify(statuses: readonly string[]): void {
    const m = new Fanout("message", { from: this.jid.toString(), type: "groupchat" });
    m.append(xml("x", { xmlns: NS.mucUser }, statuses.map((code) => xml("status", { code }))));
    for (const o of this.occupants.values()) this.deliver(m, o);
  }
}

function withPayload(p: Fanout, payload: Element[] | undefined): Fanout {
  if (payload) p.children.unshift(...payload);
  return p;
}
