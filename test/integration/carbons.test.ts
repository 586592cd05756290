// XEP-0280 message carbons over real sockets. Romeo has three resources: home and garden have
// carbons enabled, the phone has not. Juliet writes to him and he answers; each resource gets
// the original, a copy, or nothing, by the rules of §6-§8; private and no-copy messages are not
// copied; a detached session queues its copies; copies a session never acknowledged vanish.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { NS } from "../../src/xml/ns.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { accounts, connect, errorOf, presence, type Im } from "../helpers/im.ts";
import { SmClient } from "../helpers/sm.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isMessage = (el: Element) => el.name === "message";
const chat = (to: string, body: string, ...extra: Element[]) => xml("message", { to, type: "chat", id: body }, xml("body", null, body), ...extra);
/** The message inside a carbon copy of this kind, if `el` is one. */
const inner = (el: Element, kind: "sent" | "received") =>
  el.getChild(kind, NS.carbons)?.getChild("forwarded", NS.forward)?.getChild("message");
const copyOf = (kind: "sent" | "received", id: string) => (el: Element) => isMessage(el) && inner(el, kind)?.attrs.id === id;
const original = (id: string) => (el: Element) => isMessage(el) && el.attrs.id === id;
const carbons = (c: Im, on = true) => c.ask(xml("iq", { type: "set" }, xml(on ? "enable" : "disable", { xmlns: NS.carbons })));

let t: TestServer;
beforeAll(async () => {
  t = await startServer({ config: { sm: { resumeTimeout: 1 } } });
});
afterAll(() => t.stop());

async function online(user: string, resource: string, priority = 0, withCarbons = false): Promise<Im> {
  const c = await connect(t, user, resource);
  if (withCarbons) expect((await carbons(c)).attrs.type).toBe("result");
  c.send(presence({}, xml("priority", null, String(priority))));
  await c.next((e) => e.name === "presence" && e.attrs.from === c.jid, "its own presence");
  return c;
}

/** Romeo with home (priority 5, carbons), garden (priority 1, carbons), phone (priority 0, none); Juliet. */
async function cast() {
  const [romeo, juliet] = await accounts(t, "romeo", "juliet");
  const home = await online(romeo!, "home", 5, true);
  const garden = await online(romeo!, "garden", 1, true);
  const phone = await online(romeo!, "phone", 0);
  const j = await online(juliet!, "balcony");
  const R = `${romeo}@localhost`;
  const J = `${juliet}@localhost`;
  const all = [home, garden, phone, j];
  return { R, J, home, garden, phone, j, stop: () => Promise.all(all.map((c) => c.stop())) };
}

describe("enabling (§4, §5)", () => {
  it("enable and disable answer result, also when repeated; not for another account", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    const c = await connect(t, romeo!, "r");
    for (const on of [true, true, false, false, true]) expect((await carbons(c, on)).attrs.type).toBe("result");
    const other = await c.ask(xml("iq", { type: "set", to: `${juliet}@localhost` }, xml("enable", { xmlns: NS.carbons })));
    expect(errorOf(other)).toBe("not-allowed");
    const get = await c.ask(xml("iq", { type: "get" }, xml("enable", { xmlns: NS.carbons })));
    expect(errorOf(get)).toBe("bad-request");
    await c.stop();
  });
});

