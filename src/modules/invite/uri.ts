// The links of an invitation (XEP-0147 query components, RFC 5122 XMPP URIs):
//   xmpp:example.com?register;preauth=TOKEN           an account, any username (XEP-0401 §4.5)
//   xmpp:juliet@example.com?register;preauth=TOKEN    an account with this username
//   xmpp:romeo@example.com?roster;preauth=TOKEN;ibr=y become Romeo's contact; "ibr=y": the token
//                                                      also registers an account here (XEP-0401 §4.1)
// and the XEP-0082 DateTime of its expiry for the invitation form's 'expire' field.
import type { Invitation } from "./store.ts";

/** The XEP-0401 invitation result's FORM_TYPE. */
export const INVITATION_FORM = "urn:xmpp:invite#invitation";

/** A localpart or domain in an XMPP URI: RFC 5122 §2.7 percent-encodes what is not unreserved or a sub-delim. */
function part(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The link of an invitation, at its domain. */
export function invitationUri(invitation: Invitation): string {
  const { domain } = invitation;
  if (invitation.kind === "contact") return `xmpp:${part(invitation.inviter ?? "")}@${part(domain)}?roster;preauth=${invitation.token};ibr=y`;
  const who = invitation.username !== undefined ? `${part(invitation.username)}@` : "";
  return `xmpp:${who}${part(domain)}?register;preauth=${invitation.token}`;
}

/** XEP-0082 DateTime, to the second. */
export function dateTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}
