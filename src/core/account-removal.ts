// Deleting an account the way the server always does it, whoever asked: the account itself
// (XEP-0077 §3.2) or an administrator (XEP-0133 §4.2). New logins are refused at once; sessions
// close first, with the <not-authorized/> stream error XEP-0077 names, so their contacts get
// unavailable presence while the roster still exists; then the account and everything stored
// for it go, and modules hear of it (account/deleted).
import type { JID } from "../xml/jid.ts";
import { AccountError } from "./accounts.ts";
import { StreamError } from "./errors.ts";
import type { Logger } from "./log.ts";
import type { ServerApi } from "./module.ts";

/** Returns false when there was no such account (deleted meanwhile). */
export async function removeAccount(server: ServerApi, account: JID, log: Logger): Promise<boolean> {
  try {
    await server.accounts.delete(account.local, async () => {
      for (const s of server.sessions.of(account.bare)) s.close(new StreamError("not-authorized", "the account was deleted"));
      await server.settled();
    });
  } catch (e) {
    if (e instanceof AccountError) return false;
    throw e;
  }
  await server.events.notify("account/deleted", { jid: account.bare }, (e) => log.error({ err: e }, "account/deleted listener failed"));
  return true;
}