describe("copies (§6-§8)", () => {
  it("received: Juliet writes to Romeo's home; garden gets a <received/> copy, the phone nothing", async () => {
    const { R, J, home, garden, phone, j, stop } = await cast();
    j.send(chat(`${R}/home`, "r1"));
    await home.next(original("r1"), "the original at home");
    const copy = await garden.next(copyOf("received", "r1"), "the copy in the garden");
    expect(copy.attrs).toMatchObject({ from: R, to: `${R}/garden`, type: "chat" });
    const m = inner(copy, "received")!;
    expect(m.attrs).toMatchObject({ xmlns: "jabber:client", from: `${J}/balcony`, to: `${R}/home`, type: "chat" });
    expect(m.getChildText("body")).toBe("r1");
    await home.nothing(copyOf("received", "r1"), 50);
    await phone.nothing(isMessage, 50);
    await stop();
  });

  it("received, to the bare JID: the top resource gets it, the other enabled one a copy", async () => {
    const { R, home, garden, phone, j, stop } = await cast();
    j.send(chat(R, "bare1"));
    await home.next(original("bare1"), "the original at home (priority 5)");
    await garden.next(copyOf("received", "bare1"), "the copy in the garden");
    await phone.nothing(isMessage, 50);
    await stop();
  });

  it("sent: Romeo answers from home; garden gets a <sent/> copy, home and the phone none", async () => {
    const { R, J, home, garden, phone, j, stop } = await cast();
    home.send(chat(`${J}/balcony`, "s1"));
    await j.next(original("s1"), "Juliet gets the answer");
    const copy = await garden.next(copyOf("sent", "s1"), "the sent copy in the garden");
    expect(copy.attrs).toMatchObject({ from: R, to: `${R}/garden`, type: "chat" });
    expect(inner(copy, "sent")!.attrs).toMatchObject({ from: `${R}/home`, to: `${J}/balcony` });
    await home.nothing(copyOf("sent", "s1"), 50);
    await phone.nothing(isMessage, 50);
    // A resource without carbons still has its messages copied to the others (§8).
    phone.send(chat(`${J}/balcony`, "s2"));
    await home.next(copyOf("sent", "s2"), "home's copy of the phone's message");
    await garden.next(copyOf("sent", "s2"), "garden's copy of the phone's message");
    await stop();
  });

  it("private with no-copy (§7) and no-copy alone (XEP-0334) are not copied either way; <private/> stays on the original", async () => {
    const { R, J, home, garden, j, stop } = await cast();
    const priv = () => [xml("private", { xmlns: NS.carbons }), xml("no-copy", { xmlns: NS.hints })];
    home.send(chat(`${J}/balcony`, "p1", ...priv()));
    j.send(chat(`${R}/home`, "p2", ...priv()));
    j.send(chat(`${R}/home`, "p3", xml("no-copy", { xmlns: NS.hints })));
    expect((await j.next(original("p1"), "p1")).getChild("private", NS.carbons)).toBeDefined();
    await home.next(original("p2"), "p2");
    await home.next(original("p3"), "p3");
    j.send(chat(`${R}/home`, "after"));
    await garden.next(copyOf("received", "after"), "the copy of the next message");
    await garden.nothing(isMessage, 50);
    await stop();
  });

  it("chat states and receipts are copied; groupchat and headlines are not", async () => {
    const { R, J, home, garden, j, stop } = await cast();
    j.send(xml("message", { to: `${R}/home`, type: "chat", id: "cs" }, xml("composing", { xmlns: NS.chatStates })));
    j.send(xml("message", { to: `${R}/home`, id: "rc" }, xml("received", { xmlns: NS.receipts, id: "x" })));
    j.send(xml("message", { to: `${R}/home`, type: "groupchat", id: "gc" }, xml("body", null, "room talk")));
    j.send(xml("message", { to: `${R}/home`, type: "headline", id: "hl" }, xml("body", null, "news")));
    home.send(xml("message", { to: `${J}/balcony`, type: "groupchat", id: "gc2" }, xml("body", null, "room talk")));
    await garden.next(copyOf("received", "cs"), "the chat state copy");
    await garden.next(copyOf("received", "rc"), "the receipt copy");
    await home.next(original("hl"), "the headline at home");
    await j.next(original("gc2"), "Juliet's groupchat-typed message");
    await garden.nothing(isMessage, 100);
    await stop();
  });

  it("after disable, no more copies", async () => {
    const { R, home, garden, j, stop } = await cast();
    expect((await carbons(garden, false)).attrs.type).toBe("result");
    j.send(chat(`${R}/home`, "d1"));
    await home.next(original("d1"), "the original");
    await garden.nothing(isMessage, 100);
    await stop();
  });

  it("a message to one's own account gets sent copies only", async () => {
    const { R, home, garden, phone, stop } = await cast();
    phone.send(chat(R, "note to self"));
    await home.next(original("note to self"), "the original to the top resource");
    await home.next(copyOf("sent", "note to self"), "home's sent copy");
    await garden.next(copyOf("sent", "note to self"), "garden's sent copy");
    await garden.nothing(isMessage, 100);
    await home.nothing(isMessage, 0);
    await stop();
  });
});

