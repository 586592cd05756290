// The client stream and its session over an in-memory transport: no sockets, no storage, no
// modules; the router's default delivery between two sessions of this node.
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { Element } from "../xml/element.ts";
import { parseJid } from "../xml/jid.ts";
import { NS } from "../xml/ns.ts";
import { StreamParser } from "../xml/parser.ts";
import { serverSchema } from "../core/config.ts";
import { StreamError } from "../core/errors.ts";
import { Events } from "../core/events.ts";
import { createLogger } from "../core/log.ts";
import { Router } from "../core/router.ts";
import { parseShape } from "../core/schema.ts";
import { BacklogLedger } from "./backlog.ts";
import { SessionDirectory } from "../core/session.ts";
import type { Transport, TransportEvents } from "../transports/transport.ts";
import { C2SStream } from "./c2s.ts";
import { ClientSession } from "./client-session.ts";
import type { OpenStream, StreamContext } from "./context.ts";
import { UnknownUsers, deriveCredentials, type Credentials } from "../core/credentials.ts";
import { LocalLoginThrottle } from "./login-throttle.ts";
import { LocalResumption, type SessionTransfer } from "./sm.ts";

const HEADER = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>";
const isSm = (name: string) => (e: Element) => e.attrs.xmlns === NS.sm && e.name === name;
const chat = (to: string, body: string) => `<message to='${to}' type='chat'><body>${body}</body></message>`;

/** A transport in memory: what the server writes is read back with the server's own parser. */
class FakeTransport implements Transport {
  readonly remoteAddress = "192.0.2.7";
  readonly secure = true;
  readonly canStartTls = false;
  buffered = 0;
  ended = false;
  /** Every write, as written. */
  readonly written: string[] = [];
  /** Elements read from the writes and not yet taken by next(). */
  readonly inbox: Element[] = [];
  headers = 0;
  streamEnded = false;
  private events: TransportEvents | undefined;
  private parser: StreamParser | undefined;

  attach(events: TransportEvents): void {
    this.events = events;
  }
  write(data: string): void {
    this.written.push(data);
    if (data.startsWith("<?xml")) {
      this.headers++;
      this.parser = new StreamParser({
        streamStart() {},
        stanza: (el) => void this.inbox.push(el),
        streamEnd: () => void (this.streamEnded = true),
        error: (condition, text) => {
          throw new Error(`the server wrote bad XML: ${condition} ${text}`);
        },
      }, { maxStanzaSize: 1 << 20, maxDepth: 100, maxAttributes: 100, maxNameLength: 100 });
    }
    this.parser!.write(data);
  }
  startTls(): Promise<void> {
    return Promise.reject(new Error("no TLS here"));
  }
  channelBinding() {
    return undefined;
  }
  pause(): void {}
  resume(): void {}
  end(): void {
    this.ended = true;
  }

  /** The client sends text. */
  send(text: string): void {
    this.events!.data(Buffer.from(text));
  }
  /** The network loses the connection. */
  drop(): void {
    this.events!.close("connection reset");
  }
  /** The first element not taken yet that matches, waiting for it a while. */
  async next(match: (e: Element) => boolean, what: string): Promise<Element> {
    for (let waited = 0; ; waited += 2) {
      const i = this.inbox.findIndex(match);
      if (i >= 0) return this.inbox.splice(i, 1)[0]!;
      if (waited > 2000) throw new Error(`no ${what}; got ${this.inbox.map(String).join(" ")}`);
      await new Promise((r) => setTimeout(r, 2));
    }
  }
}

let credentials: Credentials;
beforeAll(async () => {
  credentials = await deriveCredentials("pw", { iterations: 4096 });
});

