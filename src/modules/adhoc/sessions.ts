// XEP-0050 §3.3: command sessions. A session belongs to one requester (full JID) and one command;
// it ends when the command completes or is canceled, or after a while without use. Ended ids are
// remembered for a while, so that using one again is told apart from a sessionid never given
// (session-expired versus bad-sessionid, §4.4).
import { randomUUID } from "node:crypto";
import type { FormValues } from "../../core/forms.ts";

export interface CommandSession {
  readonly id: string;
  readonly node: string;
  readonly requester: string;
  /** The stage whose form the requester was last sent. */
  stage: number;
  /** The values submitted for the stages before `stage`. */
  readonly values: FormValues[];
  lastUsed: number;
}

export type Lookup =
  | { readonly kind: "active"; readonly session: CommandSession }
  | { readonly kind: "ended" }
  | { readonly kind: "unknown" };

/** How many ended sessionids are remembered, oldest forgotten first. */
const REMEMBERED = 4096;

export class CommandSessions {
  private readonly active = new Map<string, CommandSession>();
  private readonly perRequester = new Map<string, number>();
  private readonly ended = new Set<string>();
  private readonly idleMs: number;
  private readonly maxPerRequester: number;

  constructor(idleMs: number, maxPerRequester: number) {
    this.idleMs = idleMs;
    this.maxPerRequester = maxPerRequester;
  }

  /** A new session, or undefined when the requester already has as many as allowed. */
  open(node: string, requester: string, now = Date.now()): CommandSession | undefined {
    const n = this.perRequester.get(requester) ?? 0;
    if (n >= this.maxPerRequester) return undefined;
    this.perRequester.set(requester, n + 1);
    const session: CommandSession = { id: randomUUID(), node, requester, stage: 0, values: [], lastUsed: now };
    this.active.set(session.id, session);
    return session;
  }

  lookup(id: string, now = Date.now()): Lookup {
    const s = this.active.get(id);
    if (s && now - s.lastUsed > this.idleMs) this.end(s);
    else if (s) {
      s.lastUsed = now;
      return { kind: "active", session: s };
    }
    return this.ended.has(id) ? { kind: "ended" } : { kind: "unknown" };
  }

  end(s: CommandSession): void {
    if (!this.active.delete(s.id)) return;
    const n = (this.perRequester.get(s.requester) ?? 1) - 1;
    if (n <= 0) this.perRequester.delete(s.requester);
    else this.perRequester.set(s.requester, n);
    this.ended.add(s.id);
    if (this.ended.size > REMEMBERED) this.ended.delete(this.ended.values().next().value!);
  }

  /** Ends every session idle for longer than the limit. */
  sweep(now = Date.now()): void {
    for (const s of this.active.values()) if (now - s.lastUsed > this.idleMs) this.end(s);
  }

  get size(): number {
    return this.active.size;
  }
}
