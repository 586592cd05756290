import { describe, expect, it } from "vitest";
import { xml } from "../xml/element.ts";
import { StanzaError, stanzaErrorOf } from "./errors.ts";

describe("stanza errors read back", () => {
  it("keep the condition, type and text of an error reply", () => {
    const reply = xml("iq", { type: "error" }, new StanzaError("resource-constraint", "busy", { type: "wait" }).toElement());
    const e = stanzaErrorOf(reply);
    expect([e.condition, e.type, e.text]).toEqual(["resource-constraint", "wait", "busy"]);
  });

  it("fall back to undefined-condition for a reply without a known condition", () => {
    const reply = xml("iq", { type: "error" }, xml("error", { type: "bogus" }, xml("whatever", { xmlns: "urn:example" })));
    const e = stanzaErrorOf(reply);
    expect([e.condition, e.type]).toEqual(["undefined-condition", "cancel"]);
  });
});
