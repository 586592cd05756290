// XEP-0280: Message Carbons (urn:xmpp:carbons:2). A resource enables or disables copies for
// itself (§4, §5; repeating either is no error). Eligible messages (rules.ts, §6) that one
// resource sends are copied to the account's other enabled resources inside <sent/> (§8); those
// delivered to some resources are copied to the enabled ones that did not get them inside
// <received/> (§7). A copy is a XEP-0297 <forwarded/> wrapper from the account's bare JID to the
// resource's full JID, of the original's type. <private/> is not removed from what is delivered
// (§9 interoperability note: 1.0 lifted that requirement). Copies are written to the sessions
// like anything else: a detached (XEP-0198) session queues them. A Bind 2 request (XEP-0386) may
// enable them as the session is bound.
//
// A message to the account's own JID from one of its resources gets sent copies only: the other
// resources would otherwise see it twice.
//
// A sent message the account's archive kept (XEP-0313, the mam module when loaded) is copied with
// the <stanza-id/> the archive gave it inside <forwarded/> (XEP-0313 §3.4: servers "SHOULD
// include the element as a child of the forwarded message when using Message Carbons"), so that
// the other devices know where it is in the archive (Conversations reads it to sync).
import { clone, xml, type Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import type { JID } from "../../xml/jid.ts";
import { StanzaError } from "../../core/errors.ts";
import type { IqRequest } from "../../core/iq.ts";
import { defineModule } from "../../core/module.ts";
import { isAvailable, sessionKey, type Session } from "../../core/session.ts";
import { readdress } from "../../core/stanza.ts";
import { ARCHIVE } from "../mam/index.ts";
import { stanzaIdElement, stripForged } from "../mam/policy.ts";
import { carbonEligible, stripForgedCopies } from "./rules.ts";

/** The session enabled carbons; shared, so that other nodes of a cluster copy to it too. */
export const CARBONS_ENABLED = sessionKey<boolean>("carbons.enabled", { shared: true });

/**
 * The copy of `original` for `account`'s resources (§7, §8); readdress it to each of them.
 * `archived` is the id the account's archive gave a sent message: the forwarded copy carries it
 * as the archive's stanza-id (by the account's bare JID), any other by that JID removed.
 */
export function carbonCopy(kind: "sent" | "received", account: JID, original: Element, archived?: string): Element {
  const inner = clone(original);
  // The forwarded stanza keeps its own namespace inside <forwarded/> (XEP-0297 §3).
  inner.attrs.xmlns = NS.client;
  if (archived !== undefined) {
    const by = account.bare.toString();
    stripForged(inner, [by]);
    inner.append(stanzaIdElement(by, archived));
  }
  return xml("message", { from: account.bare.toString(), type: original.attrs.type },
    xml(kind, { xmlns: NS.carbons }, xml("forwarded", { xmlns: NS.forward }, inner)));
}

function hasServerDelay(stanza: Element, domain: string): boolean {
  return stanza.getChildren("delay", NS.delay).some((d) => d.attrs.from === domain);
}

export default defineModule({
  name: "carbons",
  specs: [{ spec: "XEP-0280", version: "1.0.1" }],
  setup(ctx) {
    const { sessions } = ctx;
    const enabled = (account: JID, except: (s: Session) => boolean) =>
      sessions.of(account).filter((s) => s.get(CARBONS_ENABLED) === true && !except(s));
    const copyTo = (targets: Session[], copy: Element) => {
      for (const s of targets) s.send(readdress(copy, s.jid.toString()));
    };

    ctx.feature(NS.carbons);
    const toggle = (on: boolean) => ({ origin, from, to }: IqRequest) => {
      // §4.1: not-allowed for a request that is not a local client's for itself.
      if (!origin || !from.bare.equals(to)) throw new StanzaError("not-allowed", "carbons are enabled by a resource for itself");
      origin.set(CARBONS_ENABLED, on ? true : undefined);
    };
    ctx.iq("account", NS.carbons, "enable", { set: toggle(true) });
    ctx.iq("account", NS.carbons, "disable", { set: toggle(false) });
    // XEP-0386: <enable/> inside a Bind 2 request turns copies on before anything reaches the
    // session ("As this operation MUST succeed, no response is necessary").
    ctx.inlineBind(NS.carbons, (session, el) => {
      if (el.getName() === "enable") session.set(CARBONS_ENABLED, true);
    });

    // §11: only the account itself sends copies (from its bare JID); anyone else's are taken out.
    ctx.handle("stanza/clean", ({ stanza, from, to }) => {
      if (stanza.name === "message" && !from.bare.equals(to.bare)) stripForgedCopies(stanza);
      return false;
    });

    // §8: last, so that a module refusing the message (blocking) stops it first, and the archive
    // (band late) has given it its id.
    ctx.handle("stanza/out", ({ stanza, origin }) => {
      // The sender's only session is the origin: nobody to copy to (and no list made per message).
      if (!origin || stanza.name !== "message" || !sessions.several(origin.jid) || !carbonEligible(stanza, "sent")) return false;
      const targets = enabled(origin.jid, (s) => s === origin);
      if (targets.length > 0) copyTo(targets, carbonCopy("sent", origin.jid, stanza, ctx.optional(ARCHIVE)?.sentId(stanza)));
      return false;
    }, "last");

    // §7: to the enabled resources the delivery did not reach.
    ctx.on("message/delivered", ({ stanza, from, to, targets }) => {
      // An account with one session that the delivery reached has no other to copy to.
      if (from.bare.equals(to.bare) || (targets.length > 0 && !sessions.several(to)) || !carbonEligible(stanza, "received")) return;
      const others = enabled(to, (s) => targets.includes(s));
      if (others.length > 0) copyTo(others, carbonCopy("received", to, stanza));
    });

    // A message a session never acknowledged before it ended (message/undelivered, band
    // "normal", between the archive and the offline store): a copy is dropped, the original went
    // elsewhere; a message another available enabled resource got a copy of stays with it. Not
    // one the offline store flushed (its delay from this server): no copies were made of those.
    ctx.handle("message/undelivered", ({ stanza, session }) => {
      const account = session.jid.bare;
      if (stanza.attrs.from === account.toString()) return true;
      if (hasServerDelay(stanza, account.domain) || !carbonEligible(stanza, "received")) return false;
      return enabled(account, (s) => s === session || !isAvailable(s)).length > 0;
    }, "normal");
  },
});
