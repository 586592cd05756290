// Delivery receipts (XEP-0184) and chat markers (XEP-0333) need nothing of the server but what
// it does for any message: routing, offline storage when the original sender is away (they are
// stored although they have no body), carbon copies to the other resources of both sides, and
// both archives. These are the "delivered" and "read" ticks: they must reach the sender, in
// order, even late, and on every device. Chat states (XEP-0085) are routed and copied, never kept.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { NS } from "../../src/xml/ns.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { accounts, connect, presence, type Im } from "../helpers/im.ts";

const isMessage = (el: Element) => el.name === "message";
const receipt = (to: string, id: string) => xml("message", { to, id: `rcpt-${id}` }, xml("received", { xmlns: NS.receipts, id }));
const displayed = (to: string, id: string) => xml("message", { to, type: "chat", id: `mark-${id}` }, xml("displayed", { xmlns: NS.markers, id }));
const carbons = (c: Im) => c.ask(xml("iq", { type: "set" }, xml("enable", { xmlns: NS.carbons })));
const copied = (kind: "sent" | "received", child: string, ns: string) => (el: Element) =>
  isMessage(el) && el.getChild(kind, NS.carbons)?.getChild("forwarded", NS.forward)?.getChild("message")?.getChild(child, ns) !== undefined;

let t: TestServer;
beforeAll(async () => {
  t = await startServer();
});
afterAll(() => t.stop());

async function online(user: string, resource: string, priority = 0, withCarbons = false): Promise<Im> {
  const c = await connect(t, user, resource);
  if (withCarbons) await carbons(c);
  c.send(presence({}, xml("priority", null, String(priority))));
  await c.next((e) => e.name === "presence" && e.attrs.from === c.jid, "its own presence");
  return c;
}

describe("receipts and markers", () => {
  it("sent while Romeo is offline, his receipt and read marker reach him at his next login, in order", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    const r = await online(romeo!, "garden");
    const j = await online(juliet!, "balcony");
    r.send(xml("message", { to: `${juliet}@localhost`, type: "chat", id: "m1" }, xml("body", null, "Wilt thou be gone?"),
      xml("request", { xmlns: NS.receipts }), xml("markable", { xmlns: NS.markers })));
    const m = await j.next((e) => e.attrs.id === "m1", "Romeo's message");
    expect(m.getChild("request", NS.receipts)).toBeDefined();
    await r.stop();
    // Replies go to the full JID he wrote from; it is gone, so they go to his bare JID (RFC 6121 §8.5.3.2.1).
    j.send(receipt(`${romeo}@localhost/garden`, "m1"));
    j.send(displayed(`${romeo}@localhost/garden`, "m1"));
    const log = t.server.storage.log("offline");
    for (let i = 0; i < 100 && (await log.count(`${romeo}@localhost`, {})) < 2; i++) await new Promise((res) => setTimeout(res, 10));
    const back = await connect(t, romeo!, "orchard");
    back.send(presence());
    const first = await back.next(isMessage, "the receipt");
    const second = await back.next(isMessage, "the marker");
    expect(first.getChild("received", NS.receipts)!.attrs.id).toBe("m1");
    expect(second.getChild("displayed", NS.markers)!.attrs.id).toBe("m1");
    for (const x of [first, second]) {
      expect(x.attrs.from).toBe(`${juliet}@localhost/balcony`);
      expect(x.getChild("delay", NS.delay)!.attrs.from).toBe("localhost");
    }
    await Promise.all([back.stop(), j.stop()]);
  });

  it("are carbon-copied: to the sender's other devices as sent, to the recipient's as received", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    const home = await online(romeo!, "home", 5, true);
    const garden = await online(romeo!, "garden", 1, true);
    const phone = await online(juliet!, "phone", 0, true);
    const desk = await online(juliet!, "desk", 0, true);
    phone.send(receipt(`${romeo}@localhost/home`, "m2"));
    phone.send(displayed(`${romeo}@localhost/home`, "m2"));
    // Romeo's home gets them; his garden gets received copies; Juliet's desk gets sent copies.
    await home.next((e) => e.getChild("received", NS.receipts) !== undefined, "the receipt");
    await home.next((e) => e.getChild("displayed", NS.markers) !== undefined, "the marker");
    await garden.next(copied("received", "received", NS.receipts), "a received copy of the receipt");
    await garden.next(copied("received", "displayed", NS.markers), "a received copy of the marker");
    await desk.next(copied("sent", "received", NS.receipts), "a sent copy of the receipt");
    await desk.next(copied("sent", "displayed", NS.markers), "a sent copy of the marker");
    await phone.nothing(isMessage, 50);
    await Promise.all([home, garden, phone, desk].map((c) => c.stop()));
  });

  it("are kept in both archives (XEP-0313); a chat state is not", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    const r = await online(romeo!, "garden");
    const j = await online(juliet!, "balcony");
    j.send(xml("message", { to: `${romeo}@localhost/garden`, type: "chat", id: "typing" }, xml("composing", { xmlns: NS.chatStates })));
    j.send(receipt(`${romeo}@localhost/garden`, "m3"));
    j.send(displayed(`${romeo}@localhost/garden`, "m3"));
    for (const id of ["typing", "rcpt-m3", "mark-m3"]) await r.next((e) => e.attrs.id === id, id);
    for (const c of [r, j]) expect(await archived(c)).toEqual(["rcpt-m3", "mark-m3"]);
    await Promise.all([r.stop(), j.stop()]);
  });
});

/** The ids of the messages in the account's archive, oldest first. */
async function archived(c: Im): Promise<string[]> {
  const queryid = `a${Math.random().toString(36).slice(2)}`;
  const fin = await c.ask(xml("iq", { type: "set" }, xml("query", { xmlns: NS.mam, queryid })));
  expect(fin.attrs.type).toBe("result");
  const results = c.inbox.filter((e) => e.getChild("result", NS.mam)?.attrs.queryid === queryid);
  return results.map((e) => e.getChild("result", NS.mam)!.getChild("forwarded", NS.forward)!.getChild("message")!.attrs.id ?? "");
}
