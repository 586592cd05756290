// The router against in-memory sessions and accounts: RFC 6120 §10 (no 'to', malformed 'to',
// iq validity, errors never answered with errors), RFC 6121 §8.5 (bare and full JIDs,
// priorities, headline, groupchat, error), components, and what the sender's ack waits for.
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { xml, type Element } from "../xml/element.ts";
import { jid, type JID } from "../xml/jid.ts";
import { stanzaErrorOf, StanzaError } from "./errors.ts";
import { Events, type MessageDelivery, type StanzaEvent } from "./events.ts";
import { type Component, Router } from "./router.ts";
import { SessionDirectory, type Session } from "./session.ts";
import type { Durability } from "./durability.ts";

const DOMAIN = jid("", "localhost");
const log = pino({ level: "silent" });

interface FakeSession extends Session {
  readonly got: Element[];
}

/** A bound session; `presence` undefined: not available. `deliver`: a session of another cluster node. */
function session(full: JID, opts: { priority?: number; available?: boolean; deliver?: (el: Element) => Promise<boolean> } = {}): FakeSession {
  const got: Element[] = [];
  return {
    id: full.toString(), jid: full, secure: true, log, got,
    presence: opts.available === false ? undefined : xml("presence"),
    priority: opts.priority ?? 0,
    lastActivity: 0, interested: false, detached: false, hold: undefined,
    send: (el) => void got.push(el),
    sendNow: (el) => void got.push(el),
    sendSerialized: () => {},
    ...(opts.deliver ? { deliver: opts.deliver } : {}),
    close: () => {},
    get: () => undefined,
    set: () => {},
  };
}

function world(accounts: string[] = ["romeo", "juliet"]) {
  const sessions = new SessionDirectory();
  const events = new Events();
  let lookups = 0;
  const directory = {
    has: (domain: string) => domain === DOMAIN.domain,
    async exists(account: JID) {
      lookups++;
      return account.domain === DOMAIN.domain && accounts.includes(account.local);
    },
  };
  const router = new Router(DOMAIN, sessions, events, directory, log);
  const bind = (s: FakeSession) => (sessions.add(s), s);
  return { router, sessions, events, bind, lookups: () => lookups };
}

const romeo = jid("romeo", "localhost", "balcony");
const juliet = jid("juliet", "localhost");
const msg = (attrs: Record<string, string>, body = "hi") => xml("message", { from: romeo.toString(), ...attrs }, xml("body", null, body));
/** The condition of the one error the session got, or undefined when it got none. */
const errorOf = (s: FakeSession): string | undefined => {
  const errors = s.got.filter((el) => el.attrs.type === "error");
  expect(errors.length).toBeLessThanOrEqual(1);
  return errors[0] ? stanzaErrorOf(errors[0]).condition : undefined;
};
const names = (s: FakeSession) => s.got.map((el) => el.getChildText("body") ?? el.name);

