// XEP-0045 §5: affiliations (long-lived, per bare JID) and roles (per visit), and who may change
// which (§8 moderator use cases, §9 admin, §10 owner). Pure functions, unit-tested beside this file.
import { StanzaError } from "../../core/errors.ts";

export const AFFILIATIONS = ["owner", "admin", "member", "none", "outcast"] as const;
export type Affiliation = (typeof AFFILIATIONS)[number];
export const ROLES = ["moderator", "participant", "visitor", "none"] as const;
export type Role = (typeof ROLES)[number];

export const isAffiliation = (s: string | undefined): s is Affiliation => (AFFILIATIONS as readonly string[]).includes(s ?? "");
export const isRole = (s: string | undefined): s is Role => (ROLES as readonly string[]).includes(s ?? "");

/** §5.1.2: owners and admins enter as moderators; in a moderated room, those without affiliation as visitors. */
export function defaultRole(aff: Affiliation, moderated: boolean): Role {
  if (aff === "owner" || aff === "admin") return "moderator";
  if (aff === "outcast") return "none";
  if (aff === "none" && moderated) return "visitor";
  return "participant";
}

const rank = (a: Affiliation): number => ({ owner: 4, admin: 3, member: 2, none: 1, outcast: 0 })[a];

/** An actor's change of an occupant's role (§8.2 kick, §8.3-8.4 voice, §9.6-9.7 moderator), or the error. */
export function checkRoleChange(actor: { role: Role; aff: Affiliation }, target: { role: Role; aff: Affiliation }, to: Role): StanzaError | undefined {
  if (actor.role !== "moderator") return new StanzaError("forbidden", "only moderators change roles");
  // §8.2, §8.4: "A moderator MUST NOT be able to ... kick / revoke voice from an admin or owner".
  if (rank(target.aff) >= 3 && to !== "moderator") return new StanzaError("not-allowed", "admins and owners keep their role");
  // §9.6, §9.7: granting and revoking moderator status is for admins and owners.
  if ((to === "moderator" || target.role === "moderator") && rank(actor.aff) < 3) return new StanzaError("not-allowed", "only admins and owners grant or revoke moderator status");
  return undefined;
}

/** An actor's change of a bare JID's affiliation (§9.1-9.5, §10.3-10.7), or the error. */
export function checkAffiliationChange(actor: Affiliation, target: Affiliation, to: Affiliation): StanzaError | undefined {
  if (actor === "owner") return undefined;
  if (actor !== "admin") return new StanzaError("forbidden", "only admins and owners change affiliations");
  if (to === "admin" || to === "owner") return new StanzaError("forbidden", "only owners grant admin or owner status");
  if (target === "admin" || target === "owner") return new StanzaError("not-allowed", "an admin cannot change an admin's or an owner's affiliation");
  return undefined;
}
