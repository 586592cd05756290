// XEP-0160 offline messages over real sockets: what is stored (and what is bounced or dropped),
// the delay stamp, delivery in order at the next non-negative presence, many senders at once,
// messages arriving while the queue is flushed, two resources coming online together, the
// quota, expiry, a restart, and messages that come back from a session that never acked them.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { NS } from "../../src/xml/ns.ts";
import { defineModule, type ModuleDefinition } from "../../src/core/module.ts";
import type { Shape } from "../../src/core/schema.ts";
import { modules } from "../../src/modules/index.ts";
import { stanzaIdBy } from "../../src/modules/mam/policy.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { accounts, connect, errorOf, presence, type Im } from "../helpers/im.ts";
import { SmClient } from "../helpers/sm.ts";
import { RawClient } from "../helpers/raw.ts";
import { yielding } from "../helpers/yielding-storage.ts";
import { MemoryStorage } from "../../src/storage/memory.ts";
import type { StorageProvider } from "../../src/storage/types.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const chat = (to: string, body: string, ...extra: Element[]) => xml("message", { to, type: "chat", id: body }, xml("body", null, body), ...extra);
const isMessage = (el: Element) => el.name === "message";
const bodyOf = (el: Element) => el.getChildText("body") ?? "";
const withBody = (prefix: string) => (el: Element) => isMessage(el) && bodyOf(el).startsWith(prefix);
const hint = (name: string) => xml(name, { xmlns: NS.hints });

/** Takes the next n messages whose body starts with `prefix`, in the order they came. */
async function take(c: Im, n: number, prefix = "", ms = 10_000): Promise<Element[]> {
  const out: Element[] = [];
  for (let i = 0; i < n; i++) out.push(await c.next(withBody(prefix), `message ${i + 1} of ${n} '${prefix}…'`, ms));
  return out;
}

/** How long delivery takes in "message/deliver" before the store, ms (a test sets it: a slow archive write, say). */
let deliverLatency = 0;
const slowDelivery = defineModule({
  name: "test-slow-delivery",
  specs: [],
  setup(ctx) {
    ctx.handle("message/deliver", async () => {
      if (deliverLatency > 0) await sleep(deliverLatency);
      return false;
    }, "first");
  },
});
// The archive (XEP-0313) is among the default modules: it stamps the stanza-ids the store files messages under.
const withSlowDelivery = [...modules, slowDelivery as ModuleDefinition<Shape>];