describe("a message to a bare JID (RFC 6121 §8.5.2.1)", () => {
  it("normal and chat reach the available resources of highest non-negative priority, all of them on a tie", async () => {
    const w = world();
    const sender = w.bind(session(romeo));
    const resource = (name: string, priority: number, available = true) =>
      w.bind(session(jid("juliet", "localhost", name), { priority, available }));
    const [a, b, low, away, negative] = [resource("a", 5), resource("b", 5), resource("low", 1), resource("away", 9, false), resource("negative", -1)];
    await w.router.route(msg({ to: "juliet@localhost", type: "chat" }), sender);
    await w.router.route(msg({ to: "juliet@localhost" }, "normal"), sender);
    expect([a, b].map(names)).toEqual([["hi", "normal"], ["hi", "normal"]]);
    expect([low, away, negative].map(names)).toEqual([[], [], []]);
    expect(sender.got).toEqual([]);
  });

  it("headline reaches every available resource of non-negative priority, and is dropped when there is none", async () => {
    const w = world();
    const sender = w.bind(session(romeo));
    const top = w.bind(session(jid("juliet", "localhost", "top"), { priority: 5 }));
    const low = w.bind(session(jid("juliet", "localhost", "low"), { priority: 0 }));
    const negative = w.bind(session(jid("juliet", "localhost", "neg"), { priority: -1 }));
    await w.router.route(msg({ to: "juliet@localhost", type: "headline" }), sender);
    expect([top, low, negative].map(names)).toEqual([["hi"], ["hi"], []]);
    await w.router.route(msg({ to: "romeo@localhost/elsewhere", type: "headline" }), sender);
    await w.router.route(msg({ to: "nobody@localhost", type: "headline" }), sender);
    expect(sender.got).toEqual([]);
  });

  it("deliverToAll (a module's, from message/bare) takes a chat message to every available resource of non-negative priority, through the delivery hooks", async () => {
    const w = world();
    const sender = w.bind(session(romeo));
    const top = w.bind(session(jid("juliet", "localhost", "top"), { priority: 5 }));
    const low = w.bind(session(jid("juliet", "localhost", "low"), { priority: 0 }));
    const negative = w.bind(session(jid("juliet", "localhost", "neg"), { priority: -1 }));
    const delivered: string[][] = [];
    w.events.onNotify("message/delivered", (d) => void delivered.push(d.targets.map((s) => s.jid.resource)));
    w.events.onHandle("message/bare", async (ev) => {
      if (ev.stanza.getChildText("body") !== "ring") return false;
      await w.router.deliverToAll(ev);
      return true;
    });
    await w.router.route(msg({ to: "juliet@localhost", type: "chat" }, "ring"), sender);
    await w.router.route(msg({ to: "juliet@localhost", type: "chat" }, "talk"), sender);
    expect([top, low, negative].map(names)).toEqual([["ring", "talk"], ["ring"], []]);
    expect(delivered).toEqual([["top", "low"], ["top"]]);
    expect(sender.got).toEqual([]);
  });

  it("groupchat is refused with service-unavailable; an error is dropped, never answered", async () => {
    const w = world();
    const sender = w.bind(session(romeo));
    w.bind(session(jid("juliet", "localhost", "r")));
    await w.router.route(msg({ to: "juliet@localhost", type: "groupchat" }), sender);
    expect(errorOf(sender)).toBe("service-unavailable");
    sender.got.length = 0;
    await w.router.route(msg({ to: "nobody@localhost", type: "error" }), sender);
    expect(sender.got).toEqual([]);
  });

  it("to an account that does not exist bounces service-unavailable; to one that is offline (no offline store) too, saying so", async () => {
    const w = world();
    const sender = w.bind(session(romeo));
    await w.router.route(msg({ to: "nobody@localhost", id: "1" }), sender);
    await w.router.route(msg({ to: "juliet@localhost", id: "2" }), sender);
    const [missing, offline] = sender.got.map(stanzaErrorOf);
    expect([missing?.condition, missing?.text]).toEqual(["service-unavailable", undefined]);
    expect([offline?.condition, offline?.text]).toEqual(["service-unavailable", "the recipient is offline"]);
    expect(sender.got.map((el) => [el.attrs.id, el.attrs.from, el.attrs.to])).toEqual([
      ["1", "nobody@localhost", romeo.toString()], ["2", "juliet@localhost", romeo.toString()],
    ]);
  });
});

