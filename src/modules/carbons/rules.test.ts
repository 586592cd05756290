import { describe, expect, it } from "vitest";
import { xml, type Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { parseJid } from "../../xml/jid.ts";
import { carbonCopy } from "./index.ts";
import { carbonEligible, stripForgedCopies, type Direction } from "./rules.ts";

const body = () => xml("body", null, "hi");
const msg = (type: string | undefined, ...children: Element[]) => xml("message", { to: "juliet@capulet.lit", type }, ...children);
const mucUser = (...children: Element[]) => xml("x", { xmlns: NS.mucUser }, ...children);

describe("XEP-0280 §6 eligibility", () => {
  const both: Direction[] = ["sent", "received"];
  it.each<[string, Element, boolean, Direction[]]>([
    ["chat", msg("chat", body()), true, both],
    ["chat without a body", msg("chat"), true, both],
    ["normal with a body", msg("normal", body()), true, both],
    ["no type with a body", msg(undefined, body()), true, both],
    ["normal without a body", msg("normal"), false, both],
    ["a receipt", msg(undefined, xml("received", { xmlns: NS.receipts, id: "a" })), true, both],
    ["a receipt request in a normal message", msg("normal", xml("request", { xmlns: NS.receipts })), true, both],
    ["a chat state", msg(undefined, xml("composing", { xmlns: NS.chatStates })), true, both],
    ["a displayed marker", msg(undefined, xml("displayed", { xmlns: NS.markers, id: "a" })), true, both],
    ["a call's message (XEP-0353) of type normal", msg(undefined, xml("proceed", { xmlns: NS.jingleMessage, id: "c1" })), true, both],
    ["a direct MUC invitation (XEP-0249)", msg(undefined, xml("x", { xmlns: "jabber:x:conference", jid: "room@muc" })), true, both],
    ["a mediated invitation", msg(undefined, mucUser(xml("invite", { from: "romeo@montague.lit" }))), true, both],
    ["a headline with a body", msg("headline", body()), false, both],
    ["groupchat", msg("groupchat", body()), false, both],
    ["groupchat with a chat state", msg("groupchat", xml("active", { xmlns: NS.chatStates })), false, both],
    ["private", msg("chat", body(), xml("private", { xmlns: NS.carbons })), false, both],
    ["no-copy", msg("chat", body(), xml("no-copy", { xmlns: NS.hints })), false, both],
    ["a carbon copy itself", msg("chat", xml("received", { xmlns: NS.carbons })), false, both],
    ["a MUC private message sent to an occupant", msg("chat", body(), mucUser()), true, ["sent"]],
    ["a MUC private message from an occupant", msg("chat", body(), mucUser()), false, ["received"]],
    ["an error echoing a body", msg("error", body(), xml("error", { type: "cancel" })), true, both],
    ["an error echoing nothing", msg("error", xml("error", { type: "cancel" })), false, both],
  ])("%s", (_what, stanza, eligible, directions) => {
    for (const d of directions) expect(carbonEligible(stanza, d), d).toBe(eligible);
  });
});

describe("the copy", () => {
  it("wraps the original from the bare JID, same type, in its own namespace inside <forwarded/>", () => {
    const original = xml("message", { from: "juliet@capulet.lit/balcony", to: "romeo@montague.lit/garden", type: "chat", id: "m1" }, body());
    const copy = carbonCopy("received", parseJid("romeo@montague.lit/home"), original);
    expect(copy.toString()).toBe(
      `<message from="romeo@montague.lit" type="chat"><received xmlns="urn:xmpp:carbons:2"><forwarded xmlns="urn:xmpp:forward:0">` +
      `<message from="juliet@capulet.lit/balcony" to="romeo@montague.lit/garden" type="chat" id="m1" xmlns="jabber:client"><body>hi</body></message>` +
      `</forwarded></received></message>`);
    expect(original.attrs.xmlns).toBeUndefined();
  });
});

describe("copies forged by someone else (§11)", () => {
  it("<sent/> and <received/>, with any prefix, are taken out; <private/> and the rest stay", () => {
    const m = msg("chat", body(), xml("received", { xmlns: NS.carbons }), xml("c:sent", { "xmlns:c": NS.carbons }),
      xml("private", { xmlns: NS.carbons }), xml("sent", { xmlns: "urn:example" }));
    expect(stripForgedCopies(m)).toBe(2);
    expect(m.children.map((c) => [(c as Element).name, (c as Element).attrs.xmlns])).toEqual([
      ["body", undefined], ["private", NS.carbons], ["sent", "urn:example"]]);
  });
});