let t: TestServer;
const offlineLog = () => t.server.storage.log("offline");
const stored = (user: string) => offlineLog().count(`${user}@localhost`, {});
async function until(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
const login = (user: string, resource = "r") => connect(t, user, resource, { timeoutMs: 5000 });
async function online(user: string, resource = "r", priority?: number): Promise<Im> {
  const c = await login(user, resource);
  c.send(presence({}, ...(priority === undefined ? [] : [xml("priority", null, String(priority))])));
  return c;
}

const backends: [string, ((dataDir: string) => StorageProvider) | undefined][] = [
  ["the embedded store", undefined],
  ["a store that answers a turn of the event loop later (as networked ones do)", () => yielding(new MemoryStorage())],
];

describe.each(backends)("with %s", (_backend, storage) => {
beforeAll(async () => {
  t = await startServer({ modules: withSlowDelivery, storage, config: { modules: { offline: { quota: 2000 } }, sm: { resumeTimeout: 1 } } });
});
afterAll(() => t.stop());

describe("storing and delivering (XEP-0160 §2)", () => {
  it("Romeo writes to Juliet while she is away: the message is stored before it is acked, then delivered at her login with a delay", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    const { c: r } = await SmClient.login(t.port, romeo!, "garden");
    r.send(chat(`${juliet}@localhost`, "are you there?"));
    r.send("<r xmlns='urn:xmpp:sm:3'/>");
    const a = await r.next((e) => e.name === "a", "the ack");
    expect(a.attrs.h).toBe("1");
    expect(await stored(juliet!)).toBe(1);
    // No error came back: the server took the message.
    expect(r.inbox.filter((e) => e.attrs.type === "error")).toEqual([]);

    const j = await login(juliet!, "balcony");
    await j.nothing(isMessage, 150); // nothing before her initial presence
    j.send(presence());
    const [m] = await take(j, 1);
    expect(m!.attrs).toMatchObject({ from: `${romeo}@localhost/garden`, to: `${juliet}@localhost`, type: "chat" });
    const delay = m!.getChild("delay", NS.delay)!;
    expect(delay.attrs.from).toBe("localhost");
    expect(Math.abs(Date.parse(delay.attrs.stamp!) - Date.now())).toBeLessThan(10_000);
    expect(await stored(juliet!)).toBe(0);
    r.cut();
    await j.stop();
  });

  it("three senders, fifty messages each, at once: all 150 arrive, each sender's in order, none twice", async () => {
    const [juliet, ...senders] = await accounts(t, "juliet", "romeo", "mercutio", "benvolio");
    const clients = await Promise.all(senders.map((s) => login(s!)));
    clients.forEach((c, k) => {
      for (let i = 0; i < 50; i++) c.send(chat(`${juliet}@localhost`, `s${k}-${i}`));
    });
    await until("150 stored", async () => (await stored(juliet!)) === 150);
    const j = await online(juliet!);
    const got = (await take(j, 150)).map(bodyOf);
    expect(new Set(got).size).toBe(150);
    for (let k = 0; k < 3; k++) {
      expect(got.filter((b) => b.startsWith(`s${k}-`))).toEqual(Array.from({ length: 50 }, (_, i) => `s${k}-${i}`));
    }
    await j.nothing(isMessage, 100);
    await Promise.all([...clients, j].map((c) => c.stop()));
  });

  it("messages that arrive while the queue is being flushed come after every stored one", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    const r = await login(romeo!);
    for (let i = 0; i < 1000; i++) r.send(chat(`${juliet}@localhost`, `stored-${i}`));
    await until("1000 stored", async () => (await stored(juliet!)) === 1000);
    const j = await login(juliet!);
    const started = Date.now();
    j.send(presence());
    // Her own presence comes back before the stored messages are read: she is available from
    // here, so Romeo's next messages are routed to her directly while the flush runs.
    await j.next((e) => e.name === "presence" && e.attrs.from === j.jid, "her own presence");
    for (let i = 0; i < 200; i++) r.send(chat(`${juliet}@localhost`, `live-${i}`));
    const got = await take(j, 1200);
    const flushMs = Date.now() - started;
    const bodies = got.map(bodyOf);
    expect(bodies).toEqual([...Array.from({ length: 1000 }, (_, i) => `stored-${i}`), ...Array.from({ length: 200 }, (_, i) => `live-${i}`)]);
    expect(got.filter((m) => bodyOf(m).startsWith("live-") && m.getChild("delay", NS.delay))).toEqual([]);
    console.info(`offline: 1000 stored + 200 live messages delivered in order ${flushMs} ms after initial presence`);
    await Promise.all([r.stop(), j.stop()]);
  }, 30_000);

  it("messages already on their way when she comes online are not left behind in the store", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    const r = await login(romeo!);
    for (let i = 0; i < 300; i++) r.send(chat(`${juliet}@localhost`, `stored-${i}`));
    await until("300 stored", async () => (await stored(juliet!)) === 300);
    const j = await login(juliet!);
    // Sent with her presence: the first of these find her not yet available, and while their
    // delivery takes its time, she comes online and her flush runs; by the time they reach the
    // store she is online.
    deliverLatency = 3;
    let bodies: string[];
    try {
      for (let i = 0; i < 50; i++) r.send(chat(`${juliet}@localhost`, `live-${i}`));
      j.send(presence());
      bodies = (await take(j, 350)).map(bodyOf);
    } finally {
      deliverLatency = 0;
    }
    expect(bodies).toEqual([...Array.from({ length: 300 }, (_, i) => `stored-${i}`), ...Array.from({ length: 50 }, (_, i) => `live-${i}`)]);
    expect(await stored(juliet!)).toBe(0);
    await Promise.all([r.stop(), j.stop()]);
  });

  it("two resources coming online together: each stored message goes to exactly one of them", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    const r = await login(romeo!);
    for (let i = 0; i < 250; i++) r.send(chat(`${juliet}@localhost`, `m-${i}`));
    await until("250 stored", async () => (await stored(juliet!)) === 250);
    const [a, b] = await Promise.all([login(juliet!, "a"), login(juliet!, "b")]);
    a!.send(presence());
    b!.send(presence());
    await until("the queue emptied", async () => (await stored(juliet!)) === 0);
    // Each sees the other's presence once both are in; by then the flush has been written.
    await a!.next((e) => e.name === "presence" && e.attrs.from === b!.jid, "b's presence");
    await b!.next((e) => e.name === "presence" && e.attrs.from === a!.jid, "a's presence");
    await sleep(100);
    const gotA = a!.inbox.filter(withBody("m-")).map(bodyOf);
    const gotB = b!.inbox.filter(withBody("m-")).map(bodyOf);
    expect(gotA.filter((x) => gotB.includes(x))).toEqual([]);
    expect([...gotA, ...gotB].sort()).toEqual(Array.from({ length: 250 }, (_, i) => `m-${i}`).sort());
    // The queue went to one resource, whole and in order.
    const whole = gotA.length > 0 ? gotA : gotB;
    expect(whole).toEqual(Array.from({ length: 250 }, (_, i) => `m-${i}`));
    await Promise.all([r.stop(), a!.stop(), b!.stop()]);
  });

  it("a resource of negative priority gets none; raising its priority to zero brings them (§2 step 5)", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    const shy = await online(juliet!, "shy", -1);
    await shy.next((e) => e.name === "presence" && e.attrs.from === shy.jid, "its own presence");
    const r = await login(romeo!);
    r.send(chat(`${juliet}@localhost`, "hello shy"));
    await until("stored", async () => (await stored(juliet!)) === 1);
    await shy.nothing(isMessage, 100);
    shy.send(presence({}, xml("priority", null, "0")));
    const [m] = await take(shy, 1);
    expect(bodyOf(m!)).toBe("hello shy");
    await Promise.all([r.stop(), shy.stop()]);
  });
});