describe("a stanza to a full JID (RFC 6121 §8.5.3)", () => {
  it("reaches that session whatever its priority, groupchat included", async () => {
    const w = world();
    const sender = w.bind(session(romeo));
    const hidden = w.bind(session(jid("juliet", "localhost", "hidden"), { priority: -5 }));
    w.bind(session(jid("juliet", "localhost", "top"), { priority: 10 }));
    await w.router.route(msg({ to: "juliet@localhost/hidden", type: "groupchat" }), sender);
    await w.router.route(xml("presence", { from: romeo.toString(), to: "juliet@localhost/hidden" }), sender);
    await w.router.route(xml("iq", { from: romeo.toString(), to: "juliet@localhost/hidden", type: "get", id: "q" }, xml("query", { xmlns: "x" })), sender);
    expect(names(hidden)).toEqual(["hi", "presence", "iq"]);
  });

  it("of no session: chat and normal go to the bare JID; groupchat bounces; headline and error are dropped", async () => {
    const w = world();
    const sender = w.bind(session(romeo));
    const other = w.bind(session(jid("juliet", "localhost", "other")));
    await w.router.route(msg({ to: "juliet@localhost/gone", type: "chat" }, "chat"), sender);
    await w.router.route(msg({ to: "juliet@localhost/gone" }, "normal"), sender);
    await w.router.route(msg({ to: "juliet@localhost/gone", type: "headline" }, "headline"), sender);
    await w.router.route(msg({ to: "juliet@localhost/gone", type: "error" }, "error"), sender);
    expect(names(other)).toEqual(["chat", "normal"]);
    expect(sender.got).toEqual([]);
    await w.router.route(msg({ to: "juliet@localhost/gone", type: "groupchat" }), sender);
    expect(errorOf(sender)).toBe("service-unavailable");
  });

  it("of no session: an iq request bounces service-unavailable, a response is dropped; presence of subscription goes to the bare JID, other presence is dropped", async () => {
    const w = world();
    const sender = w.bind(session(romeo));
    const other = w.bind(session(jid("juliet", "localhost", "other")));
    const bare: string[] = [];
    w.events.onHandle("presence/bare", (ev) => (bare.push(`${ev.stanza.attrs.type} to ${ev.to}`), true));
    await w.router.route(xml("iq", { from: romeo.toString(), to: "juliet@localhost/gone", type: "result", id: "r" }), sender);
    await w.router.route(xml("presence", { from: romeo.toString(), to: "juliet@localhost/gone" }), sender);
    await w.router.route(xml("presence", { from: romeo.toString(), to: "juliet@localhost/gone", type: "subscribe" }), sender);
    expect([sender.got, other.got, bare]).toEqual([[], [], ["subscribe to juliet@localhost"]]);
    await w.router.route(xml("iq", { from: romeo.toString(), to: "juliet@localhost/gone", type: "get", id: "q" }, xml("query", { xmlns: "x" })), sender);
    expect(errorOf(sender)).toBe("service-unavailable");
  });
});

describe("presence to a bare JID", () => {
  it("reaches every available resource, negative priority included (RFC 6121 §8.5.2.1.1)", async () => {
    const w = world();
    const sender = w.bind(session(romeo));
    const a = w.bind(session(jid("juliet", "localhost", "a"), { priority: -1 }));
    const b = w.bind(session(jid("juliet", "localhost", "b")));
    const off = w.bind(session(jid("juliet", "localhost", "c"), { available: false }));
    await w.router.route(xml("presence", { from: romeo.toString(), to: "juliet@localhost", type: "probe" }), sender);
    expect([a, b, off].map((s) => s.got.length)).toEqual([1, 1, 0]);
  });
});

