// Bind 2 (XEP-0386): resource binding inside the SASL2 <authenticate/> (sasl2.ts), with the
// session's features enabled in the same step. This file is the protocol's pieces: the feature
// SASL2 lists inline (with the features a request may enable: XEP-0198's <enable/>, the stream's
// own, and those modules register, XEP-0280's and XEP-0352's), the resource chosen, and the
// modules' inline features run on the new session. The session itself is made by the stream.
//
// The resource is "[client tag]/[server part]" (§Resource identifier generation). The server part
// is stable for an account, a client installation (the SASL2 user-agent id, which it does not
// reveal: a hash of it) and a tag, so a device that reconnects gets its resource back, and its
// new session replaces the old one of that device (RFC 6120 §7.7.2.2 override: "the server
// SHOULD terminate any earlier sessions from the same client"). Without a user-agent id it is random.
import { createHash } from "node:crypto";
import { xml, type Element } from "../xml/element.ts";
import { NS } from "../xml/ns.ts";
import { JidError, type JID } from "../xml/jid.ts";
import { randomToken } from "../core/ids.ts";
import type { Session } from "../core/session.ts";
import type { StreamContext } from "./context.ts";
import { MAX_RESOURCES } from "./bind.ts";

/** A client tag longer than this is cut: it is for diagnostics ("a short text string"). */
const MAX_TAG = 64;
/** Characters of the server part: 72 bits. */
const SERVER_PART = 12;

/** Bind 2's entry in SASL2's <inline/>, with the features a request may enable in its own <inline/>. */
export function bind2Feature(ctx: Pick<StreamContext, "inlineBind">): Element {
  const vars = [NS.sm, ...ctx.inlineBind.keys()];
  return xml("bind", { xmlns: NS.bind2 }, xml("inline", null, vars.map((v) => xml("feature", { var: v }))));
}

/**
 * The full JID for a Bind 2 request of `account` from the client installation `userAgent`;
 * undefined when the account has as many resources as it may (RFC 6120 §7.6.2.1) and this one
 * would replace none of them.
 */
export function bind2Jid(ctx: Pick<StreamContext, "sessions">, account: JID, bind: Element, userAgent: string | undefined): JID | undefined {
  const tag = bind.getChildText("tag")?.trim().slice(0, MAX_TAG) ?? "";
  const part = userAgent === undefined ? randomToken(9, "base64url")
    : createHash("sha256").update(`${account.bare.toString()}\0${userAgent}\0${tag}`).digest("base64url").slice(0, SERVER_PART);
  let full: JID;
  try {
    full = account.withResource(tag ? `${tag}/${part}` : part);
  } catch (e) {
    // A tag that cannot be part of a resourcepart is left out ("subject to the necessary validation").
    if (!(e instanceof JidError)) throw e;
    full = account.withResource(part);
  }
  if (ctx.sessions.of(account).length >= MAX_RESOURCES && !ctx.sessions.hasResource(account, full.resource)) return undefined;
  return full;
}

/**
 * Runs the modules' inline features the request names on the new session (elements of other
 * namespaces are ignored, as are XEP-0198's: the stream enables those itself). One that fails is
 * logged; the session goes on without it.
 */
export function enableInline(ctx: Pick<StreamContext, "inlineBind">, session: Session, bind: Element): void {
  for (const el of bind.getChildElements()) {
    const ns = el.getNS();
    const handler = ns === undefined || ns === NS.sm ? undefined : ctx.inlineBind.get(ns);
    if (!handler) continue;
    try {
      handler(session, el);
    } catch (err) {
      session.log.error({ err, ns }, "inline bind feature failed");
    }
  }
}
