// XEP-0050: Ad-Hoc Commands offered by the server. Commands come from other modules (ADHOC
// service); this module lists them under the disco node http://jabber.org/protocol/commands
// (§2.2: only those the requester may run), describes each command node, and runs them.
// Commands between clients (to full JIDs) are routed like any iq and never reach this module.
// XEP-0004 data forms are the payload (src/core/forms.ts).
import type { JID } from "../../xml/jid.ts";
import { NS } from "../../xml/ns.ts";
import { StanzaError } from "../../core/errors.ts";
import type { DiscoNode } from "../../core/disco.ts";
import { defineModule } from "../../core/module.ts";
import { int } from "../../core/schema.ts";
import { ADHOC, type AdhocCommand } from "./command.ts";
import { execute } from "./engine.ts";
import { parseCommand } from "./parse.ts";
import { CommandSessions } from "./sessions.ts";

/** The command, if it exists and the requester may run it at `host`: item-not-found, else forbidden (§4.4). */
function runnable(commands: Map<string, AdhocCommand>, node: string, requester: JID, host: string): AdhocCommand {
  const cmd = commands.get(node);
  if (!cmd) throw new StanzaError("item-not-found", "no such command");
  if (!cmd.mayRun(requester, host)) throw new StanzaError("forbidden", "you may not run this command");
  return cmd;
}

export default defineModule({
  name: "adhoc",
  specs: [{ spec: "XEP-0050", version: "1.3.0" }, { spec: "XEP-0004", version: "2.13.2" }],
  options: {
    sessionTimeout: int("Seconds a multi-stage command session may sit unused before it expires.", 600, 10),
    sessionsPerRequester: int("Command sessions one requester (full JID) may have open at once.", 10, 1),
  },
  setup(ctx) {
    const commands = new Map<string, AdhocCommand>();
    const sessions = new CommandSessions(ctx.options.sessionTimeout * 1000, ctx.options.sessionsPerRequester);
    ctx.every(60_000, () => sessions.sweep());
    ctx.feature(NS.commands);

    // §2.2: the command list node, "category ... automation and type is command-list".
    ctx.hostNode(NS.commands, {
      info: () => ({ identities: [{ category: "automation", type: "command-list", name: "Commands" }], features: [] }),
      items: (requester, host) => [...commands.values()].filter((c) => c.mayRun(requester, host))
        .map((c) => ({ jid: host, node: c.node, name: c.name })),
    });

    ctx.provideEach(ADHOC, (user) => ({
      add(cmd) {
        if (commands.has(cmd.node)) throw new Error(`ad-hoc command ${cmd.node} is added twice`);
        // §2.2: a command node "MUST at least provide <identity category='automation'
        // type='command-node'/> and <feature var='http://jabber.org/protocol/commands'/>, and
        // SHOULD include <feature var='jabber:x:data'/>"; unavailable to the requester: forbidden.
        const node: DiscoNode = {
          info: (requester, host) => {
            runnable(commands, cmd.node, requester, host);
            return { identities: [{ category: "automation", type: "command-node", name: cmd.name }], features: [NS.commands, NS.dataForms] };
          },
          items: (requester, host) => {
            runnable(commands, cmd.node, requester, host);
            return [];
          },
        };
        const removeNode = ctx.hostNode(cmd.node, node);
        commands.set(cmd.node, cmd);
        user.own(() => {
          commands.delete(cmd.node);
          removeNode();
        });
      },
    }));

    ctx.iq("host", NS.commands, "command", {
      set: async ({ payload, from, to }) => {
        const req = parseCommand(payload);
        if (req instanceof StanzaError) throw req;
        return execute(runnable(commands, req.node, from, to.domain), req, from, sessions, to.domain);
      },
    });
  },
});