describe("addressing (RFC 6120 §10.3, §8.1.1)", () => {
  it("without 'to': a message goes to the sender's own account, presence is a broadcast, an iq is answered for the account without 'from'", async () => {
    const w = world();
    const sender = w.bind(session(romeo, { priority: 1 }));
    const broadcasts: string[] = [];
    w.events.onHandle("presence/broadcast", (ev) => (broadcasts.push(`${ev.from} ${ev.to}`), true));
    w.router.iq.add("account", "urn:test", "q", { get: (req) => xml("q", { xmlns: "urn:test", to: req.to.toString() }) });
    await w.router.route(msg({}, "to self"), sender);
    await w.router.route(xml("presence", { from: romeo.toString() }), sender);
    await w.router.route(xml("iq", { from: romeo.toString(), type: "get", id: "1" }, xml("q", { xmlns: "urn:test" })), sender);
    expect(broadcasts).toEqual([`${romeo} romeo@localhost`]);
    const [message, result] = sender.got;
    expect(message?.getChildText("body")).toBe("to self");
    expect([result?.attrs.type, result?.attrs.from, result?.attrs.to, result?.getChild("q")?.attrs.to]).toEqual(["result", undefined, romeo.toString(), "romeo@localhost"]);
  });

  it("a malformed 'to' is jid-malformed; an element that is no stanza is bad-request", async () => {
    const w = world();
    const sender = w.bind(session(romeo));
    await w.router.route(msg({ to: "juliet@localhost/", id: "m" }), sender);
    expect(errorOf(sender)).toBe("jid-malformed");
    sender.got.length = 0;
    await w.router.route(xml("nonsense", { to: "juliet@localhost" }), sender);
    expect(errorOf(sender)).toBe("bad-request");
  });

  it("the sender's full JID is the 'from' the handlers see, whatever the stanza says", async () => {
    const w = world();
    const sender = w.bind(session(romeo));
    const seen: string[] = [];
    w.events.onHandle("message/bare", (ev) => (seen.push(ev.from.toString()), true));
    await w.router.route(xml("message", { to: "juliet@localhost" }), sender);
    expect(seen).toEqual([romeo.toString()]);
  });
});

describe("iq (RFC 6120 §8.2.3)", () => {
  const iq = (attrs: Record<string, string | undefined>, ...payload: Element[]) =>
    xml("iq", { from: romeo.toString(), to: "localhost", ...attrs }, ...payload);
  const q = () => xml("q", { xmlns: "urn:test" });

  it("needs an id, a type, and for get and set exactly one payload: bad-request otherwise", async () => {
    const w = world();
    const sender = w.bind(session(romeo));
    w.router.iq.add("host", "urn:test", "q", { get: () => undefined, set: () => undefined });
    for (const bad of [iq({ type: "get" }, q()), iq({ id: "1" }, q()), iq({ id: "1", type: "get" }), iq({ id: "1", type: "set" }, q(), q()), iq({ id: "1", type: "nonsense" }, q())]) {
      sender.got.length = 0;
      await w.router.route(bad, sender);
      expect(errorOf(sender)).toBe("bad-request");
    }
    sender.got.length = 0;
    await w.router.route(iq({ id: "ok", type: "get" }, q()), sender);
    expect(sender.got.map((el) => [el.attrs.type, el.attrs.id, el.attrs.from])).toEqual([["result", "ok", "localhost"]]);
  });

  it("a request nobody serves is service-unavailable; a known payload without a handler for its type is bad-request; a thrown StanzaError is the reply, with the payload", async () => {
    const w = world();
    const sender = w.bind(session(romeo));
    w.router.iq.add("host", "urn:test", "q", { get: () => { throw new StanzaError("forbidden"); } });
    await w.router.route(iq({ id: "1", type: "get" }, xml("other", { xmlns: "urn:test" })), sender);
    await w.router.route(iq({ id: "2", type: "set" }, q()), sender);
    await w.router.route(iq({ id: "3", type: "get" }, q()), sender);
    expect(sender.got.map((el) => [el.attrs.id, stanzaErrorOf(el).condition, el.getChild("q", "urn:test") !== undefined])).toEqual([
      ["1", "service-unavailable", false], ["2", "bad-request", true], ["3", "forbidden", true],
    ]);
  });

  it("to an account that does not exist is service-unavailable, before any handler", async () => {
    const w = world();
    const sender = w.bind(session(romeo));
    let asked = 0;
    w.router.iq.add("account", "urn:test", "q", { get: () => void asked++ });
    await w.router.route(iq({ to: "nobody@localhost", id: "1", type: "get" }, q()), sender);
    expect([errorOf(sender), asked]).toEqual(["service-unavailable", 0]);
  });

  it("an unexpected failure is internal-server-error, for the sender only", async () => {
    const w = world();
    const sender = w.bind(session(romeo));
    const juliets = w.bind(session(jid("juliet", "localhost", "r")));
    w.router.iq.add("host", "urn:test", "q", { get: () => { throw new Error("bug"); } });
    await w.router.route(iq({ id: "1", type: "get" }, q()), sender);
    expect([errorOf(sender), juliets.got]).toEqual(["internal-server-error", []]);
  });

  it("the server's own request is settled by the response to it", async () => {
    const w = world();
    const target = w.bind(session(jid("juliet", "localhost", "r")));
    const pending = w.router.request(xml("iq", { to: "juliet@localhost/r", type: "get", id: "ping" }, q()), 1000);
    await new Promise((r) => setImmediate(r));
    expect(target.got.map((el) => el.attrs.id)).toEqual(["ping"]);
    await w.router.route(xml("iq", { from: "juliet@localhost/r", to: "localhost", type: "result", id: "ping" }), target);
    expect((await pending).attrs.type).toBe("result");
    const refused = w.router.request(xml("iq", { to: "juliet@localhost/r", type: "get", id: "again" }, q()), 1000);
    await w.router.route(xml("iq", { from: "juliet@localhost/r", to: "localhost", type: "error", id: "again" }, new StanzaError("forbidden").toElement()), target);
    await expect(refused).rejects.toMatchObject({ condition: "forbidden" });
  });
});

