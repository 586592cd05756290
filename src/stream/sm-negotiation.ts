// Stream management (XEP-0198) on a client stream: <enable/> and <enabled/> (§3), <r/> and <a/>
// (§4), <resume/> and <resumed/> (§5), and the <failed/> answers. The counters and the queue are
// the session's (sm.ts, client-session.ts); this is what the elements do with them, and how a
// stream takes a session over: a session of this node, detached or not yet noticed dead, or one
// that another node of a cluster hands over. SASL2 and Bind 2 (XEP-0388, XEP-0386) carry <resume/>
// and <enable/> inline (XEP-0198 §SASL2 and BIND2 interaction): the answers are then elements of
// the SASL2 <success/>, which is why they are built here and written by the caller.
import { xml, type Element } from "../xml/element.ts";
import type { JID } from "../xml/jid.ts";
import { NS } from "../xml/ns.ts";
import { StreamError } from "../core/errors.ts";
import { ClientSession, type SessionStream } from "./client-session.ts";
import type { StreamContext } from "./context.ts";
import { parseH, type SessionTransfer } from "./sm.ts";

/** How long a resumption waits for the old stream's stanza in hand and the writes of what it handled; past it, the resumption fails. */
const SETTLE_MS = 10_000;

/** What stream management needs of the stream it runs on. */
export interface SmStream extends SessionStream {
  /** The account that authenticated on the stream. */
  readonly account: JID | undefined;
  /** Authenticated, and neither bound nor resumed yet: a <resume/> may still give it a session. */
  readonly awaitingBind: boolean;
  /** From now on the stream carries `session` (resumed instead of bound). */
  bindTo(session: ClientSession): void;
}

/** An element in the XEP-0198 namespace on a bound stream. */
export function smElement(stream: SmStream, session: ClientSession, el: Element): void {
  switch (el.name) {
    case "enable":
      return enable(stream, session, el);
    case "r":
      return answer(stream, session);
    case "a":
      if (!session.sm) return smFailed(stream, "unexpected-request");
      return applyAck(session, el.attrs.h);
    case "resume":
      return smFailed(stream, "unexpected-request");
    default:
      throw new StreamError("unsupported-stanza-type", `{${NS.sm}}${el.name}`);
  }
}

export function smFailed(stream: SessionStream, condition: string, h?: number): void {
  stream.write(failedElement(condition, h).toString());
}

function failedElement(condition: string, h?: number): Element {
  const attrs: Record<string, string> = { xmlns: NS.sm };
  if (h !== undefined) attrs.h = String(h);
  return xml("failed", attrs, xml(condition, { xmlns: NS.stanzas }));
}

/** <enable/> (§3): once per session, resumable if the client asks. */
function enable(stream: SmStream, session: ClientSession, el: Element): void {
  stream.write(enabling(session, el).toString());
}

/** Stream management on for `session` as <enable/> asks: the <enabled/> (or <failed/>) to answer with. */
export function enabling(session: ClientSession, el: Element): Element {
  if (session.sm) return failedElement("unexpected-request");
  const resume = el.attrs.resume === "true" || el.attrs.resume === "1";
  const max = parseH(el.attrs.max);
  const sm = session.enableSm(resume, max === 0 ? undefined : max);
  const attrs: Record<string, string> = { xmlns: NS.sm };
  if (sm.token !== undefined) Object.assign(attrs, { id: sm.token, resume: "true", max: String(session.resumeTimeout()) });
  session.note("debug", { resume }, "stream management enabled");
  return xml("enabled", attrs);
}

/** The client's <r/> (§4): <a/> with the stanzas handled, once the writes of those before it settled. */
function answer(stream: SmStream, session: ClientSession): void {
  const sm = session.sm;
  if (!sm) return smFailed(stream, "unexpected-request");
  const write = () => {
    if (session.sm === sm && session.stream === stream) stream.write(`<a xmlns='${NS.sm}' h='${sm.handled}'/>`);
  };
  if (sm.durable) void sm.durable.then(write);
  else write();
}

/** The client's <a h/>: drop what it has; an h beyond what was sent ends the stream (§4). */
function applyAck(session: ClientSession, value: string | undefined): void {
  const sm = session.sm!;
  const h = parseH(value);
  if (h === undefined) throw new StreamError("bad-format", "h must be an unsigned 32-bit integer");
  if (!sm.acknowledge(h)) {
    const err = new StreamError("undefined-condition", `the client acknowledged ${h} stanzas but ${sm.sent} were sent`);
    err.extra = xml("handled-count-too-high", { xmlns: NS.sm, h: String(h), "send-count": String(sm.sent) });
    throw err;
  }
}

