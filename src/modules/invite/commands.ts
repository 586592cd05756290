// XEP-0401 §4: the ad-hoc commands (XEP-0050) that make invitations.
//   urn:xmpp:invite#invite          a user invites a friend to become contacts (registering here
//                                   first if need be); "SHOULD immediately provide a command result"
//   urn:xmpp:invite#create-account  an administrator invites someone to make an account, with a
//                                   username chosen now or by the invitee, and optionally a
//                                   subscription with the administrator
// Both complete with the invitation form (FORM_TYPE urn:xmpp:invite#invitation): 'uri' and,
// since invitations expire, 'expire' (§4.1: "mandatory if the invitation will expire").
// Each hosted domain offers them: run at a domain (the command's 'to'), they make invitations
// for that domain, by its administrators, and by its users when users may invite (usersMayInvite).
import { type JID, normalizeLocal } from "../../xml/jid.ts";
import { StanzaError } from "../../core/errors.ts";
import type { FormSpec } from "../../core/forms.ts";
import { WindowCounter } from "../../core/limits.ts";
import type { Logger } from "../../core/log.ts";
import type { AdhocCommand } from "../adhoc/command.ts";
import type { Invitation, Invitations, NewInvitation } from "./store.ts";
import { dateTime, INVITATION_FORM, invitationUri } from "./uri.ts";

export interface InviteOptions {
  readonly expiry: number;
  readonly usersMayInvite: boolean;
  readonly perUser: number;
  readonly perHour: number;
}

export interface InviteHost {
  readonly hosts: { has(domain: string): boolean };
  /** Whether the JID is an administrator of the hosted domain. */
  isAdmin(jid: JID, domain: string): boolean;
}

/** The invitation form of a completed command: the link names the invitation's domain. */
function invitationForm(invitation: Invitation): FormSpec {
  return {
    type: "result",
    formType: INVITATION_FORM,
    fields: [
      { type: "text-single", var: "uri", label: "Invitation link", values: [invitationUri(invitation)] },
      { type: "text-single", var: "expire", label: "Valid until", values: [dateTime(invitation.expires)] },
    ],
  };
}

export function inviteCommands(host: InviteHost, invitations: Invitations, o: InviteOptions, log: Logger): AdhocCommand[] {
  /** An account of the hosted domain `at`. */
  const local = (j: JID, at: string) => j.domain === at && j.local !== "" && host.hosts.has(at);
  const ttlMs = o.expiry * 1000;
  // Invitations users (not administrators) make, all together, per hour: what one process hands out.
  const made = new WindowCounter(3_600_000, o.perHour);

  /** Users' invitations count against their quota and the hourly total; administrators' do not. */
  const create = async (by: JID, spec: Omit<NewInvitation, "ttlMs" | "quota">): Promise<Invitation> => {
    const admin = host.isAdmin(by, spec.domain);
    if (!admin && !made.allowed("users")) throw new StanzaError("resource-constraint", "the server has made as many invitations as it makes in an hour; try again later", { type: "wait" });
    const invitation = await invitations.create({ ...spec, ttlMs, ...(admin ? {} : { quota: o.perUser }) });
    if (!admin) made.hit("users");
    log.info({ by: by.bare.toString(), domain: invitation.domain, kind: invitation.kind, username: invitation.username, expires: dateTime(invitation.expires) }, "invitation created");
    return invitation;
  };

  return [
    {
      node: "urn:xmpp:invite#invite",
      name: "Invite user",
      mayRun: (j, at) => local(j, at) && (o.usersMayInvite || host.isAdmin(j, at)),
      stages: [],
      async complete(_values, by, at) {
        const invitation = await create(by, { kind: "contact", domain: at, creator: by.bare.toString(), inviter: by.local });
        return { form: invitationForm(invitation) };
      },
    },
    {
      node: "urn:xmpp:invite#create-account",
      name: "Create account",
      mayRun: (j, at) => host.hosts.has(at) && host.isAdmin(j, at),
      stages: [{
        title: "Invite someone to make an account",
        instructions: "Leave the username empty to let the invitee choose one.",
        fields: [
          { type: "text-single", var: "username", label: "Username" },
          { type: "boolean", var: "roster-subscription", label: "Add the new account to my contacts" },
        ],
      }],
      async complete([v], by, at) {
        const given = v!.text("username");
        const username = given === undefined ? undefined : validUsername(given);
        // Contacts are made with an account of the domain (an administrator from elsewhere has none here).
        const befriend = v!.bool("roster-subscription") === true && local(by, at);
        const invitation = await create(by, {
          kind: "account", domain: at, creator: by.bare.toString(),
          ...(username !== undefined ? { username } : {}), ...(befriend ? { inviter: by.local } : {}),
        });
        return { form: invitationForm(invitation) };
      },
    },
  ];
}

/** §4.5: the username "MUST be a valid localpart"; a value that is none is not-acceptable (XEP-0004 §4). */
function validUsername(s: string): string {
  try {
    return normalizeLocal(s);
  } catch {
    throw new StanzaError("not-acceptable", `'${s}' is not a valid username`);
  }
}
