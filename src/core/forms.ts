// XEP-0004: Data Forms. Building the forms a service sends (type form or result) and reading the
// forms a client submits. Reading is in two steps: parseSubmission turns any <x/> into a map of
// field var -> values (bounded, never throwing), and readForm checks that map against the fields
// the service asked for, so a using protocol gets typed values or the error to send.
import { elementChildren, xml, type Element } from "../xml/element.ts";
import { NS } from "../xml/ns.ts";
import { tryParseJid, type JID } from "../xml/jid.ts";
import { StanzaError } from "./errors.ts";

export type FieldType =
  | "boolean" | "fixed" | "hidden" | "jid-multi" | "jid-single" | "list-multi" | "list-single"
  | "text-multi" | "text-private" | "text-single";

export interface FieldOption { readonly value: string; readonly label?: string }

export interface Field {
  readonly type: FieldType;
  /** Absent only for "fixed" fields (XEP-0004 §3.2: every other field MUST have one). */
  readonly var?: string;
  readonly label?: string;
  readonly desc?: string;
  readonly required?: boolean;
  /** Default or current values (a form) or the values given (a result). */
  readonly values?: readonly string[];
  readonly options?: readonly FieldOption[];
}

export interface FormSpec {
  readonly type: "form" | "result";
  readonly title?: string;
  readonly instructions?: string;
  /** The FORM_TYPE hidden field (XEP-0068), when the using protocol has one. */
  readonly formType?: string;
  readonly fields: readonly Field[];
}

/** The <x xmlns='jabber:x:data'/> for a form or a result. */
export function buildForm(spec: FormSpec): Element {
  const fields = spec.formType === undefined ? spec.fields : [{ type: "hidden" as const, var: "FORM_TYPE", values: [spec.formType] }, ...spec.fields];
  return xml("x", { xmlns: NS.dataForms, type: spec.type },
    spec.title !== undefined ? xml("title", null, spec.title) : undefined,
    spec.instructions !== undefined ? xml("instructions", null, spec.instructions) : undefined,
    fields.map(buildField));
}

function buildField(f: Field): Element {
  return xml("field", { var: f.var, type: f.type, label: f.label },
    f.desc !== undefined ? xml("desc", null, f.desc) : undefined,
    f.required ? xml("required") : undefined,
    (f.values ?? []).map((v) => xml("value", null, v)),
    (f.options ?? []).map((o) => xml("option", { label: o.label }, xml("value", null, o.value))));
}

/** Limits on what a submission may carry, checked before any work. */
export const FORM_LIMITS = { fields: 256, valuesPerField: 1024 } as const;

export interface Submission {
  /** "cancel" means the submitter abandoned the form. */
  readonly type: "submit" | "cancel";
  readonly formType: string | undefined;
  /** Field var -> its values, in order; a field sent without values maps to []. */
  readonly fields: ReadonlyMap<string, readonly string[]>;
}

/**
 * A submitted form (XEP-0004 §3.1: type "submit" or "cancel"), or the error it deserves: a form
 * of another type, a field without 'var', a var given twice, or more than the limits allow.
 */
export function parseSubmission(x: Element): Submission | StanzaError {
  if (x.name !== "x" || x.attrs.xmlns !== NS.dataForms) return new StanzaError("bad-request", "expected a jabber:x:data form");
  const type = x.attrs.type;
  if (type !== "submit" && type !== "cancel") return new StanzaError("bad-request", `a submitted form has type 'submit', not '${type ?? ""}'`);
  const fields = new Map<string, string[]>();
  let formType: string | undefined;
  for (const f of elementChildren(x)) {
    if (f.name !== "field") continue;
    if (fields.size >= FORM_LIMITS.fields) return new StanzaError("policy-violation", `a form may carry at most ${FORM_LIMITS.fields} fields`);
    const name = f.attrs.var;
    if (!name) return new StanzaError("bad-request", "every submitted field needs a 'var'");
    if (fields.has(name)) return new StanzaError("bad-request", `field '${name}' is given twice`);
    const values: string[] = [];
    for (const v of elementChildren(f)) {
      if (v.name !== "value") continue;
      if (values.length >= FORM_LIMITS.valuesPerField) return new StanzaError("policy-violation", `a field may carry at most ${FORM_LIMITS.valuesPerField} values`);
      values.push(v.getText());
    }
    if (name === "FORM_TYPE") formType = values[0];
    fields.set(name, values);
  }
  return { type, formType, fields };
}

/** The values of a submission checked against the form's fields (see readForm). */
export class FormValues {
  private readonly values: ReadonlyMap<string, readonly string[]>;
  constructor(values: ReadonlyMap<string, readonly string[]>) {
    this.values = values;
  }
  /** Whether the submitter gave the field at all (an incomplete submission omits some, §3.4). */
  has(name: string): boolean {
    return this.values.has(name);
  }
  text(name: string): string | undefined {
    return this.values.get(name)?.[0];
  }
  /** text-multi: the lines joined with "\n". */
  lines(name: string): string | undefined {
    return this.values.get(name)?.join("\n");
  }
  list(name: string): readonly string[] {
    return this.values.get(name) ?? [];
  }
  bool(name: string): boolean | undefined {
    const v = this.text(name);
    return v === undefined ? undefined : v === "1" || v === "true";
  }
  jid(name: string): JID | undefined {
    const v = this.text(name);
    return v === undefined ? undefined : tryParseJid(v);
  }
  /** jid-multi: unique JIDs ("duplicate JIDs MUST be ignored", §3.3). */
  jids(name: string): JID[] {
    const seen = new Set<string>();
    const out: JID[] = [];
    for (const v of this.list(name)) {
      const j = tryParseJid(v);
      if (j && !seen.has(j.toString())) {
        seen.add(j.toString());
        out.push(j);
      }
    }
    return out;
  }
}

const SINGLE: ReadonlySet<FieldType> = new Set(["boolean", "hidden", "jid-single", "list-single", "text-private", "text-single"]);

/**
 * Checks a submission against the fields a service asked for. A required field left out or
 * empty is `missing` (the using protocol names its error: XEP-0050 says bad-payload); a value
 * that is not valid for its type is not-acceptable (XEP-0004 §4). Fields the service did not
 * ask for are ignored.
 */
export function readForm(sub: Submission, fields: readonly Field[]): FormValues | { missing: string } | StanzaError {
  const out = new Map<string, readonly string[]>();
  for (const f of fields) {
    if (f.var === undefined || f.type === "fixed") continue;
    const values = sub.fields.get(f.var);
    const given = values?.filter((v) => v !== "") ?? [];
    if (f.required && given.length === 0) return { missing: f.var };
    if (values === undefined) continue;
    const bad = invalid(f, given);
    if (bad) return new StanzaError("not-acceptable", `field '${f.var}': ${bad}`);
    out.set(f.var, given);
  }
  return new FormValues(out);
}

function invalid(f: Field, values: readonly string[]): string | undefined {
  if (SINGLE.has(f.type) && values.length > 1) return "takes one value";
  for (const v of values) {
    if (f.type === "boolean" && !["0", "1", "true", "false"].includes(v)) return `'${v}' is not a boolean`;
    if ((f.type === "jid-single" || f.type === "jid-multi") && !tryParseJid(v)) return `'${v}' is not a JID`;
    if ((f.type === "list-single" || f.type === "list-multi") && f.options && !f.options.some((o) => o.value === v)) return `'${v}' is not one of the options`;
    if (f.type !== "text-multi" && /[\r\n]/.test(v) && f.type !== "hidden") return "a value is one line";
  }
  return undefined;
}
