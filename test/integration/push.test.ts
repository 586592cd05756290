// XEP-0357 Push Notifications over real sockets. The app server is a real client,
// push@localhost/app, that answers the server's pubsub publishes (or refuses them) and keeps what
// it got. Juliet's phone registers it; then Romeo writes while she is offline, or while her
// phone's connection is gone and its session waits to be resumed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { accounts, connect, errorOf, type Im } from "../helpers/im.ts";
import { SmClient, chat } from "../helpers/sm.ts";
import { APP, AppServer, PUSH, phoneEnablesPushThenDrops } from "../helpers/push.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const enable = (node: string, secret?: string) => xml("iq", { type: "set" }, xml("enable", { xmlns: PUSH, jid: APP, node },
  secret ? xml("x", { xmlns: "jabber:x:data", type: "submit" },
    xml("field", { var: "FORM_TYPE" }, xml("value", null, "http://jabber.org/protocol/pubsub#publish-options")),
    xml("field", { var: "secret" }, xml("value", null, secret))) : undefined));
const disable = (node?: string) => xml("iq", { type: "set" }, xml("disable", { xmlns: PUSH, jid: APP, node }));

let t: TestServer;
let app: AppServer;
beforeAll(async () => {
  t = await startServer({
    users: { push: "pw" },
    config: { sm: { resumeTimeout: 1, pushResumeTimeout: 5 }, modules: { push: { minInterval: 1, timeout: 2 } } },
  });
  app = await AppServer.start(t);
});
afterAll(async () => {
  app.stop();
  await t.stop();
});

/** Juliet registers `node` from a session that then ends; Romeo is online. */
async function offlineJuliet(node: string, secret?: string): Promise<{ juliet: string; romeo: Im }> {
  const [j, r] = (await accounts(t, "juliet", "romeo")) as [string, string];
  const phone = await connect(t, j, "phone");
  expect((await phone.ask(enable(node, secret))).attrs.type).toBe("result");
  await phone.stop();
  return { juliet: `${j}@localhost`, romeo: await connect(t, r, "orchard") };
}

