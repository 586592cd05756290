// Resource binding (RFC 6120 §7) and the legacy session establishment of RFC 3921 §3, which
// old clients still send (RFC 6121 Appendix E; answered with an empty result, nothing else).
import { randomToken } from "../core/ids.ts";
import { xml, type Element } from "../xml/element.ts";
import { NS } from "../xml/ns.ts";
import { type JID, JidError } from "../xml/jid.ts";
import { StanzaError } from "../core/errors.ts";
import type { Session } from "../core/session.ts";
import { errorReply, iqResult } from "../core/stanza.ts";
import type { StreamContext } from "./context.ts";

/** More resources than this per account is resource-constraint (RFC 6120 §7.6.2.1). */
export const MAX_RESOURCES = 64;

interface BindingStream { write(text: string): void }

/** Binds and answers the iq; resolves to the full JID, or undefined after an error reply. */
export async function bindResource(stream: BindingStream, account: JID, iq: Element, payload: Element, ctx: StreamContext): Promise<JID | undefined> {
  const fail = (err: StanzaError) => {
    const reply = errorReply(iq, err);
    if (reply) stream.write(reply.toString());
    return undefined;
  };
  const requested = payload.getChildText("resource")?.trim();
  let full: JID;
  try {
    full = requested ? account.withResource(requested) : account.withResource(randomResource());
  } catch (e) {
    if (!(e instanceof JidError)) throw e;
    return fail(new StanzaError("bad-request", "the resource is not a valid resourcepart"));
  }
  const existing = ctx.sessions.of(account);
  // A conflicting resource replaces the older session (RFC 6120 §7.7.2.2, the override policy).
  if (existing.length >= MAX_RESOURCES && !ctx.sessions.hasResource(account, full.resource)) {
    return fail(new StanzaError("resource-constraint", "too many resources bound for this account"));
  }
  stream.write(iqResult(iq, xml("bind", { xmlns: NS.bind }, xml("jid", null, full.toString()))).toString());
  return full;
}

function randomResource(): string {
  return `xmppd-${randomToken(6, "base64url")}`;
}

export function handleLegacySession(session: Session, iq: Element): void {
  if (iq.attrs.type === "set") {
    session.send(xml("iq", { type: "result", id: iq.attrs.id, to: session.jid.toString() }));
  } else {
    const reply = errorReply(iq, new StanzaError("bad-request"));
    if (reply) session.send(reply);
  }
}
