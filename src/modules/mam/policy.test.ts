import { describe, expect, it } from "vitest";
import { xml, type Element } from "../../xml/element.ts";
import { parseJid } from "../../xml/jid.ts";
import { archivable, hasForged, stripForged, stripForgedResults } from "./policy.ts";

const msg = (attrs: Record<string, string>, ...children: Element[]) => xml("message", { to: "juliet@capulet.lit", ...attrs }, ...children);
const body = () => xml("body", null, "hi");

describe("what the archive keeps (XEP-0313 §6.1.1)", () => {
  it.each<[string, Element, boolean]>([
    ["a chat message with a body", msg({ type: "chat" }, body()), true],
    ["a message of no type (normal) with a body", msg({}, body()), true],
    ["a normal message without a body", msg({ type: "normal" }, xml("subject", null, "s")), false],
    ["a headline", msg({ type: "headline" }, body()), false],
    ["a groupchat message", msg({ type: "groupchat" }, body()), false],
    ["an error", msg({ type: "error" }, body()), false],
    ["a chat state alone", msg({ type: "chat" }, xml("composing", { xmlns: "http://jabber.org/protocol/chatstates" })), false],
    ["a body with a chat state", msg({ type: "chat" }, body(), xml("active", { xmlns: "http://jabber.org/protocol/chatstates" })), true],
    ["a delivery receipt", msg({ type: "chat" }, xml("received", { xmlns: "urn:xmpp:receipts", id: "a" })), true],
    ["a read marker", msg({ type: "chat" }, xml("displayed", { xmlns: "urn:xmpp:chat-markers:0", id: "a" })), true],
    ["a XEP-0249 direct invitation without a body", msg({}, xml("x", { xmlns: "jabber:x:conference", jid: "room@conference.capulet.lit" })), true],
    ["an OMEMO message", msg({ type: "chat" }, xml("encrypted", { xmlns: "eu.siacs.conversations.axolotl" }, xml("header"), xml("payload", null, "x"))), true],
    ["an OMEMO 2 message", msg({ type: "chat" }, xml("encrypted", { xmlns: "urn:xmpp:omemo:2" }, xml("header"), xml("payload", null, "x"))), true],
    ["an OMEMO key transport (no payload)", msg({ type: "chat" }, xml("encrypted", { xmlns: "eu.siacs.conversations.axolotl" }, xml("header"))), false],
    ["a reaction", msg({ type: "chat" }, xml("reactions", { xmlns: "urn:xmpp:reactions:0", id: "a" })), true],
    ["a call proposed (XEP-0353) without its <store/> hint", msg({ type: "chat" }, xml("propose", { xmlns: "urn:xmpp:jingle-message:0", id: "c1" })), true],
    ["a call's end (XEP-0353) without its <store/> hint", msg({ type: "chat" }, xml("finish", { xmlns: "urn:xmpp:jingle-message:0", id: "c1" })), true],
    ["a call hinted no-store", msg({ type: "chat" }, xml("propose", { xmlns: "urn:xmpp:jingle-message:0", id: "c1" }), xml("no-store", { xmlns: "urn:xmpp:hints" })), false],
    ["a <store/> hint on an otherwise empty message", msg({ type: "chat" }, xml("store", { xmlns: "urn:xmpp:hints" })), true],
    ["a body hinted no-store", msg({ type: "chat" }, body(), xml("no-store", { xmlns: "urn:xmpp:hints" })), false],
    ["a body hinted no-permanent-store", msg({ type: "chat" }, body(), xml("no-permanent-store", { xmlns: "urn:xmpp:hints" })), false],
    ["a body in a foreign namespace only", msg({ type: "chat" }, xml("body", { xmlns: "urn:example" }, "x")), false],
  ])("%s: %s", (_what, stanza, keep) => {
    expect(archivable(stanza)).toBe(keep);
  });
});

describe("stanza-ids that claim to be ours (XEP-0359 §5)", () => {
  it("removes those by the account or the domain, keeps the others", () => {
    const m = msg({ type: "chat" }, body(),
      xml("stanza-id", { xmlns: "urn:xmpp:sid:0", by: "juliet@capulet.lit", id: "forged" }),
      xml("stanza-id", { xmlns: "urn:xmpp:sid:0", by: "capulet.lit", id: "forged2" }),
      xml("stanza-id", { xmlns: "urn:xmpp:sid:0", by: "room@muc.example", id: "theirs" }),
      xml("origin-id", { xmlns: "urn:xmpp:sid:0", id: "o" }));
    const by = ["juliet@capulet.lit", "capulet.lit"];
    expect(hasForged(m, by)).toBe(true);
    expect(stripForged(m, by)).toBe(2);
    expect(hasForged(m, by)).toBe(false);
    expect(m.getChildren("stanza-id").map((s) => s.attrs.id)).toEqual(["theirs"]);
    expect(m.getChild("origin-id")).toBeDefined();
    expect(m.getChildText("body")).toBe("hi");
  });
});

describe("archive results from anyone but an archive", () => {
  const juliet = parseJid("juliet@capulet.lit/balcony");
  const served = (d: string) => d === "capulet.lit" || d === "rooms.capulet.lit";
  const result = (prefix = "") => xml(`${prefix}result`, { [prefix ? `xmlns:${prefix.slice(0, -1)}` : "xmlns"]: "urn:xmpp:mam:2", id: "1" });
  const strip = (from: string, m: Element) => stripForgedResults(m, parseJid(from), juliet, served);

  it("are taken out, with any prefix and MAM version; the rest stays", () => {
    const m = msg({}, body(), result(), result("m:"), xml("result", { xmlns: "urn:xmpp:mam:1" }), xml("result", { xmlns: "urn:example" }));
    expect(strip("romeo@montague.lit/orchard", m)).toBe(3);
    expect(m.children.map((c) => (c as Element).name)).toEqual(["body", "result"]);
  });

  it("from another account of this server (bare or full), a room occupant, or another resource of her own", () => {
    for (const from of ["nurse@capulet.lit", "nurse@capulet.lit/x", "room@rooms.capulet.lit/romeo", "juliet@capulet.lit/phone"]) {
      expect(strip(from, msg({}, result()))).toBe(1);
    }
  });

  it("stay when they come from her account, the server, a service or a room by its bare JID", () => {
    for (const from of ["juliet@capulet.lit", "capulet.lit", "rooms.capulet.lit", "room@rooms.capulet.lit"]) {
      expect(strip(from, msg({}, result()))).toBe(0);
    }
  });
});
