// Reply helpers for stanzas (RFC 6120 §8): results, error replies, and the rule that an error is
// never answered with an error.
import { clone, xml, type Element } from "../xml/element.ts";
import { StanzaError } from "./errors.ts";
import { StorageFullError } from "../storage/errors.ts";
import type { JID } from "../xml/jid.ts";

export type StanzaKind = "message" | "presence" | "iq";

export function kindOf(el: Element): StanzaKind | undefined {
  const n = el.name;
  return n === "message" || n === "presence" || n === "iq" ? n : undefined;
}

/** An iq result for a request, with an optional payload. */
export function iqResult(req: Element, payload?: Element): Element {
  return xml("iq", { type: "result", id: req.attrs.id, to: req.attrs.from, from: req.attrs.to }, payload);
}

/**
 * The error reply for a stanza, or undefined when the stanza is itself an error (RFC 6120 §8.3.1:
 * an entity MUST NOT respond to an error stanza with a further error). For iq, the request's
 * payload is echoed so the requester can correlate; messages and presences are not echoed.
 */
export function errorReply(stanza: Element, err: StanzaError, by?: string): Element | undefined {
  if (stanza.attrs.type === "error") return undefined;
  const reply = xml(stanza.name, { type: "error", id: stanza.attrs.id, to: stanza.attrs.from, from: stanza.attrs.to });
  if (stanza.name === "iq") {
    for (const c of stanza.children) if (typeof c !== "string") reply.append(clone(c));
  }
  reply.append(err.toElement(by));
  return reply;
}

/** A shallow copy of a stanza with new addressing; children are shared, not cloned. */
export function readdress(stanza: Element, to: string | undefined, from?: string): Element {
  const copy = xml(stanza.name, { ...stanza.attrs, to, from: from ?? stanza.attrs.from });
  for (const c of stanza.children) copy.children.push(c);
  return copy;
}

export function toStanzaError(e: unknown): StanzaError {
  if (e instanceof StanzaError) return e;
  // RFC 6120 §8.3.3.18: the server "lacks the system resources necessary to service the request";
  // type wait: the sender may try again later.
  if (e instanceof StorageFullError) return new StanzaError("resource-constraint", "the server's storage is full; try again later");
  return new StanzaError("internal-server-error");
}

/**
 * What a service on a domain of its own (pubsub, upload) answers: the type of an iq request to
 * the service itself; undefined for what needs no answer (iq results and errors, presence, an
 * error message). A message, or a request to an address under the service, is
 * service-unavailable (thrown, for the router to bounce).
 */
export function serviceRequest(stanza: Element, to: JID): "get" | "set" | undefined {
  if (stanza.name !== "iq") {
    if (stanza.name === "message" && stanza.attrs.type !== "error") throw new StanzaError("service-unavailable");
    return undefined;
  }
  const type = stanza.attrs.type;
  if (type !== "get" && type !== "set") return undefined;
  if (to.local !== "" || to.resource !== "") throw new StanzaError("service-unavailable");
  return type;
}
