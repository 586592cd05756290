// What the presence handlers work with: sending, sessions, accounts, events, and the roster.
import type { Element } from "../../xml/element.ts";
import type { JID } from "../../xml/jid.ts";
import type { Notify, Send, Sessions } from "../../core/capabilities.ts";
import { isAvailable, type Session } from "../../core/session.ts";
import type { RosterService } from "../roster/service.ts";

export interface PresenceEnv {
  readonly send: Send;
  readonly sessions: Pick<Sessions, "of">;
  /** The accounts of every hosted domain. */
  readonly accounts: { exists(account: JID): Promise<boolean> };
  readonly notify: Notify;
  readonly roster: RosterService;
}

/** Routes a stanza the server sends (its 'from' already set): local delivery or another server. */
export function route(env: PresenceEnv, stanza: Element): Promise<void> {
  return env.send(stanza);
}

/** The account's available resources (RFC 6121 §4.1: those that sent initial presence). */
export function availableSessions(env: PresenceEnv, account: JID): Session[] {
  return env.sessions.of(account).filter(isAvailable);
}
