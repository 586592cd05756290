// XEP-0115 §5.3: the verification string, checked against the XEP's own examples.
import { describe, expect, it } from "vitest";
import { xml } from "../xml/element.ts";
import { capsHash } from "./disco.ts";

const X = "jabber:x:data";
const field = (name: string, ...values: string[]) => xml("field", { var: name }, values.map((v) => xml("value", null, v)));

describe("capsHash", () => {
  it("the simple generation example (§5.2)", () => {
    const features = ["http://jabber.org/protocol/caps", "http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/disco#items", "http://jabber.org/protocol/muc"];
    expect(capsHash([{ category: "client", type: "pc", name: "Exodus 0.9.1" }], features)).toBe("QgayPKawpkPSDYmwT/WM94uAlu0=");
  });

  it("the complex generation example (§5.3): identities in two languages and an extension form (XEP-0128)", () => {
    const identities = [
      { category: "client", type: "pc", name: "Psi 0.11", lang: "en" },
      { category: "client", type: "pc", name: "\u03a8 0.11", lang: "el" },
    ];
    const features = ["http://jabber.org/protocol/caps", "http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/disco#items", "http://jabber.org/protocol/muc"];
    // Fields out of order, values out of order: the string sorts both.
    const form = xml("x", { xmlns: X, type: "result" },
      field("os", "Mac"),
      xml("field", { var: "FORM_TYPE", type: "hidden" }, xml("value", null, "urn:xmpp:dataforms:softwareinfo")),
      field("ip_version", "ipv6", "ipv4"),
      field("software_version", "0.11"),
      field("os_version", "10.5.1"),
      field("software", "Psi"));
    expect(capsHash(identities, features, [form])).toBe("q07IKJEyjvHSyhy//CH0CxmKi8w=");
    // The form counts: without it, or with a value changed, the hash differs.
    expect(capsHash(identities, features)).not.toBe("q07IKJEyjvHSyhy//CH0CxmKi8w=");
    form.getChildren("field")[0]!.getChild("value")!.children[0] = "Linux";
    expect(capsHash(identities, features, [form])).not.toBe("q07IKJEyjvHSyhy//CH0CxmKi8w=");
  });
});
