import { describe, expect, it } from "vitest";
import { xml } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { offlineRule } from "./policy.ts";

const body = () => xml("body", null, "hi");
const state = (name = "composing") => xml(name, { xmlns: NS.chatStates });
const hint = (name: string) => xml(name, { xmlns: NS.hints });
const msg = (type: string | undefined, ...children: ReturnType<typeof xml>[]) => xml("message", { to: "j@x", type }, ...children);

describe("offline storage rule (XEP-0160 §4, XEP-0334, XEP-0085)", () => {
  it.each([
    ["chat with a body", "store", msg("chat", body())],
    ["normal with a body", "store", msg("normal", body())],
    ["no type (normal)", "store", msg(undefined, body())],
    ["an unknown type (normal, RFC 6121 §5.2.2)", "store", msg("weird", body())],
    ["a body and a chat state", "store", msg("chat", body(), state("active"))],
    ["a receipt without a body", "store", msg(undefined, xml("received", { xmlns: NS.receipts, id: "m1" }))],
    ["a displayed marker without a body", "store", msg("chat", xml("displayed", { xmlns: NS.markers, id: "m1" }))],
    ["a receipt and a chat state", "store", msg("chat", xml("received", { xmlns: NS.receipts, id: "m1" }), state("active"))],
    ["an encrypted payload without a body", "store", msg("chat", xml("encrypted", { xmlns: "eu.siacs.conversations.axolotl" }))],
    ["no-permanent-store (temporary storage is what it allows)", "store", msg("chat", body(), hint("no-permanent-store"))],
    ["only a chat state", "drop", msg("chat", state())],
    ["a chat state with a thread and an origin-id", "drop", msg("chat", state("paused"), xml("thread", null, "t1"), xml("origin-id", { xmlns: NS.sid, id: "o" }))],
    ["a chat state with the store hint", "store", msg("chat", state("gone"), hint("store"))],
    ["no-store", "bounce", msg("chat", body(), hint("no-store"))],
    ["no-store wins over store", "bounce", msg("chat", body(), hint("store"), hint("no-store"))],
    ["groupchat", "bounce", msg("groupchat", body())],
    ["headline", "drop", msg("headline", body())],
    ["headline with the store hint (XEP-0334 store does not outrank RFC 6121 here)", "drop", msg("headline", body(), hint("store"))],
    ["error", "drop", msg("error", body(), hint("store"))],
  ])("%s: %s", (_what, rule, stanza) => {
    expect(offlineRule(stanza)).toBe(rule);
  });
});
