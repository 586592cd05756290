// XEP-0050: what a command is to the ad-hoc engine. A command is data: its node, its name, who
// may run it, the forms it asks for in order, and what completing it does. Other modules add
// theirs through the ADHOC service (XEP-0133's administration commands are one such module).
import type { JID } from "../../xml/jid.ts";
import { serviceKey } from "../../core/module.ts";
import type { Field, FormSpec, FormValues } from "../../core/forms.ts";

/** One form of a command's execution (a "stage", XEP-0050 §2.4.2). */
export interface Stage {
  readonly title?: string;
  readonly instructions?: string;
  readonly fields: readonly Field[];
}

export type NoteType = "info" | "warn" | "error";

/** What completing a command returns (§2.4.1): a note, a result form, or both. */
export interface Outcome {
  readonly note?: { readonly type: NoteType; readonly text: string };
  readonly form?: FormSpec;
}

export interface AdhocCommand {
  /** The disco node naming the command (§3.2); unique on the server. */
  readonly node: string;
  /** The label shown in the command list. */
  readonly name: string;
  /** FORM_TYPE of the command's forms (XEP-0068), e.g. XEP-0133's http://jabber.org/protocol/admin. */
  readonly formType?: string;
  /** Whether this requester sees and may run the command at the hosted domain `host` (others get forbidden). */
  mayRun(requester: JID, host: string): boolean;
  /** The forms to fill, in order; none for a command that completes at once. */
  readonly stages: readonly Stage[];
  /** Runs the command with one set of values per stage; throws a StanzaError to refuse. */
  complete(values: readonly FormValues[], requester: JID, host: string): Outcome | Promise<Outcome>;
}

export interface AdhocCommands {
  /** Offers a command on the server, until the module that added it unloads. */
  add(command: AdhocCommand): void;
}

export const ADHOC = serviceKey<AdhocCommands>("adhoc.commands");
