// XEP-0045 §10.2 and §15.5.3: the room configuration form (muc#roomconfig), and what a room
// tells disco#info (§6.4: its features and the muc#roominfo form, §15.5.4).
import type { Element } from "../../xml/element.ts";
import { StanzaError } from "../../core/errors.ts";
import { buildForm, parseSubmission, readForm, type Field } from "../../core/forms.ts";

export const ROOMCONFIG = "http://jabber.org/protocol/muc#roomconfig";
export const ROOMINFO = "http://jabber.org/protocol/muc#roominfo";

export type Whois = "moderators" | "anyone";
export type AllowPm = "anyone" | "participants" | "moderators" | "none";
/** The roles whose presence is broadcast (§10.2 muc#roomconfig_presencebroadcast). */
export type BroadcastRole = "moderator" | "participant" | "visitor";
const BROADCAST_ROLES: readonly BroadcastRole[] = ["moderator", "participant", "visitor"];

export interface RoomConfig {
  name: string;
  description: string;
  persistent: boolean;
  public: boolean;
  membersOnly: boolean;
  moderated: boolean;
  passwordProtected: boolean;
  password: string;
  /** 0: the service's limit only. */
  maxUsers: number;
  whois: Whois;
  historyLength: number;
  changeSubject: boolean;
  allowInvites: boolean;
  allowPm: AllowPm;
  /** XEP-0313 on the room's JID: its messages are archived and may be queried. */
  archive: boolean;
  presenceBroadcast: BroadcastRole[];
}

export function defaultConfig(historyLength: number, archive = true): RoomConfig {
  return {
    name: "", description: "", persistent: false, public: true, membersOnly: false, moderated: false,
    passwordProtected: false, password: "", maxUsers: 0, whois: "moderators", historyLength,
    changeSubject: false, allowInvites: false, allowPm: "anyone", archive, presenceBroadcast: [...BROADCAST_ROLES],
  };
}

const bool = (b: boolean) => (b ? "1" : "0");
const MAXUSERS = ["10", "20", "30", "50", "100", "200", "500", "1000", "2000", "5000", "none"];

/** The form's fields; `open` leaves the maxusers options out, so that any number may be submitted (Smack sends 2). */
function fields(c: RoomConfig, maxHistory: number, open = false): Field[] {
  return [
    { type: "text-single", var: "muc#roomconfig_roomname", label: "Name", values: [c.name] },
    { type: "text-single", var: "muc#roomconfig_roomdesc", label: "Description", values: [c.description] },
    { type: "boolean", var: "muc#roomconfig_persistentroom", label: "Keep the room when the last occupant leaves", values: [bool(c.persistent)] },
    { type: "boolean", var: "muc#roomconfig_publicroom", label: "List the room publicly", values: [bool(c.public)] },
    { type: "boolean", var: "muc#roomconfig_membersonly", label: "Only members may enter", values: [bool(c.membersOnly)] },
    { type: "boolean", var: "muc#roomconfig_moderatedroom", label: "Only participants may speak (moderated)", values: [bool(c.moderated)] },
    { type: "boolean", var: "muc#roomconfig_passwordprotectedroom", label: "A password is needed to enter", values: [bool(c.passwordProtected)] },
    { type: "text-private", var: "muc#roomconfig_roomsecret", label: "Password", values: [c.password] },
    {
      type: "list-single", var: "muc#roomconfig_maxusers", label: "Most occupants",
      values: [c.maxUsers === 0 ? "none" : String(c.maxUsers)],
      options: open ? undefined : [...new Set([...MAXUSERS, ...(c.maxUsers === 0 ? [] : [String(c.maxUsers)])])].map((value) => ({ value })),
    },
    {
      type: "list-single", var: "muc#roomconfig_whois", label: "Who may see occupants' real JIDs", values: [c.whois],
      options: [{ value: "moderators", label: "Moderators only" }, { value: "anyone", label: "Anyone" }],
    },
    { type: "text-single", var: "muc#roomconfig_historylength", label: `Messages of history sent on entry (at most ${maxHistory})`, values: [String(c.historyLength)] },
    { type: "boolean", var: "muc#roomconfig_changesubject", label: "Participants may change the subject", values: [bool(c.changeSubject)] },
    { type: "boolean", var: "muc#roomconfig_allowinvites", label: "Participants may invite others", values: [bool(c.allowInvites)] },
    {
      type: "list-single", var: "muc#roomconfig_allowpm", label: "Who may send private messages", values: [c.allowPm],
      options: ["anyone", "participants", "moderators", "none"].map((value) => ({ value })),
    },
    { type: "boolean", var: "muc#roomconfig_enablearchiving", label: "Archive the room's messages (XEP-0313)", values: [bool(c.archive)] },
    // ejabberd's name of the same field, accepted on submission.
    ...(open ? [{ type: "boolean" as const, var: "mam", values: [] }] : []),
    {
      type: "list-multi", var: "muc#roomconfig_presencebroadcast", label: "Roles whose presence is broadcast", values: c.presenceBroadcast,
      options: BROADCAST_ROLES.map((value) => ({ value })),
    },
  ];
}

