// XEP-0191 Blocking Command over real sockets. Juliet blocks Romeo: her resources that asked for
// the blocklist hear of it, Romeo sees her go offline and can no longer reach her (his messages
// and iqs bounce as if she were offline, his presence and probes vanish), and what she sends him
// is refused with <blocked/>. She unblocks him and both see each other again.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { accounts, connect, errorOf, given, presence, type Im } from "../helpers/im.ts";

const BLOCKING = "urn:xmpp:blocking";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const iq = (type: string, payload: Element) => xml("iq", { type }, payload);
const command = (name: string, ...jids: (string | undefined)[]) => iq(name === "blocklist" ? "get" : "set",
  xml(name, { xmlns: BLOCKING }, jids.map((jid) => xml("item", { jid }))));
const listed = (reply: Element) => reply.getChild("blocklist", BLOCKING)!.getChildren("item").map((i) => i.attrs.jid);
const isBlockPush = (name: string) => (el: Element) => el.name === "iq" && el.attrs.type === "set" && el.getChild(name, BLOCKING) !== undefined;
const pushed = (el: Element, name: string) => el.getChild(name, BLOCKING)!.getChildren("item").map((i) => i.attrs.jid);
const chat = (to: string, body: string) => xml("message", { to, type: "chat", id: body }, xml("body", null, body));
const sent = (c: Im, body: string) => (el: Element) => el.name === "message" && el.attrs.id === body;

let t: TestServer;
beforeAll(async () => {
  t = await startServer();
});
afterAll(() => t.stop());

/** Juliet and Romeo, subscribed both ways, both online; Juliet on two resources. */
async function lovers() {
  const [j, r] = (await accounts(t, "juliet", "romeo")) as [string, string];
  await given(t, j, r, "both");
  await given(t, r, j, "both");
  const phone = await connect(t, j, "phone");
  const desk = await connect(t, j, "desk");
  const romeo = await connect(t, r, "orchard");
  for (const c of [phone, desk, romeo]) c.send(presence());
  await romeo.next((el) => el.name === "presence" && el.attrs.from === desk.jid && el.attrs.type === undefined, "Juliet online");
  await phone.next((el) => el.name === "presence" && el.attrs.from === romeo.jid && el.attrs.type === undefined, "Romeo online");
  await sleep(100);
  for (const c of [phone, desk, romeo]) c.inbox.length = 0;
  const bare = { juliet: `${j}@localhost`, romeo: `${r}@localhost` };
  return { phone, desk, romeo, bare, stop: async () => void (await Promise.all([phone, desk, romeo].map((c) => c.stop()))) };
}

