// The two commands of XEP-0357, read into typed records (§5 enable, §6 disable).
import type { Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { tryParseJid } from "../../xml/jid.ts";
import { serializeDetached } from "../../xml/stored.ts";
import { StanzaError } from "../../core/errors.ts";

export const PUBLISH_OPTIONS = "http://jabber.org/protocol/pubsub#publish-options";

/** Largest publish-options form kept, in characters of its XML. */
export const MAX_OPTIONS = 4096;

/** An app server's push service the account publishes to: its JID, its node, the form it wants with each publish. */
export interface PushRegistration {
  readonly jid: string;
  /** "" when the client gave none (§5: the node SHOULD be given). */
  readonly node: string;
  /** The publish-options data form (XEP-0004), serialised; publish carries it back (§7). */
  readonly options?: string;
}

/** Registrations are stored per account under their JID and node together (§5: one per pair). */
export function registrationKey(jid: string, node: string): string {
  return JSON.stringify([jid, node]);
}

function serviceJid(el: Element): string {
  const raw = el.attrs.jid;
  if (raw === undefined || raw === "") throw new StanzaError("bad-request", "the push service's 'jid' is missing");
  const jid = tryParseJid(raw);
  if (!jid) throw new StanzaError("jid-malformed", `'${raw}' is not a valid JID`);
  return jid.toString();
}

function formType(form: Element): string | undefined {
  for (const f of form.getChildren("field")) if (f.attrs.var === "FORM_TYPE") return f.getChildText("value") ?? undefined;
  return undefined;
}

/** §5: <enable jid node?> with an optional publish-options form. Throws the StanzaError to answer. */
export function parseEnable(enable: Element): PushRegistration {
  const jid = serviceJid(enable);
  const node = enable.attrs.node ?? "";
  const form = enable.getChild("x", NS.dataForms);
  if (!form) return { jid, node };
  if (formType(form) !== PUBLISH_OPTIONS) throw new StanzaError("bad-request", `the form's FORM_TYPE must be ${PUBLISH_OPTIONS}`);
  const options = serializeDetached(form);
  if (options.length > MAX_OPTIONS) throw new StanzaError("not-acceptable", `publish options larger than ${MAX_OPTIONS} characters`);
  return { jid, node, options };
}

/** §6: <disable jid node?/>; without a node, every node of that service. */
export function parseDisable(disable: Element): { jid: string; node: string | undefined } {
  return { jid: serviceJid(disable), node: disable.attrs.node };
}