describe("the archive's stanza-id in sent copies (XEP-0313 §3.4)", () => {
  const SID = "urn:xmpp:sid:0";
  const MAM = "urn:xmpp:mam:2";
  const sids = (m: Element) => m.getChildren("stanza-id", SID).map((s) => ({ by: s.attrs.by, id: s.attrs.id }));

  it("Romeo's sent copy carries the id his archive gave the message, and it is the id his archive answers with; Juliet never sees it", async () => {
    const { R, J, home, garden, j, stop } = await cast();
    // A stanza-id claiming to be by Romeo's archive is no id of his archive's.
    home.send(chat(`${J}/balcony`, "kept1", xml("stanza-id", { xmlns: SID, by: R, id: "forged" })));
    const got = await j.next(original("kept1"), "Juliet gets it");
    const copy = inner(await garden.next(copyOf("sent", "kept1"), "garden's sent copy"), "sent")!;
    const [mine] = sids(copy);
    expect(sids(copy)).toEqual([{ by: R, id: expect.any(String) }]);
    expect(mine!.id).not.toBe("forged");
    // XEP-0313 §3.4: the id in Romeo's archive "MUST NOT" reach Juliet; she gets her archive's.
    expect(sids(got).map((s) => s.id)).not.toContain(mine!.id);
    expect(sids(got).map((s) => s.by)).toContain(J);

    // Garden asks Romeo's archive: the message is there under that id.
    const r = await garden.ask(xml("iq", { type: "set" }, xml("query", { xmlns: MAM, queryid: "c1" },
      xml("x", { xmlns: "jabber:x:data", type: "submit" },
        xml("field", { var: "FORM_TYPE", type: "hidden" }, xml("value", null, MAM)),
        xml("field", { var: "ids" }, xml("value", null, mine!.id))))));
    expect(r.attrs.type).toBe("result");
    const result = await garden.next((m) => m.getChild("result", MAM)?.attrs.queryid === "c1", "the archived message");
    expect(result.getChild("result", MAM)!.attrs.id).toBe(mine!.id);
    expect(result.getChild("result", MAM)!.getChild("forwarded", NS.forward)!.getChild("message")!.getChildText("body")).toBe("kept1");

    // What the archive does not keep (a chat state alone) is copied without an id.
    home.send(xml("message", { to: `${J}/balcony`, type: "chat", id: "cs1" }, xml("composing", { xmlns: NS.chatStates })));
    expect(sids(inner(await garden.next(copyOf("sent", "cs1"), "the chat state's copy"), "sent")!)).toEqual([]);
    await stop();
  });
});