describe("XEP-0191 blocking command", () => {
  it("the server advertises urn:xmpp:blocking (§3.1)", async () => {
    const [u] = await accounts(t, "disco");
    const c = await connect(t, u!, "r");
    const info = await c.ask(xml("iq", { type: "get", to: "localhost" }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" })));
    expect(info.getChild("query")!.getChildren("feature").map((f) => f.attrs.var)).toContain(BLOCKING);
    await c.stop();
  });

  it("blocklist, block and unblock, with pushes to the resources that asked for the list", async () => {
    const { phone, desk, romeo, bare } = await lovers();
    expect(listed(await phone.ask(command("blocklist")))).toEqual([]);

    const reply = await phone.ask(command("block", bare.romeo, "Tybalt@Localhost"));
    expect(reply.attrs.type).toBe("result");
    expect(pushed(await phone.next(isBlockPush("block"), "block push"), "block")).toEqual([bare.romeo, "tybalt@localhost"]);
    // The desk never asked for the list: it gets no pushes.
    await desk.nothing(isBlockPush("block"));
    expect(listed(await desk.ask(command("blocklist")))).toEqual([bare.romeo, "tybalt@localhost"]);

    // Blocking again changes nothing and pushes nothing.
    expect((await phone.ask(command("block", bare.romeo))).attrs.type).toBe("result");
    await phone.nothing(isBlockPush("block"));

    expect((await desk.ask(command("unblock", "tybalt@localhost"))).attrs.type).toBe("result");
    for (const c of [phone, desk]) expect(pushed(await c.next(isBlockPush("unblock"), "unblock push"), "unblock")).toEqual(["tybalt@localhost"]);
    expect(listed(await phone.ask(command("blocklist")))).toEqual([bare.romeo]);

    // The list outlives the sessions.
    await phone.stop();
    const again = await connect(t, bare.juliet.split("@")[0]!, "again");
    expect(listed(await again.ask(command("blocklist")))).toEqual([bare.romeo]);

    // §3.5: an empty <unblock/> unblocks everyone, and the push is empty too.
    expect((await again.ask(command("unblock"))).attrs.type).toBe("result");
    const all = await again.next(isBlockPush("unblock"), "unblock-all push");
    expect(pushed(all, "unblock")).toEqual([]);
    expect(listed(await again.ask(command("blocklist")))).toEqual([]);
    await Promise.all([again.stop(), desk.stop(), romeo.stop()]);
  });

  it("bad commands get the errors the XEP names, and a blocklist is its owner's only", async () => {
    const { phone, romeo, bare, stop } = await lovers();
    expect(errorOf(await phone.ask(command("block")))).toBe("bad-request");
    expect(errorOf(await phone.ask(command("block", "@nobody")))).toBe("jid-malformed");
    expect(errorOf(await phone.ask(command("block", undefined)))).toBe("bad-request");
    const setList = command("blocklist");
    setList.attrs.type = "set";
    expect(errorOf(await phone.ask(setList))).toBe("bad-request");
    const peek = command("blocklist");
    peek.attrs.to = bare.juliet;
    expect(errorOf(await romeo.ask(peek))).toBe("forbidden");
    expect(listed(await phone.ask(command("blocklist")))).toEqual([]);
    await stop();
  });

  it("Romeo, blocked, sees Juliet go offline and cannot reach her; what she sends him is refused", async () => {
    const { phone, desk, romeo, bare, stop } = await lovers();
    await phone.ask(command("block", bare.romeo));
    // §3.3: he sees her resources go unavailable.
    const gone = new Set<string>();
    for (let i = 0; i < 2; i++) gone.add((await romeo.next((el) => el.name === "presence" && el.attrs.type === "unavailable", "unavailable")).attrs.from!);
    expect([...gone].sort()).toEqual([desk.jid, phone.jid].sort());

    // His message bounces as if she were offline; neither of her resources gets it.
    romeo.send(chat(bare.juliet, "hello?"));
    const bounce = await romeo.next((el) => el.attrs.id === "hello?", "the bounce");
    expect(bounce.attrs.type).toBe("error");
    expect(errorOf(bounce)).toBe("service-unavailable");
    // An iq to her full JID too.
    const ping = await romeo.ask(xml("iq", { type: "get", to: phone.jid }, xml("ping", { xmlns: "urn:xmpp:ping" })));
    expect(errorOf(ping)).toBe("service-unavailable");
    // His presence, his subscription requests and his probes vanish without an answer.
    romeo.send(presence({}, xml("show", null, "away")));
    romeo.send(presence({ to: bare.juliet, type: "subscribe" }));
    romeo.send(presence({ to: bare.juliet, type: "probe" }));
    await sleep(300);
    for (const c of [phone, desk]) expect(c.inbox.filter((el) => el.attrs.from?.startsWith(bare.romeo)).map(String)).toEqual([]);
    expect(romeo.inbox.filter((el) => el.attrs.from?.startsWith(bare.juliet)).map(String)).toEqual([]);

    // What Juliet sends him is refused with <blocked/>; her presence no longer reaches him.
    phone.send(chat(bare.romeo, "goodbye"));
    const refused = await phone.next((el) => el.attrs.id === "goodbye", "the refusal");
    expect(refused.attrs.type).toBe("error");
    expect(errorOf(refused)).toBe("not-acceptable");
    expect(refused.getChild("error")!.attrs.type).toBe("cancel");
    expect(refused.getChild("error")!.getChild("blocked", "urn:xmpp:blocking:errors")).toBeDefined();
    const probe = await phone.ask(xml("iq", { type: "get", to: romeo.jid }, xml("ping", { xmlns: "urn:xmpp:ping" })));
    expect(errorOf(probe)).toBe("not-acceptable");
    desk.send(presence({}, xml("show", null, "dnd")));
    await phone.next((el) => el.name === "presence" && el.getChildText("show") === "dnd", "her own resources still hear her");
    await sleep(200);
    expect(romeo.inbox.filter((el) => el.attrs.from?.startsWith(bare.juliet)).map(String)).toEqual([]);
    // Her own resources are never blocked from each other.
    phone.send(chat(desk.jid, "note to self"));
    await desk.next(sent(desk, "note to self"), "her own message");
    await stop();
  });

  it("after unblocking, presence flows both ways again and messages go through", async () => {
    const { phone, romeo, bare, stop } = await lovers();
    await phone.ask(command("block", bare.romeo));
    await romeo.next((el) => el.name === "presence" && el.attrs.type === "unavailable", "unavailable");
    await sleep(100);
    romeo.inbox.length = 0;
    await phone.ask(command("unblock", bare.romeo));
    // §3.4: he gets her current presence; she gets his (the server probes him for her).
    await romeo.next((el) => el.name === "presence" && el.attrs.from === phone.jid && el.attrs.type === undefined, "her presence");
    await phone.next((el) => el.name === "presence" && el.attrs.from === romeo.jid && el.attrs.type === undefined, "his presence");
    romeo.send(chat(bare.juliet, "again"));
    await phone.next(sent(phone, "again"), "his message");
    await stop();
  });

  it("a full JID item blocks that resource only", async () => {
    const { phone, romeo, bare, stop } = await lovers();
    await phone.ask(command("block", romeo.jid));
    romeo.send(chat(bare.juliet, "from the orchard"));
    expect(errorOf(await romeo.next((el) => el.attrs.id === "from the orchard", "bounce"))).toBe("service-unavailable");
    const other = await connect(t, bare.romeo.split("@")[0]!, "balcony");
    other.send(chat(bare.juliet, "from below"));
    await phone.next(sent(phone, "from below"), "from another resource");
    await Promise.all([stop(), other.stop()]);
  });
  it("a domain item blocks every user of the domain, but never the account's own resources or its server", async () => {
    const { phone, desk, romeo, bare, stop } = await lovers();
    await phone.ask(command("block", "localhost"));
    romeo.send(chat(bare.juliet, "anyone?"));
    expect(errorOf(await romeo.next((el) => el.attrs.id === "anyone?", "bounce"))).toBe("service-unavailable");
    phone.send(chat(bare.romeo, "nobody"));
    expect(errorOf(await phone.next((el) => el.attrs.id === "nobody", "refusal"))).toBe("not-acceptable");
    phone.send(chat(desk.jid, "still me"));
    await desk.next(sent(desk, "still me"), "her own message");
    const pong = await phone.ask(xml("iq", { type: "get", to: "localhost" }, xml("ping", { xmlns: "urn:xmpp:ping" })));
    expect(pong.attrs.type).toBe("result");
    await stop();
  });
});
