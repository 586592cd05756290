// An occupant of a room (XEP-0045 §5): a nickname held by one real full JID, with its role and
// the presence it last sent. Its presence as others see it is built once per change, in two
// variants (with the real JID, for those allowed to see it, §7.2.3/§7.2.4; without), and reused
// for every recipient and every later newcomer.
import { xml, type Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import type { JID } from "../../xml/jid.ts";
import { Fanout } from "./fanout.ts";
import type { Affiliation, Role } from "./roles.ts";

export const OCCUPANT_ID = "urn:xmpp:occupant-id:0";

export interface Occupant {
  nick: string;
  /** The room JID with this nickname as resource. */
  roomJid: JID;
  readonly jid: JID;
  role: Role;
  /** The client's presence payload (show, status, caps ...) without MUC elements. */
  payload: Element[];
  /** XEP-0421: stable per room and real bare JID. */
  readonly occupantId: string;
  /** Current available presence as others see it: [without real JID, with it]. */
  cached: [Fanout | undefined, Fanout | undefined];
  /** The session of this node that entered (its id); undefined for a real JID served elsewhere. */
  readonly session?: string | undefined;
}

/** The parts of a client's presence that go on to other occupants (not its MUC elements, not a forged occupant-id). */
export function presencePayload(p: Element): Element[] {
  const out: Element[] = [];
  for (const c of p.children) {
    if (typeof c === "string") continue;
    const ns = c.attrs.xmlns;
    if (ns === NS.muc || ns === NS.mucUser || ns === OCCUPANT_ID) continue;
    out.push(c);
  }
  return out;
}

export interface ItemExtra { nick?: string; actor?: string; reason?: string }

export function item(o: Occupant, aff: Affiliation, role: Role, withJid: boolean, extra: ItemExtra = {}): Element {
  return xml("item", { affiliation: aff, role, jid: withJid ? o.jid.toString() : undefined, nick: extra.nick },
    extra.actor !== undefined ? xml("actor", { nick: extra.actor }) : undefined,
    extra.reason !== undefined ? xml("reason", null, extra.reason) : undefined);
}

export interface PresenceSpec {
  aff: Affiliation;
  type?: "unavailable";
  statuses?: readonly string[];
  extra?: ItemExtra;
  /** A <destroy/> for §10.9, inside the muc#user <x/>. */
  destroy?: Element;
}

/** The occupant's presence from its room JID, as one recipient class sees it. */
export function occupantPresence(o: Occupant, withJid: boolean, spec: PresenceSpec): Fanout {
  const role = spec.type === "unavailable" ? "none" : o.role;
  const p = new Fanout("presence", { from: o.roomJid.toString(), type: spec.type });
  if (spec.type !== "unavailable") for (const c of o.payload) p.children.push(c);
  p.append(xml("x", { xmlns: NS.mucUser },
    item(o, spec.aff, role, withJid, spec.extra),
    spec.destroy,
    (spec.statuses ?? []).map((code) => xml("status", { code }))));
  p.append(xml("occupant-id", { xmlns: OCCUPANT_ID, id: o.occupantId }));
  return p;
}
