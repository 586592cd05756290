// XEP-0133 §4.1, §4.2, §4.5, §4.7: the account commands (add-user, delete-user,
// end-user-session, change-user-password). Each names its fields once; the ad-hoc engine sends
// the form and checks the submission; what is left here is what completing does.
import type { JID } from "../../xml/jid.ts";
import { NS } from "../../xml/ns.ts";
import { AccountError, type Accounts } from "../../core/accounts.ts";
import type { Sessions } from "../../core/capabilities.ts";
import { StanzaError, StreamError } from "../../core/errors.ts";
import type { Logger } from "../../core/log.ts";
import { preparePassword } from "../../core/credentials.ts";
import type { Field } from "../../core/forms.ts";
import type { AdhocCommand } from "../adhoc/command.ts";
import { removeAccount, type AccountRemoval } from "../../core/account-removal.ts";

const node = (name: string) => `${NS.admin}#${name}`;

/** What the account commands use of the server. */
export interface AccountAdmin extends AccountRemoval {
  accountsOf(domain: string): Pick<Accounts, "exists" | "create" | "setPassword" | "delete"> | undefined;
  readonly sessions: Pick<Sessions, "of" | "get">;
}

/**
 * A JID naming an account of the hosted domain the command runs at (its bare JID), or
 * not-acceptable (XEP-0004 §4): an admin of one host manages that host's accounts only.
 */
export function localAccount(host: string, j: JID): JID {
  if (j.domain !== host || j.local === "") throw new StanzaError("not-acceptable", `${j} is not an account of ${host}`);
  return j.bare;
}

/** The accounts of `host`, which the command runs at (so one the server serves). */
function accountsOf(server: AccountAdmin, host: string): Pick<Accounts, "exists" | "create" | "setPassword" | "delete"> {
  const accounts = server.accountsOf(host);
  if (accounts === undefined) throw new StanzaError("item-not-found", `${host} is not served here`);
  return accounts;
}

async function existing(server: AccountAdmin, host: string, j: JID): Promise<JID> {
  const account = localAccount(host, j);
  if (!(await accountsOf(server, host).exists(account.local))) throw new StanzaError("item-not-found", `there is no account ${account}`);
  return account;
}

/** SCRAM keeps only what survives OpaqueString preparation (RFC 8265 §4.2). */
function usable(password: string): string {
  if (preparePassword(password) === undefined) throw new StanzaError("not-acceptable", "the password may not contain control characters");
  return password;
}

const accountjid: Field = { type: "jid-single", var: "accountjid", label: "The Jabber ID for the account", required: true };
const accountjids = (label: string): Field => ({ type: "jid-multi", var: "accountjids", label, required: true });
const password: Field = { type: "text-private", var: "password", label: "The password for this account", required: true };

export function accountCommands(server: AccountAdmin, log: Logger, mayRun: (j: JID, host: string) => boolean): AdhocCommand[] {
  const base = { formType: NS.admin, mayRun };
  return [
    {
      ...base,
      node: node("add-user"),
      name: "Add a User",
      stages: [{
        title: "Adding a User",
        instructions: "Fill out this form to add a user.",
        fields: [
          { ...accountjid, label: "The Jabber ID for the account to be added" },
          password,
          { type: "text-private", var: "password-verify", label: "Retype password" },
          { type: "text-single", var: "email", label: "Email address" },
          { type: "text-single", var: "given_name", label: "Given name" },
          { type: "text-single", var: "surname", label: "Family name" },
        ],
      }],
      async complete([v], by, host) {
        const account = localAccount(host, v!.jid("accountjid")!);
        const accounts = accountsOf(server, host);
        const pw = usable(v!.text("password")!);
        const verify = v!.text("password-verify");
        if (verify !== undefined && verify !== pw) throw new StanzaError("not-acceptable", "the passwords differ");
        // §4.1 lists conflict for "a user already exists with that username".
        if (await accounts.exists(account.local)) throw new StanzaError("conflict", `${account} already exists`);
        try {
          await accounts.create(account.local, pw);
        } catch (e) {
          if (e instanceof AccountError) throw new StanzaError("conflict", `${account} already exists`);
          throw e;
        }
        log.info({ user: account.toString(), by: by.bare.toString() }, "account added by an administrator");
        return { note: { type: "info", text: `Added ${account}.` } };
      },
    },
    {
      ...base,
      node: node("delete-user"),
      name: "Delete a User",
      stages: [{ title: "Deleting a User", instructions: "Fill out this form to delete a user.", fields: [accountjids("The Jabber ID(s) to delete")] }],
      async complete([v], by, host) {
        const accounts: JID[] = [];
        for (const j of v!.jids("accountjids")) accounts.push(await existing(server, host, j));
        // The requester's own account goes after this reply has reached it.
        const own = accounts.find((a) => a.equals(by.bare));
        for (const a of accounts) if (a !== own) await removeAccount(server, a);
        if (own) setImmediate(() => void removeAccount(server, own).catch((e: unknown) => log.error({ err: e }, "account deletion failed")));
        log.info({ users: accounts.map(String), by: by.bare.toString() }, "accounts deleted by an administrator");
        return { note: { type: "info", text: `Deleted ${accounts.join(", ")}.` } };
      },
    },
    {
      ...base,
      node: node("end-user-session"),
      name: "End User Session",
      stages: [{ title: "Ending a User Session", instructions: "Fill out this form to end a user's session.", fields: [accountjids("The Jabber ID(s) for which to end sessions")] }],
      complete([v], _by, host) {
        // §4.5: a bare JID ends all of the user's sessions, a full JID only that resource's.
        const targets = v!.jids("accountjids").flatMap((j) => {
          localAccount(host, j);
          if (j.resource === "") return server.sessions.of(j);
          const s = server.sessions.get(j);
          return s ? [s] : [];
        });
        // After the reply: the requester may be ending one of its own sessions.
        setImmediate(() => {
          for (const s of targets) s.close(new StreamError("policy-violation", "an administrator ended this session"));
        });
        return { note: { type: "info", text: `Ending ${targets.length} session(s).` } };
      },
    },
    {
      ...base,
      node: node("change-user-password"),
      name: "Change User Password",
      stages: [{ title: "Changing a User Password", instructions: "Fill out this form to change a user's password.", fields: [accountjid, password] }],
      async complete([v], by, host) {
        const account = await existing(server, host, v!.jid("accountjid")!);
        await accountsOf(server, host).setPassword(account.local, usable(v!.text("password")!));
        log.info({ user: account.toString(), by: by.bare.toString() }, "password changed by an administrator");
        return { note: { type: "info", text: `Changed the password of ${account}.` } };
      },
    },
  ];
}
