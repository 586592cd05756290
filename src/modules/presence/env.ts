// What the presence handlers work with: the server (router, sessions, accounts) and the roster.
import type { Element } from "../../xml/element.ts";
import type { JID } from "../../xml/jid.ts";
import type { ServerApi } from "../../core/module.ts";
import { isAvailable, type Session } from "../../core/session.ts";
import type { RosterService } from "../roster/service.ts";

export interface PresenceEnv {
  readonly server: ServerApi;
  readonly roster: RosterService;
}

/** Routes a stanza the server sends (its 'from' already set): local delivery or another server. */
export function route(env: PresenceEnv, stanza: Element): Promise<void> {
  return env.server.router.route(stanza);
}

/** The account's available resources (RFC 6121 §4.1: those that sent initial presence). */
export function availableSessions(env: PresenceEnv, account: JID): Session[] {
  return env.server.sessions.of(account).filter(isAvailable);
}