export function configForm(c: RoomConfig, maxHistory: number): Element {
  return buildForm({ type: "form", formType: ROOMCONFIG, title: "Room configuration", fields: fields(c, maxHistory) });
}

/** A submitted configuration applied over the current one (fields left out keep their values), or the error. */
export function applyConfigForm(x: Element, c: RoomConfig, maxHistory: number): RoomConfig | StanzaError {
  const sub = parseSubmission(x);
  if (sub instanceof StanzaError) return sub;
  if (sub.formType !== undefined && sub.formType !== ROOMCONFIG) return new StanzaError("bad-request", `expected FORM_TYPE ${ROOMCONFIG}`);
  const v = readForm(sub, fields(c, maxHistory, true));
  if (v instanceof StanzaError) return v;
  if ("missing" in v) return new StanzaError("bad-request", `${v.missing} is required`);
  const next = { ...c };
  const b = (name: string, cur: boolean) => v.bool(`muc#roomconfig_${name}`) ?? cur;
  next.name = v.text("muc#roomconfig_roomname") ?? c.name;
  next.description = v.text("muc#roomconfig_roomdesc") ?? c.description;
  next.persistent = b("persistentroom", c.persistent);
  next.public = b("publicroom", c.public);
  next.membersOnly = b("membersonly", c.membersOnly);
  next.moderated = b("moderatedroom", c.moderated);
  next.passwordProtected = b("passwordprotectedroom", c.passwordProtected);
  next.password = v.has("muc#roomconfig_roomsecret") ? (v.text("muc#roomconfig_roomsecret") ?? "") : c.password;
  const max = v.text("muc#roomconfig_maxusers");
  if (max !== undefined) {
    const n = max === "none" || max === "" ? 0 : Number(max);
    if (!Number.isInteger(n) || n < 0) return new StanzaError("not-acceptable", "muc#roomconfig_maxusers is a number or 'none'");
    next.maxUsers = n;
  }
  const whois = v.text("muc#roomconfig_whois");
  if (whois === "moderators" || whois === "anyone") next.whois = whois;
  const hist = v.text("muc#roomconfig_historylength");
  if (hist !== undefined) {
    const n = Number(hist);
    if (!Number.isInteger(n) || n < 0) return new StanzaError("not-acceptable", "muc#roomconfig_historylength is a whole number");
    next.historyLength = Math.min(n, maxHistory);
  }
  next.changeSubject = b("changesubject", c.changeSubject);
  next.allowInvites = b("allowinvites", c.allowInvites);
  const pm = v.text("muc#roomconfig_allowpm");
  if (pm === "anyone" || pm === "participants" || pm === "moderators" || pm === "none") next.allowPm = pm;
  next.archive = v.bool("muc#roomconfig_enablearchiving") ?? v.bool("mam") ?? c.archive;
  if (v.has("muc#roomconfig_presencebroadcast")) {
    const roles = v.list("muc#roomconfig_presencebroadcast");
    next.presenceBroadcast = BROADCAST_ROLES.filter((r) => roles.includes(r));
  }
  if (next.passwordProtected && next.password === "") return new StanzaError("not-acceptable", "a password-protected room needs a password (muc#roomconfig_roomsecret)");
  return next;
}

/** §6.4: the room's features, one of each pair (§15.2). */
export function roomFeatures(c: RoomConfig): string[] {
  return [
    c.persistent ? "muc_persistent" : "muc_temporary",
    c.membersOnly ? "muc_membersonly" : "muc_open",
    c.public ? "muc_public" : "muc_hidden",
    c.whois === "anyone" ? "muc_nonanonymous" : "muc_semianonymous",
    c.passwordProtected ? "muc_passwordprotected" : "muc_unsecured",
    c.moderated ? "muc_moderated" : "muc_unmoderated",
  ];
}

/**
 * §15.5.4: the muc#roominfo extension of the room's disco#info; with XEP-0486 §3.3's
 * muc#roominfo_avatarhash when the room's vCard has photos ("will not be present when the room
 * doesn't have an avatar set").
 */
export function roomInfoForm(c: RoomConfig, occupants: number, subject: string, avatar: readonly string[] = []): Element {
  return buildForm({
    type: "result", formType: ROOMINFO, fields: [
      { type: "text-single", var: "muc#roominfo_description", label: "Description", values: [c.description] },
      { type: "text-single", var: "muc#roominfo_occupants", label: "Occupants", values: [String(occupants)] },
      { type: "text-single", var: "muc#roominfo_subject", label: "Subject", values: [subject] },
      { type: "boolean", var: "muc#roominfo_subjectmod", label: "Occupants may change the subject", values: [bool(c.changeSubject)] },
      { type: "text-single", var: "muc#roomconfig_roomname", label: "Name", values: [c.name] },
      { type: "text-single", var: "muc#maxhistoryfetch", label: "History sent on entry", values: [String(c.historyLength)] },
      ...(avatar.length > 0 ? [{ type: "text-multi" as const, var: "muc#roominfo_avatarhash", label: "Avatar hash", values: [...avatar] }] : []),
    ],
  });
}
