import { describe, expect, it } from "vitest";
import { xml } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { parseRegisterSet, registeredForm, registrationForm, scrub } from "./parse.ts";

const query = (...children: ReturnType<typeof xml>[]) => xml("query", { xmlns: NS.register }, ...children);

describe("parseRegisterSet", () => {
  it("reads username and password", () => {
    expect(parseRegisterSet(query(xml("username", null, "bill"), xml("password", null, "Calliope"))))
      .toEqual({ kind: "fields", username: "bill", password: "Calliope" });
  });

  it("reads empty and missing fields as '' and undefined (the caller decides the error)", () => {
    expect(parseRegisterSet(query(xml("username", null, "bill"), xml("password"))))
      .toEqual({ kind: "fields", username: "bill", password: "" });
    expect(parseRegisterSet(query())).toEqual({ kind: "fields", username: undefined, password: undefined });
  });

  it("keeps the password exactly as sent (spaces included)", () => {
    expect(parseRegisterSet(query(xml("password", null, " a b ")))).toMatchObject({ password: " a b " });
  });

  it("ignores same-named elements of other namespaces", () => {
    expect(parseRegisterSet(query(xml("username", { xmlns: "urn:other" }, "eve"))))
      .toEqual({ kind: "fields", username: undefined, password: undefined });
  });

  it("reads a lone <remove/> as a cancellation", () => {
    expect(parseRegisterSet(query(xml("remove")))).toEqual({ kind: "remove" });
  });

  it("refuses <remove/> with company: bad-request (§3.2)", () => {
    const r = parseRegisterSet(query(xml("remove"), xml("username", null, "bill")));
    expect(r.kind === "invalid" && r.error.condition).toBe("bad-request");
  });
});

describe("forms", () => {
  it("offers instructions, username and password to the unregistered", () => {
    const f = registrationForm();
    expect(f.attrs.xmlns).toBe(NS.register);
    expect(f.getChildElements().map((c) => c.name)).toEqual(["instructions", "username", "password"]);
  });

  it("tells the registered they are, without the password", () => {
    const f = registeredForm("juliet");
    expect(f.getChild("registered")).toBeDefined();
    expect(f.getChildText("username")).toBe("juliet");
    expect(f.getChildText("password")).toBe("");
  });

  it("scrub empties a query before it is echoed", () => {
    const q = query(xml("username", null, "bill"), xml("password", null, "secret"));
    scrub(q);
    expect(q.toString()).toBe(`<query xmlns="${NS.register}"/>`);
  });
});
