import { describe, expect, it } from "vitest";
import { xml } from "../xml/element.ts";
import { StanzaError } from "./errors.ts";
import { buildForm, FORM_LIMITS, FormValues, parseSubmission, readForm, type Field } from "./forms.ts";

const X = "jabber:x:data";
const submission = (type: string, fields: Record<string, string[]>) =>
  xml("x", { xmlns: X, type }, Object.entries(fields).map(([k, vs]) => xml("field", { var: k }, vs.map((v) => xml("value", null, v)))));
const parsed = (fields: Record<string, string[]>) => {
  const s = parseSubmission(submission("submit", fields));
  if (s instanceof StanzaError) throw s;
  return s;
};

describe("buildForm", () => {
  it("writes title, instructions, FORM_TYPE first, then each field with its values and options", () => {
    const x = buildForm({
      type: "form", title: "T", instructions: "I", formType: "urn:example",
      fields: [
        { type: "fixed", values: ["Read this"] },
        { type: "list-single", var: "op", label: "Op", required: true, values: ["+"], options: [{ value: "+" }, { value: "-", label: "minus" }] },
      ],
    });
    expect(x.toString()).toBe(`<x xmlns="${X}" type="form"><title>T</title><instructions>I</instructions>` +
      `<field var="FORM_TYPE" type="hidden"><value>urn:example</value></field>` +
      `<field type="fixed"><value>Read this</value></field>` +
      `<field var="op" type="list-single" label="Op"><required/><value>+</value><option><value>+</value></option><option label="minus"><value>-</value></option></field></x>`);
  });
});

describe("parseSubmission", () => {
  it("maps each var to its values in order, and reads FORM_TYPE", () => {
    const s = parsed({ FORM_TYPE: ["urn:example"], a: ["1", "2"], b: [] });
    expect(s.formType).toBe("urn:example");
    expect([...s.fields]).toEqual([["FORM_TYPE", ["urn:example"]], ["a", ["1", "2"]], ["b", []]]);
  });

  it("accepts type cancel; refuses other types, other namespaces, fields without var or given twice", () => {
    expect(parseSubmission(submission("cancel", {}))).toMatchObject({ type: "cancel" });
    for (const bad of [
      submission("form", {}),
      xml("x", { xmlns: "urn:other", type: "submit" }),
      xml("x", { xmlns: X, type: "submit" }, xml("field", null, xml("value", null, "v"))),
      xml("x", { xmlns: X, type: "submit" }, xml("field", { var: "a" }), xml("field", { var: "a" })),
    ]) expect((parseSubmission(bad) as StanzaError).condition).toBe("bad-request");
  });

  it("stops at the limits before reading further (policy-violation)", () => {
    const many = xml("x", { xmlns: X, type: "submit" }, Array.from({ length: FORM_LIMITS.fields + 1 }, (_, i) => xml("field", { var: `f${i}` })));
    expect((parseSubmission(many) as StanzaError).condition).toBe("policy-violation");
    const values = xml("x", { xmlns: X, type: "submit" }, xml("field", { var: "f" }, Array.from({ length: FORM_LIMITS.valuesPerField + 1 }, () => xml("value", null, "v"))));
    expect((parseSubmission(values) as StanzaError).condition).toBe("policy-violation");
  });
});

describe("readForm", () => {
  const fields: Field[] = [
    { type: "jid-single", var: "who", required: true },
    { type: "jid-multi", var: "many" },
    { type: "boolean", var: "flag" },
    { type: "list-single", var: "op", options: [{ value: "+" }, { value: "-" }] },
    { type: "text-multi", var: "body" },
    { type: "text-private", var: "secret" },
  ];
  const read = (f: Record<string, string[]>) => readForm(parsed(f), fields);
  const conditionOf = (r: ReturnType<typeof read>) => (r instanceof StanzaError ? r.condition : r instanceof FormValues ? "ok" : `missing ${r.missing}`);

  it("gives typed values: JIDs (duplicates dropped), booleans, lines", () => {
    const v = read({ who: ["Juliet@Example.com"], many: ["a@b", "A@b", "c@d/r"], flag: ["true"], op: ["-"], body: ["one", "two"], extra: ["ignored"] }) as FormValues;
    expect(v.jid("who")!.toString()).toBe("juliet@example.com");
    expect(v.jids("many").map(String)).toEqual(["a@b", "c@d/r"]);
    expect(v.bool("flag")).toBe(true);
    expect(v.text("op")).toBe("-");
    expect(v.lines("body")).toBe("one\ntwo");
    expect(v.has("extra")).toBe(false);
    expect(v.has("secret")).toBe(false);
  });

  it("a required field absent or empty is missing (the using protocol names the error)", () => {
    expect(conditionOf(read({}))).toBe("missing who");
    expect(conditionOf(read({ who: [""] }))).toBe("missing who");
  });

  it("values invalid for their type are not-acceptable (XEP-0004 §4)", () => {
    expect(conditionOf(read({ who: ["a@b", "c@d"] }))).toBe("not-acceptable");
    expect(conditionOf(read({ who: ["@nope"] }))).toBe("not-acceptable");
    expect(conditionOf(read({ who: ["a@b"], many: ["a@b", "x@"] }))).toBe("not-acceptable");
    expect(conditionOf(read({ who: ["a@b"], flag: ["yes"] }))).toBe("not-acceptable");
    expect(conditionOf(read({ who: ["a@b"], op: ["*"] }))).toBe("not-acceptable");
    expect(conditionOf(read({ who: ["a@b"], secret: ["two\nlines"] }))).toBe("not-acceptable");
    expect(conditionOf(read({ who: ["a@b"], flag: ["0"], body: ["a\nb"] }))).toBe("ok");
  });
});