describe("errors are never answered with errors (RFC 6120 §8.3.1)", () => {
  it("bounce sends nothing for an error stanza, and an error stanza that fails to route is dropped", async () => {
    const w = world();
    const sender = w.bind(session(romeo));
    const error = xml("message", { from: romeo.toString(), to: "localhost", type: "error" });
    w.router.bounce(error, new StanzaError("service-unavailable"), sender);
    await w.router.route(error, sender); // to the server itself: nobody takes messages there
    await w.router.route(xml("iq", { from: romeo.toString(), to: "elsewhere.example", type: "error", id: "1" }), sender);
    expect(sender.got).toEqual([]);
  });

  it("a message to the server that no module takes is service-unavailable", async () => {
    const w = world();
    const sender = w.bind(session(romeo));
    await w.router.route(msg({ to: "localhost" }), sender);
    expect(errorOf(sender)).toBe("service-unavailable");
  });
});

describe("other domains", () => {
  it("a component takes every stanza to its domain, with the sender and the durability; without one it is remote-server-not-found", async () => {
    const w = world();
    const sender = w.bind(session(romeo));
    const got: [string, string, string, boolean][] = [];
    const component: Component = {
      async receive(stanza, from, to, origin, durability) {
        got.push([stanza.name, from.toString(), to.toString(), origin === sender && durability !== undefined]);
      },
    };
    const remove = w.router.addComponent("conference.localhost", component);
    await w.router.routeAcked(msg({ to: "room@conference.localhost", type: "groupchat" }), sender);
    await w.router.route(xml("presence", { from: romeo.toString(), to: "room@conference.localhost/romeo" }), sender);
    expect(got).toEqual([
      ["message", romeo.toString(), "room@conference.localhost", true],
      ["presence", romeo.toString(), "room@conference.localhost/romeo", false],
    ]);
    remove();
    await w.router.route(msg({ to: "room@conference.localhost" }), sender);
    await w.router.route(msg({ to: "juliet@elsewhere.example" }), sender);
    expect(sender.got.map((el) => [el.attrs.from, stanzaErrorOf(el).condition])).toEqual([
      ["room@conference.localhost", "remote-server-not-found"], ["juliet@elsewhere.example", "remote-server-not-found"],
    ]);
  });
});

