import { describe, expect, it } from "vitest";
import { xml } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { CHANGE_PASSWORD, parseRegisterSet, registeredForm, registrationForm, scrub } from "./parse.ts";

const query = (...children: ReturnType<typeof xml>[]) => xml("query", { xmlns: NS.register }, ...children);
/** A submitted form: each field's values (a string is one value). */
const form = (fields: Record<string, string | string[]>, type = "submit") =>
  xml("x", { xmlns: NS.dataForms, type }, Object.entries(fields).map(([k, v]) => xml("field", { var: k }, [v].flat().map((s) => xml("value", null, s)))));
const conditionOf = (r: ReturnType<typeof parseRegisterSet>) => (r.kind === "invalid" ? r.error.condition : r.kind);

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

describe("parseRegisterSet with a data form (§4)", () => {
  it("reads username and password from a jabber:iq:register form", () => {
    expect(parseRegisterSet(query(form({ FORM_TYPE: NS.register, username: "bill", password: "Calliope" }))))
      .toEqual({ kind: "fields", username: "bill", password: "Calliope" });
  });

  it("reads a password change form with the old password (§3.3)", () => {
    expect(parseRegisterSet(query(form({ FORM_TYPE: CHANGE_PASSWORD, username: "bill@shakespeare.lit", old_password: "theglobe", password: "groundlings" }))))
      .toEqual({ kind: "fields", username: "bill@shakespeare.lit", password: "groundlings", oldPassword: "theglobe" });
  });

  it("takes a form without FORM_TYPE, reads an empty value as absent, ignores fields it does not know", () => {
    expect(parseRegisterSet(query(form({ username: "bill", password: "", "x-mmn": "Throckmorton" }))))
      .toEqual({ kind: "fields", username: "bill", password: undefined });
  });

  it("bad-request for a form with the legacy fields too (rule 5: 'MUST NOT submit both'), two forms, a cancelled form, another FORM_TYPE", () => {
    expect(conditionOf(parseRegisterSet(query(form({ username: "bill", password: "x" }), xml("password", null, "x"))))).toBe("bad-request");
    expect(conditionOf(parseRegisterSet(query(form({ username: "bill" }), form({ password: "x" }))))).toBe("bad-request");
    expect(conditionOf(parseRegisterSet(query(form({ username: "bill", password: "x" }, "cancel"))))).toBe("bad-request");
    expect(conditionOf(parseRegisterSet(query(form({ FORM_TYPE: "jabber:iq:register:cancel", username: "bill" }))))).toBe("bad-request");
    expect(conditionOf(parseRegisterSet(query(form({ username: "bill" }, "form"))))).toBe("bad-request");
  });

  it("not-acceptable for two usernames or a password of two lines (XEP-0004 §3.3)", () => {
    expect(conditionOf(parseRegisterSet(query(form({ username: ["bill", "ben"], password: "x" }))))).toBe("not-acceptable");
    expect(conditionOf(parseRegisterSet(query(form({ username: "bill", password: "a\nb" }))))).toBe("not-acceptable");
  });
});

describe("forms", () => {
  it("offers instructions, username and password to the unregistered, and the same as a data form", () => {
    const f = registrationForm();
    expect(f.attrs.xmlns).toBe(NS.register);
    expect(f.getChildElements().map((c) => c.name)).toEqual(["instructions", "username", "password", "x"]);
    const x = f.getChild("x", NS.dataForms)!;
    expect(x.attrs.type).toBe("form");
    const fields = x.getChildren("field").map((c) => [c.attrs.var, c.attrs.type, c.getChild("required") !== undefined, c.getChildText("value")]);
    expect(fields).toEqual([["FORM_TYPE", "hidden", false, NS.register], ["username", "text-single", true, null], ["password", "text-private", true, null]]);
  });

  it("fills in the username an invitation is for, in both", () => {
    const f = registrationForm("juliet");
    expect(f.getChildText("username")).toBe("juliet");
    expect(f.getChild("x", NS.dataForms)!.getChildren("field").find((c) => c.attrs.var === "username")!.getChildText("value")).toBe("juliet");
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
