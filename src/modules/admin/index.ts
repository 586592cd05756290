// XEP-0133: Service Administration, as ad-hoc commands (XEP-0050) of the server that only its
// administrators see and run, each host's its own (the config's `admins`, hosts.<host>.admins): §5 "MUST NOT be granted to users who lack
// service-level administrative privileges". Implemented: add-user, delete-user,
// end-user-session, change-user-password, get-registered-users-num, get-online-users-num,
// get-registered-users-list, get-online-users-list.
import type { JID } from "../../xml/jid.ts";
import { defineModule } from "../../core/module.ts";
import { ADHOC } from "../adhoc/command.ts";
import { accountCommands } from "./accounts.ts";
import { statsCommands } from "./stats.ts";

export default defineModule({
  name: "admin",
  specs: [{ spec: "XEP-0133", version: "1.3.1" }],
  depends: ["adhoc"],
  setup(ctx) {
    const adhoc = ctx.use(ADHOC);
    // An admin of one hosted domain runs them at that domain, on its accounts only.
    const mayRun = (j: JID, host: string) => ctx.isAdmin(j, host);
    for (const cmd of [...accountCommands(ctx, ctx.log, mayRun), ...statsCommands(ctx, mayRun)]) adhoc.add(cmd);
  },
});