describe("what is not stored", () => {
  it("chat states alone are dropped silently; with the store hint they are kept (XEP-0085, XEP-0334)", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    const r = await login(romeo!);
    r.send(xml("message", { to: `${juliet}@localhost`, type: "chat", id: "typing" }, xml("composing", { xmlns: NS.chatStates })));
    r.send(xml("message", { to: `${juliet}@localhost`, type: "chat", id: "kept" }, xml("gone", { xmlns: NS.chatStates }), hint("store")));
    r.send(chat(`${juliet}@localhost`, "after"));
    await until("two stored", async () => (await stored(juliet!)) === 2);
    await r.nothing((e) => e.attrs.type === "error", 100);
    const j = await online(juliet!);
    const first = await j.next(isMessage, "the first stored message");
    expect(first.attrs.id).toBe("kept");
    expect(bodyOf(await j.next(isMessage, "the second"))).toBe("after");
    await Promise.all([r.stop(), j.stop()]);
  });

  it("a client inactive at its login (XEP-0352): a stored message with a body comes at once, the chat state stored after it waits for <active/>", async () => {
    // The flush writes stored text as it is unless a hold below it (client state indication) wants to read it.
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    const r = await login(romeo!);
    r.send(chat(`${juliet}@localhost`, "while-inactive"));
    r.send(xml("message", { to: `${juliet}@localhost`, type: "chat", id: "state" }, xml("paused", { xmlns: NS.chatStates }), hint("store")));
    await until("two stored", async () => (await stored(juliet!)) === 2);
    const j = await login(juliet!);
    j.send(xml("inactive", { xmlns: NS.csi }));
    j.send(presence({}));
    expect(bodyOf(await j.next(isMessage, "the message with a body"))).toBe("while-inactive");
    await j.nothing(isMessage, 300);
    j.send(xml("active", { xmlns: NS.csi }));
    const state = await j.next(isMessage, "the chat state, once active");
    expect(state.attrs.id).toBe("state");
    expect(state.getChild("delay", NS.delay)?.attrs.from).toBe("localhost");
    expect(await stored(juliet!)).toBe(0);
    await Promise.all([r.stop(), j.stop()]);
  });

  it("no-store bounces with service-unavailable; no-permanent-store is stored", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    const r = await login(romeo!);
    r.send(chat(`${juliet}@localhost`, "ephemeral", hint("no-store")));
    const err = await r.next((e) => e.attrs.id === "ephemeral", "the bounce");
    expect(err.attrs.type).toBe("error");
    expect(errorOf(err)).toBe("service-unavailable");
    r.send(chat(`${juliet}@localhost`, "off the record", hint("no-permanent-store")));
    await until("stored", async () => (await stored(juliet!)) === 1);
    await r.stop();
  });

  it("groupchat bounces, headline and error vanish, an unknown account bounces: none is stored", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    const r = await login(romeo!);
    r.send(xml("message", { to: `${juliet}@localhost`, type: "groupchat", id: "gc" }, xml("body", null, "x")));
    expect(errorOf(await r.next((e) => e.attrs.id === "gc", "groupchat bounce"))).toBe("service-unavailable");
    r.send(xml("message", { to: `${juliet}@localhost`, type: "headline", id: "hl" }, xml("body", null, "x")));
    r.send(xml("message", { to: `${juliet}@localhost`, type: "error", id: "er" }, xml("error", { type: "cancel" })));
    r.send(chat("nobody-here@localhost", "lost"));
    expect(errorOf(await r.next((e) => e.attrs.id === "lost", "unknown account bounce"))).toBe("service-unavailable");
    await r.nothing((e) => e.attrs.id === "hl" || e.attrs.id === "er", 100);
    expect(await stored(juliet!)).toBe(0);
    expect(await stored("nobody-here")).toBe(0);
    await r.stop();
  });
});

