// XEP-0050 §4.1: a <command/> request read into a typed record. Pure: a bad request becomes the
// StanzaError the XEP names (bad-request with <malformed-action/>), returned, never thrown.
import { elementChildren, xml, type Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { StanzaError } from "../../core/errors.ts";

export type Action = "execute" | "cancel" | "prev" | "next" | "complete";
const ACTIONS: ReadonlySet<string> = new Set(["execute", "cancel", "prev", "next", "complete"]);

export interface CommandRequest {
  readonly node: string;
  /** "execute" when absent (§4.1: "This is the default value"). */
  readonly action: Action;
  readonly sessionid: string | undefined;
  /** The data form the requester submitted, if any (§3.5: the one payload a requester sends). */
  readonly form: Element | undefined;
}

/** The command-specific condition of a bad-request or not-allowed error (§4.4). */
export function commandError(condition: "bad-request" | "not-allowed", specific: string, text: string): StanzaError {
  return new StanzaError(condition, text, { extra: xml(specific, { xmlns: NS.commands }) });
}

export function parseCommand(command: Element): CommandRequest | StanzaError {
  const { node, action = "execute", sessionid } = command.attrs;
  // §4.1: "The 'node' attribute ... MUST be present."
  if (!node) return new StanzaError("bad-request", "a command needs a 'node'");
  if (!ACTIONS.has(action)) return commandError("bad-request", "malformed-action", `unknown action '${action}'`);
  // §4.1: the sessionid "MUST NOT be empty".
  if (sessionid === "") return commandError("bad-request", "bad-sessionid", "an empty sessionid");
  const form = elementChildren(command).find((c) => c.name === "x" && c.attrs.xmlns === NS.dataForms);
  return { node, action: action as Action, sessionid, form };
}
