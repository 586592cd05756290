// XEP-0353 Jingle Message Initiation over real sockets. Romeo calls Juliet: his <propose/> rings
// every device of hers, his other devices see it as a carbon, her answer (<proceed/>, <reject/>)
// reaches his devices and stops hers, <retract/> and <finish/> reach everyone; the archive keeps
// the call's messages (MAM), an offline Juliet finds the propose when she logs in, and a phone
// asleep with push enabled (XEP-0357) is woken at once by a push marked urgent.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { NS } from "../../src/xml/ns.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { accounts, connect, presence, type Im } from "../helpers/im.ts";
import { SmClient, chat } from "../helpers/sm.ts";
import { AppServer, enablePush } from "../helpers/push.ts";

const JMI = "urn:xmpp:jingle-message:0";
const MAM = "urn:xmpp:mam:2";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Action = "propose" | "ringing" | "proceed" | "accept" | "reject" | "retract" | "finish";
let calls = 0;
const newCall = () => `call-${++calls}-${Date.now()}`;

/** A JMI message as XEP-0353 §3 writes them: type chat, the action with the session id, a <store/> hint. */
function jmi(to: string, action: Action, id: string, hint = true): Element {
  const payload = action === "propose"
    ? xml("description", { xmlns: "urn:xmpp:jingle:apps:rtp:1", media: "audio" })
    : action === "retract" || action === "reject" || action === "finish"
      ? xml("reason", { xmlns: "urn:xmpp:jingle:1" }, xml(action === "reject" ? "busy" : action === "finish" ? "success" : "cancel"))
      : undefined;
  return xml("message", { to, type: "chat", id: `${action}-${id}` }, xml(action, { xmlns: JMI, id }, payload), hint ? xml("store", { xmlns: NS.hints }) : undefined);
}

/** The JMI action carried by a message, directly or inside a carbon copy of this kind. */
function action(el: Element, carbon?: "sent" | "received"): { name: string; id: string } | undefined {
  if (el.name !== "message") return undefined;
  const m = carbon ? el.getChild(carbon, NS.carbons)?.getChild("forwarded", NS.forward)?.getChild("message") : el;
  const a = m?.getChildElements().find((c) => c.attrs.xmlns === JMI);
  return a ? { name: a.name, id: a.attrs.id ?? "" } : undefined;
}
const is = (name: Action, id: string, carbon?: "sent" | "received") => (el: Element) => {
  const a = action(el, carbon);
  return a?.name === name && a.id === id;
};

let t: TestServer;
beforeAll(async () => {
  t = await startServer({
    users: { push: "pw" },
    config: { sm: { resumeTimeout: 1, pushResumeTimeout: 30 }, modules: { push: { minInterval: 30, timeout: 2 } } },
  });
});
afterAll(() => t.stop());

async function online(user: string, resource: string, opts: { priority?: number; carbons?: boolean } = {}): Promise<Im> {
  const c = await connect(t, user, resource);
  if (opts.carbons) expect((await c.ask(xml("iq", { type: "set" }, xml("enable", { xmlns: NS.carbons })))).attrs.type).toBe("result");
  c.send(presence({}, xml("priority", null, String(opts.priority ?? 0))));
  await c.next((e) => e.name === "presence" && e.attrs.from === c.jid, "its own presence");
  return c;
}

/** Romeo on orchard and garden (carbons), Juliet on phone (priority 5, carbons) and tablet (priority 0, carbons only if told). */
async function cast(tabletCarbons = true) {
  const [r, j] = (await accounts(t, "romeo", "juliet")) as [string, string];
  const orchard = await online(r, "orchard", { carbons: true });
  const garden = await online(r, "garden", { carbons: true });
  const phone = await online(j, "phone", { priority: 5, carbons: true });
  const tablet = await online(j, "tablet", { carbons: tabletCarbons });
  const all = [orchard, garden, phone, tablet];
  return { R: `${r}@localhost`, J: `${j}@localhost`, orchard, garden, phone, tablet, stop: () => Promise.all(all.map((c) => c.stop())) };
}

/** The JMI actions with this id in an account's archive, in order, by a MAM query of one of its resources. */
async function archived(c: Im, id: string): Promise<string[]> {
  const queryid = `q-${id}-${c.jid}`;
  await c.ask(xml("iq", { type: "set" }, xml("query", { xmlns: MAM, queryid })), 10_000);
  const results = c.inbox.filter((el) => el.getChild("result", MAM)?.attrs.queryid === queryid);
  return results.map((r) => action(r.getChild("result", MAM)!.getChild("forwarded", NS.forward)!.getChild("message")!))
    .filter((a) => a?.id === id).map((a) => a!.name);
}

