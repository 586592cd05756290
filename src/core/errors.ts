// Errors that speak XMPP: stanza errors (RFC 6120 §8.3) and stream errors (RFC 6120 §4.9).
// Handlers throw these; the router turns a StanzaError into the error reply for its sender and
// any other exception into internal-server-error; a StreamError closes only its stream.
import { NS } from "../xml/ns.ts";
import { xml, type Element } from "../xml/element.ts";

export type StanzaErrorCondition =
  | "bad-request" | "conflict" | "feature-not-implemented" | "forbidden" | "gone"
  | "internal-server-error" | "item-not-found" | "jid-malformed" | "not-acceptable"
  | "not-allowed" | "not-authorized" | "policy-violation" | "recipient-unavailable"
  | "redirect" | "registration-required" | "remote-server-not-found"
  | "remote-server-timeout" | "resource-constraint" | "service-unavailable"
  | "subscription-required" | "undefined-condition" | "unexpected-request";

export type StanzaErrorType = "auth" | "cancel" | "continue" | "modify" | "wait";

/** The error type RFC 6120 §8.3.3 gives each condition by default. */
const DEFAULT_TYPE: Record<StanzaErrorCondition, StanzaErrorType> = {
  "bad-request": "modify", conflict: "cancel", "feature-not-implemented": "cancel",
  forbidden: "auth", gone: "cancel", "internal-server-error": "cancel",
  "item-not-found": "cancel", "jid-malformed": "modify", "not-acceptable": "modify",
  "not-allowed": "cancel", "not-authorized": "auth", "policy-violation": "modify",
  "recipient-unavailable": "wait", redirect: "modify", "registration-required": "auth",
  "remote-server-not-found": "cancel", "remote-server-timeout": "wait",
  "resource-constraint": "wait", "service-unavailable": "cancel",
  "subscription-required": "auth", "undefined-condition": "cancel", "unexpected-request": "wait",
};

export class StanzaError extends Error {
  readonly condition: StanzaErrorCondition;
  readonly type: StanzaErrorType;
  readonly text: string | undefined;
  /** Application-specific condition element (e.g. a XEP's own error child). */
  readonly extra: Element | undefined;
  constructor(condition: StanzaErrorCondition, text?: string, opts: { type?: StanzaErrorType; extra?: Element } = {}) {
    super(text ? `${condition}: ${text}` : condition);
    this.condition = condition;
    this.type = opts.type ?? DEFAULT_TYPE[condition];
    this.text = text;
    this.extra = opts.extra;
  }
  toElement(by?: string): Element {
    return xml("error", { type: this.type, by },
      xml(this.condition, { xmlns: NS.stanzas }),
      this.text ? xml("text", { xmlns: NS.stanzas, "xml:lang": "en" }, this.text) : undefined,
      this.extra);
  }
}

/** Reads the <error/> of an error stanza back into a StanzaError (its condition, type and text). */
export function stanzaErrorOf(stanza: Element): StanzaError {
  const error = stanza.getChild("error");
  let condition: StanzaErrorCondition = "undefined-condition";
  let text: string | undefined;
  for (const c of error?.children ?? []) {
    if (typeof c === "string" || c.attrs.xmlns !== NS.stanzas) continue;
    if (c.name === "text") text = c.getText();
    else if (c.name in DEFAULT_TYPE) condition = c.name as StanzaErrorCondition;
  }
  const type = error?.attrs.type;
  const valid = type === "auth" || type === "cancel" || type === "continue" || type === "modify" || type === "wait";
  return new StanzaError(condition, text, { type: valid ? type : undefined });
}

export type StreamErrorCondition =
  | "bad-format" | "bad-namespace-prefix" | "conflict" | "connection-timeout" | "host-gone"
  | "host-unknown" | "improper-addressing" | "internal-server-error" | "invalid-from"
  | "invalid-namespace" | "invalid-xml" | "not-authorized" | "not-well-formed"
  | "policy-violation" | "remote-connection-failed" | "reset" | "resource-constraint"
  | "restricted-xml" | "see-other-host" | "system-shutdown" | "undefined-condition"
  | "unsupported-encoding" | "unsupported-feature" | "unsupported-stanza-type"
  | "unsupported-version";

export class StreamError extends Error {
  readonly condition: StreamErrorCondition;
  readonly text: string | undefined;
  /** For see-other-host: the host (and port) to reconnect to. */
  readonly value: string | undefined;
  /** An application-specific condition element (RFC 6120 §4.9.4), e.g. XEP-0198's handled-count-too-high. */
  extra: Element | undefined;
  constructor(condition: StreamErrorCondition, text?: string, value?: string) {
    super(text ? `${condition}: ${text}` : condition);
    this.condition = condition;
    this.text = text;
    this.value = value;
  }
  toElement(): Element {
    const cond = xml(this.condition, { xmlns: NS.streams });
    if (this.value !== undefined) cond.t(this.value);
    return xml("stream:error", null, cond,
      this.text ? xml("text", { xmlns: NS.streams, "xml:lang": "en" }, this.text) : undefined, this.extra);
  }
}
