// XEP-0133 §4.13, §4.15, §4.18, §4.20: the number of registered and of online users (commands
// without a form that complete at once), and their lists (a form for the most to show, then the
// JIDs in a jid-multi field of the result).
import type { JID } from "../../xml/jid.ts";
import { NS } from "../../xml/ns.ts";
import type { Accounts } from "../../core/accounts.ts";
import type { Sessions } from "../../core/capabilities.ts";
import type { Field } from "../../core/forms.ts";
import type { AdhocCommand, Outcome } from "../adhoc/command.ts";

function count(name: string, label: string, n: number): Outcome {
  return { form: { type: "result", formType: NS.admin, fields: [{ type: "text-single", var: name, label, values: [String(n)] }] } };
}

/** §4.18: "Maximum number of items to show", with the XEP's choices. */
const maxItems: Field = {
  type: "list-single", var: "max_items", label: "Maximum number of items to show", values: ["100"],
  options: ["25", "50", "75", "100", "150", "200"].map((v) => ({ value: v, label: v })).concat({ value: "none", label: "None" }),
};

function list(name: string, label: string, jids: string[], max: string | undefined): Outcome {
  const shown = max === undefined || max === "none" ? jids : jids.slice(0, Number(max));
  return { form: { type: "result", formType: NS.admin, fields: [{ type: "jid-multi", var: name, label, values: shown }] } };
}

/** Bare JIDs of the accounts of `host` with at least one session. */
function onlineJids(sessions: Pick<Sessions, "all">, host: string): string[] {
  const bare = new Set<string>();
  for (const s of sessions.all()) if (s.jid.domain === host) bare.add(s.jid.bare.toString());
  return [...bare].sort();
}

/** §4.15: "any user or account that currently has at least one connected or available resource" (of the hosted domain `host`). */
export function onlineUsers(sessions: Pick<Sessions, "all">, host: string): number {
  return onlineJids(sessions, host).length;
}

/** What the statistics commands read: each host's are its own accounts and sessions. */
export interface AdminStats {
  accountsOf(domain: string): Pick<Accounts, "list"> | undefined;
  readonly sessions: Pick<Sessions, "all">;
}

export function statsCommands(server: AdminStats, mayRun: (j: JID, host: string) => boolean): AdhocCommand[] {
  const accounts = async (host: string) => (await server.accountsOf(host)?.list()) ?? [];
  return [
    {
      node: `${NS.admin}#get-registered-users-num`,
      name: "Get Number of Registered Users",
      mayRun,
      stages: [],
      complete: async (_v, _by, host) => count("registeredusersnum", "The number of registered users", (await accounts(host)).length),
    },
    {
      node: `${NS.admin}#get-online-users-num`,
      name: "Get Number of Online Users",
      mayRun,
      stages: [],
      complete: (_v, _by, host) => count("onlineusersnum", "The number of online users", onlineUsers(server.sessions, host)),
    },
    {
      node: `${NS.admin}#get-registered-users-list`,
      name: "Get List of Registered Users",
      formType: NS.admin,
      mayRun,
      stages: [{ title: "Requesting List of Registered Users", instructions: "Fill out this form to request the registered users of this service.", fields: [maxItems] }],
      complete: async ([v], _by, host) => list("registereduserjids", "The list of all users", (await accounts(host)).sort(), v!.text("max_items")),
    },
    {
      node: `${NS.admin}#get-online-users-list`,
      name: "Get List of Online Users",
      formType: NS.admin,
      mayRun,
      stages: [{ title: "Requesting List of Online Users", instructions: "Fill out this form to request the online users of this service.", fields: [maxItems] }],
      complete: ([v], _by, host) => list("onlineuserjids", "The list of all online users", onlineJids(server.sessions, host), v!.text("max_items")),
    },
  ];
}