describe("a message a session never acknowledged (XEP-0198)", () => {
  it("comes back to the store when the session ends, and keeps its place before messages stored since", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    const { c: j1 } = await SmClient.login(t.port, juliet!, "phone");
    j1.send("<presence/>");
    await j1.next((e) => e.name === "presence", "own presence");
    const r = await login(romeo!);
    r.send(chat(`${juliet}@localhost`, "first"));
    await j1.next((e) => e.name === "message", "the first message (never acked)");
    // She goes unavailable without acking; the next message is stored while her session lives on.
    j1.send("<presence type='unavailable'/>");
    // A pong behind it on her stream: the server took her unavailable before Romeo's next message.
    j1.send("<iq type='get' id='gone' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    await j1.next((e) => e.name === "iq" && e.attrs.id === "gone", "the pong behind her unavailable");
    r.send(chat(`${juliet}@localhost`, "second"));
    await until("the second stored", async () => (await stored(juliet!)) === 1);
    j1.cut(); // resumeTimeout is 1 s: then the unacked 'first' goes back through the router
    await until("the first back in the store", async () => (await stored(juliet!)) === 2, 5000);
    const j2 = await online(juliet!, "desk");
    expect((await take(j2, 2)).map(bodyOf)).toEqual(["first", "second"]);
    await Promise.all([r.stop(), j2.stop()]);
  });

  it("a phone that loses its connection just after its initial presence loses nothing: all comes back in order", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    const r = await login(romeo!);
    for (let i = 0; i < 500; i++) r.send(chat(`${juliet}@localhost`, `stored-${i}`));
    await until("500 stored", async () => (await stored(juliet!)) === 500);
    const { c: phone } = await SmClient.login(t.port, juliet!, "phone");
    phone.send("<presence/>");
    await phone.next(isMessage, "the first stored message");
    phone.cut(); // not resumed: after 1 s what it did not ack goes back through the router
    for (let i = 0; i < 50; i++) r.send(chat(`${juliet}@localhost`, `live-${i}`));
    await until("all back in the store", async () => (await stored(juliet!)) === 550, 8000);
    const desk = await online(juliet!, "desk");
    const bodies = (await take(desk, 550)).map(bodyOf);
    expect(bodies).toEqual([...Array.from({ length: 500 }, (_, i) => `stored-${i}`), ...Array.from({ length: 50 }, (_, i) => `live-${i}`)]);
    await desk.nothing(isMessage, 100);
    await Promise.all([r.stop(), desk.stop()]);
  }, 20_000);

  it("what the store would not keep: a lone chat state vanishes, a no-store message bounces with recipient-unavailable", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    const { c: j1 } = await SmClient.login(t.port, juliet!, "phone");
    j1.send("<presence/>");
    await j1.next((e) => e.name === "presence", "own presence");
    const r = await login(romeo!);
    r.send(xml("message", { to: `${juliet}@localhost`, type: "chat", id: "typing" }, xml("composing", { xmlns: NS.chatStates })));
    r.send(chat(`${juliet}@localhost`, "ephemeral", hint("no-store")));
    await j1.next((e) => e.attrs.id === "ephemeral", "the no-store message (never acked)");
    j1.send("</stream:stream>");
    const err = await r.next((e) => e.attrs.id === "ephemeral", "the bounce");
    expect(err.attrs.type).toBe("error");
    expect(errorOf(err)).toBe("recipient-unavailable");
    await r.nothing((e) => e.attrs.id === "typing", 100);
    expect(await stored(juliet!)).toBe(0);
    await r.stop();
  });

  it("goes to another available resource of the account if there is one", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    const { c: j1 } = await SmClient.login(t.port, juliet!, "phone");
    j1.send("<presence><priority>5</priority></presence>");
    await j1.next((e) => e.name === "presence", "own presence");
    const desk = await online(juliet!, "desk", 1);
    const r = await login(romeo!);
    r.send(chat(`${juliet}@localhost`, "to the top resource"));
    await j1.next((e) => e.name === "message", "the message (never acked)");
    await desk.nothing(withBody("to the top"), 50);
    j1.send("</stream:stream>");
    const [m] = await take(desk, 1, "to the top");
    expect(m!.attrs.from).toBe(`${romeo}@localhost/r`);
    expect(await stored(juliet!)).toBe(0);
    await Promise.all([r.stop(), desk.stop()]);
  });
});

