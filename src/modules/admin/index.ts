// XEP-0133: Service Administration, as ad-hoc commands (XEP-0050) of the server that only its
// administrators (the config's `admins`) see and run: §5 "MUST NOT be granted to users who lack
// service-level administrative privileges". Implemented: add-user, delete-user,
// end-user-session, change-user-password, get-registered-users-num, get-online-users-num,
// get-registered-users-list, get-online-users-list.
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
    for (const cmd of [...accountCommands(ctx, ctx.log, ctx.isAdmin), ...statsCommands(ctx, ctx.isAdmin)]) adhoc.add(cmd);
  },
});
