// Property tests of XEP-0004 submissions: any <x/> a client sends is read into fields or refused
// with the stanza error XEP-0004 §3.1 and the limits call for (bad-request, policy-violation),
// never with an exception; and a submission checked against a form's fields gives typed values,
// the missing field, or not-acceptable (§4), whatever its values.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { runs } from "../../test/fuzz/runs.ts";
import { attrValue, xmlText } from "../../test/fuzz/xml.ts";
import { type Element, xml } from "../xml/element.ts";
import { StanzaError } from "./errors.ts";
import { FORM_LIMITS, FormValues, parseSubmission, readForm, type Field, type FieldType } from "./forms.ts";

const X = "jabber:x:data";
const TYPES: FieldType[] = ["boolean", "fixed", "hidden", "jid-multi", "jid-single", "list-multi", "list-single", "text-multi", "text-private", "text-single"];
const vars = fc.constantFrom("FORM_TYPE", "a", "b", "muc#roomconfig_roomname", "pubsub#max_items", "", "é");

/** What a client may put in a form: fields with or without var, values, options, stray elements and text. */
const submitted: fc.Arbitrary<Element> = fc.tuple(
  fc.constantFrom(X, "jabber:x:oob", undefined),
  fc.constantFrom("submit", "cancel", "form", "result", "", undefined),
  fc.array(fc.oneof(
    { weight: 5, arbitrary: fc.tuple(fc.option(vars, { nil: undefined }), fc.option(fc.constantFrom(...TYPES), { nil: undefined }),
      fc.array(fc.oneof(xmlText(12), fc.constantFrom("1", "true", "0", "juliet@example.com", "not a jid@@")), { maxLength: 4 }),
      fc.array(fc.constantFrom("value", "option", "desc", "required", "x"), { maxLength: 2 }))
      .map(([v, type, values, stray]) => xml("field", { var: v, type }, values.map((t) => xml("value", null, t)), stray.map((n) => xml(n)))) },
    { weight: 1, arbitrary: fc.constantFrom("title", "instructions", "item", "reported").map((n) => xml(n)) },
    { weight: 1, arbitrary: attrValue(8) },
  ), { maxLength: 12 }),
).map(([ns, type, kids]) => xml("x", { xmlns: ns, type }, kids));

const field: fc.Arbitrary<Field> = fc.record({
  type: fc.constantFrom(...TYPES),
  var: vars,
  required: fc.boolean(),
  options: fc.option(fc.array(fc.record({ value: fc.constantFrom("1", "a", "juliet@example.com", "") }), { maxLength: 3 }), { nil: undefined }),
}, { requiredKeys: ["type", "var"] });

describe("XEP-0004 submissions", () => {
  it("are read or refused with bad-request or policy-violation, never thrown", () => {
    fc.assert(fc.property(submitted, (x) => {
      const s = parseSubmission(x);
      if (s instanceof StanzaError) {
        expect(["bad-request", "policy-violation"]).toContain(s.condition);
        return;
      }
      expect(x.attrs.xmlns).toBe(X);
      expect(["submit", "cancel"]).toContain(s.type);
      for (const [name, values] of s.fields) {
        expect(name).not.toBe("");
        expect(values.length).toBeLessThanOrEqual(FORM_LIMITS.valuesPerField);
      }
      expect(s.fields.size).toBeLessThanOrEqual(FORM_LIMITS.fields);
    }), runs(3000));
  });

  it("checked against a form's fields, give values, the missing field or not-acceptable", () => {
    fc.assert(fc.property(submitted, fc.array(field, { maxLength: 6 }), (x, fields) => {
      const s = parseSubmission(x);
      if (s instanceof StanzaError) return;
      const r = readForm(s, fields);
      if (r instanceof StanzaError) expect(r.condition).toBe("not-acceptable");
      else if (r instanceof FormValues) {
        for (const f of fields) {
          if (f.var === undefined || !r.has(f.var)) continue;
          if (f.type === "boolean") expect(typeof r.bool(f.var) === "boolean" || r.text(f.var) === undefined).toBe(true);
          if (f.type === "jid-single" && r.text(f.var) !== undefined) expect(r.jid(f.var)).toBeDefined();
          r.jids(f.var);
          r.lines(f.var);
        }
      } else expect(fields.some((f) => f.required && f.var === r.missing)).toBe(true);
    }), runs(3000));
  });

  it("beyond the limits are policy-violation, checked before the rest is read", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 3 }), fc.boolean(), (over, ofValues) => {
      const x = ofValues
        ? xml("x", { xmlns: X, type: "submit" }, xml("field", { var: "a" }, Array.from({ length: FORM_LIMITS.valuesPerField + over }, () => xml("value", null, "v"))))
        : xml("x", { xmlns: X, type: "submit" }, Array.from({ length: FORM_LIMITS.fields + over }, (_, i) => xml("field", { var: `f${i}` })));
      const s = parseSubmission(x);
      if (over === 0) expect(s).not.toBeInstanceOf(StanzaError);
      else expect(s).toMatchObject({ condition: "policy-violation" });
    }), runs(20));
  });
});
