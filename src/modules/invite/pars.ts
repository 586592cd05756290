// XEP-0379 Pre-Authenticated Roster Subscription, on the inviter's server (its §3.2 "Server-side
// implementation": the server makes the links and approves the requests that carry their
// tokens). Two ways to redeem a contact invitation:
//  - an existing account anywhere asks for the inviter's presence with the token
//      <presence to='romeo@example.com' type='subscribe'><preauth xmlns='urn:xmpp:pars:0' token='...'/></presence>
//    and the server approves it for the inviter and asks back (§3.5), making the two contacts;
//  - the invitee registers here with it (XEP-0401 §4.4 "ibr=y"), and the new account and the
//    inviter are made contacts with subscription "both" at once; XEP-0401 §4.6: "the server MUST
//    use roster pushes ... to inform the inviter about the invitee's new account".
// A token that is unknown, expired, used or not the inviter's is ignored (§5.1: "act as if no
// preauth token was contained"): the request goes the ordinary way, to the inviter to answer.
import { xml } from "../../xml/element.ts";
import { jid, type JID } from "../../xml/jid.ts";
import type { StanzaEvent } from "../../core/events.ts";
import type { PresenceEnv } from "../presence/env.ts";
import { inboundSubscription, outboundSubscription } from "../presence/subscribe.ts";
import { itemWithState } from "../presence/subscription.ts";
import type { RosterService } from "../roster/service.ts";
import { PARS } from "./preauth.ts";
import type { Invitation, Invitations } from "./store.ts";

/**
 * A "presence/bare" handler: true when it took a subscription request with a good token. Other
 * presence is let through synchronously (no promise for the common case).
 */
export function preauthSubscriptions(env: PresenceEnv, invitations: Invitations) {
  return (ev: StanzaEvent): boolean | Promise<boolean> => {
    // Inbound only: the request as it reaches the inviter (a local sender's was stamped and routed again).
    if (ev.origin || ev.stanza.attrs.type !== "subscribe") return false;
    const token = ev.stanza.getChild("preauth", PARS)?.attrs.token;
    return token ? redeem(env, invitations, ev, token) : false;
  };
}

async function redeem(env: PresenceEnv, invitations: Invitations, ev: StanzaEvent, token: string): Promise<boolean> {
  const owner = ev.to.bare;
  const contact = ev.from.bare;
  if (owner.equals(contact)) return false;
  const invitation = await invitations.valid(token, owner.domain);
  if (!invitation || invitation.kind !== "contact" || invitation.inviter !== owner.local) return false;
  if (!(await invitations.claim(token))) return false;
  await invitations.spend(invitation);
  // What §3.5 has the inviter's client do, done by the server in the inviter's name: approve
  // (a pre-approval, so the request is answered at once with "subscribed" and presence) and
  // ask for the contact's presence in return.
  await outboundSubscription(env, owner, contact, xml("presence", { type: "subscribed" }), "subscribed");
  await inboundSubscription(env, owner, contact, ev.stanza, "subscribe");
  await outboundSubscription(env, owner, contact, xml("presence", { type: "subscribe" }), "subscribe");
  return true;
}

/**
 * After an invitee registered: the inviter of a contact invitation (an account of the
 * invitation's domain) and the new account see each other ("both").
 */
export function befriendInviter(roster: RosterService, accounts: PresenceEnv["accounts"]) {
  return async (invitation: Invitation, account: JID): Promise<void> => {
    if (invitation.inviter === undefined) return;
    const inviter = jid(invitation.inviter, invitation.domain);
    if (!(await accounts.exists(inviter))) return;
    await subscribedBothWays(roster, inviter, account);
    await subscribedBothWays(roster, account, inviter);
  };
}

/** The owner's roster item for `contact` at "both" (pushed to the owner's resources). */
async function subscribedBothWays(roster: RosterService, owner: JID, contact: JID): Promise<void> {
  const key = contact.toString();
  await roster.change(owner, key, (item) => ({
    item: itemWithState(item, key, { subscription: "both", pendingOut: false, pendingIn: false, approved: false }),
    pending: undefined,
    result: undefined,
  }));
}