describe("carbons and stream management (XEP-0198)", () => {
  it("a detached session queues its copies and gets them on resumption", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    const home = await online(romeo!, "home", 5, true);
    const { c: garden, enabled } = await SmClient.login(t.port, romeo!, "garden");
    garden.send(`<iq type='set' id='cb'><enable xmlns='${NS.carbons}'/></iq>`);
    await garden.next((e) => e.attrs.id === "cb", "carbons enabled");
    garden.send("<presence><priority>1</priority></presence>");
    await garden.next((e) => e.name === "presence", "own presence");
    garden.ack();
    garden.cut();
    await sleep(100);
    const j = await online(juliet!, "balcony");
    j.send(chat(`${romeo}@localhost/home`, "while detached"));
    await home.next(original("while detached"), "the original");
    const { c: back, reply } = await SmClient.resume(t.port, romeo!, enabled.attrs.id!, garden.handled);
    expect(reply.name).toBe("resumed");
    await back.next(copyOf("received", "while detached"), "the queued copy");
    back.cut();
    await Promise.all([home.stop(), j.stop()]);
  });

  it("stored messages were never copied: one flushed to a session that never acks it goes back to the store", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    const r = await online(romeo!, "r");
    r.send(chat(`${juliet}@localhost`, "stored while away"));
    const log = t.server.storage.log("offline");
    while ((await log.count(`${juliet}@localhost`, {})) === 0) await sleep(10);
    // An enabled resource that takes no bare-JID messages (negative priority) is online too.
    const desk = await online(juliet!, "desk", -1, true);
    const { c: phone } = await SmClient.login(t.port, juliet!, "phone");
    phone.send("<presence/>");
    await phone.next(original("stored while away"), "the stored message (never acked)");
    expect(await log.count(`${juliet}@localhost`, {})).toBe(0);
    phone.send("</stream:stream>");
    for (let i = 0; i < 50 && (await log.count(`${juliet}@localhost`, {})) === 0; i++) await sleep(20);
    expect(await log.count(`${juliet}@localhost`, {})).toBe(1);
    await desk.nothing(isMessage, 0);
    await Promise.all([r.stop(), desk.stop()]);
  });

  it("a copy forged by someone else (<received/> or <sent/>, any prefix) is taken out of the message before Romeo gets it (§11)", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    const home = await online(romeo!, "home", 1, true);
    const j = await online(juliet!, "balcony");
    const forged = (kind: string) => xml("forwarded", { xmlns: NS.forward },
      xml("message", { xmlns: "jabber:client", from: `${romeo}@localhost/garden`, to: `${juliet}@localhost`, type: "chat" }, xml("body", null, `${kind}: I love the nurse`)));
    j.send(chat(`${romeo}@localhost/home`, "wrapped", xml("received", { xmlns: NS.carbons }, forged("received")), xml("sent", { xmlns: NS.carbons }, forged("sent"))));
    const got = await home.next(original("wrapped"), "Juliet's message");
    expect(got.getChildText("body")).toBe("wrapped");
    expect(got.getChild("received", NS.carbons)).toBeUndefined();
    expect(got.getChild("sent", NS.carbons)).toBeUndefined();
    // Written with a prefix, to his bare JID: the same.
    j.send(xml("message", { to: `${romeo}@localhost`, type: "chat", id: "prefixed" }, xml("body", null, "prefixed"),
      xml("c:sent", { "xmlns:c": NS.carbons }, forged("sent"))));
    const prefixed = await home.next(original("prefixed"), "the prefixed one");
    expect(prefixed.toString()).not.toContain("I love the nurse");
    // Carbons of his own still arrive whole.
    const garden = await online(romeo!, "garden", 0, true);
    garden.send(chat(`${juliet}@localhost/balcony`, "from the garden"));
    expect(inner(await home.next(copyOf("sent", "from the garden"), "a real sent copy"), "sent")?.getChildText("body")).toBe("from the garden");
    await Promise.all([home.stop(), garden.stop(), j.stop()]);
  });

  it("unacked copies vanish with their session; an unacked message another enabled resource has a copy of stays there", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    const home = await online(romeo!, "home", 1, true);
    const { c: phone } = await SmClient.login(t.port, romeo!, "phone");
    phone.send(`<iq type='set' id='cb'><enable xmlns='${NS.carbons}'/></iq>`);
    await phone.next((e) => e.attrs.id === "cb", "carbons enabled");
    phone.send("<presence><priority>5</priority></presence>");
    await phone.next((e) => e.name === "presence", "own presence");
    const j = await online(juliet!, "balcony");
    // To the phone (top priority): home gets a copy. From home: the phone gets a sent copy.
    j.send(chat(`${romeo}@localhost`, "to the phone"));
    await phone.next(original("to the phone"), "the original on the phone (never acked)");
    await home.next(copyOf("received", "to the phone"), "home's copy");
    home.send(chat(`${juliet}@localhost/balcony`, "from home"));
    await phone.next(copyOf("sent", "from home"), "the phone's sent copy (never acked)");
    await j.next(original("from home"), "Juliet gets it");
    phone.send("</stream:stream>");
    await sleep(300);
    // Neither comes back: not to home again, not to the store, not as an error to anyone.
    await home.nothing(isMessage, 100);
    await j.nothing(isMessage, 0);
    expect(await t.server.storage.log("offline").count(`${romeo}@localhost`, {})).toBe(0);
    await Promise.all([home.stop(), j.stop()]);
  });
});
