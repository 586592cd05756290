import { describe, expect, it } from "vitest";
import { xml } from "../../xml/element.ts";
import { parseEnable } from "./parse.ts";
import { publishIq, pushworthy, urgent } from "./notification.ts";

const msg = (attrs: Record<string, string>, ...children: ReturnType<typeof xml>[]) => xml("message", attrs, ...children);

describe("pushworthy", () => {
  it("wakes for bodies and encrypted payloads in chat and normal messages", () => {
    expect(pushworthy(msg({ type: "chat" }, xml("body", null, "hi")))).toBe(true);
    expect(pushworthy(msg({}, xml("body", null, "hi")))).toBe(true);
    expect(pushworthy(msg({ type: "chat" }, xml("encrypted", { xmlns: "eu.siacs.conversations.axolotl" })))).toBe(true);
    expect(pushworthy(msg({ type: "chat" }, xml("encrypted", { xmlns: "urn:xmpp:omemo:2" })))).toBe(true);
  });

  it("not for chat states, receipts, markers, headlines, errors, groupchat or non-messages", () => {
    expect(pushworthy(msg({ type: "chat" }, xml("composing", { xmlns: "http://jabber.org/protocol/chatstates" })))).toBe(false);
    expect(pushworthy(msg({}, xml("received", { xmlns: "urn:xmpp:receipts", id: "1" })))).toBe(false);
    expect(pushworthy(msg({}, xml("displayed", { xmlns: "urn:xmpp:chat-markers:0", id: "1" })))).toBe(false);
    for (const type of ["headline", "error", "groupchat"]) expect(pushworthy(msg({ type }, xml("body", null, "x")))).toBe(false);
    expect(pushworthy(xml("presence"))).toBe(false);
  });
});

describe("calls (XEP-0353)", () => {
  const JMI = "urn:xmpp:jingle-message:0";
  it("a propose wakes, and is urgent; the call's other messages do neither", () => {
    const propose = msg({ type: "chat" }, xml("propose", { xmlns: JMI, id: "c1" }, xml("description", { xmlns: "urn:xmpp:jingle:apps:rtp:1", media: "audio" })));
    expect(pushworthy(propose)).toBe(true);
    expect(urgent(propose)).toBe(true);
    for (const action of ["retract", "proceed", "reject", "ringing", "finish", "accept"]) {
      const m = msg({ type: "chat" }, xml(action, { xmlns: JMI, id: "c1" }));
      expect(pushworthy(m), action).toBe(false);
      expect(urgent(m), action).toBe(false);
    }
    expect(urgent(msg({ type: "chat" }, xml("body", null, "hi")))).toBe(false);
  });
});

describe("publishIq", () => {
  const reg = parseEnable(xml("enable", { xmlns: "urn:xmpp:push:0", jid: "push.example", node: "n1" },
    xml("x", { xmlns: "jabber:x:data", type: "submit" },
      xml("field", { var: "FORM_TYPE" }, xml("value", null, "http://jabber.org/protocol/pubsub#publish-options")),
      xml("field", { var: "secret" }, xml("value", null, "abc")))));
  const fields = (iq: ReturnType<typeof publishIq>) => Object.fromEntries(iq.getChild("pubsub")!.getChild("publish")!.getChild("item")!
    .getChild("notification", "urn:xmpp:push:0")!.getChild("x", "jabber:x:data")!.getChildren("field").map((f) => [f.attrs.var, f.getChildText("value")]));

  it("publishes the summary to the node, with the publish options given at enable", () => {
    const iq = publishIq(reg, { count: 3, sender: "romeo@x/o", body: "secret words" }, false);
    expect(iq.attrs).toMatchObject({ type: "set", to: "push.example" });
    expect(iq.getChild("pubsub", "http://jabber.org/protocol/pubsub")!.getChild("publish")!.attrs.node).toBe("n1");
    expect(fields(iq)).toEqual({ FORM_TYPE: "urn:xmpp:push:summary", "message-count": "3", "last-message-sender": "romeo@x/o" });
    const options = iq.getChild("pubsub")!.getChild("publish-options")!.getChild("x", "jabber:x:data")!;
    expect(options.getChildren("field").find((f) => f.attrs.var === "secret")?.getChildText("value")).toBe("abc");
  });

  it("marks an urgent push last-message-priority high, and only that one", () => {
    expect(fields(publishIq(reg, { count: 1, sender: "romeo@x/o", body: undefined, priority: "high" }, false))["last-message-priority"]).toBe("high");
    expect(fields(publishIq(reg, { count: 1, sender: "romeo@x/o", body: undefined }, false))["last-message-priority"]).toBeUndefined();
  });

  it("includes the body only when told, cut to a bounded length", () => {
    const iq = publishIq(reg, { count: 1, sender: "romeo@x/o", body: "y".repeat(2000) }, true);
    expect(fields(iq)["last-message-body"]).toHaveLength(512);
    expect(publishIq({ jid: "p", node: "" }, { count: 1, sender: "s", body: undefined }, true).getChild("pubsub")!.getChild("publish-options")).toBeUndefined();
  });
});