describe("a client that reads its archive (XEP-0313)", () => {
  it("having queried the archive before its initial presence, it gets only what the archive does not have", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    const r = await login(romeo!);
    r.send(chat(`${juliet}@localhost`, "archived"));
    await until("stored", async () => (await stored(juliet!)) === 1);
    // One entry without an archive id, as stored while the archive had retention 0 or preferences said never.
    await offlineLog().append([{ owner: `${juliet}@localhost`, id: t.server.ids.next(), at: Date.now(), with: "", expires: 0,
      value: `<message from="${romeo}@localhost/r" to="${juliet}@localhost" type="chat"><body>not archived</body></message>` }]);
    const j = await login(juliet!);
    const fin = await j.ask(xml("iq", { type: "set" }, xml("query", { xmlns: NS.mam, queryid: "catch-up" })));
    expect(fin.attrs.type).toBe("result");
    const fromArchive = j.inbox.filter((e) => e.getChild("result", NS.mam)?.attrs.queryid === "catch-up");
    expect(fromArchive.map((e) => e.getChild("result", NS.mam)!.getChild("forwarded", NS.forward)!.getChild("message")!.getChildText("body"))).toEqual(["archived"]);
    j.inbox.length = 0;
    j.send(presence());
    expect((await take(j, 1)).map(bodyOf)).toEqual(["not archived"]);
    await j.nothing(isMessage, 100);
    expect(await stored(juliet!)).toBe(0);
    await Promise.all([r.stop(), j.stop()]);
  });

  it("without querying it first, it gets everything from the store", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    const r = await login(romeo!);
    r.send(chat(`${juliet}@localhost`, "archived too"));
    await until("stored", async () => (await stored(juliet!)) === 1);
    const j = await online(juliet!);
    const [m] = await take(j, 1);
    expect(bodyOf(m!)).toBe("archived too");
    expect(stanzaIdBy(m!, `${juliet}@localhost`)).toBeDefined();
    await Promise.all([r.stop(), j.stop()]);
  });
});
});

