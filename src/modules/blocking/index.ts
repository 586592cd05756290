// XEP-0191: Blocking Command. Each account keeps a list of blocked JIDs (lists.ts), matched by
// the rules of §6 (match.ts). The module answers the three commands and enforces the list on
// every stanza to or from the account.
//
// Rules chosen (sections of XEP-0191 1.3):
// - §3.1: urn:xmpp:blocking on the server's disco#info (the client asks its server; the XEP
//   defines no account feature).
// - §3.2: <blocklist/> from the account itself only (others get forbidden); the asking resource
//   becomes "interested" and gets the pushes of §3.3-§3.5, as do all other interested resources,
//   the one that made the change included. Pushes carry only what changed.
// - §3.3: an empty <block/> is bad-request; an item without jid is bad-request, an invalid one
//   jid-malformed; more than maxItems on the list is resource-constraint.
// - §3.3, inbound (hook stanza/in, band first): from a blocked JID, presence of any type is dropped
//   without an answer (so probes learn nothing), messages get service-unavailable (errors are
//   dropped), iq get/set get service-unavailable and iq result/error are dropped. The blocked
//   JID sees the account as offline.
// - §3.3, outbound (hook stanza/out, band first): a stanza a client of the account sends to a
//   blocked JID is not routed; it gets not-acceptable (type cancel) with <blocked
//   xmlns='urn:xmpp:blocking:errors'/>. Stanzas to the account's own server (to='domain') are
//   never blocked, so that blocking one's own domain cannot cut a client off its server.
//   Presence the server sends for the account (broadcasts, probe answers, unavailable when a
//   session ends) to a blocked local JID is dropped as well: the blocked JID cannot see it.
// - §5: an account's own resources are never blocked from each other.
// - §3.3/§3.4/§3.5 presence on block and unblock: presence.ts. Subscriptions are kept ("polite
//   blocking", §4).
import { xml, type Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { type JID, tryParseJid } from "../../xml/jid.ts";
import { StanzaError } from "../../core/errors.ts";
import type { StanzaEvent } from "../../core/events.ts";
import type { IqRequest } from "../../core/iq.ts";
import { defineModule } from "../../core/module.ts";
import { int } from "../../core/schema.ts";
import { sessionKey } from "../../core/session.ts";
import { ROSTER } from "../roster/service.ts";
import { BLOCKLIST_STORE, Blocklists } from "./lists.ts";
import { blocks, parseItems } from "./match.ts";
import { afterBlock, afterUnblock, type PresenceEffects } from "./presence.ts";

/** The session asked for the blocklist (§3.2) and gets block and unblock pushes. */
const INTERESTED = sessionKey<boolean>("blocking.interested");

let pushes = 0;

/** §3.3: what an inbound stanza from a blocked JID gets. True: dropped; a throw: the error reply. */
export function refuse(stanza: Element): true {
  const type = stanza.attrs.type;
  if (stanza.name === "presence" || type === "error") return true;
  if (stanza.name === "iq" && type !== "get" && type !== "set") return true;
  throw new StanzaError("service-unavailable");
}

export const blockedError = () => new StanzaError("not-acceptable", undefined, { type: "cancel", extra: xml("blocked", { xmlns: NS.blockingErrors }) });

function own(req: IqRequest): string {
  if (!req.from.bare.equals(req.to.bare)) throw new StanzaError("forbidden", "a blocklist belongs to its account only");
  return req.to.bare.toString();
}

const itemsOf = (jids: readonly string[]) => jids.map((jid) => xml("item", { jid }));

export default defineModule({
  name: "blocking",
  specs: [{ spec: "XEP-0191", version: "1.3" }],
  depends: ["roster"],
  options: {
    maxItems: int("JIDs one account may block; more is refused with resource-constraint.", 1000, 1),
  },
  setup(ctx) {
    const { maxItems } = ctx.options;
    const hosted = (d: string) => ctx.hosts.has(d);
    const lists = new Blocklists(ctx.map<number>(BLOCKLIST_STORE));
    /** Stanzas this module sends that its own filter lets through (the unavailable presence of a block). */
    const exempt = new WeakSet<Element>();
    const effects: PresenceEffects = {
      sessions: ctx.sessions,
      send: ctx.send,
      roster: ctx.use(ROSTER),
      route: (stanza) => {
        exempt.add(stanza);
        return ctx.send(stanza);
      },
    };

    function push(owner: JID, command: "block" | "unblock", jids: readonly string[]): void {
      for (const s of ctx.sessions.of(owner)) {
        if (!s.get(INTERESTED)) continue;
        s.send(xml("iq", { type: "set", id: `block${(++pushes).toString(36)}`, to: s.jid.toString() },
          xml(command, { xmlns: NS.blocking }, itemsOf(jids))));
      }
    }

    function commandItems(req: IqRequest): JID[] {
      const items = parseItems(req.payload, maxItems);
      if (items instanceof StanzaError) throw items;
      return items;
    }

    ctx.feature(NS.blocking);
    ctx.iq("account", NS.blocking, "blocklist", {
      get: async (req) => {
        const owner = own(req);
        req.origin?.set(INTERESTED, true);
        return xml("blocklist", { xmlns: NS.blocking }, itemsOf(await lists.items(owner)));
      },
    });
    ctx.iq("account", NS.blocking, "block", {
      set: async (req) => {
        const owner = own(req);
        const items = commandItems(req);
        if (items.length === 0) throw new StanzaError("bad-request", "block at least one JID");
        const added = await lists.add(owner, items.map(String), maxItems);
        if (added === "full") throw new StanzaError("resource-constraint", `at most ${maxItems} blocked JIDs`);
        if (added.length === 0) return;
        push(req.to.bare, "block", added);
        const set = new Set(added);
        await afterBlock(effects, req.to.bare, items.filter((j) => set.has(j.toString())));
      },
    });
    ctx.iq("account", NS.blocking, "unblock", {
      set: async (req) => {
        const owner = own(req);
        const items = commandItems(req);
        // §3.5: an <unblock/> without items unblocks everyone.
        const removed = await lists.remove(owner, items.length ? items.map(String) : undefined);
        if (removed.length === 0) return;
        push(req.to.bare, "unblock", items.length ? removed : []);
        const set = new Set(removed);
        const jids = items.length ? items.filter((j) => set.has(j.toString())) : removed.map((j) => tryParseJid(j));
        await afterUnblock(effects, req.to.bare, jids.filter((j) => j !== undefined));
      },
    });

    /** Synchronous when the lists it needs are cached: rooms ask it for every occupant of a fan-out. */
    function inbound(ev: StanzaEvent): boolean | Promise<boolean> {
      const { stanza, from, to } = ev;
      if (from.bare.equals(to.bare) || exempt.has(stanza)) return false;
      const owner = to.bare.toString();
      const mine = lists.peek(owner);
      if (!mine) return lists.get(owner).then(() => inbound(ev));
      if (blocks(mine, from)) return refuse(stanza);
      // Presence the server sends on behalf of a local account to a JID that account blocked.
      if (!ev.origin && stanza.name === "presence" && stanza.attrs.type !== "error" && from.local !== "" && hosted(from.domain)) {
        const theirs = lists.peek(from.bare.toString());
        return theirs ? blocks(theirs, to) : lists.get(from.bare.toString()).then((l) => blocks(l, to));
      }
      return false;
    }

    async function outbound(ev: StanzaEvent): Promise<boolean> {
      const { to, origin } = ev;
      if (!origin || to.bare.equals(origin.jid.bare)) return false;
      if (to.local === "" && to.resource === "" && hosted(to.domain)) return false;
      if (blocks(await lists.get(origin.jid.bare.toString()), to)) throw blockedError();
      return false;
    }

    ctx.handle("stanza/in", inbound, "first");
    ctx.handle("stanza/out", outbound, "first");
    ctx.on("account/deleted", ({ jid }) => lists.forget(jid.bare.toString()));
  },
});
