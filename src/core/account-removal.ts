// Deleting an account the way the server always does it, whoever asked: the account itself
// (XEP-0077 §3.2) or an administrator (XEP-0133 §4.2). New logins are refused at once; sessions
// close first, with the <not-authorized/> stream error XEP-0077 names, so their contacts get
// unavailable presence while the roster still exists; then the account and everything stored
// for it go, and modules hear of it (account/deleted).
import type { JID } from "../xml/jid.ts";
import { AccountError, type Accounts } from "./accounts.ts";
import type { Notify, Sessions } from "./capabilities.ts";
import { StreamError } from "./errors.ts";

/** What deleting an account uses of the server. */
export interface AccountRemoval {
  /** The accounts of a hosted domain; undefined for any other. */
  accountsOf(domain: string): Pick<Accounts, "delete"> | undefined;
  readonly sessions: Pick<Sessions, "of">;
  /** Resolves when the listeners of the closed sessions have finished. */
  settled(): Promise<void>;
  readonly notify: Notify;
}

/** Returns false when there was no such account (deleted meanwhile). */
export async function removeAccount(server: AccountRemoval, account: JID): Promise<boolean> {
  const accounts = server.accountsOf(account.domain);
  if (accounts === undefined) return false;
  try {
    await accounts.delete(account.local, async () => {
      for (const s of server.sessions.of(account.bare)) s.close(new StreamError("not-authorized", "the account was deleted"));
      await server.settled();
    });
  } catch (e) {
    if (e instanceof AccountError) return false;
    throw e;
  }
  await server.notify("account/deleted", { jid: account.bare });
  return true;
}
