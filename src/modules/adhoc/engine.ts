// XEP-0050 §2.4 and §3.4: executing a command, one request at a time. A command's stages are
// its forms; the actions a stage allows follow from its place: next from all but the last, prev
// from all but the first, complete from the last, cancel always; "execute" means the stage's
// default (next, or complete on the last). Every refusal is the error §4.4 names.
import { xml, type Element } from "../../xml/element.ts";
import type { JID } from "../../xml/jid.ts";
import { NS } from "../../xml/ns.ts";
import { StanzaError } from "../../core/errors.ts";
import { buildForm, FormValues, parseSubmission, readForm } from "../../core/forms.ts";
import type { AdhocCommand, Outcome } from "./command.ts";
import { commandError, type Action, type CommandRequest } from "./parse.ts";
import type { CommandSession, CommandSessions } from "./sessions.ts";

type Status = "executing" | "completed" | "canceled";

function reply(cmd: AdhocCommand, sessionid: string, status: Status, ...content: (Element | undefined)[]): Element {
  return xml("command", { xmlns: NS.commands, node: cmd.node, sessionid, status }, ...content);
}

/** The <actions/> of stage `i` (§3.4: results other than the last SHOULD carry them). */
export function actionsOf(i: number, stages: number): Element {
  const last = i === stages - 1;
  return xml("actions", { execute: last ? "complete" : "next" },
    i > 0 ? xml("prev") : undefined,
    last ? xml("complete") : xml("next"));
}

/** Whether stage `i` of `stages` allows the action ("execute" resolved first). */
function allows(action: Exclude<Action, "execute" | "cancel">, i: number, stages: number): boolean {
  if (action === "prev") return i > 0;
  if (action === "next") return i < stages - 1;
  return i === stages - 1;
}

/** The form of stage `i`, with values remembered from an earlier submission if any (§2.4.2, prev). */
function stageForm(cmd: AdhocCommand, i: number, remembered?: FormValues): Element {
  const stage = cmd.stages[i]!;
  const fields = stage.fields.map((f) => (remembered && f.var && remembered.has(f.var) && f.type !== "text-private" ? { ...f, values: remembered.list(f.var) } : f));
  return buildForm({ type: "form", title: stage.title, instructions: stage.instructions, formType: cmd.formType, fields });
}

function executing(cmd: AdhocCommand, s: CommandSession, remembered?: FormValues): Element {
  return reply(cmd, s.id, "executing", actionsOf(s.stage, cmd.stages.length), stageForm(cmd, s.stage, remembered));
}

function completed(cmd: AdhocCommand, sessionid: string, outcome: Outcome): Element {
  const note = outcome.note ? xml("note", { type: outcome.note.type }, outcome.note.text) : undefined;
  return reply(cmd, sessionid, "completed", note, outcome.form ? buildForm(outcome.form) : undefined);
}

/** The values the requester submitted for the session's current stage, checked against its fields. */
function submitted(cmd: AdhocCommand, stage: number, form: Element | undefined): FormValues {
  const fields = cmd.stages[stage]!.fields;
  if (!form) {
    if (fields.some((f) => f.required)) throw commandError("bad-request", "bad-payload", "submit the form of this stage");
    return new FormValues(new Map());
  }
  const sub = parseSubmission(form);
  if (sub instanceof StanzaError) throw sub;
  const values = readForm(sub, fields);
  if (values instanceof StanzaError) throw values;
  if (!(values instanceof FormValues)) throw commandError("bad-request", "bad-payload", `the field '${values.missing}' is required`);
  return values;
}

/** Runs one request for `cmd` from `requester` (already allowed to run it) at the hosted domain `host`; returns the <command/> to reply. */
export async function execute(cmd: AdhocCommand, req: CommandRequest, requester: JID, sessions: CommandSessions, host: string): Promise<Element> {
  if (req.sessionid === undefined) return start(cmd, req, requester, sessions, host);
  const found = sessions.lookup(req.sessionid);
  if (found.kind === "ended") throw commandError("not-allowed", "session-expired", "this command session has ended");
  if (found.kind === "unknown") throw commandError("bad-request", "bad-sessionid", "no such command session");
  const s = found.session;
  // §3.3: a session "SHOULD be valid only between one requester/responder pair".
  if (s.requester !== requester.toString() || s.node !== cmd.node) throw commandError("bad-request", "bad-sessionid", "no such command session");
  if (req.action === "cancel") {
    sessions.end(s);
    return reply(cmd, s.id, "canceled");
  }
  const n = cmd.stages.length;
  const action = req.action === "execute" ? (s.stage === n - 1 ? "complete" : "next") : req.action;
  if (!allows(action, s.stage, n)) throw commandError("bad-request", "bad-action", `'${req.action}' is not allowed at this stage`);
  if (action === "prev") {
    s.stage--;
    return executing(cmd, s, s.values.pop());
  }
  const values = submitted(cmd, s.stage, req.form);
  if (action === "next") {
    s.values.push(values);
    s.stage++;
    return executing(cmd, s);
  }
  // The session survives a refusal, so the requester may correct the form and complete again.
  const outcome = await cmd.complete([...s.values, values], requester, host);
  sessions.end(s);
  return completed(cmd, s.id, outcome);
}

async function start(cmd: AdhocCommand, req: CommandRequest, requester: JID, sessions: CommandSessions, host: string): Promise<Element> {
  // §3.3: "The requester starts a new session for a command by simply sending a <command/> with the 'node'".
  if (req.action !== "execute") throw commandError("bad-request", "bad-sessionid", `'${req.action}' needs the sessionid of a running command`);
  const s = sessions.open(cmd.node, requester.toString());
  if (!s) throw new StanzaError("resource-constraint", "too many command sessions are open; complete or cancel some");
  if (cmd.stages.length > 0) return executing(cmd, s);
  try {
    return completed(cmd, s.id, await cmd.complete([], requester, host));
  } finally {
    sessions.end(s);
  }
}