describe("quota, expiry and restart", () => {
  let small: TestServer;
  beforeAll(async () => {
    small = await startServer({ users: { romeo: "pw", juliet: "pw", nurse: "pw" }, config: { modules: { offline: { quota: 3, expireDays: 2, sweepSeconds: 1 } } } });
  });
  afterAll(() => small.stop());
  const log = () => small.server.storage.log("offline");

  it("a full queue: the sender gets service-unavailable, and what was stored is all delivered", async () => {
    const r = await connect(small, "romeo");
    for (let i = 0; i < 5; i++) r.send(chat("juliet@localhost", `q${i}`));
    for (const id of ["q3", "q4"]) {
      const err = await r.next((e) => e.attrs.id === id, `bounce of ${id}`);
      expect(err.attrs.type).toBe("error");
      expect(errorOf(err)).toBe("service-unavailable");
    }
    await r.nothing((e) => e.attrs.type === "error" && ["q0", "q1", "q2"].includes(e.attrs.id ?? ""), 50);
    const entries = (await log().query("juliet@localhost", { limit: 10 })).entries;
    expect(entries).toHaveLength(3);
    // expireDays: 2
    for (const e of entries) expect(e.expires).toBe(e.at + 2 * 86_400_000);
    const j = await connect(small, "juliet");
    j.send(presence());
    expect((await take(j, 3)).map(bodyOf)).toEqual(["q0", "q1", "q2"]);
    // Room again.
    r.send(chat("juliet@localhost", "q5"));
    expect(bodyOf((await take(j, 1))[0]!)).toBe("q5");
    await Promise.all([r.stop(), j.stop()]);
  });

  it("expired messages are deleted by the sweep and never delivered", async () => {
    const nurse = "nurse@localhost";
    const past = Date.now() - 3 * 86_400_000;
    await log().append([
      { owner: nurse, id: small.server.ids.next(), at: past, with: "", expires: past + 2 * 86_400_000, value: `<message to="${nurse}" type="chat"><body>too old</body></message>` },
    ]);
    expect(await log().count(nurse, {})).toBe(1);
    await until("swept", async () => (await log().count(nurse, {})) === 0, 5000);
    // And the flush does not wait for the sweep: one that expires while it waits is not sent.
    await log().append([
      { owner: nurse, id: small.server.ids.next(), at: past, with: "", expires: Date.now() + 300, value: `<message to="${nurse}" type="chat"><body>expiring</body></message>` },
      { owner: nurse, id: small.server.ids.next(), at: past, with: "", expires: 0, value: `<message to="${nurse}" type="chat"><body>kept</body></message>` },
    ]);
    await sleep(400);
    const n = await connect(small, "nurse");
    n.send(presence());
    expect((await take(n, 1)).map(bodyOf)).toEqual(["kept"]);
    await n.nothing(isMessage, 100);
    await n.stop();
  });

  it("a restart keeps what was stored", async () => {
    const dataDir = small.dataDir;
    const r = await connect(small, "romeo");
    r.send(chat("juliet@localhost", "across a restart"));
    await until("stored", async () => (await log().count("juliet@localhost", {})) === 1);
    await r.stop();
    await small.stop(false);
    small = await startServer({ dataDir, config: { modules: { offline: { quota: 3, expireDays: 2, sweepSeconds: 1 } } } });
    const j = await connect(small, "juliet");
    j.send(presence());
    const [m] = await take(j, 1);
    expect(bodyOf(m!)).toBe("across a restart");
    expect(m!.getChild("delay", NS.delay)!.attrs.from).toBe("localhost");
    await j.stop();
  });
});

describe("a flush larger than the connection's backlog", () => {
  it("fifty stored messages of 250 KB (12.5 MB) all reach the client, at the pace it reads them; its login is not closed", { timeout: 60_000 }, async () => {
    const s = await startServer({ users: { romeo: "pw", carol: "pw" } });
    const { c: r } = await SmClient.login(s.port, "romeo", "garden", { resume: false });
    const big = "y".repeat(250_000);
    for (let i = 1; i <= 50; i++) r.send(xml("message", { to: "carol@localhost", type: "chat", id: `m${i}` }, xml("body", null, `${i} ${big}`)));
    r.send("<r xmlns='urn:xmpp:sm:3'/>");
    expect((await r.next((e) => e.name === "a", "the ack", 30_000)).attrs.h).toBe("50");
    expect(await s.server.storage.log("offline").count("carol@localhost", {})).toBe(50);
    const c = await RawClient.login(s.port, "carol", "pw", "phone");
    c.send("<presence/>");
    for (let i = 1; i <= 50; i++) await c.expect(`<body>${i} yyy`, 30_000);
    expect(c.closed).toBe(false);
    c.send("<iq type='get' id='still' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    await c.expect(/<iq [^>]*id="still"/);
    c.close();
    r.cut();
    await s.stop();
  });
});
