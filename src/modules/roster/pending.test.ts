import { describe, expect, it } from "vitest";
import { xml } from "../../xml/element.ts";
import { MAX_STORED_REQUEST, pendingRequest, storedRequest } from "./pending.ts";

describe("stored subscription requests", () => {
  it("round-trip exactly, through JSON storage", () => {
    const el = xml("presence", { type: "subscribe", from: "romeo@example.net", to: "juliet@example.com", id: "x1" },
      xml("status", { "xml:lang": "en" }, "I'm Romeo & I <3 you"), xml("nick", { xmlns: "http://jabber.org/protocol/nick" }, "Romeo"));
    const stored = JSON.parse(JSON.stringify(pendingRequest(el, 7)));
    expect(stored.at).toBe(7);
    expect(storedRequest(stored)?.toString()).toBe(el.toString());
  });
  it("keep an oversized request without its payload", () => {
    const el = xml("presence", { type: "subscribe", from: "a@b.c" }, xml("status", null, "x".repeat(MAX_STORED_REQUEST)));
    expect(storedRequest(pendingRequest(el))?.toString()).toBe(`<presence type="subscribe" from="a@b.c"/>`);
  });
});