describe("the hooks around delivery", () => {
  it("stanza/out sees only a local session's stanzas, and taking one stops it", async () => {
    const w = world();
    const sender = w.bind(session(romeo));
    const juliets = w.bind(session(jid("juliet", "localhost", "r")));
    const out: string[] = [];
    w.events.onHandle("stanza/out", (ev) => (out.push(ev.stanza.getChildText("body")!), ev.stanza.getChildText("body") === "blocked"));
    await w.router.route(msg({ to: "juliet@localhost" }, "blocked"), sender);
    await w.router.route(msg({ to: "juliet@localhost" }, "passes"), sender);
    await w.router.route(msg({ to: "juliet@localhost" }, "from the server"));
    expect([out, names(juliets)]).toEqual([["blocked", "passes"], ["passes", "from the server"]]);
  });

  it("message/deliver runs before any copy leaves; message/delivered after, with the targets; message/offline only when none took it", async () => {
    const w = world();
    const sender = w.bind(session(romeo));
    const juliets = w.bind(session(jid("juliet", "localhost", "r")));
    const seen: string[] = [];
    w.events.onHandle("message/deliver", (d) => void seen.push(`deliver ${d.targets.length} ${juliets.got.length}`));
    w.events.onNotify("message/delivered", (d) => void seen.push(`delivered ${d.targets.length} ${juliets.got.length}`));
    w.events.onHandle("message/offline", (d) => (seen.push(`offline ${d.to} ${d.targets.length}`), true));
    await w.router.route(msg({ to: "juliet@localhost" }), sender);
    w.sessions.remove(juliets);
    await w.router.route(msg({ to: "juliet@localhost" }), sender);
    expect(seen).toEqual(["deliver 1 0", "delivered 1 1", "deliver 0 1", "offline juliet@localhost 0"]);
    expect(sender.got).toEqual([]);
  });

  it("a session of another cluster node has it once its node says so; when no node does, it goes offline as if there were no target", async () => {
    const w = world();
    const sender = w.bind(session(romeo));
    let answer = false;
    const remote = session(jid("juliet", "localhost", "far"), { deliver: async () => answer });
    w.sessions.remote = {
      of: (bare) => (bare === "juliet@localhost" ? [remote] : undefined),
      get: (bare, resource) => (bare === "juliet@localhost" && resource === "far" ? remote : undefined),
      exclusive: (_bare, fn) => fn(),
    };
    const seen: string[] = [];
    w.events.onNotify("message/delivered", (d) => void seen.push(`delivered to ${d.targets.map((s) => s.jid.resource)}`));
    w.events.onHandle("message/offline", (d) => (seen.push(`offline ${d.targets.length}`), true));
    await w.router.route(msg({ to: "juliet@localhost" }), sender);
    answer = true;
    await w.router.route(msg({ to: "juliet@localhost" }), sender);
    expect(seen).toEqual(["offline 0", "delivered to far"]);
  });

  it("writeMessage writes to the targets it is given and tells message/delivered only when one took it", async () => {
    const w = world();
    const a = session(jid("juliet", "localhost", "a"));
    const gone = session(jid("juliet", "localhost", "gone"), { deliver: async () => false });
    let delivered = 0;
    w.events.onNotify("message/delivered", () => void delivered++);
    const d = (targets: Session[]): MessageDelivery => ({
      stanza: msg({ to: "juliet@localhost" }), from: romeo, to: juliet, origin: undefined, targets, accountExists: async () => true,
    });
    expect(await w.router.writeMessage(d([]))).toBe(false);
    expect(await w.router.writeMessage(d([gone]))).toBe(false);
    expect(await w.router.writeMessage(d([a, gone]))).toBe(true);
    expect([names(a), delivered]).toEqual([["hi"], 1]);
  });
});

describe("the recipient's account is looked up once per message", () => {
  it("however many steps ask (archive, offline store, bounce), and not at all when it has sessions", async () => {
    const w = world();
    const sender = w.bind(session(romeo));
    const asked: boolean[] = [];
    w.events.onHandle("message/deliver", async (d) => void asked.push(await d.accountExists()));
    w.events.onHandle("message/offline", async (d) => void asked.push(await d.accountExists()));
    await w.router.route(msg({ to: "juliet@localhost" }), sender);
    await w.router.route(msg({ to: "nobody@localhost" }), sender);
    expect([asked, w.lookups()]).toEqual([[true, true, false, false], 2]);
    expect(sender.got.map((el) => stanzaErrorOf(el).text)).toEqual(["the recipient is offline", undefined]);
    w.bind(session(jid("juliet", "localhost", "away"), { available: false }));
    await w.router.route(msg({ to: "juliet@localhost" }), sender);
    w.bind(session(jid("juliet", "localhost", "here")));
    await w.router.route(msg({ to: "juliet@localhost" }), sender);
    expect([asked, w.lookups()]).toEqual([[true, true, false, false, true, true, true], 2]);
  });
});

