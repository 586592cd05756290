// XEP-0077 §3: what a jabber:iq:register query asks for, read into a typed record. Pure: bad
// input becomes the StanzaError the XEP names, returned, never thrown.
import { elementChildren, xml, type Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { StanzaError } from "../../core/errors.ts";

export type RegisterSet =
  | { readonly kind: "remove" }
  /** Registration (unauthenticated) or password change (authenticated). Empty elements read as "". */
  | { readonly kind: "fields"; readonly username: string | undefined; readonly password: string | undefined }
  | { readonly kind: "invalid"; readonly error: StanzaError };

/** The query's own elements: no xmlns of their own, or jabber:iq:register. */
function fields(query: Element): Element[] {
  return elementChildren(query).filter((c) => c.attrs.xmlns === undefined || c.attrs.xmlns === NS.register);
}

function text(els: Element[], name: string): string | undefined {
  return els.find((c) => c.name === name)?.getText();
}

export function parseRegisterSet(query: Element): RegisterSet {
  const own = fields(query);
  if (own.some((c) => c.name === "remove")) {
    // §3.2 table: "The <remove/> element was not the only child element of the <query/> element."
    if (elementChildren(query).length !== 1) return { kind: "invalid", error: new StanzaError("bad-request", "<remove/> must be the only child of <query/>") };
    return { kind: "remove" };
  }
  return { kind: "fields", username: text(own, "username"), password: text(own, "password") };
}

/**
 * Empties a query before it is echoed in an error reply: §3.3 "The server or service SHOULD NOT
 * return the original XML sent in IQ error stanzas related to password changes", and a failed
 * registration carries a password just the same.
 */
export function scrub(query: Element): void {
  query.children.length = 0;
}

/** §3.1: the fields an unregistered entity fills in. */
export function registrationForm(): Element {
  return xml("query", { xmlns: NS.register },
    xml("instructions", null, "Choose a username and password for use with this server."),
    xml("username"),
    xml("password"));
}

/** §3.1: "MUST contain an empty <registered/> element"; the password is never sent back. */
export function registeredForm(username: string): Element {
  return xml("query", { xmlns: NS.register },
    xml("registered"),
    xml("instructions", null, "You are registered. Send a new <password/> to change it, or <remove/> to delete the account."),
    xml("username", null, username),
    xml("password"));
}
