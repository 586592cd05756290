// XEP-0352 Client State Indication over real sockets. Juliet's phone goes inactive: the presence
// updates of Romeo and Benvolio wait, newest only, and Romeo's typing waits too; a message with
// a body (or an iq, or <active/>) brings them first and itself last. A receipt is not held. A
// client that never says <inactive/> sees everything at once, and a stream resumed after its
// connection dropped starts active with what was held in its resumption queue.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { accounts, connect, given, presence, type Im } from "../helpers/im.ts";
import { SmClient } from "../helpers/sm.ts";

const CSI = "urn:xmpp:csi:0";
const STATES = "http://jabber.org/protocol/chatstates";
const inactive = xml("inactive", { xmlns: CSI });
const active = xml("active", { xmlns: CSI });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ping = (id: string) => xml("iq", { type: "get", to: "localhost", id }, xml("ping", { xmlns: "urn:xmpp:ping" }));

/** Juliet says <inactive/> and a ping behind it on the same stream: once the pong is back the
 * server has taken her state, so what her contacts send from their own sockets after it is held. */
async function sleepy(c: Im): Promise<void> {
  c.send(inactive);
  expect((await c.ask(ping("settle"))).attrs.type).toBe("result");
}

const show = (value: string) => presence({}, xml("show", null, value));
const typing = (to: string, state = "composing") => xml("message", { to, type: "chat" }, xml(state, { xmlns: STATES }));
const chat = (to: string, body: string) => xml("message", { to, type: "chat", id: body }, xml("body", null, body));
/** A short description of what a client received, for comparing sequences. */
const brief = (el: Element) => {
  const from = el.attrs.from?.split("@")[0]?.replace(/\d+$/, "");
  if (el.name === "presence") return `${from} ${el.attrs.type ?? el.getChildText("show") ?? "available"}`;
  if (el.name === "message") return `${from} ${el.getChildText("body") ?? el.getChildElements()[0]?.name}`;
  return `${from} iq ${el.attrs.type}`;
};

let t: TestServer;
beforeAll(async () => {
  t = await startServer({ config: { sm: { resumeTimeout: 5 } } });
});
afterAll(() => t.stop());

/** Juliet, with Romeo and Benvolio both sending her their presence; all three online. */
async function scene(): Promise<{ juliet: Im; romeo: Im; benvolio: Im; names: string[]; stop(): Promise<void> }> {
  const names = await accounts(t, "juliet", "romeo", "benvolio");
  const [j, r, b] = names as [string, string, string];
  for (const contact of [r, b]) {
    await given(t, contact, j, "from");
    await given(t, j, contact, "to");
  }
  const juliet = await connect(t, j, "phone");
  juliet.send(presence());
  await juliet.next((el) => el.name === "presence" && el.attrs.from === juliet.jid, "her own presence");
  const romeo = await connect(t, r, "orchard");
  const benvolio = await connect(t, b, "street");
  for (const c of [romeo, benvolio]) {
    c.send(presence());
    await juliet.next((el) => el.name === "presence" && el.attrs.from === c.jid, "the contact's presence");
  }
  await sleep(100);
  juliet.inbox.length = 0; // the answers to her probes, sent before Romeo and Benvolio came online
  return { juliet, romeo, benvolio, names, stop: async () => void (await Promise.all([juliet, romeo, benvolio].map((c) => c.stop()))) };
}