describe("XEP-0357 push notifications", () => {
  it("is a feature of the account (§4.1); only the account may enable, with a valid service JID", async () => {
    const [j, r] = (await accounts(t, "juliet", "romeo")) as [string, string];
    const juliet = await connect(t, j, "phone");
    const romeo = await connect(t, r, "orchard");
    const info = await juliet.ask(xml("iq", { type: "get", to: `${j}@localhost` }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" })));
    expect(info.getChild("query")!.getChildren("feature").map((f) => f.attrs.var)).toContain(PUSH);
    const other = enable("n");
    other.attrs.to = `${j}@localhost`;
    expect(errorOf(await romeo.ask(other))).toBe("forbidden");
    expect(errorOf(await juliet.ask(xml("iq", { type: "set" }, xml("enable", { xmlns: PUSH, node: "n" }))))).toBe("bad-request");
    expect(errorOf(await juliet.ask(xml("iq", { type: "set" }, xml("enable", { xmlns: PUSH, jid: "a@b@c" }))))).toBe("jid-malformed");
    await Promise.all([juliet.stop(), romeo.stop()]);
  });

  it("twenty messages to an offline account make one or two pushes that count twenty, without the body", async () => {
    const { juliet, romeo } = await offlineJuliet("batch", "s3cr3t");
    for (let i = 1; i <= 20; i++) romeo.send(chat(juliet, `m${i}`));
    const pushes = await app.counted("batch", 20);
    expect(pushes.length).toBeGreaterThanOrEqual(1);
    expect(pushes.length).toBeLessThanOrEqual(2);
    for (const p of pushes) {
      expect(p.FORM_TYPE).toBe("urn:xmpp:push:summary");
      expect(p["last-message-sender"]).toBe(romeo.jid);
      expect(p["last-message-body"]).toBeUndefined();
    }
    const iq = app.publishes.find((x) => x.getChild("pubsub")!.getChild("publish")!.attrs.node === "batch")!;
    expect(iq.attrs.from).toBe("localhost");
    const options = iq.getChild("pubsub")!.getChild("publish-options")!.getChild("x", "jabber:x:data")!;
    expect(options.getChildren("field").find((f) => f.attrs.var === "secret")?.getChildText("value")).toBe("s3cr3t");
    // Nothing more once the window closes.
    await sleep(1500);
    expect(app.to("batch")).toHaveLength(pushes.length);
    // Chat states alone wake nobody.
    romeo.send(xml("message", { to: juliet, type: "chat" }, xml("composing", { xmlns: "http://jabber.org/protocol/chatstates" })));
    await sleep(300);
    expect(app.to("batch")).toHaveLength(pushes.length);
    await romeo.stop();
  });

  it("after disable, no more pushes", async () => {
    const { juliet, romeo } = await offlineJuliet("off");
    romeo.send(chat(juliet, "first"));
    await app.counted("off", 1);
    const phone = await connect(t, juliet.split("@")[0]!, "phone");
    expect((await phone.ask(disable())).attrs.type).toBe("result");
    await phone.stop();
    await sleep(1100); // past the window
    romeo.send(chat(juliet, "second"));
    await sleep(800);
    expect(app.to("off")).toHaveLength(1);
    await romeo.stop();
  });

  it("an app server that answers with an error loses its registration (§7.1)", async () => {
    const { juliet, romeo } = await offlineJuliet("gone");
    app.refuse = "item-not-found";
    romeo.send(chat(juliet, "first"));
    await app.counted("gone", 1);
    await sleep(200);
    app.refuse = undefined;
    await sleep(1100); // past the window: a registration still there would be pushed at once
    romeo.send(chat(juliet, "second"));
    await sleep(800);
    expect(app.to("gone")).toHaveLength(1);
    await romeo.stop();
  });

  it("a transient error (type wait) keeps the registration", async () => {
    const { juliet, romeo } = await offlineJuliet("busy");
    app.refuse = "resource-constraint";
    app.refuseType = "wait";
    romeo.send(chat(juliet, "first"));
    await app.counted("busy", 1);
    await sleep(200);
    app.refuse = undefined;
    app.refuseType = "cancel";
    await sleep(1100);
    romeo.send(chat(juliet, "second"));
    await app.counted("busy", 2);
    await romeo.stop();
  });

  it("the body goes along only when the server is told to", async () => {
    const t2 = await startServer({ users: { push: "pw", jul: "pw", rom: "pw" }, config: { modules: { push: { includeBody: true, minInterval: 1 } } } });
    const app2 = await AppServer.start(t2);
    const phone = await connect(t2, "jul", "phone");
    expect((await phone.ask(enable("body"))).attrs.type).toBe("result");
    await phone.stop();
    const romeo = await connect(t2, "rom", "orchard");
    romeo.send(chat("jul@localhost", "wherefore art thou"));
    const [p] = await app2.counted("body", 1);
    expect(p!["last-message-body"]).toBe("wherefore art thou");
    await romeo.stop();
    app2.stop();
    await t2.stop();
  });

  it("a session with push stays resumable past sm.resumeTimeout; unacked and new messages each push, and resumption delivers them", async () => {
    const [j, r] = (await accounts(t, "juliet", "romeo")) as [string, string];
    const { c: phone, enabled } = await SmClient.login(t.port, j, "phone");
    phone.send("<presence/>");
    phone.send(enable("sleepy").toString().replace("<iq ", "<iq id='en' "));
    expect((await phone.next((el) => el.attrs.id === "en", "enable result")).attrs.type).toBe("result");
    const romeo = await connect(t, r, "orchard");
    romeo.send(chat(`${j}@localhost`, "unacked"));
    await phone.next((el) => el.getChildText("body") === "unacked", "the message, which the phone never acks");
    const h = phone.handled - 1; // it never handled that message
    phone.cut();
    // The session detaches with a message unacknowledged: the app server is told at once.
    const [first] = await app.counted("sleepy", 1);
    expect(first!["last-message-sender"]).toBe(romeo.jid);

    await sleep(1500); // past sm.resumeTimeout (1 s), within pushResumeTimeout (5 s)
    romeo.send(chat(`${j}@localhost`, "while asleep"));
    await app.counted("sleepy", 2);
    expect(romeo.inbox.filter((el) => el.attrs.type === "error").map(String)).toEqual([]);

    const { c: woken, reply } = await SmClient.resume(t.port, j, enabled.attrs.id!, h);
    expect(reply.name).toBe("resumed");
    await woken.next((el) => el.getChildText("body") === "while asleep", "the message sent while asleep");
    expect(woken.bodies()).toEqual(["unacked"]); // resent first, before it
    woken.cut();
    await romeo.stop();
  });

  it("a session without push is not resumable past sm.resumeTimeout", async () => {
    const [j] = (await accounts(t, "juliet")) as [string];
    const { c: phone, enabled } = await SmClient.login(t.port, j, "phone");
    phone.send("<presence/>");
    await phone.next((el) => el.name === "presence", "own presence");
    phone.cut();
    await sleep(1500);
    const { c, reply } = await SmClient.resume(t.port, j, enabled.attrs.id!, phone.handled);
    expect(reply.name).toBe("failed");
    expect(reply.getChild("item-not-found")).toBeDefined();
    c.cut();
  });
});

describe("a push after the account was in a room", () => {
  const MUC = "http://jabber.org/protocol/muc";
  // Carol's push service is a session of her own: a new resource, or the one she was in the room
  // with, bound again at once (it replaces the detached session, or follows the closed one before
  // the room has heard that it ended).
  const variants = (["closed their streams", "lost their connections (XEP-0198 sessions detached)"] as const)
    .flatMap((away) => (["svc", "laptop"] as const).map((service) => [away, service] as const));
  for (const [away, service] of variants) {
    it(`Alice, Bob and Carol were in a room and ${away} without leaving it; Alice's new phone session is cut; Bob's message is pushed to Carol's full JID (${service === "svc" ? "a new resource" : "her room session's resource, bound again"})`, async () => {
      const [a, b, c] = (await accounts(t, "alice", "bob", "carol")) as [string, string, string];
      const room = `${a}-room@conference.localhost`;
      const detach = away !== "closed their streams";
      const before: SmClient[] = [];
      for (const [user, nick] of [[a, "alice"], [b, "bob"], [c, "carol"]] as const) {
        const { c: s } = await SmClient.login(t.port, user, "laptop", { resume: detach });
        s.autoAck = true;
        s.send("<presence/>");
        s.send(`<presence to='${room}/${nick}'><x xmlns='${MUC}'/></presence>`);
        await s.next((el) => el.name === "presence" && el.attrs.from === `${room}/${nick}`, "its own presence in the room");
        if (nick === "alice") {
          // An instant room (XEP-0045 §10.1.2), so that the others may enter.
          s.send(`<iq type='set' id='cfg' to='${room}'><query xmlns='${MUC}#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`);
          await s.next((el) => el.attrs.id === "cfg", "the room unlocked");
        }
        before.push(s);
      }
      await before[0]!.next((el) => el.name === "presence" && el.attrs.from === `${room}/carol`, "Carol seen in the room");
      for (const s of before) {
        if (detach) s.cut();
        else s.send("</stream:stream>");
      }
      if (service === "svc") await sleep(200);
      const { c: svc } = await SmClient.login(t.port, c, service, { resume: false });
      svc.autoAck = true;
      await phoneEnablesPushThenDrops(t.port, a, `${c}@localhost/${service}`, "after-room");
      await sleep(100);
      const bob = await connect(t, b, "desk");
      bob.send(chat(`${a}@localhost`, "are you there?"));
      const publish = await svc.next((el) => el.name === "iq" && el.getChild("pubsub", "http://jabber.org/protocol/pubsub") !== undefined, "the push", 5000);
      expect(publish.getChild("pubsub")!.getChild("publish")!.attrs.node).toBe("after-room");
      // The room said nothing to Carol's new session, which never entered it.
      expect(svc.inbox.filter((el) => el.attrs.from?.startsWith(room)).map(String)).toEqual([]);
      svc.cut();
      await bob.stop();
    });
  }
});
