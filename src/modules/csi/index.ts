// XEP-0352: Client State Indication. The feature is offered after authentication (§4.1); a
// bound stream says <inactive/> or <active/> (§4.2) and gets no reply. While inactive, the
// session's hold filter keeps back what inactive-queue.ts says is unimportant, newest only; anything else
// sends what was held first and then goes out itself. <active/> sends what was held.
//
// §5.1 (in-order processing): the stream hands nonzas to this handler in order with its stanzas,
// and the flush is synchronous, so a ping after <active/> is answered after the flushed stanzas.
// §5.2: a resumed stream starts active. While stream management keeps a session whose
// connection dropped, holding goes on (a phone asleep gets the newest presence of each contact
// on resumption, not every change it slept through; anything important still sends what was
// held into the resumption queue first, so order is kept); when the session is resumed, on a new
// connection or by taking over one the server had not seen die, what was held is sent after
// the resent stanzas and the session is active. A session that ends drops what it held:
// presence of its contacts and chat states mean nothing once it is gone (neither is kept
// offline either), and by then the session can no longer be written to.
import { xml } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { StreamError } from "../../core/errors.ts";
import { defineModule } from "../../core/module.ts";
import { int } from "../../core/schema.ts";
import { sessionKey, type Session } from "../../core/session.ts";
import { HeldStanzas } from "./inactive-queue.ts";
import { addHold, type Hold } from "../../core/session-holds.ts";

/** Set while the session is inactive: what it holds, and the hold on the session. */
const HELD = sessionKey<{ held: HeldStanzas; hold: Hold }>("csi.held");

export function inactive(session: Session, max: number): void {
  if (session.get(HELD)) return;
  let hold: Hold | undefined;
  const held = new HeldStanzas((s) => (hold ? hold.pass(s) : session.sendNow(s)), max);
  hold = addHold(session, (stanza) => held.offer(stanza));
  session.set(HELD, { held, hold });
}

export function active(session: Session): void {
  const state = session.get(HELD);
  if (!state) return;
  state.hold.remove();
  session.set(HELD, undefined);
  state.held.flush();
}

export default defineModule({
  name: "csi",
  specs: [{ spec: "XEP-0352", version: "1.0.0" }],
  options: {
    maxHeld: int("Stanzas held back for one inactive session; one more sends them all.", 500, 1, 100_000),
  },
  setup(ctx) {
    const { maxHeld } = ctx.options;
    ctx.fold("stream/features", (v) => {
      v.features.push(xml("csi", { xmlns: NS.csi }));
      return v;
    });
    ctx.streamElement(NS.csi, (session, el) => {
      if (el.name === "inactive") inactive(session, maxHeld);
      else if (el.name === "active") active(session);
      else throw new StreamError("unsupported-stanza-type", `{${NS.csi}}${el.name}`);
    });
    // XEP-0386: "If the client included a XEP-0352 <active/> or <inactive/> element, the session
    // must begin in that state" (a new session is active already).
    ctx.inlineBind(NS.csi, (session, el) => {
      if (el.getName() === "inactive") inactive(session, maxHeld);
    });
    ctx.on("session/resumed", (session) => active(session));
    ctx.on("session/closed", ({ session }) => {
      const state = session.get(HELD);
      state?.held.clear();
      state?.hold.remove();
      session.set(HELD, undefined);
    });
    ctx.onUnload(() => {
      for (const s of ctx.sessions.all()) active(s);
    });
  },
});