describe("XEP-0353 jingle message initiation", () => {
  it("a propose to the bare JID rings every device of Juliet's, whatever their priority and carbons; Romeo's other device gets a sent carbon", async () => {
    const { R, J, orchard, garden, phone, tablet, stop } = await cast(false);
    const id = newCall();
    orchard.send(jmi(J, "propose", id));
    await phone.next(is("propose", id), "the propose on the phone");
    await tablet.next(is("propose", id), "the propose on the tablet (lower priority, no carbons)");
    const copy = await garden.next(is("propose", id, "sent"), "a sent carbon of the propose in the garden");
    expect(copy.attrs.from).toBe(R);
    // Each device once: no carbon of the original to a device that got it; a chat message still
    // goes to the top priority only (the tablet without carbons does not see it).
    await phone.nothing(is("propose", id, "received"));
    orchard.send(chat(J, "not a call"));
    await phone.next((el) => el.getChildText("body") === "not a call", "a chat message on the phone");
    await tablet.nothing((el) => el.name === "message" && el.toString().includes("not a call"));
    await stop();
  });

  it("Juliet's phone proceeds to Romeo's full JID: orchard gets it, garden a received carbon, her tablet stops ringing", async () => {
    const { J, R, orchard, garden, phone, tablet, stop } = await cast();
    const id = newCall();
    orchard.send(jmi(J, "propose", id));
    await phone.next(is("propose", id), "the propose on the phone");
    await tablet.next(is("propose", id), "the propose on the tablet");
    phone.send(jmi(orchard.jid, "proceed", id));
    const got = await orchard.next(is("proceed", id), "the proceed in the orchard");
    expect(got.attrs.from).toBe(phone.jid);
    await garden.next(is("proceed", id, "received"), "a received carbon of the proceed in the garden");
    // Juliet's other device stops ringing: it sees her answer as a sent carbon (XEP-0353 §3.4).
    await tablet.next(is("proceed", id, "sent"), "a sent carbon of the proceed on the tablet");
    // The call ends: both send <finish/> to the other's full JID.
    orchard.send(jmi(phone.jid, "finish", id));
    phone.send(jmi(orchard.jid, "finish", id));
    await phone.next(is("finish", id), "Romeo's finish on the phone");
    await orchard.next(is("finish", id), "Juliet's finish in the orchard");
    await garden.next((el) => is("finish", id, "sent")(el), "a sent carbon of Romeo's finish in the garden");
    expect(R).toBe(garden.jid.split("/")[0]);
    await stop();
  });

  it("retract reaches every device of both; reject from Juliet reaches Romeo's devices", async () => {
    const { J, orchard, garden, phone, tablet, stop } = await cast();
    const id = newCall();
    orchard.send(jmi(J, "propose", id));
    await phone.next(is("propose", id));
    await tablet.next(is("propose", id));
    orchard.send(jmi(J, "retract", id));
    await phone.next(is("retract", id), "the retract on the phone");
    await tablet.next(is("retract", id), "the retract on the tablet");
    await garden.next(is("retract", id, "sent"), "a sent carbon of the retract in the garden");

    const id2 = newCall();
    orchard.send(jmi(J, "propose", id2));
    await phone.next(is("propose", id2));
    phone.send(jmi(orchard.jid, "reject", id2));
    await orchard.next(is("reject", id2), "the reject in the orchard");
    await garden.next(is("reject", id2, "received"), "a received carbon of the reject in the garden");
    await tablet.next(is("reject", id2, "sent"), "a sent carbon of the reject on the tablet");

    // The older flow: the device that takes the call says <accept/> to its own bare JID, which
    // reaches her other devices (and itself, as any message to its own account does).
    const id3 = newCall();
    orchard.send(jmi(J, "propose", id3));
    await tablet.next(is("propose", id3));
    phone.send(jmi(J, "accept", id3));
    const accepted = await tablet.next(is("accept", id3), "the accept on the tablet");
    expect(accepted.attrs.from).toBe(phone.jid);
    await stop();
  });

  it("the archives of both keep the call's messages, also without the <store/> hint (MAM)", async () => {
    const { J, orchard, phone, tablet, stop } = await cast();
    const id = newCall();
    orchard.send(jmi(J, "propose", id, false));
    await phone.next(is("propose", id));
    await tablet.next(is("propose", id));
    phone.send(jmi(orchard.jid, "proceed", id, false));
    await orchard.next(is("proceed", id));
    phone.send(jmi(orchard.jid, "finish", id, false));
    await orchard.next(is("finish", id));
    expect(await archived(tablet, id)).toEqual(["propose", "proceed", "finish"]);
    expect(await archived(orchard, id)).toEqual(["propose", "proceed", "finish"]);
    await stop();
  });

  it("a propose to an account with no session is kept offline and comes with the first presence", async () => {
    const [r, j] = (await accounts(t, "romeo", "juliet")) as [string, string];
    const romeo = await online(r, "orchard");
    const id = newCall();
    romeo.send(jmi(`${j}@localhost`, "propose", id));
    romeo.send(jmi(`${j}@localhost`, "retract", id));
    await sleep(200);
    expect(romeo.inbox.filter((el) => el.attrs.type === "error").map(String)).toEqual([]);
    const juliet = await online(j, "phone");
    const p = await juliet.next(is("propose", id), "the propose, kept offline");
    expect(p.getChild("delay", "urn:xmpp:delay")).toBeDefined();
    await juliet.next(is("retract", id), "the retract after it");
    await Promise.all([romeo.stop(), juliet.stop()]);
  });
});

