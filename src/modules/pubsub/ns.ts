// The namespaces of XEP-0060 (and XEP-0223's form type) that PEP speaks, and the errors XEP-0060
// names: a defined condition with a pubsub-specific child in pubsub#errors.
import { xml } from "../../xml/element.ts";
import { StanzaError, type StanzaErrorCondition } from "../../core/errors.ts";

export const PUBSUB = {
  main: "http://jabber.org/protocol/pubsub",
  owner: "http://jabber.org/protocol/pubsub#owner",
  event: "http://jabber.org/protocol/pubsub#event",
  errors: "http://jabber.org/protocol/pubsub#errors",
  nodeConfig: "http://jabber.org/protocol/pubsub#node_config",
  publishOptions: "http://jabber.org/protocol/pubsub#publish-options",
} as const;

/** A stanza error with XEP-0060's pubsub-specific condition, e.g. <item-required/>. */
export function pubsubError(condition: StanzaErrorCondition, specific: string, text?: string): StanzaError {
  return new StanzaError(condition, text, { extra: xml(specific, { xmlns: PUBSUB.errors }) });
}

/**
 * A node refused for the number of nodes (XEP-0060 §8.1.3 leaves the limits to the service), with
 * <max-nodes-exceeded/> of pubsub#errors: policy-violation when the creator is over a quota of its
 * own, resource-constraint when the whole service is full; either frees when nodes are deleted
 * (wait, as §6.1.3.9 types too-many-subscriptions).
 */
export function maxNodesExceeded(condition: "policy-violation" | "resource-constraint", text: string): StanzaError {
  return new StanzaError(condition, text, { type: "wait", extra: xml("max-nodes-exceeded", { xmlns: PUBSUB.errors }) });
}

/** XEP-0060 §5.x: a feature the service does not offer: feature-not-implemented + <unsupported feature='...'/>. */
export function unsupported(feature: string): StanzaError {
  return new StanzaError("feature-not-implemented", undefined, { extra: xml("unsupported", { xmlns: PUBSUB.errors, feature }) });
}
