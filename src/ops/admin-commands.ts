// What the admin socket (admin-socket.ts) can be asked, and what each answer is: the running
// server's side of `xmppd sessions | kick | announce | stats | reload | adduser | passwd |
// deluser | users`. Each command takes its arguments as strings, as typed, and resolves to a
// JSON value; a refusal throws AdminError with the one line the command line prints.
import { xml } from "../xml/element.ts";
import { type JID, JidError, parseJid } from "../xml/jid.ts";
import { AccountError, type Accounts } from "../core/accounts.ts";
import { StreamError } from "../core/errors.ts";
import { pace } from "../core/pace.ts";
import type { SessionDirectory, Session } from "../core/session.ts";

export class AdminError extends Error {}

/** One session as `xmppd sessions` lists it. */
export interface SessionInfo {
  jid: string;
  secure: boolean;
  /** Waiting for a stream management resumption (XEP-0198): its connection is gone. */
  detached: boolean;
  /** Has sent available presence (RFC 6121 §4.2). */
  available: boolean;
  priority: number;
  /** Seconds since the client last sent anything. */
  idle: number;
}

/** What `reload` did: what took effect, what needs a restart. */
export interface ReloadReport {
  applied: string[];
  restartNeeded: string[];
}

/** What the commands use of the server. */
export interface AdminHost {
  /** The configuration's domain: a bare name (no @) is an account of it. */
  readonly domain: JID;
  readonly sessions: Pick<SessionDirectory, "all" | "local" | "of">;
  /** The domains served (virtual hosts), the configuration's domain first. */
  readonly domains: readonly string[];
  /** The accounts of a hosted domain; undefined for any other. */
  accountsOf(domain: string): Pick<Accounts, "create" | "setPassword" | "listMarked"> | undefined;
  /** Deletes an account the server's one way (sessions closed, stores purged); false when there was none. */
  removeAccount(account: JID): Promise<boolean>;
  stats(): Promise<Record<string, unknown>>;
  reload(): Promise<ReloadReport>;
}

export type AdminCommand = (args: string[]) => Promise<unknown>;

/** Longest announcement, in characters: a headline, not a document. */
export const MAX_ANNOUNCEMENT = 16_384;

/** An argument that must be there. */
function arg(args: string[], i: number, name: string): string {
  const v = args[i];
  if (v === undefined || v === "") throw new AdminError(`missing <${name}>`);
  return v;
}

function jidOf(text: string): JID {
  try {
    return parseJid(text);
  } catch (e) {
    if (e instanceof JidError) throw new AdminError(e.message);
    throw e;
  }
}

/** An account of one of the hosted domains, by its JID, or by its local part for the configuration's domain; and its domain's accounts. */
function account(host: AdminHost, text: string): [JID, Pick<Accounts, "create" | "setPassword" | "listMarked">] {
  const j = jidOf(text.includes("@") ? text : `${text}@${host.domain.domain}`);
  const accounts = host.accountsOf(j.domain);
  if (accounts === undefined) throw new AdminError(`${j.domain} is not a domain of this server (${host.domains.join(", ")})`);
  if (!j.local) throw new AdminError("the JID needs a local part");
  return [j.bare, accounts];
}

function info(s: Session, now: number): SessionInfo {
  return {
    jid: s.jid.toString(), secure: s.secure, detached: s.detached, available: s.presence !== undefined,
    priority: s.priority, idle: Math.max(0, Math.round((now - s.lastActivity) / 1000)),
  };
}

/** Runs an account call; AccountError (no such account, exists already) is the one line to print. */
async function accountCall<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof AccountError) throw new AdminError(e.message);
    throw e;
  }
}

export function adminCommands(host: AdminHost): Record<string, AdminCommand> {
  return {
    async sessions() {
      const now = Date.now();
      return [...host.sessions.all()].map((s) => info(s, now)).sort((a, b) => a.jid.localeCompare(b.jid));
    },

    /**
     * Ends a session (a full JID) or every session of an account (a bare JID), as XEP-0133's
     * end-user-session does: a <policy-violation/> stream error; a detached session just ends.
     */
    async kick(args) {
      const j = jidOf(arg(args, 0, "jid"));
      const targets = j.resource ? [host.sessions.local(j)].filter((s) => s !== undefined) : host.sessions.of(j).filter((s) => host.sessions.local(s.jid) === s);
      if (targets.length === 0) throw new AdminError(`no session ${j} on this server`);
      for (const s of targets) s.close(new StreamError("policy-violation", "an administrator ended this session"));
      return { kicked: targets.map((s) => s.jid.toString()) };
    },

    /**
     * XEP-0133 §4.23 (send announcement to online users): a headline message from the server to
     * every session on this node; a detached one gets it when it resumes. Headlines are not
     * stored offline (RFC 6121 §5.2.2), so users who are offline do not get it. Paced (core/pace.ts):
     * tens of thousands of sessions take seconds to write to.
     */
    async announce(args) {
      const text = args.join(" ").trim();
      if (text === "") throw new AdminError("missing <text>");
      if (text.length > MAX_ANNOUNCEMENT) throw new AdminError(`the announcement is longer than ${MAX_ANNOUNCEMENT} characters`);
      let sent = 0;
      for (const s of [...host.sessions.all()]) {
        await pace(sent);
        // From the session's own host (a virtual host's users hear from their server).
        s.send(xml("message", { from: s.jid.domain, to: s.jid.toString(), type: "headline" }, xml("body", null, text)));
        sent++;
      }
      return { sent };
    },

    stats: () => host.stats(),
    reload: () => host.reload(),

    async adduser(args) {
      const [a, accounts] = account(host, arg(args, 0, "jid"));
      await accountCall(() => accounts.create(a.local, arg(args, 1, "password")));
      return { created: a.toString() };
    },

    async passwd(args) {
      const [a, accounts] = account(host, arg(args, 0, "jid"));
      await accountCall(() => accounts.setPassword(a.local, arg(args, 1, "password")));
      return { changed: a.toString() };
    },

    async deluser(args) {
      const [a] = account(host, arg(args, 0, "jid"));
      if (!(await accountCall(() => host.removeAccount(a)))) throw new AdminError(`no account ${a}`);
      return { deleted: a.toString() };
    },

    /** The accounts of every hosted domain. */
    async users() {
      const all: string[] = [];
      for (const d of host.domains) all.push(...(await host.accountsOf(d)?.listMarked() ?? []));
      return all.sort();
    },
  };
}
