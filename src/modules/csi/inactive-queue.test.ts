import { describe, expect, it } from "vitest";
import { xml, type Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { HeldStanzas, chatStateOnly, holdKey } from "./inactive-queue.ts";

const presence = (from: string, type?: string, ...children: Element[]) => xml("presence", { from, type }, ...children);
const state = (from: string, name = "composing") => xml("message", { from, type: "chat" }, xml(name, { xmlns: NS.chatStates }));
const chat = (from: string, body: string) => xml("message", { from, type: "chat" }, xml("body", null, body), xml("active", { xmlns: NS.chatStates }));

describe("holdKey", () => {
  it("holds presence updates per full JID, and chat-state-only messages per sender", () => {
    expect(holdKey(presence("a@x/1"))).toBe(holdKey(presence("a@x/1", "unavailable")));
    expect(holdKey(presence("a@x/1"))).not.toBe(holdKey(presence("a@x/2")));
    expect(holdKey(state("a@x/1"))).toBe(holdKey(state("a@x/1", "paused")));
    expect(holdKey(state("a@x/1"))).not.toBe(holdKey(presence("a@x/1")));
  });

  it("lets through what matters now", () => {
    for (const s of [
      presence("a@x", "subscribe"),
      presence("a@x/1", "error"),
      presence("room@muc/me", undefined, xml("x", { xmlns: NS.mucUser }, xml("status", { code: "110" }))),
      chat("a@x/1", "hi"),
      xml("message", { from: "a@x/1" }, xml("received", { xmlns: NS.receipts, id: "m1" })),
      xml("message", { from: "a@x/1" }, xml("displayed", { xmlns: NS.markers, id: "m1" })),
      xml("message", { from: "a@x/1" }, xml("encrypted", { xmlns: "eu.siacs.conversations.axolotl" })),
      xml("message", { from: "a@x/1", type: "error" }, xml("composing", { xmlns: NS.chatStates })),
      xml("iq", { type: "get", id: "1" }, xml("ping", { xmlns: NS.ping })),
    ]) expect(holdKey(s), s.toString()).toBeUndefined();
  });

  it("looks inside carbon copies", () => {
    const carbon = (inner: Element) => xml("message", { from: "me@x", to: "me@x/phone" },
      xml("received", { xmlns: NS.carbons }, xml("forwarded", { xmlns: NS.forward }, inner)));
    expect(holdKey(carbon(state("a@x/1")))).toBeDefined();
    expect(holdKey(carbon(chat("a@x/1", "hello")))).toBeUndefined();
  });

  it("counts thread, ids, hints and delay as incidental, but not an empty message", () => {
    expect(chatStateOnly(xml("message", null, xml("thread", null, "t"), xml("composing", { xmlns: NS.chatStates }),
      xml("no-store", { xmlns: NS.hints }), xml("origin-id", { xmlns: NS.sid, id: "x" })))).toBe(true);
    expect(chatStateOnly(xml("message"))).toBe(false);
  });
});

describe("HeldStanzas", () => {
  const queue = (max = 10) => {
    const out: string[] = [];
    const held = new HeldStanzas((s) => out.push(`${s.name}:${s.attrs.from}:${s.attrs.type ?? s.getChildText("body") ?? ""}`), max);
    return { held, out };
  };

  it("keeps the newest per key, in order of the newest, and writes them before what is let through", () => {
    const { held, out } = queue();
    expect(held.offer(presence("a@x/1"))).toBe(true);
    expect(held.offer(presence("b@x/1"))).toBe(true);
    expect(held.offer(presence("a@x/1", "unavailable"))).toBe(true);
    expect(out).toEqual([]);
    expect(held.offer(chat("c@x/1", "hi"))).toBe(false);
    expect(out).toEqual(["presence:b@x/1:", "presence:a@x/1:unavailable"]);
    expect(held.size).toBe(0);
  });

  it("writes everything when full", () => {
    const { held, out } = queue(3);
    held.offer(presence("a@x/1"));
    held.offer(presence("b@x/1"));
    expect(out).toEqual([]);
    held.offer(presence("c@x/1"));
    expect(out).toHaveLength(3);
  });

  it("holds a copy: the sender may change its element afterwards", () => {
    const { held, out } = queue();
    const p = presence("a@x/1");
    held.offer(p);
    p.attrs.from = "changed@x/1";
    held.flush();
    expect(out).toEqual(["presence:a@x/1:"]);
  });
});
