// XEP-0077 requests as they reach the server: before authentication on the stream itself
// (registration, §3.1.1 "Registration with a Server"), and afterwards either on the stream
// before bind or routed as an ordinary iq to the server or to the account's own bare JID.
import type { Element } from "../../xml/element.ts";
import type { JID } from "../../xml/jid.ts";
import { StanzaError } from "../../core/errors.ts";
import type { IqRequest } from "../../core/iq.ts";
import type { Logger } from "../../core/log.ts";
import { errorReply, iqResult, toStanzaError } from "../../core/stanza.ts";
import type { PreAuthRequest } from "../../core/stream-handlers.ts";
import { parseRegisterSet, registeredForm, registrationForm, scrub } from "./parse.ts";
import type { Registrar } from "./registrar.ts";

/** On an unbound stream, to the hosted domain whose registration switch applies. */
export function preAuthHandler(registrar: Registrar, log: Logger) {
  return async (req: PreAuthRequest): Promise<void> => {
    let reply: Element | undefined;
    try {
      reply = iqResult(req.stanza, await preAuth(registrar, registrar.enabled(req.domain), req));
    } catch (e) {
      if (!(e instanceof StanzaError)) log.error({ err: e }, "in-band registration failed");
      if (req.stanza.attrs.type === "set") scrub(req.payload);
      reply = errorReply(req.stanza, toStanzaError(e));
    }
    if (reply) req.reply(reply);
  };
}

const BY_INVITATION = "Registration on this server is by invitation: open the invitation link, or present its token first (XEP-0445).";

async function preAuth(registrar: Registrar, enabled: boolean, req: PreAuthRequest): Promise<Element | undefined> {
  if (req.payload.name !== "query") throw new StanzaError("service-unavailable");
  if (req.stanza.children.filter((c) => typeof c !== "string").length !== 1) throw new StanzaError("bad-request", "an iq carries exactly one payload");
  if (req.account) return authenticated(registrar, req.account, req.stanza.attrs.type, req.payload, req.secure, false);
  // §3.1: "If the host does not support In-Band Registration, it MUST return a <service-unavailable/> error."
  // With invitations it does, for their holders.
  if (!enabled && !registrar.invitable(req.domain)) throw new StanzaError("service-unavailable", "in-band registration is disabled");
  if (!registrar.secureEnough(req.secure)) throw new StanzaError("not-authorized", "start TLS before registering", { type: "modify" });
  const admission = registrar.admission(req.stream, req.domain);
  if (req.stanza.attrs.type === "get") return enabled || admission ? registrationForm(admission?.username) : registrationForm(undefined, BY_INVITATION);
  const set = parseRegisterSet(req.payload);
  if (set.kind === "invalid") throw set.error;
  // §3.2 table: unexpected-request when "the IQ ... does not contain a 'from' address because the entity is not registered".
  if (set.kind === "remove") throw new StanzaError("unexpected-request", "log in before cancelling a registration");
  // Only an invitation opens a closed server: without one the requester lacks the permission (RFC 6120 §8.3.3.4).
  if (!enabled && !admission) throw new StanzaError("forbidden", BY_INVITATION);
  await registrar.register(set, req.remoteAddress, req.domain, admission);
  return undefined;
}

/** get: the registered form; set: password change or cancellation. `bound`: cancellation needs a session to end. */
async function authenticated(registrar: Registrar, account: JID, type: string | undefined, payload: Element,
  secure: boolean, bound: boolean): Promise<Element | undefined> {
  if (type === "get") return registeredForm(account.local);
  const set = parseRegisterSet(payload);
  if (set.kind === "invalid") throw set.error;
  if (set.kind === "fields") return registrar.changePassword(account, set, secure).then(() => undefined);
  // Before bind the stream is not a session the server can end after deleting its account.
  if (!bound) throw new StanzaError("unexpected-request", "bind a resource before cancelling the registration");
  await registrar.cancel(account);
  return undefined;
}

/**
 * Routed iqs: to the server (§3.3's example) or with no 'to' / to the own bare JID (§3.2's).
 * The account is always the sender's; a request about anyone else is forbidden.
 */
export function routedHandlers(registrar: Registrar, hosted: (domain: string) => boolean, target: "host" | "account") {
  const account = (req: IqRequest): JID => {
    // An account of this host (the one the iq is to): another host's accounts are not its to manage.
    if (!hosted(req.from.domain) || req.from.domain !== req.to.domain || req.from.local === "") throw new StanzaError("service-unavailable");
    if (target === "account" && !req.from.bare.equals(req.to)) throw new StanzaError("forbidden", "only the account itself may manage its registration");
    return req.from.bare;
  };
  return {
    get: (req: IqRequest) => registeredForm(account(req).local),
    set: async (req: IqRequest) => {
      try {
        return await authenticated(registrar, account(req), "set", req.payload, req.origin?.secure ?? true, true);
      } catch (e) {
        scrub(req.payload);
        throw e;
      }
    },
  };
}
