// Stream management (XEP-0198) over real sockets: enabling, h counting both ways, acks, and the
// fault cases a phone produces — a TCP connection destroyed without </stream:stream> in the
// middle of a conversation, a resume after the timeout, a resume before the server noticed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Element } from "../../src/xml/element.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { RawClient } from "../helpers/raw.ts";
import { SmClient, chat } from "../helpers/sm.ts";

const SM = "urn:xmpp:sm:3";
const isSm = (name: string) => (e: Element) => e.attrs.xmlns === SM && e.name === name;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let t: TestServer;
beforeAll(async () => {
  t = await startServer({
    users: { alice: "pw", bob: "pw", carol: "pw", dave: "pw", erin: "pw" },
    config: { sm: { resumeTimeout: 2 } },
  });
});
afterAll(() => t.stop());

describe("XEP-0198 stream management", () => {
  it("is offered after authentication and enabled only after binding", async () => {
    const { c, features } = await RawClient.authenticated(t.port, "alice", "pw");
    expect(features).toContain(`<sm xmlns="${SM}"/>`);
    c.send(`<enable xmlns='${SM}' resume='true'/>`);
    await c.expect(/<failed xmlns="urn:xmpp:sm:3"><unexpected-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"\/><\/failed>/);
    c.close();
  });

  it("answers <enable/> once, with a token and the resumption wait", async () => {
    const { c, enabled } = await SmClient.login(t.port, "alice", "enable");
    expect(enabled.name).toBe("enabled");
    expect(enabled.attrs.resume).toBe("true");
    expect(enabled.attrs.id).toMatch(/^[\w-]{20,}$/);
    expect(enabled.attrs.max).toBe("2");
    c.send(`<enable xmlns='${SM}'/>`);
    const again = await c.next(isSm("failed"));
    expect(again.getChild("unexpected-request")).toBeDefined();
    c.cut();
    const { c: plain, enabled: noResume } = await SmClient.login(t.port, "alice", "plain", { resume: false });
    expect(noResume.attrs.id).toBeUndefined();
    expect(noResume.attrs.resume).toBeUndefined();
    plain.cut();
  });

  it("counts the client's stanzas: <a h/> reports those handled, and only stanzas count", async () => {
    const { c } = await SmClient.login(t.port, "alice", "count");
    c.send(`<r xmlns='${SM}'/>`);
    expect((await c.next(isSm("a"))).attrs.h).toBe("0");
    for (let i = 0; i < 3; i++) c.send(`<iq type='get' id='p${i}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    c.send(`<r xmlns='${SM}'/>`);
    expect((await c.next(isSm("a"))).attrs.h).toBe("3");
    c.cut();
  });

  it("asks the client to ack what it sends, and an h beyond that ends the stream", async () => {
    const { c } = await SmClient.login(t.port, "alice", "ask");
    c.send(`<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await c.next((e) => e.name === "iq" && e.attrs.id === "p1");
    await c.next(isSm("r"));
    c.ack();
    c.send(`<a xmlns='${SM}' h='5'/>`);
    const err = await c.next((e) => e.name === "stream:error");
    expect(err.getChild("undefined-condition")).toBeDefined();
    const detail = err.getChild("handled-count-too-high", SM);
    expect(detail?.attrs).toMatchObject({ h: "5", "send-count": "1" });
  });

  it("a connection destroyed mid-conversation resumes with every unacked message, in order, once", async () => {
    const { c: a, enabled } = await SmClient.login(t.port, "bob", "phone");
    a.send("<presence/>");
    const carol = await SmClient.login(t.port, "carol", "pc", { resume: false });
    for (let i = 1; i <= 3; i++) carol.c.send(chat("bob@localhost/phone", `m${i}`));
    for (let i = 1; i <= 3; i++) await a.next((e) => e.getChildText("body") === `m${i}`);
    a.ack(); // bob's client has m1..m3 (and its own presence echoes, if any)
    const acked = a.handled;
    for (let i = 4; i <= 6; i++) carol.c.send(chat("bob@localhost/phone", `m${i}`));
    await a.next((e) => e.getChildText("body") === "m6"); // received, never acked
    a.cut();
    await sleep(100);
    // Sent while bob's session is detached: queued for him, not bounced.
    for (let i = 7; i <= 8; i++) carol.c.send(chat("bob@localhost", `m${i}`));
    await sleep(100);
    const { c: b, reply } = await SmClient.resume(t.port, "bob", enabled.attrs.id!, acked);
    expect(reply.name).toBe("resumed");
    expect(reply.attrs.previd).toBe(enabled.attrs.id);
    expect(reply.attrs.h).toBe("1"); // bob's presence
    await b.next((e) => e.getChildText("body") === "m8");
    const before = b.inbox.filter((e) => e.name === "message").map((e) => e.getChildText("body"));
    expect([...before, "m8"]).toEqual(["m4", "m5", "m6", "m7", "m8"]);
    b.inbox.length = 0;
    // The session goes on: new messages arrive, the JID is the same, nobody saw an error.
    carol.c.send(chat("bob@localhost/phone", "after"));
    await b.next((e) => e.getChildText("body") === "after");
    expect(carol.c.inbox.filter((e) => e.attrs.type === "error").map(String)).toEqual([]);
    b.cut();
    carol.c.cut();
  });

  it("a resume before the server noticed the old connection takes it over", async () => {
    const { c: old, enabled } = await SmClient.login(t.port, "dave", "tablet");
    old.send("<presence/>");
    await old.next((e) => e.name === "presence");
    const { c: fresh, reply } = await SmClient.resume(t.port, "dave", enabled.attrs.id!, old.handled);
    expect(reply.name).toBe("resumed");
    await old.raw.closedByServer();
    const erin = await SmClient.login(t.port, "erin", "pc", { resume: false });
    erin.c.send(chat("dave@localhost/tablet", "hello again"));
    await fresh.next((e) => e.getChildText("body") === "hello again");
    fresh.cut();
    erin.c.cut();
  });

  it("an unknown token, a token of another account or an expired one is item-not-found, and the stream can still bind", async () => {
    const { c: unknown, reply } = await SmClient.resume(t.port, "alice", "no-such-token", 0);
    expect(reply.name).toBe("failed");
    expect(reply.getChild("item-not-found")).toBeDefined();
    unknown.send(`<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>after-failed</resource></bind></iq>`);
    expect((await unknown.next((e) => e.attrs.id === "b")).attrs.type).toBe("result");
    unknown.cut();

    const { c: bob, enabled } = await SmClient.login(t.port, "bob", "theirs");
    const { c: thief, reply: stolen } = await SmClient.resume(t.port, "alice", enabled.attrs.id!, 0);
    expect(stolen.getChild("item-not-found")).toBeDefined();
    thief.cut();
    bob.cut();
    await sleep(2500); // resumeTimeout is 2 s in this test server
    const { c: late, reply: expired } = await SmClient.resume(t.port, "bob", enabled.attrs.id!, 0);
    expect(expired.getChild("item-not-found")).toBeDefined();
    late.cut();
  });

  it("when a session is not resumed in time, its unacked messages go to the offline store and reach the next login in order", async () => {
    const { c: a } = await SmClient.login(t.port, "erin", "mobile");
    a.send("<presence/>");
    const dave = await SmClient.login(t.port, "dave", "desk", { resume: false });
    for (let i = 1; i <= 5; i++) dave.c.send(chat("erin@localhost", `u${i}`));
    await a.next((e) => e.getChildText("body") === "u5");
    a.cut();
    await sleep(2500);
    const next = await SmClient.login(t.port, "erin", "mobile2", { resume: false });
    next.c.send("<presence/>");
    await next.c.next((e) => e.getChildText("body") === "u5", "the last of them", 5000);
    await sleep(200);
    expect([...next.c.bodies("u"), "u5"]).toEqual(["u1", "u2", "u3", "u4", "u5"]);
    expect(dave.c.inbox.filter((e) => e.name === "message" && e.attrs.type === "error").map(String)).toEqual([]);
    next.c.cut();
    dave.c.cut();
  });
});

describe("a detached session's queue is bounded by size (sm.maxQueueSize)", () => {
  it("what is over it goes to the offline store at once, and follows the queue after <resumed/>, in order, nothing lost", async () => {
    const s = await startServer({ users: { alice: "pw", bob: "pw" }, config: { sm: { resumeTimeout: 30, maxQueueSize: 65_536 } } });
    const { c: phone, enabled } = await SmClient.login(s.port, "alice", "phone");
    phone.send("<presence/>");
    await phone.next((e) => e.name === "presence");
    phone.ack();
    await sleep(50);
    phone.cut();
    await sleep(100);
    const { c: bob } = await SmClient.login(s.port, "bob", "desk", { resume: false });
    const big = "x".repeat(10_000);
    for (let i = 1; i <= 20; i++) bob.send(chat("alice@localhost", `m${i} ${big}`, `m${i}`));
    bob.send(`<r xmlns='${SM}'/>`);
    expect((await bob.next(isSm("a"))).attrs.h).toBe("20"); // each delivered or stored
    // Queued: about 64 KB; the rest was stored at once, not kept in memory for the session.
    const stored = await s.server.storage.log("offline").count("alice@localhost", {});
    expect(stored).toBeGreaterThanOrEqual(13);
    const { c: resumed, reply } = await SmClient.resume(s.port, "alice", enabled.attrs.id!, phone.handled);
    expect(reply.name).toBe("resumed");
    resumed.autoAck = true; // the stored ones come as the client acknowledges the queue
    const last = await resumed.next((e) => e.getChildText("body")?.startsWith("m20 ") === true, "the last message", 5000);
    const got = [...resumed.inbox.filter((e) => e.name === "message"), last];
    expect(got.map((e) => e.getChildText("body")!.split(" ")[0])).toEqual(Array.from({ length: 20 }, (_, i) => `m${i + 1}`));
    // First the queue (resent as it was), then the stored ones (with the store's delay, XEP-0203).
    const delayed = got.map((e) => e.getChild("delay", "urn:xmpp:delay") !== undefined);
    const queued = delayed.indexOf(true);
    expect(queued).toBeGreaterThan(0);
    expect(queued).toBeLessThan(8);
    expect(delayed.slice(queued).every(Boolean)).toBe(true);
    expect(bob.inbox.filter((e) => e.attrs.type === "error").map(String)).toEqual([]);
    resumed.cut();
    bob.cut();
    await s.stop();
  });
});
