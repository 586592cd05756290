// XEP-0160: Best Practices for Handling Offline Messages. A message no session can take is stored
// (policy.ts says which), durably before the sender's stanza counts as handled, with a XEP-0203
// delay; when a resource next sends available presence of non-negative priority (§2 step 5,
// initial presence or a priority raised from below zero) the stored messages go to it, in order,
// and are removed. Senders to a full queue get <service-unavailable/> (§2 step 3). Messages wait
// `expireDays` at most. XEP-0013 (flexible retrieval) is not offered: the clients in use drain
// the queue at login and catch up from the archive (see xeps/xep-0160.json).
//
// Order, with concurrency. Per account, storing and flushing take turns (a keyed lock), so a
// flush sees every message stored before it, two resources coming online together never both
// get a message, and a message stored while a flush runs comes after it. A resource that
// announces itself is available at once, so messages routed to it directly during its flush are
// held (flush-hold.ts) and written after the stored ones. A message whose targets were reckoned before
// a resource came online, and that reaches the store after that resource's flush, is delivered
// to it directly instead of waiting for the next login. In a cluster the turn is the account's
// across the nodes (SessionDirectory.exclusive: a Redis lock, src/cluster/), and a message stored
// in it is committed before it ends: the next holder may be another node, reading the store.
import type { Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { StanzaError } from "../../core/errors.ts";
import type { MessageDelivery, StanzaEvent } from "../../core/events.ts";
import { defineModule } from "../../core/module.ts";
import { int } from "../../core/schema.ts";
import { isAvailable, type Session } from "../../core/session.ts";
import { KeyedLock } from "../../core/keyed-lock.ts";
import { parseClientPresence } from "../presence/parse.ts";
import { ARCHIVE_QUERIED } from "../mam/iq.ts";
import { holdMessages, type MessageHold } from "./flush-hold.ts";
import { offlineRule } from "./policy.ts";
import { OFFLINE_STORE, OfflineQueue, type Delivery } from "./queue.ts";

export default defineModule({
  name: "offline",
  specs: [
    { spec: "XEP-0160", version: "1.0.1" },
    { spec: "XEP-0203", version: "2.0" },
    { spec: "XEP-0334", version: "1.0.0" },
    { spec: "XEP-0085", version: "2.1" },
    { spec: "XEP-0184", version: "1.4.0" },
    { spec: "XEP-0333", version: "1.0.0" },
  ],
  // The flush follows the presence module's handling of available presence.
  depends: ["presence"],
  options: {
    expireDays: int("Days a stored message waits for its recipient before it is deleted (0: until delivered).", 30, 0),
    quota: int("Messages one account may have waiting; senders beyond it get <service-unavailable/>.", 5000, 1),
    sweepSeconds: int("Seconds between deletions of expired messages.", 3600, 1),
  },
  setup(ctx) {
    const queue = new OfflineQueue(ctx.logStore(OFFLINE_STORE), ctx.ids, ctx.options);
    const turns = new KeyedLock();
    const counts = ctx.offlineCounts;
    /** Sessions whose stored messages are due (they announced themselves), with their hold. */
    const due = new WeakMap<Session, MessageHold>();
    if (ctx.options.quota > ctx.settings.sm.maxQueue) {
      ctx.log.warn({ quota: ctx.options.quota, maxQueue: ctx.settings.sm.maxQueue }, "offline quota above sm.maxQueue: a full queue flushed at once can end a session");
    }

    ctx.feature(NS.offline);

    // The router's step for a message no session took: its account checked once (MessageDelivery.accountExists).
    ctx.handle("message/offline", async (d) => {
      const rule = offlineRule(d.stanza);
      if (rule === "drop") return true;
      if (rule === "bounce" || !(await d.accountExists())) return false;
      const owner = d.to.bare.toString();
      const started = performance.now();
      counts.pending++;
      const done = () => {
        counts.pending--;
        counts.writes.observe((performance.now() - started) / 1000);
      };
      let written: Promise<void> | undefined;
      try {
        written = (await turns.run(owner, () => ctx.sessions.exclusive(owner, () => storeOrDeliver(d, owner))))?.written;
      } catch (e) {
        done();
        throw e;
      }
      if (written === undefined) {
        done();
        return true;
      }
      // The sender's next message need not wait for this one's commit: the ack waits for it instead.
      if (ctx.delivery.mayDefer(d)) {
        d.durability!.require(written.then(done, (e: unknown) => {
          done();
          return ctx.delivery.deferredFailed(d, e);
        }));
        return true;
      }
      try {
        await written;
      } finally {
        done();
      }
      return true;
    });

    /**
     * Within the owner's turn: stores the message, unless a session can take it by now. When all
     * its targets are still due it is stored (their flush comes next and keeps the order); when
     * one of them has been flushed already, the router writes it to them all, as it would have.
     * In a cluster the turn is the account's across the nodes and the targets are as the shared
     * directory has them: a resource that came online on another node and flushes there either
     * flushed before (this message goes to it, behind its hold if its flush is still writing) or
     * flushes after, and finds this message stored.
     */
    /** Delivered (undefined), or the store's write on its way (in an object: a promise resolving to a promise would wait for it). */
    async function storeOrDeliver(d: MessageDelivery, owner: string): Promise<{ written: Promise<void> } | undefined> {
      const targets = ctx.delivery.messageTargets(d.to, false);
      if (targets.some((s) => !due.has(s)) && (await ctx.delivery.writeMessage({ ...d, targets }))) return undefined;
      const added = await queue.add(owner, d.stanza, d.from.toString());
      if (!added) {
        counts.refused++;
        throw new StanzaError("service-unavailable", "the recipient's offline storage is full");
      }
      counts.stored++;
      // A flush on another node waits only for what it can see committed (OfflineQueue.written is
      // this process's): across nodes the write lands within the turn, or a flush that takes the
      // turn next would deliver the messages stored after it and leave it for the next login.
      if (ctx.sessions.shared) await added.written;
      return added;
    }

    // Before the presence module makes the session available: from here its messages wait for the flush.
    ctx.handle("presence/broadcast", (ev) => {
      const s = ev.origin;
      if (s && !due.has(s) && raisesToNonNegative(s, ev)) due.set(s, holdMessages(s));
      return false;
    }, "first");
    ctx.on("presence/initial", (session) => flushIfDue(session));
    // A session resumed (XEP-0198) is reachable again: what was stored while it waited with a full
    // queue (Session.full) follows what the queue resent.
    ctx.on("session/resumed", (session) => {
      if (!due.has(session)) due.set(session, holdMessages(session));
      return flushIfDue(session);
    });
    // A priority raised from below zero is no initial presence; after the presence module either way.
    ctx.handle("presence/broadcast", async (ev) => {
      if (ev.origin) await flushIfDue(ev.origin);
      return false;
    }, "last");

    async function flushIfDue(session: Session): Promise<void> {
      const hold = due.get(session);
      if (!hold) return;
      due.delete(session);
      const owner = session.jid.bare.toString();
      const live = () => ctx.sessions.get(session.jid) === session;
      const left = await turns.run(owner, () => ctx.sessions.exclusive(owner, async () => {
        let held: Element[] = [];
        try {
          if (isAvailable(session) && session.priority >= 0) {
            const write = (text: string, parsed: Element | undefined): Delivery =>
              !live() ? "gone" : hold.passSerialized(text, parsed) ? "sent" : "unreadable";
            // At the pace the client takes them (Session.writable): the flush does not fill its queue in one go.
            const n = await queue.flush(owner, (text, parsed) => {
              const room = session.writable?.() ?? true;
              if (room === true) return write(text, parsed);
              if (room === false) return "gone";
              return room.then((ok) => (ok ? write(text, parsed) : "gone"));
            }, session.get(ARCHIVE_QUERIED) === true);
            counts.delivered += n;
            if (n > 0) session.log.debug({ messages: n }, "offline messages delivered");
          }
        } finally {
          // Written within the turn, so that a message this account's turn delivers next comes after them.
          held = hold.release();
          let i = 0;
          for (; i < held.length && live(); i++) session.send(held[i]!);
          held = held.slice(i);
        }
        return held;
      }));
      await undelivered(session, left);
    }

    /** Messages written to a session that ended before it could take them: as if it never acked them. */
    async function undelivered(session: Session, stanzas: Element[]): Promise<void> {
      for (const stanza of stanzas) await ctx.delivery.undelivered(stanza, session);
    }
    // A session that ends while its presence is being handled still has its hold.
    ctx.on("session/closed", async ({ session }) => {
      const hold = due.get(session);
      if (!hold) return;
      due.delete(session);
      await undelivered(session, hold.release());
    });

    // Band "late", after the archive and carbons had their say (the shared policy for undelivered messages).
    ctx.handle("message/undelivered", async ({ stanza, session }) => {
      if (stanza.attrs.from === session.jid.bare.toString()) return true; // a carbon copy: the original went elsewhere
      // What the store would not keep: dropped (chat states, headlines), else left to the router
      // (groupchat dropped, a no-store message bounced to its sender).
      const rule = offlineRule(stanza);
      if (rule !== "store") return rule === "drop";
      // The session is no longer registered: by RFC 6121 rules this reaches another resource or the store.
      await ctx.delivery.reroute(stanza);
      return true;
    }, "late");

    ctx.every(ctx.options.sweepSeconds * 1000, () => {
      queue.sweep().then(
        (n) => n > 0 && ctx.log.info({ expired: n }, "expired offline messages deleted"),
        (e: unknown) => ctx.log.error({ err: e }, "offline sweep failed"),
      );
    });
    ctx.on("account/deleted", ({ jid }) => queue.forget(jid.bare.toString()));
  },
});

/** Available presence of non-negative priority from a session that was unavailable or below zero. */
function raisesToNonNegative(s: Session, ev: StanzaEvent): boolean {
  if (ev.stanza.attrs.type !== undefined) return false;
  if (isAvailable(s) && s.priority >= 0) return false;
  let priority: number;
  try {
    priority = parseClientPresence(ev.stanza).priority;
  } catch {
    return false; // the presence module answers it with bad-request
  }
  return priority >= 0;
}
