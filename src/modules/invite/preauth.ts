// XEP-0445 Pre-Authenticated In-Band Registration: before registering, a client presents the
// token of its invitation on the unauthenticated stream,
//   <iq type='set'><preauth xmlns='urn:xmpp:pars:0' token='TOKEN'/></iq>
// and the server answers a result if the token can be used, else item-not-found (§4's example).
// A token is good only on a stream to the hosted domain its invitation is for: presented to
// another host it is item-not-found, as an unknown one.
// The stream remembers the invitation (by the stream key of PreAuthRequest) and the XEP-0077
// registration that follows uses it through the register module's gate (Admission): §4 "single-use
// tokens MUST NOT be considered used until the actual registration has succeeded", and the expiry
// "MUST only be checked at this point".
import { xml } from "../../xml/element.ts";
import type { JID } from "../../xml/jid.ts";
import { StanzaError } from "../../core/errors.ts";
import { WindowCounter } from "../../core/limits.ts";
import type { Logger } from "../../core/log.ts";
import { errorReply, iqResult, toStanzaError } from "../../core/stanza.ts";
import type { PreAuthRequest } from "../../core/stream-handlers.ts";
import type { Admission, RegistrationGate } from "../register/gate.ts";
import { rateKey } from "../register/registrar.ts";
import type { Invitation, Invitations } from "./store.ts";

export const PARS = "urn:xmpp:pars:0";

/** Tokens one address may present that are no good, per minute (guessing a 120-bit token is hopeless; this keeps the lookups cheap). */
const FAILURES_PER_MINUTE = 10;

/** The registration an invitation admits, holding its token. */
class InvitationAdmission implements Admission {
  readonly invitation: Invitation;
  private readonly gate: PreAuthorizations;
  private readonly stream: object;

  constructor(gate: PreAuthorizations, stream: object, invitation: Invitation) {
    this.gate = gate;
    this.stream = stream;
    this.invitation = invitation;
  }

  get username(): string | undefined {
    return this.invitation.username;
  }

  async claim(): Promise<boolean> {
    return (await this.gate.invitations.claim(this.invitation.token)) !== undefined;
  }

  release(): Promise<void> {
    return this.gate.invitations.release(this.invitation.token);
  }

  completed(account: JID): Promise<void> {
    return this.gate.completed(this.stream, this.invitation, account);
  }
}

/** What an invitation brings once its invitee's account exists (the subscriptions of a contact invitation). */
export type AfterRegistration = (invitation: Invitation, account: JID) => Promise<void>;

export class PreAuthorizations implements RegistrationGate {
  readonly invitations: Invitations;
  private readonly streams = new WeakMap<object, InvitationAdmission>();
  private readonly failures = new WindowCounter(60_000, FAILURES_PER_MINUTE);
  private readonly after: AfterRegistration;

  constructor(invitations: Invitations, after: AfterRegistration) {
    this.invitations = invitations;
    this.after = after;
  }

  admission(stream: object, domain: string): Admission | undefined {
    const admission = this.streams.get(stream);
    return admission?.invitation.domain === domain ? admission : undefined;
  }

  reserved(local: string, admission: Admission | undefined, domain: string): Promise<boolean> {
    return this.invitations.reserved(local, domain, admission instanceof InvitationAdmission ? admission.invitation.token : undefined);
  }

  async completed(stream: object, invitation: Invitation, account: JID): Promise<void> {
    this.streams.delete(stream);
    await this.invitations.spend(invitation);
    await this.after(invitation, account);
  }

  /** The pre-auth iq handler of urn:xmpp:pars:0. `secureEnough`: the registration's own TLS rule. */
  handler(secureEnough: (secure: boolean) => boolean, log: Logger) {
    return async (req: PreAuthRequest): Promise<void> => {
      let reply;
      try {
        await this.present(req, secureEnough);
        reply = iqResult(req.stanza, undefined);
      } catch (e) {
        if (!(e instanceof StanzaError)) log.error({ err: e }, "invitation check failed");
        // As §4's Example 4: the error alone, the token not echoed.
        reply = errorReply(xml("iq", req.stanza.attrs), toStanzaError(e));
      }
      if (reply) req.reply(reply);
    };
  }

  private async present(req: PreAuthRequest, secureEnough: (secure: boolean) => boolean): Promise<void> {
    if (req.payload.name !== "preauth") throw new StanzaError("service-unavailable");
    if (req.stanza.attrs.type !== "set") throw new StanzaError("bad-request", "a token is presented in an iq of type set");
    // An invitation is for creating an account; a logged-in stream has one.
    if (req.account) throw new StanzaError("unexpected-request", "an invitation token is presented before registering, not after logging in");
    if (!secureEnough(req.secure)) throw new StanzaError("not-authorized", "start TLS before presenting an invitation", { type: "modify" });
    const token = req.payload.attrs.token;
    if (!token) throw new StanzaError("bad-request", "the <preauth/> element needs a 'token'");
    const key = rateKey(req.remoteAddress);
    if (!this.failures.allowed(key)) throw new StanzaError("resource-constraint", "too many unknown invitation tokens from your address; try again later", { type: "wait" });
    const invitation = await this.invitations.valid(token, req.domain);
    if (!invitation) {
      this.failures.hit(key);
      throw new StanzaError("item-not-found", "The provided token is invalid or expired", { type: "cancel" });
    }
    this.streams.set(req.stream, new InvitationAdmission(this, req.stream, invitation));
  }
}

/** The stream features of XEP-0445 §3, and the one XEP-0401 had before it (Conversations and Siskin look for that one). */
export function preauthFeatures() {
  return [
    xml("register", { xmlns: "urn:xmpp:ibr-token:0" }),
    // Compatibility: XEP-0401 up to 0.4.0 named the feature urn:xmpp:invite; remove once
    // Conversations (XmppConnection.register) and Siskin look for urn:xmpp:ibr-token:0.
    xml("register", { xmlns: "urn:xmpp:invite" }),
  ];
}