describe("XEP-0352 client state indication", () => {
  it("is offered after authentication", async () => {
    const [u] = await accounts(t, "feature");
    const c = await connect(t, u!, "r");
    expect(c.features.at(-1)?.getChild("csi", CSI)).toBeDefined();
    await c.stop();
  });

  it("while inactive, contacts' presence waits and only the newest per contact arrives, before the message that brings it", async () => {
    const { juliet, romeo, benvolio, stop } = await scene();
    await sleepy(juliet);
    romeo.send(show("away"));
    benvolio.send(show("xa"));
    romeo.send(show("dnd"));
    benvolio.send(presence({ type: "unavailable" }));
    await juliet.nothing(() => true, 400);

    romeo.send(chat(juliet.jid, "are you there?"));
    await juliet.next((el) => el.getChildText("body") === "are you there?", "Romeo's message");
    // What was held came first, the newest of each, in the order of their newest update.
    expect(juliet.inbox.map(brief)).toEqual(["romeo dnd", "benvolio unavailable"]);
    juliet.inbox.length = 0;

    // Still inactive: the next update waits again.
    romeo.send(show("chat"));
    await juliet.nothing(() => true, 300);
    await stop();
  });

  it("chat states wait, newest only, and <active/> sends what waited", async () => {
    const { juliet, romeo, stop } = await scene();
    await sleepy(juliet);
    romeo.send(typing(juliet.jid, "composing"));
    romeo.send(typing(juliet.jid, "paused"));
    romeo.send(show("away"));
    await juliet.nothing(() => true, 400);
    juliet.send(active);
    await juliet.next((el) => el.name === "presence" && el.attrs.from === romeo.jid, "Romeo's presence");
    expect(juliet.inbox.map(brief)).toEqual(["romeo paused"]);
    juliet.inbox.length = 0;
    romeo.send(typing(juliet.jid, "composing"));
    await juliet.next((el) => el.getChild("composing", STATES) !== undefined, "typing, at once now");
    await stop();
  });

  it("nonzas are handled in order: a ping after <active/> is answered after what was held", async () => {
    const { juliet, romeo, stop } = await scene();
    await sleepy(juliet);
    romeo.send(show("away"));
    await juliet.nothing(() => true, 300);
    juliet.send(active);
    const pong = await juliet.ask(xml("iq", { type: "get", to: "localhost" }, xml("ping", { xmlns: "urn:xmpp:ping" })));
    expect(pong.attrs.type).toBe("result");
    expect(juliet.inbox.map(brief)).toEqual(["romeo away"]);
    await stop();
  });

  it("an iq to the phone and a receipt are not held; the iq brings what waited", async () => {
    const { juliet, romeo, stop } = await scene();
    await sleepy(juliet);
    romeo.send(show("away"));
    romeo.send(xml("message", { to: juliet.jid }, xml("received", { xmlns: "urn:xmpp:receipts", id: "m1" })));
    await juliet.next((el) => el.getChild("received", "urn:xmpp:receipts") !== undefined, "the receipt");
    // The receipt went out at once, and what was held went with it, before it.
    expect(juliet.inbox.map(brief)).toEqual(["romeo away"]);
    juliet.inbox.length = 0;
    romeo.send(show("dnd"));
    await juliet.nothing(() => true, 300);
    // Her client library answers the iq itself (an error for an unknown payload); what matters is when it arrived.
    await romeo.ask(xml("iq", { type: "get", to: juliet.jid }, xml("query", { xmlns: "jabber:iq:version" })));
    expect(juliet.inbox.map(brief)).toEqual(["romeo dnd", "romeo iq get"]);
    await stop();
  });

  it("a client that never says <inactive/> gets every update at once", async () => {
    const { juliet, romeo, stop } = await scene();
    romeo.send(show("away"));
    await juliet.next((el) => el.name === "presence" && el.getChildText("show") === "away", "away");
    romeo.send(typing(juliet.jid));
    await juliet.next((el) => el.getChild("composing", STATES) !== undefined, "typing");
    romeo.send(show("dnd"));
    await juliet.next((el) => el.name === "presence" && el.getChildText("show") === "dnd", "dnd");
    await stop();
  });

  /** Juliet's phone with stream management, inactive, and Romeo online sending her his presence. */
  async function sleepyPhone() {
    const [j, r] = (await accounts(t, "juliet", "romeo")) as [string, string];
    await given(t, r, j, "from");
    await given(t, j, r, "to");
    const { c: phone, enabled } = await SmClient.login(t.port, j, "phone");
    phone.autoAck = true;
    phone.send("<presence/>");
    await phone.next((el) => el.name === "presence" && el.attrs.from === `${j}@localhost/phone`, "own presence");
    const romeo = await connect(t, r, "orchard");
    romeo.send(presence());
    await phone.next((el) => el.name === "presence" && el.attrs.from === romeo.jid, "Romeo online");
    await sleep(100); // the phone's ack of it is in
    phone.inbox.length = 0;
    phone.send(inactive.toString());
    phone.send(ping("settle").toString());
    await phone.next((el) => el.name === "iq" && el.attrs.id === "settle", "the pong behind <inactive/>");
    return { j, phone, token: enabled.attrs.id!, romeo };
  }
  const shows = (c: SmClient) => c.inbox.filter((el) => el.name === "presence").map((el) => el.getChildText("show") ?? el.attrs.type ?? "available");

  it("a dropped connection keeps holding, newest only; the resumed stream gets what was held and is active (§5.2)", async () => {
    const { j, phone, token, romeo } = await sleepyPhone();
    romeo.send(show("away"));
    await sleep(300);
    expect(shows(phone)).toEqual([]);
    const h = phone.handled;
    phone.cut();
    await sleep(200);
    romeo.send(show("dnd")); // while the session waits to be resumed
    await sleep(200);

    const { c: again, reply } = await SmClient.resume(t.port, j, token, h);
    expect(reply.name).toBe("resumed");
    await again.next((el) => el.name === "presence" && el.getChildText("show") === "dnd", "the newest held presence");
    await sleep(200);
    expect(shows(again)).toEqual([]); // not "away": it was replaced while she slept
    // Active now, without saying so: the next update arrives at once.
    romeo.send(show("xa"));
    await again.next((el) => el.name === "presence" && el.getChildText("show") === "xa", "xa at once");
    again.cut();
    await romeo.stop();
  });

  it("a resumption that takes over a connection the server thought alive also ends inactivity", async () => {
    const { j, phone, token, romeo } = await sleepyPhone();
    romeo.send(show("away"));
    await sleep(300);
    const { c: fresh, reply } = await SmClient.resume(t.port, j, token, phone.handled);
    expect(reply.name).toBe("resumed");
    await fresh.next((el) => el.name === "presence" && el.getChildText("show") === "away", "the held presence");
    romeo.send(show("dnd"));
    await fresh.next((el) => el.name === "presence" && el.getChildText("show") === "dnd", "dnd at once");
    fresh.cut();
    await romeo.stop();
  });
});
