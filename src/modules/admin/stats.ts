// XEP-0133 §4.13 and §4.15: the number of registered users and of online users, each a command
// without a form that completes at once with a result form.
import type { JID } from "../../xml/jid.ts";
import { NS } from "../../xml/ns.ts";
import type { ServerApi } from "../../core/module.ts";
import type { AdhocCommand, Outcome } from "../adhoc/command.ts";

function count(name: string, label: string, n: number): Outcome {
  return { form: { type: "result", formType: NS.admin, fields: [{ type: "text-single", var: name, label, values: [String(n)] }] } };
}

/** §4.15: "any user or account that currently has at least one connected or available resource". */
export function onlineUsers(server: ServerApi): number {
  const bare = new Set<string>();
  for (const s of server.sessions.all()) bare.add(s.jid.bare.toString());
  return bare.size;
}

export function statsCommands(server: ServerApi, mayRun: (j: JID) => boolean): AdhocCommand[] {
  return [
    {
      node: `${NS.admin}#get-registered-users-num`,
      name: "Get Number of Registered Users",
      mayRun,
      stages: [],
      complete: async () => count("registeredusersnum", "The number of registered users", (await server.accounts.list()).length),
    },
    {
      node: `${NS.admin}#get-online-users-num`,
      name: "Get Number of Online Users",
      mayRun,
      stages: [],
      complete: () => count("onlineusersnum", "The number of online users", onlineUsers(server)),
    },
  ];
}