/**
 * How the outcome of a <resume/> reaches the client: as an element of its own (§5), or inside
 * SASL2's <success/>, where a failure is one element among others and binding goes on.
 */
export interface ResumeAnswer {
  /** Writes <resumed/> (the stanzas to resend follow it); `session` is the resumed one. */
  resumed(el: Element, session: ClientSession): void;
  failed(el: Element): void;
}

/** <resume previd h/> on a freshly authenticated stream (§5); resolves to whether the session was resumed. */
export async function resume(stream: SmStream, el: Element, ctx: StreamContext, answer?: ResumeAnswer): Promise<boolean> {
  let done = false;
  const to: ResumeAnswer = {
    resumed: (r, session) => {
      done = true;
      if (answer) answer.resumed(r, session);
      else stream.write(r.toString());
    },
    failed: (f) => (answer ? answer.failed(f) : stream.write(f.toString())),
  };
  await resumeWith(stream, el, ctx, to);
  return done;
}

async function resumeWith(stream: SmStream, el: Element, ctx: StreamContext, answer: ResumeAnswer): Promise<void> {
  const previd = el.attrs.previd;
  const old = ctx.resumption.get(previd ?? "");
  const h = parseH(el.attrs.h);
  if (h === undefined) return answer.failed(failedElement("bad-request"));
  const account = stream.account!;
  const claim = ctx.resumption.claim;
  if (!old && claim !== undefined && previd) {
    // A cluster: the session may be on another node, which hands it over to this stream.
    const r = await claim.call(ctx.resumption, previd, account.bare.toString(), h, (t) => adopt(stream, t, ctx, answer));
    if (r.kind === "not-found") answer.failed(failedElement("item-not-found"));
    else if (r.kind === "h-too-high") answer.failed(failedElement("undefined-condition", r.sent));
    return;
  }
  if (!old || old.closed || !old.jid.bare.equals(account.bare)) return answer.failed(failedElement("item-not-found"));
  // The h we report must count every stanza the server has handled, and none it will handle
  // later: the client sends again what h leaves out.
  if (!(await old.quiesce(SETTLE_MS)) || old.closed || !stream.awaitingBind) {
    old.resumptionFailed();
    return answer.failed(failedElement("item-not-found"));
  }
  takeOver(stream, old, h, ctx, answer);
}

/** A session of this node goes on over `stream`, which resumed it. */
function takeOver(stream: SmStream, session: ClientSession, h: number, ctx: StreamContext, answer: ResumeAnswer): void {
  const sm = session.sm!;
  if (!sm.ack(h)) {
    session.resumptionFailed();
    return answer.failed(failedElement("undefined-condition", sm.sent));
  }
  session.attach(stream);
  stream.bindTo(session);
  const resent = resumed(stream, session, sm.token!, answer);
  session.note("info", { resent, conn: stream.id }, "session resumed");
  void ctx.events.notify("session/resumed", session, (e) => session.log.error({ err: e }, "session/resumed listener failed"));
}

/** A cluster: the session another node handed over becomes this stream's, or waits detached if the stream is gone meanwhile. */
function adopt(stream: SmStream, t: SessionTransfer, ctx: StreamContext, answer: ResumeAnswer): void {
  const session = ClientSession.restore(ctx, t, stream);
  const replaced = ctx.sessions.add(session);
  if (replaced && replaced !== session) replaced.close(new StreamError("conflict", "replaced by a resumed session with the same resource"));
  ctx.resumption.add(t.token, session);
  if (stream.awaitingBind) {
    session.attach(stream);
    stream.bindTo(session);
    const resent = resumed(stream, session, t.token, answer);
    session.note("info", { resent }, "session resumed from another node");
  } else session.detach("the connection dropped while the session moved here");
  void ctx.events.notify("session/resumed", session, (e) => session.log.error({ err: e }, "session/resumed listener failed"));
}

/** <resumed/>, then what the client never acknowledged, in order, and a request for its ack; returns how many were resent. */
function resumed(stream: SmStream, session: ClientSession, previd: string, answer: ResumeAnswer): number {
  const sm = session.sm!;
  const pending = sm.pending();
  answer.resumed(xml("resumed", { xmlns: NS.sm, h: String(sm.handled), previd }), session);
  for (const text of pending) stream.write(text);
  if (pending.length) session.requestAck();
  return pending.length;
}
