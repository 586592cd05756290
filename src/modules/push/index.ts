// XEP-0357: Push Notifications. A client registers its app server's push service (§5) and
// unregisters it (§6); the registrations are kept per account, keyed by service JID and node.
// When a message the account would want to be woken for reaches no live session, the server
// publishes a summary to every registration (§7), at most once per registration per
// `minInterval` (batch.ts): messages in between are summed into the next push.
//
// Choices (sections of XEP-0357 0.4.1):
// - §4.1: urn:xmpp:push:0 on the account's disco#info (the client asks its own bare JID).
// - §5/§6: enable and disable from the account itself only (forbidden otherwise); a missing jid
//   is bad-request, an invalid one jid-malformed; a publish-options form of another FORM_TYPE is
//   bad-request. Enabling the same JID and node again replaces its publish options (§5).
//   Disabling what is not enabled is a success. The session that enabled push is marked
//   (PUSH_ENABLED) and waits config.sm.pushResumeTimeout to be resumed instead of
//   sm.resumeTimeout: a phone asleep is woken by the push and resumes its session.
// - Triggers: a message delivered only to detached sessions (XEP-0198, hook message/delivered),
//   one no session could take (hook message/offline, band early, returning false so that the
//   offline store still keeps it), and the messages a push-enabled session had not acknowledged
//   when its connection dropped (hook session/detached): they will be resent on resumption, but
//   only if the phone wakes up. A call (XEP-0353 <propose/>, notification.ts) is urgent: it
//   pushes when any session it reached is detached (the phone asleep must ring too, while the
//   desktop rings), at once, past the window, with last-message-priority "high".
// - §7: the publish goes from the server's domain (so that the reply comes back to the router's
//   request table) with message-count (messages since the previous push), last-message-sender,
//   and last-message-body only when modules.push.includeBody is set (§9: bodies pass through
//   third parties; off by default).
// - §7.1: an error reply disables the registration, unless its type is "wait" (a transient
//   error, as Prosody also treats it). A timeout does not either: the next message tries again.
import type { Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { type JID, parseJid, tryParseJid } from "../../xml/jid.ts";
import { StanzaError } from "../../core/errors.ts";
import type { IqRequest } from "../../core/iq.ts";
import { defineModule } from "../../core/module.ts";
import { bool, int } from "../../core/schema.ts";
import { RESUME_TIMEOUT, sessionKey, type Session } from "../../core/session.ts";
import { Batcher } from "./batch.ts";
import { publishIq, pushworthy, urgent, type Summary } from "./notification.ts";
import { parseDisable, parseEnable, registrationKey, type PushRegistration } from "./parse.ts";
import { PUSH } from "./service.ts";

/** The session registered for push notifications and may sleep for long. */
const PUSH_ENABLED = sessionKey<boolean>("push.enabled");

/** The registrations a session enabled (their keys). */
const ENABLED_HERE = sessionKey<Set<string>>("push.keys");

interface Target { owner: string; key: string }

function own(req: IqRequest): string {
  if (!req.from.bare.equals(req.to.bare)) throw new StanzaError("forbidden", "push registrations belong to their account only");
  return req.to.bare.toString();
}

export default defineModule({
  name: "push",
  specs: [{ spec: "XEP-0357", version: "0.4.1" }],
  options: {
    minInterval: int("Seconds between two pushes to one registration; messages in between are summed into the next push.", 10, 0),
    timeout: int("Seconds to wait for the app server to answer a publish.", 30, 1),
    includeBody: bool("Put the last message's body in the notification. It passes through the app server and the phone vendor's push service.", false),
    maxRegistrations: int("Push registrations (service JID and node) one account may hold.", 16, 1),
  },
  setup(ctx) {
    const o = ctx.options;
    const store = ctx.map<PushRegistration>("push");
    const batcher = new Batcher<Target>(o.minInterval * 1000, (target, summary) => void publish(target, summary));
    const batchKey = (t: Target) => `${t.owner}\n${t.key}`;

    function mark(session: Session, key: string): void {
      const keys = session.get(ENABLED_HERE) ?? new Set<string>();
      keys.add(key);
      session.set(ENABLED_HERE, keys);
      session.set(PUSH_ENABLED, true);
      session.set(RESUME_TIMEOUT, ctx.settings.sm.pushResumeTimeout);
    }

    /** Registrations gone: sessions that enabled only those go back to the normal resumption wait. */
    async function remove(owner: string, keys: string[]): Promise<void> {
      for (const key of keys) {
        await store.set(owner, key, undefined);
        batcher.drop(batchKey({ owner, key }));
      }
      for (const s of ctx.sessions.of(parseJid(owner))) {
        const mine = s.get(ENABLED_HERE);
        if (!mine) continue;
        for (const key of keys) mine.delete(key);
        if (mine.size > 0) continue;
        s.set(ENABLED_HERE, undefined);
        s.set(PUSH_ENABLED, undefined);
        s.set(RESUME_TIMEOUT, undefined);
      }
    }

    async function publish(target: Target, summary: Summary): Promise<void> {
      const reg = await store.get(target.owner, target.key);
      if (!reg) return;
      try {
        // From the account's own server (its host, when the server has several), as the app server registered it.
        const iq = publishIq(reg, summary, o.includeBody);
        const host = tryParseJid(target.owner)?.domain;
        if (host !== undefined) iq.attrs.from ??= host;
        await ctx.request(iq, o.timeout * 1000);
      } catch (e) {
        if (e instanceof StanzaError && e.type === "wait") {
          ctx.log.info({ account: target.owner, service: reg.jid, condition: e.condition }, "push service did not take the publish for now");
          return;
        }
        ctx.log.info({ account: target.owner, service: reg.jid, node: reg.node, err: String(e) }, "push service refused a publish: registration disabled");
        await remove(target.owner, [target.key]);
      }
    }

    /** `count` pushworthy messages for the account, the last of them `last`; pushed at once when `now` (urgent). */
    async function notify(account: JID, count: number, last: Element, now = false): Promise<void> {
      const owner = account.bare.toString();
      const regs = await store.getAll(owner);
      const sender = last.attrs.from ?? "";
      const body = last.getChildText("body") ?? undefined;
      for (const key of regs.keys()) {
        const target = { owner, key };
        if (now) batcher.urgent(batchKey(target), target, count, sender, body);
        else batcher.add(batchKey(target), target, count, sender, body);
      }
    }

    const later = (p: Promise<void>) => void p.catch((e: unknown) => ctx.log.error({ err: e }, "push failed"));

    // Rooms wake their members who are away (muc: members-only persistent rooms).
    ctx.provide(PUSH, { notify: (account, message) => later(notify(account, 1, message)) });

    ctx.accountFeature(NS.push);
    ctx.iq("account", NS.push, "enable", {
      set: async (req) => {
        const owner = own(req);
        const reg = parseEnable(req.payload);
        const key = registrationKey(reg.jid, reg.node);
        const all = await store.getAll(owner);
        if (!all.has(key) && all.size >= o.maxRegistrations) throw new StanzaError("resource-constraint", `at most ${o.maxRegistrations} push registrations`);
        await store.set(owner, key, reg);
        if (req.origin) mark(req.origin, key);
      },
    });
    ctx.iq("account", NS.push, "disable", {
      set: async (req) => {
        const owner = own(req);
        const { jid, node } = parseDisable(req.payload);
        const keys = [...(await store.getAll(owner))].filter(([, r]) => r.jid === jid && (node === undefined || r.node === node)).map(([k]) => k);
        await remove(owner, keys);
      },
    });

    ctx.on("message/delivered", (d) => {
      if (d.targets.length === 0 || !pushworthy(d.stanza)) return;
      const now = urgent(d.stanza);
      if (now ? d.targets.some((s) => s.detached) : d.targets.every((s) => s.detached)) later(notify(d.to, 1, d.stanza, now));
    });
    ctx.handle("message/offline", (d) => {
      if (pushworthy(d.stanza)) later(notify(d.to, 1, d.stanza, urgent(d.stanza)));
      return false;
    }, "early");
    ctx.on("session/detached", ({ session, unacked }) => {
      if (!session.get(PUSH_ENABLED)) return;
      const waiting = unacked().filter(pushworthy);
      const last = waiting.at(-1);
      if (last) later(notify(session.jid, waiting.length, last, waiting.some(urgent)));
    });
    // A deleted account's registrations went with its data: a window still open finds none and sends nothing.
    ctx.onUnload(() => batcher.clear());
  },
});
