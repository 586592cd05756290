// XEP-0077 §3: what a jabber:iq:register query asks for, read into a typed record, from the
// legacy fields or from a data form (§4 "Extensibility": XEP-0004 forms with FORM_TYPE
// jabber:iq:register, or jabber:iq:register:changepassword for a password change, §3.3). Pure:
// bad input becomes the StanzaError the XEP names, returned, never thrown.
import { elementChildren, xml, type Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { StanzaError } from "../../core/errors.ts";
import { buildForm, FormValues, parseSubmission, readForm, type Field } from "../../core/forms.ts";

/** §3.3's FORM_TYPE of a password change form. */
export const CHANGE_PASSWORD = `${NS.register}:changepassword`;

export type RegisterSet =
  | { readonly kind: "remove" }
  /**
   * Registration (unauthenticated) or password change (authenticated). Empty values read as ""
   * from the legacy fields and as absent from a form (XEP-0004 keeps no empty values).
   * `oldPassword` comes only from a password change form (§3.3).
   */
  | { readonly kind: "fields"; readonly username: string | undefined; readonly password: string | undefined; readonly oldPassword?: string }
  | { readonly kind: "invalid"; readonly error: StanzaError };

/** The query's own elements: no xmlns of their own, or jabber:iq:register. */
function fields(query: Element): Element[] {
  return elementChildren(query).filter((c) => c.attrs.xmlns === undefined || c.attrs.xmlns === NS.register);
}

function text(els: Element[], name: string): string | undefined {
  return els.find((c) => c.name === name)?.getText();
}

const invalid = (error: StanzaError): RegisterSet => ({ kind: "invalid", error });

export function parseRegisterSet(query: Element): RegisterSet {
  const own = fields(query);
  if (own.some((c) => c.name === "remove")) {
    // §3.2 table: "The <remove/> element was not the only child element of the <query/> element."
    if (elementChildren(query).length !== 1) return invalid(new StanzaError("bad-request", "<remove/> must be the only child of <query/>"));
    return { kind: "remove" };
  }
  const forms = elementChildren(query).filter((c) => c.name === "x" && c.attrs.xmlns === NS.dataForms);
  if (forms.length === 0) return { kind: "fields", username: text(own, "username"), password: text(own, "password") };
  if (forms.length > 1) return invalid(new StanzaError("bad-request", "submit one data form"));
  // §4 rule 5: the submitter "MUST NOT submit both the data form and the predefined fields".
  if (own.some((c) => c.name === "username" || c.name === "password")) {
    return invalid(new StanzaError("bad-request", "submit either the data form or the <username/> and <password/> fields, not both"));
  }
  return readRegisterForm(forms[0]!);
}

/** The fields a submitted form may carry; which are required depends on the use (registration or password change). */
const FORM_FIELDS: readonly Field[] = [
  { type: "text-single", var: "username" },
  { type: "text-private", var: "password" },
  { type: "text-private", var: "old_password" },
];

function readRegisterForm(x: Element): RegisterSet {
  const sub = parseSubmission(x);
  if (sub instanceof StanzaError) return invalid(sub);
  if (sub.type === "cancel") return invalid(new StanzaError("bad-request", "the form was cancelled; nothing was changed"));
  if (sub.formType !== undefined && sub.formType !== NS.register && sub.formType !== CHANGE_PASSWORD) {
    return invalid(new StanzaError("bad-request", `a form of FORM_TYPE ${NS.register} or ${CHANGE_PASSWORD} is expected`));
  }
  const values = readForm(sub, FORM_FIELDS);
  if (values instanceof StanzaError) return invalid(values);
  if (!(values instanceof FormValues)) return invalid(new StanzaError("bad-request", `the field '${values.missing}' is required`));
  const oldPassword = values.text("old_password");
  return { kind: "fields", username: values.text("username"), password: values.text("password"), ...(oldPassword !== undefined ? { oldPassword } : {}) };
}

/**
 * Empties a query before it is echoed in an error reply: §3.3 "The server or service SHOULD NOT
 * return the original XML sent in IQ error stanzas related to password changes", and a failed
 * registration carries a password just the same.
 */
export function scrub(query: Element): void {
  query.children.length = 0;
}

/**
 * §3.1: the fields an unregistered entity fills in, as legacy fields and as the data form that
 * takes precedence for clients that read forms (§4 rule 3: the form "SHOULD contain x:data fields
 * that correspond to all of the iq:register fields"). `username`: the one an invitation is for.
 */
export function registrationForm(username?: string, instructions = "Choose a username and password for use with this server."): Element {
  return xml("query", { xmlns: NS.register },
    xml("instructions", null, instructions),
    xml("username", null, username),
    xml("password"),
    buildForm({
      type: "form",
      title: "Account registration",
      instructions,
      formType: NS.register,
      fields: [
        { type: "text-single", var: "username", label: "Username", required: true, ...(username !== undefined ? { values: [username] } : {}) },
        { type: "text-private", var: "password", label: "Password", required: true },
      ],
    }));
}

/** §3.1: "MUST contain an empty <registered/> element"; the password is never sent back. */
export function registeredForm(username: string): Element {
  return xml("query", { xmlns: NS.register },
    xml("registered"),
    xml("instructions", null, "You are registered. Send a new <password/> to change it, or <remove/> to delete the account."),
    xml("username", null, username),
    xml("password"));
}
