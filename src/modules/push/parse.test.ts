import { describe, expect, it } from "vitest";
import { xml } from "../../xml/element.ts";
import { StanzaError } from "../../core/errors.ts";
import { PUBLISH_OPTIONS, parseDisable, parseEnable, registrationKey } from "./parse.ts";

const PUSH = "urn:xmpp:push:0";
const form = (formType: string, secret = "s3cr3t") => xml("x", { xmlns: "jabber:x:data", type: "submit" },
  xml("field", { var: "FORM_TYPE" }, xml("value", null, formType)),
  xml("field", { var: "secret" }, xml("value", null, secret)));
const condition = (fn: () => unknown) => {
  try {
    fn();
    return "ok";
  } catch (e) {
    return e instanceof StanzaError ? e.condition : String(e);
  }
};

describe("parseEnable", () => {
  it("reads the service JID (normalised), the node and the publish options", () => {
    const reg = parseEnable(xml("enable", { xmlns: PUSH, jid: "Push.Example.ORG", node: "yxs32uqsflafdk3iuqo" }, form(PUBLISH_OPTIONS)));
    expect(reg.jid).toBe("push.example.org");
    expect(reg.node).toBe("yxs32uqsflafdk3iuqo");
    expect(reg.options).toContain("s3cr3t");
    expect(parseEnable(xml("enable", { xmlns: PUSH, jid: "push.example.org" }))).toEqual({ jid: "push.example.org", node: "" });
  });

  it("names the errors: no jid, a bad jid, a form of another type, a form too large", () => {
    expect(condition(() => parseEnable(xml("enable", { xmlns: PUSH, node: "n" })))).toBe("bad-request");
    expect(condition(() => parseEnable(xml("enable", { xmlns: PUSH, jid: "a@b@c" })))).toBe("jid-malformed");
    expect(condition(() => parseEnable(xml("enable", { xmlns: PUSH, jid: "p.example" }, form("urn:other"))))).toBe("bad-request");
    expect(condition(() => parseEnable(xml("enable", { xmlns: PUSH, jid: "p.example" }, form(PUBLISH_OPTIONS, "x".repeat(5000)))))).toBe("not-acceptable");
  });
});

describe("parseDisable", () => {
  it("reads the JID and the optional node", () => {
    expect(parseDisable(xml("disable", { xmlns: PUSH, jid: "p.example", node: "n" }))).toEqual({ jid: "p.example", node: "n" });
    expect(parseDisable(xml("disable", { xmlns: PUSH, jid: "p.example" }))).toEqual({ jid: "p.example", node: undefined });
    expect(condition(() => parseDisable(xml("disable", { xmlns: PUSH })))).toBe("bad-request");
  });
});

describe("registrationKey", () => {
  it("never mixes up JID and node", () => {
    expect(registrationKey("a", "b c")).not.toBe(registrationKey("a b", "c"));
  });
});