describe("XEP-0353 and XEP-0357: a propose wakes a sleeping phone at once", () => {
  let app: AppServer;
  beforeAll(async () => {
    app = await AppServer.start(t);
  });
  afterAll(() => app.stop());

  it("a propose to an account whose only session sleeps pushes at once, marked urgent, inside an open batch window", async () => {
    const [r, j] = (await accounts(t, "romeo", "juliet")) as [string, string];
    const node = `jmi-${j}`;
    const { c: phone } = await SmClient.login(t.port, j, "phone");
    phone.send("<presence/>");
    phone.send(enablePush(node).toString().replace("<iq ", "<iq id='en' "));
    expect((await phone.next((el) => el.attrs.id === "en", "enable result")).attrs.type).toBe("result");
    phone.cut();
    const romeo = await online(r, "orchard");
    // A message opens the push window (30 s): what follows it is batched...
    romeo.send(chat(`${j}@localhost`, "are you there?"));
    const [first] = await app.counted(node, 1);
    expect(first!["last-message-priority"]).toBeUndefined();
    romeo.send(chat(`${j}@localhost`, "hello?"));
    await sleep(200);
    expect(app.to(node)).toHaveLength(1);
    // ...but not a call.
    const id = newCall();
    const started = Date.now();
    romeo.send(jmi(`${j}@localhost`, "propose", id));
    const pushes = await app.counted(node, 3, 3000);
    expect(Date.now() - started).toBeLessThan(2000);
    const urgent = pushes[1]!;
    expect(urgent).toMatchObject({ FORM_TYPE: "urn:xmpp:push:summary", "message-count": "2", "last-message-sender": romeo.jid, "last-message-priority": "high" });
    // A retract wakes nobody: the phone learns of it when it resumes or reads its archive.
    romeo.send(jmi(`${j}@localhost`, "retract", id));
    await sleep(300);
    expect(app.to(node)).toHaveLength(2);
    await romeo.stop();
  });

  it("Juliet's desktop is online and her phone asleep: the propose rings the desktop and pushes the phone; a chat message does not push", async () => {
    const [r, j] = (await accounts(t, "romeo", "juliet")) as [string, string];
    const node = `jmi-both-${j}`;
    const { c: phone } = await SmClient.login(t.port, j, "phone");
    phone.send("<presence/>");
    phone.send(enablePush(node).toString().replace("<iq ", "<iq id='en' "));
    expect((await phone.next((el) => el.attrs.id === "en", "enable result")).attrs.type).toBe("result");
    phone.cut();
    const desktop = await online(j, "desktop");
    const romeo = await online(r, "orchard");
    romeo.send(chat(`${j}@localhost`, "hello"));
    await desktop.next((el) => el.getChildText("body") === "hello", "the chat message on the desktop");
    const id = newCall();
    romeo.send(jmi(`${j}@localhost`, "propose", id));
    await desktop.next(is("propose", id), "the propose on the desktop");
    const [p] = await app.counted(node, 1, 3000);
    expect(p).toMatchObject({ "message-count": "1", "last-message-priority": "high" });
    expect(app.to(node)).toHaveLength(1); // the chat message, which the desktop took, pushed nothing
    await Promise.all([romeo.stop(), desktop.stop()]);
  });

  it("a propose to an offline account with push pushes at once too", async () => {
    const [r, j] = (await accounts(t, "romeo", "juliet")) as [string, string];
    const node = `jmi-off-${j}`;
    const phone = await connect(t, j, "phone");
    expect((await phone.ask(enablePush(node))).attrs.type).toBe("result");
    await phone.stop();
    const romeo = await online(r, "orchard");
    const id = newCall();
    romeo.send(jmi(`${j}@localhost`, "propose", id));
    const [p] = await app.counted(node, 1, 3000);
    expect(p).toMatchObject({ "message-count": "1", "last-message-priority": "high" });
    await romeo.stop();
  });
});