const open: OpenStream[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

function context(sm: { resumeTimeout?: number; maxQueue?: number } = {}): StreamContext {
  const config = parseShape(serverSchema, { domain: "example.com", c2s: { requireTls: false }, sm }, "", false);
  const domain = parseJid("example.com");
  const log = createLogger("silent");
  const events = new Events();
  const sessions = new SessionDirectory();
  const router = new Router(domain, sessions, events, { has: (d) => d === domain.domain, exists: async () => true }, log);
  return {
    domain, hosts: { has: (d: string) => d === domain.domain }, config, router, sessions, events, log,
    backlog: new BacklogLedger({ account: config.limits.accountBacklog, process: config.limits.processBacklog }),
    loginThrottle: new LocalLoginThrottle({ perAddress: config.auth.failuresPerMinute, perAccount: config.auth.failuresPerAccount }),
    unknownUsers: new UnknownUsers(Buffer.alloc(32, 1)),
    credentials: async (username) => (["romeo", "juliet"].includes(username) ? credentials : undefined),
    streamElements: new Map(), preAuthIq: new Map(), inlineBind: new Map(), fastTokens: undefined,
    resumption: new LocalResumption<ClientSession>(), streams: new Set(), closing: new Set(),
  };
}

function connect(ctx: StreamContext): { t: FakeTransport; stream: C2SStream } {
  const t = new FakeTransport();
  const stream = new C2SStream(t, ctx);
  open.push(stream);
  return { t, stream };
}

/** Header, features, SASL PLAIN, the restart: an authenticated stream waiting for <bind/> or <resume/>. */
async function authenticate(ctx: StreamContext, user: string): Promise<{ t: FakeTransport; stream: C2SStream; features: Element }> {
  const { t, stream } = connect(ctx);
  t.send(HEADER);
  const offered = await t.next((e) => e.name === "stream:features", "features");
  const mechanisms = offered.getChild("mechanisms", NS.sasl)!.getChildren("mechanism").map((m) => m.getText());
  expect(mechanisms).toContain("PLAIN");
  t.send(`<auth xmlns='${NS.sasl}' mechanism='PLAIN'>${Buffer.from(`\0${user}\0pw`).toString("base64")}</auth>`);
  await t.next((e) => e.name === "success", "SASL success");
  t.send(HEADER);
  const features = await t.next((e) => e.name === "stream:features", "features after authentication");
  expect(t.headers).toBe(2);
  return { t, stream, features };
}

async function bind(ctx: StreamContext, user: string, resource: string): Promise<{ t: FakeTransport; stream: C2SStream; session: ClientSession }> {
  const { t, stream } = await authenticate(ctx, user);
  t.send(`<iq type='set' id='b'><bind xmlns='${NS.bind}'><resource>${resource}</resource></bind></iq>`);
  const result = await t.next((e) => e.attrs.id === "b", "the bind result");
  expect(result.attrs.type).toBe("result");
  const full = parseJid(result.getChild("bind", NS.bind)!.getChildText("jid")!);
  const session = ctx.sessions.get(full);
  expect(session).toBeInstanceOf(ClientSession);
  return { t, stream, session: session as ClientSession };
}

/** Bound, with stream management enabled and resumable; returns the resumption token. */
async function bindSm(ctx: StreamContext, user: string, resource: string) {
  const bound = await bind(ctx, user, resource);
  bound.t.send(`<enable xmlns='${NS.sm}' resume='true'/>`);
  const enabled = await bound.t.next(isSm("enabled"), "<enabled/>");
  return { ...bound, token: enabled.attrs.id! };
}

describe("a client stream over an in-memory transport", () => {
  it("negotiates header, features, SASL PLAIN, restart and bind; then a message reaches another session", async () => {
    const ctx = context();
    const { features } = await authenticate(ctx, "romeo");
    expect(features.getChild("bind", NS.bind)).toBeDefined();
    expect(features.getChild("sm", NS.sm)).toBeDefined();
    const romeo = await bind(ctx, "romeo", "orchard");
    const juliet = await bind(ctx, "juliet", "balcony");
    expect(romeo.session.jid.toString()).toBe("romeo@example.com/orchard");
    expect(romeo.session.stream).toBe(romeo.stream);
    romeo.t.send(chat("juliet@example.com/balcony", "hello"));
    const got = await juliet.t.next((e) => e.name === "message", "the message");
    expect(got.attrs.from).toBe("romeo@example.com/orchard");
    expect(got.getChildText("body")).toBe("hello");
  });

  it("refuses a 'from' that is not the session with invalid-from, and closes that stream only", async () => {
    const ctx = context();
    const romeo = await bind(ctx, "romeo", "orchard");
    const juliet = await bind(ctx, "juliet", "balcony");
    romeo.t.send(`<message from='juliet@example.com/balcony' to='juliet@example.com/balcony'><body>x</body></message>`);
    const err = await romeo.t.next((e) => e.name === "stream:error", "the stream error");
    expect(err.getChild("invalid-from", NS.streams)).toBeDefined();
    expect(romeo.t.streamEnded && romeo.t.ended).toBe(true);
    expect(romeo.session.closed).toBe(true);
    expect(ctx.sessions.get(romeo.session.jid)).toBeUndefined();
    expect(juliet.session.closed).toBe(false);
  });

  it("a second bind of the same full JID replaces the first session with a conflict", async () => {
    const ctx = context();
    const first = await bind(ctx, "romeo", "orchard");
    const second = await bind(ctx, "romeo", "orchard");
    const err = await first.t.next((e) => e.name === "stream:error", "the conflict");
    expect(err.getChild("conflict", NS.streams)).toBeDefined();
    expect(ctx.sessions.get(second.session.jid)).toBe(second.session);
  });

  it("the session's holds, serialized writes and the backlog limit", async () => {
    const ctx = context();
    const { t, session } = await bind(ctx, "romeo", "orchard");
    session.hold = (s) => s.attrs.id === "held";
    session.send(parseStanza("<message id='held'/>"));
    session.sendNow(parseStanza("<message id='now'/>"));
    session.sendSerialized("<message id='text'/>");
    expect(t.inbox.map((e) => e.attrs.id)).toEqual(["now", "text"]);
    t.buffered = 9 * 1024 * 1024;
    session.send(parseStanza("<message id='too-much'/>"));
    const err = await t.next((e) => e.name === "stream:error", "the stream error");
    expect(err.getChild("resource-constraint", NS.streams)).toBeDefined();
    expect(session.closed).toBe(true);
  });
});

describe("stream management over the split", () => {
  it("enables once, counts the client's stanzas in <a/>, and asks for acks of what it sends", async () => {
    const ctx = context();
    const romeo = await bindSm(ctx, "romeo", "orchard");
    const juliet = await bind(ctx, "juliet", "balcony");
    romeo.t.send(`<enable xmlns='${NS.sm}'/>`);
    expect((await romeo.t.next(isSm("failed"), "<failed/>")).getChild("unexpected-request")).toBeDefined();
    romeo.t.send(chat("juliet@example.com/balcony", "one") + `<r xmlns='${NS.sm}'/>`);
    expect((await romeo.t.next(isSm("a"), "<a/>")).attrs.h).toBe("1");
    juliet.t.send(chat("romeo@example.com/orchard", "back"));
    await romeo.t.next((e) => e.name === "message", "the message");
    await romeo.t.next(isSm("r"), "<r/>");
    expect(romeo.session.sm!.unacked).toBe(1);
    romeo.t.send(`<a xmlns='${NS.sm}' h='1'/>`);
    await expect.poll(() => romeo.session.sm!.unacked).toBe(0);
  });

  it("an h beyond what was sent ends the stream with handled-count-too-high", async () => {
    const ctx = context();
    const { t } = await bindSm(ctx, "romeo", "orchard");
    t.send(`<a xmlns='${NS.sm}' h='5'/>`);
    const err = await t.next((e) => e.name === "stream:error", "the stream error");
    expect(err.getChild("undefined-condition", NS.streams)).toBeDefined();
    expect(err.getChild("handled-count-too-high", NS.sm)?.attrs).toMatchObject({ h: "5", "send-count": "0" });
  });

  it("a dropped connection detaches the session; a second stream resumes it and gets the unacked, then new stanzas", async () => {
    const ctx = context();
    const romeo = await bindSm(ctx, "romeo", "orchard");
    const juliet = await bind(ctx, "juliet", "balcony");
    const detached: string[] = [];
    ctx.events.onNotify("session/detached", ({ session }) => void detached.push(session.jid.toString()));
    juliet.t.send(chat("romeo@example.com/orchard", "before"));
    await romeo.t.next((e) => e.name === "message", "the message before");
    romeo.t.drop();
    expect(romeo.session.detached).toBe(true);
    await expect.poll(() => detached).toEqual(["romeo@example.com/orchard"]);
    expect(ctx.sessions.get(romeo.session.jid)).toBe(romeo.session);
    juliet.t.send(chat("romeo@example.com/orchard", "while away"));
    await expect.poll(() => romeo.session.sm!.unacked).toBe(2);

    const fresh = await authenticate(ctx, "romeo");
    fresh.t.send(`<resume xmlns='${NS.sm}' previd='${romeo.token}' h='0'/>`);
    const resumed = await fresh.t.next(isSm("resumed"), "<resumed/>");
    expect(resumed.attrs).toMatchObject({ previd: romeo.token, h: "0" });
    const replayed = [await fresh.t.next((e) => e.name === "message", "1st"), await fresh.t.next((e) => e.name === "message", "2nd")];
    expect(replayed.map((e) => e.getChildText("body"))).toEqual(["before", "while away"]);
    await fresh.t.next(isSm("r"), "<r/> after the replay");
    expect(romeo.session.detached).toBe(false);
    expect(romeo.session.stream).toBe(fresh.stream);
    expect(ctx.sessions.get(romeo.session.jid)).toBe(romeo.session);

    juliet.t.send(chat("romeo@example.com/orchard", "after"));
    expect((await fresh.t.next((e) => e.name === "message", "the new message")).getChildText("body")).toBe("after");
    fresh.t.send(chat("juliet@example.com/balcony", "from the new stream"));
    expect((await juliet.t.next((e) => e.name === "message", "romeo's message")).attrs.from).toBe("romeo@example.com/orchard");
  });

  it("a resume before the server noticed the old connection releases it quietly", async () => {
    const ctx = context();
    const romeo = await bindSm(ctx, "romeo", "orchard");
    const closed: string[] = [];
    ctx.events.onNotify("session/closed", ({ reason }) => void closed.push(reason));
    const fresh = await authenticate(ctx, "romeo");
    fresh.t.send(`<resume xmlns='${NS.sm}' previd='${romeo.token}' h='0'/>`);
    await fresh.t.next(isSm("resumed"), "<resumed/>");
    expect(romeo.t.ended).toBe(true);
    expect(romeo.t.streamEnded).toBe(false);
    expect(romeo.stream.closed).toBe(true);
    // What the old connection still says or does reaches nobody.
    romeo.t.send(chat("juliet@example.com/balcony", "ghost"));
    romeo.t.drop();
    expect(romeo.session.stream).toBe(fresh.stream);
    expect(closed).toEqual([]);
    expect([...ctx.streams]).toEqual([fresh.stream]);
  });

  for (const noticed of [true, false]) {
    it(`a stanza the old connection was still handling is counted in <resumed h/>, once (the drop ${noticed ? "noticed" : "not noticed yet"})`, async () => {
      const ctx = context();
      let open!: () => void;
      const gate = new Promise<void>((r) => (open = r));
      let slowStarted = false;
      ctx.events.onHandle("message/deliver", async (d) => {
        if (d.stanza.getChildText("body") === "slow") {
          slowStarted = true;
          await gate;
        }
        return false;
      });
      const romeo = await bindSm(ctx, "romeo", "orchard");
      const juliet = await bind(ctx, "juliet", "balcony");
      romeo.t.send(chat("juliet@example.com/balcony", "slow") + chat("juliet@example.com/balcony", "queued behind it"));
      await vi.waitFor(() => expect(slowStarted).toBe(true));
      if (noticed) romeo.t.drop();
      const fresh = await authenticate(ctx, "romeo");
      fresh.t.send(`<resume xmlns='${NS.sm}' previd='${romeo.token}' h='0'/>`);
      await new Promise((r) => setTimeout(r, 20));
      open();
      // The first was handled and is counted; the second was never handled: the client sends it again.
      const resumed = await fresh.t.next(isSm("resumed"), "<resumed/>");
      expect(resumed.attrs.h).toBe("1");
      fresh.t.send(chat("juliet@example.com/balcony", "queued behind it") + `<r xmlns='${NS.sm}'/>`);
      expect((await fresh.t.next(isSm("a"), "<a/>")).attrs.h).toBe("2");
      const bodies = [await juliet.t.next((e) => e.name === "message", "1st"), await juliet.t.next((e) => e.name === "message", "2nd")].map((e) => e.getChildText("body"));
      expect(bodies).toEqual(["slow", "queued behind it"]);
      await new Promise((r) => setTimeout(r, 20));
      expect(juliet.t.inbox.filter((e) => e.name === "message")).toEqual([]);
    });
  }

  it("a resumption that let the old connection go and then fails leaves the session detached, and that is told", async () => {
    const ctx = context();
    const detached: string[] = [];
    ctx.events.onNotify("session/detached", ({ session }) => void detached.push(session.jid.toString()));
    const romeo = await bindSm(ctx, "romeo", "orchard");
    const fresh = await authenticate(ctx, "romeo");
    fresh.t.send(`<resume xmlns='${NS.sm}' previd='${romeo.token}' h='5'/>`);
    expect((await fresh.t.next(isSm("failed"), "<failed/>")).getChild("undefined-condition")).toBeDefined();
    expect(romeo.t.ended).toBe(true);
    expect(romeo.session.detached).toBe(true);
    expect(detached).toEqual(["romeo@example.com/orchard"]);
    // Still resumable with a good h.
    const again = await authenticate(ctx, "romeo");
    again.t.send(`<resume xmlns='${NS.sm}' previd='${romeo.token}' h='0'/>`);
    await again.t.next(isSm("resumed"), "<resumed/>");
    expect(romeo.session.stream).toBe(again.stream);
    expect(detached).toHaveLength(1);
  });

  it("an unknown token, or one of another account, is item-not-found and the stream can still bind", async () => {
    const ctx = context();
    const juliet = await bindSm(ctx, "juliet", "balcony");
    const { t } = await authenticate(ctx, "romeo");
    for (const previd of ["no-such-token", juliet.token]) {
      t.send(`<resume xmlns='${NS.sm}' previd='${previd}' h='0'/>`);
      expect((await t.next(isSm("failed"), "<failed/>")).getChild("item-not-found")).toBeDefined();
    }
    t.send(`<iq type='set' id='b'><bind xmlns='${NS.bind}'><resource>after</resource></bind></iq>`);
    expect((await t.next((e) => e.attrs.id === "b", "the bind result")).attrs.type).toBe("result");
    expect(juliet.session.stream).toBe(juliet.stream);
  });

  it("a resume whose h counts more than was sent fails and leaves the session where it was", async () => {
    const ctx = context();
    const romeo = await bindSm(ctx, "romeo", "orchard");
    romeo.t.drop();
    const { t } = await authenticate(ctx, "romeo");
    t.send(`<resume xmlns='${NS.sm}' previd='${romeo.token}' h='3'/>`);
    const failed = await t.next(isSm("failed"), "<failed/>");
    expect(failed.attrs.h).toBe("0");
    expect(failed.getChild("undefined-condition")).toBeDefined();
    expect(romeo.session.detached).toBe(true);
  });

  it("a session not resumed in time ends, and what its client never acknowledged goes the undelivered way", async () => {
    const ctx = context({ resumeTimeout: 0 });
    const romeo = await bindSm(ctx, "romeo", "orchard");
    const juliet = await bind(ctx, "juliet", "balcony");
    juliet.t.send(`<message to='romeo@example.com/orchard' id='m1' type='chat'><body>lost</body></message>`);
    await romeo.t.next((e) => e.name === "message", "the message");
    romeo.t.drop();
    const bounce = await juliet.t.next((e) => e.name === "message" && e.attrs.type === "error", "the bounce");
    expect(bounce.attrs.id).toBe("m1");
    expect(romeo.session.closed).toBe(true);
    expect(ctx.sessions.get(romeo.session.jid)).toBeUndefined();
    expect(ctx.resumption.get(romeo.token)).toBeUndefined();
  });

  it("another node takes a session over: the old node hands it off quietly, the new one replays what was unacked", async () => {
    const a = context();
    const romeo = await bindSm(a, "romeo", "orchard");
    const juliet = await bind(a, "juliet", "balcony");
    juliet.t.send(chat("romeo@example.com/orchard", "on node a"));
    await romeo.t.next((e) => e.name === "message", "the message");
    romeo.session.presence = parseStanza("<presence><priority>3</priority></presence>");
    romeo.session.priority = 3;
    const closedOnA: string[] = [];
    a.events.onNotify("session/closed", ({ session }) => void closedOnA.push(session.jid.toString()));
    const b = context();
    const registry = b.resumption as LocalResumption<ClientSession> & { claim?: unknown };
    registry.claim = async (token: string, bare: string, h: number, adopt: (t: SessionTransfer) => void) => {
      const r = await a.resumption.get(token)!.handOff(bare, h, 1000);
      if (!("jid" in r)) return r;
      adopt(r);
      return { kind: "moved" };
    };
    const fresh = await authenticate(b, "romeo");
    fresh.t.send(`<resume xmlns='${NS.sm}' previd='${romeo.token}' h='0'/>`);
    expect((await fresh.t.next(isSm("resumed"), "<resumed/>")).attrs.previd).toBe(romeo.token);
    expect((await fresh.t.next((e) => e.name === "message", "the replay")).getChildText("body")).toBe("on node a");
    const moved = b.sessions.get(parseJid("romeo@example.com/orchard")) as ClientSession;
    expect(moved).not.toBe(romeo.session);
    expect(moved.stream).toBe(fresh.stream);
    expect(moved.priority).toBe(3);
    expect(moved.presence?.getChildText("priority")).toBe("3");
    expect(b.resumption.get(romeo.token)).toBe(moved);
    expect(romeo.session.closed).toBe(true);
    expect(romeo.t.ended && !romeo.t.streamEnded).toBe(true);
    expect(a.sessions.get(romeo.session.jid)).toBeUndefined();
    expect(a.resumption.get(romeo.token)).toBeUndefined();
    expect(closedOnA).toEqual([]);
  });

  it("the drain asks for a last <a/>, tells the client its h, and ends the stream", async () => {
    const ctx = context();
    const romeo = await bindSm(ctx, "romeo", "orchard");
    romeo.t.send(chat("romeo@example.com/orchard", "to self"));
    await romeo.t.next((e) => e.name === "message", "the message to self");
    await romeo.t.next(isSm("r"), "<r/> for it");
    const done = romeo.stream.shutdown(new StreamError("system-shutdown"), 1000);
    await romeo.t.next(isSm("r"), "the drain's <r/>");
    romeo.t.send(`<a xmlns='${NS.sm}' h='1'/>`);
    await done;
    const tail = romeo.t.written.slice(-3);
    expect(tail[0]).toBe(`<a xmlns='${NS.sm}' h='1'/>`);
    expect(tail[1]).toContain("<system-shutdown");
    expect(tail[2]).toBe("</stream:stream>");
    expect(romeo.session.closed).toBe(true);
  });
});

function parseStanza(text: string): Element {
  let out: Element | undefined;
  const p = new StreamParser({ streamStart() {}, streamEnd() {}, error() {}, stanza: (el) => void (out ??= el) },
    { maxStanzaSize: 1 << 16, maxDepth: 16, maxAttributes: 16, maxNameLength: 64 });
  p.write(HEADER + text);
  return out!;
}
