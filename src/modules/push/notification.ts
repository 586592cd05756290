// What warrants a push and what the push says (XEP-0357 §7): a pubsub publish to the app
// server's node whose item is a <notification/> with a urn:xmpp:push:summary form, plus the
// publish-options the client gave when it enabled the service.
//
// A call (a XEP-0353 <propose/>) is urgent: it is pushed at once, past the batching, and its
// summary says last-message-priority "high", the field proposed for XEP-0357 on the standards
// list (2017) and read by app servers to send a high-priority push (FCM "high", APNs priority
// 10) that wakes the phone now rather than when the system sees fit. The XEP registers no
// priority field; §7 lets a summary carry more than its registered fields.
import { xml, type Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { parseStored } from "../../xml/stored.ts";
import type { PushRegistration } from "./parse.ts";

export const SUMMARY = "urn:xmpp:push:summary";

/** A body longer than this is cut in the notification. */
export const MAX_BODY = 512;

/** Payloads of end-to-end encrypted messages (OMEMO 0.3 and 0.8+, OpenPGP for XMPP, legacy OpenPGP). */
const ENCRYPTED: readonly [string, string][] = [
  ["encrypted", "eu.siacs.conversations.axolotl"],
  ["encrypted", "urn:xmpp:omemo:2"],
  ["openpgp", "urn:xmpp:openpgp:0"],
  ["x", "jabber:x:encrypted"],
];

/**
 * A message someone would want to be woken for: chat or normal, with a body or an encrypted
 * payload, or a call coming in. Chat states, receipts and markers alone do not wake a phone, nor
 * do the other messages of a call (its answers, retraction and end reach the phone when it
 * next connects); groupchat waits for a rule about mentions; headline and error never do.
 */
export function pushworthy(message: Element): boolean {
  if (message.name !== "message") return false;
  const type = message.attrs.type ?? "normal";
  if (type !== "chat" && type !== "normal") return false;
  if (message.getChild("body") || urgent(message)) return true;
  return ENCRYPTED.some(([name, ns]) => message.getChild(name, ns) !== undefined);
}

/** A message that must wake the phone now: a call proposed (XEP-0353 §3.1). */
export function urgent(message: Element): boolean {
  return message.getChild("propose", NS.jingleMessage) !== undefined;
}

/** What one push summarises: how many messages since the last push, and the last of them. */
export interface Summary {
  count: number;
  sender: string;
  body: string | undefined;
  /** Set on the push of an urgent message. */
  priority?: "high";
}

const field = (name: string, value: string) => xml("field", { var: name }, xml("value", null, value));

export function publishIq(reg: PushRegistration, summary: Summary, includeBody: boolean): Element {
  const form = xml("x", { xmlns: NS.dataForms, type: "submit" },
    field("FORM_TYPE", SUMMARY),
    field("message-count", String(summary.count)),
    field("last-message-sender", summary.sender),
    includeBody && summary.body !== undefined ? field("last-message-body", summary.body.slice(0, MAX_BODY)) : undefined,
    summary.priority !== undefined ? field("last-message-priority", summary.priority) : undefined);
  const options = reg.options !== undefined ? parseStored(reg.options) : undefined;
  return xml("iq", { type: "set", to: reg.jid },
    xml("pubsub", { xmlns: NS.pubsub },
      xml("publish", { node: reg.node || undefined }, xml("item", null, xml("notification", { xmlns: NS.push }, form))),
      options ? xml("publish-options", null, options) : undefined));
}