describe("durability: what the sender's ack waits for", () => {
  /** A write a handler starts and leaves running, with its settling in the test's hands. */
  function write() {
    let settle: (ok: boolean) => void = () => {};
    const promise = new Promise<void>((resolve, reject) => (settle = (ok) => (ok ? resolve() : reject(new Error("store down")))));
    promise.catch(() => {});
    return { promise, settle };
  }
  const settledYet = async (p: Promise<void> | undefined) => {
    let done = false;
    void p?.then(() => (done = true));
    await new Promise((r) => setImmediate(r));
    return done;
  };

  it("nothing when no handler left a write running", async () => {
    const w = world();
    const sender = w.bind(session(romeo));
    w.bind(session(jid("juliet", "localhost", "r")));
    expect((await w.router.routeAcked(msg({ to: "juliet@localhost" }), sender)).durable).toBeUndefined();
  });

  it("the writes handlers left running, in every step; delivery does not wait for them, the ack does, failed or not", async () => {
    const w = world();
    const sender = w.bind(session(romeo));
    const juliets = w.bind(session(jid("juliet", "localhost", "r")));
    const outgoing = write();
    const incoming = write();
    w.events.onHandle("stanza/out", (ev) => void ev.durability?.after(outgoing.promise));
    w.events.onHandle("message/deliver", (d) => void d.durability?.after(incoming.promise));
    const routed = await w.router.routeAcked(msg({ to: "juliet@localhost" }), sender);
    expect(names(juliets)).toEqual(["hi"]);
    expect(routed.durable).toBeDefined();
    outgoing.settle(true);
    expect(await settledYet(routed.durable)).toBe(false);
    incoming.settle(false);
    expect(await settledYet(routed.durable)).toBe(true);
  });

  it("a write left running for a stanza that then bounced is still waited for", async () => {
    const w = world();
    const sender = w.bind(session(romeo));
    const outgoing = write();
    w.events.onHandle("stanza/out", (ev) => void ev.durability?.after(outgoing.promise));
    const routed = await w.router.routeAcked(msg({ to: "nobody@localhost" }), sender);
    expect(errorOf(sender)).toBe("service-unavailable");
    expect(await settledYet(routed.durable)).toBe(false);
    outgoing.settle(true);
    expect(await settledYet(routed.durable)).toBe(true);
  });

  it("route gives handlers no durability: nobody waits for their writes", async () => {
    const w = world();
    const sender = w.bind(session(romeo));
    const seen: (Durability | undefined)[] = [];
    const look = (ev: StanzaEvent) => void seen.push(ev.durability);
    w.events.onHandle("stanza/out", look);
    w.events.onHandle("message/deliver", look);
    w.events.onHandle("message/offline", (d) => (look(d), true));
    await w.router.route(msg({ to: "juliet@localhost" }), sender);
    expect(seen).toEqual([undefined, undefined, undefined]);
    await w.router.routeAcked(msg({ to: "juliet@localhost" }), sender);
    expect(seen.slice(3).every((d) => d !== undefined && d === seen[3])).toBe(true);
  });
});

describe("foreign domains", () => {
  it("another server's domain and an external component's are foreign; the server's own and its modules' services are not", () => {
    const w = world();
    const service: Component = { receive: async () => {} };
    const external: Component = { external: true, receive: async () => {} };
    w.router.addComponent("conference.localhost", service);
    w.router.addComponent("gateway.localhost", external);
    expect(w.router.foreign("localhost")).toBe(false);
    expect(w.router.foreign("conference.localhost")).toBe(false);
    expect(w.router.foreign("gateway.localhost")).toBe(true);
    expect(w.router.foreign("example.net")).toBe(true);
    expect(w.router.serves("gateway.localhost")).toBe(true);
  });
});
