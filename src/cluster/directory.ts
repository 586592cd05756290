// What a node knows of the other nodes' sessions: one RemoteSession per full JID, kept current by
// the directory events of the cluster (src/cluster/redis.ts). The router and the modules see them
// through SessionDirectory.of()/get() like local ones: presence reaches them, carbons copy to them,
// the router delivers messages to them; writing to one sends the stanza to its node.
import type { Element } from "../xml/element.ts";
import { parseJid, type JID } from "../xml/jid.ts";
import type { StreamError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { sharedKeys, type RemoteSessions, type Session, type SessionKey } from "../core/session.ts";
import { parseStored } from "../xml/stored.ts";

/** A session's state as its node publishes it. */
export interface SessionSnapshot {
  /** The node holding it. */
  n: string;
  /** Its last available presence (XML), null while unavailable. */
  p: string | null;
  /** Its priority. */
  pr: number;
  /** Has requested the roster. */
  i: boolean;
  /** The values of the shared session keys, by name. */
  k: Record<string, unknown>;
}

/** How a RemoteSession reaches its node. */
export interface RemoteLink {
  /** Sends the stanza to the session on its node; with `confirm`, resolves whether that node wrote it. */
  forward(session: RemoteSession, stanza: Element, confirm: boolean): Promise<boolean>;
  close(session: RemoteSession, error: StreamError | undefined): void;
  /** Runs fn under the account's cluster-wide lock, after reloading the account's sessions. */
  exclusive<T>(bare: string, fn: () => Promise<T>): Promise<T>;
}

export function snapshotOf(node: string, s: Session): SessionSnapshot {
  const k: Record<string, unknown> = {};
  for (const [name, key] of sharedKeys) {
    const v = s.get(key);
    if (v !== undefined) k[name] = v;
  }
  return { n: node, p: s.presence ? s.presence.toString() : null, pr: s.priority, i: s.interested, k };
}

export class RemoteSession implements Session {
  readonly id: string;
  readonly jid: JID;
  readonly secure = true;
  readonly detached = false;
  readonly log: Logger;
  presence: Element | undefined;
  priority = 0;
  interested = false;
  lastActivity = Date.now();
  hold: ((stanza: Element) => boolean) | undefined = undefined;
  node: string;
  private values: Record<string, unknown> = {};
  private readonly link: RemoteLink;

  constructor(jid: JID, snapshot: SessionSnapshot, link: RemoteLink, log: Logger) {
    this.jid = jid;
    this.node = snapshot.n;
    this.id = `${snapshot.n}/${jid.toString()}`;
    this.link = link;
    this.log = log;
    this.update(snapshot);
  }

  update(s: SessionSnapshot): void {
    this.node = s.n;
    this.presence = s.p === null ? undefined : parseStored(s.p);
    this.priority = s.pr;
    this.interested = s.i;
    this.values = s.k;
    this.lastActivity = Date.now();
  }

  send(stanza: Element): void {
    void this.link.forward(this, stanza, false);
  }

  sendNow(stanza: Element): void {
    void this.link.forward(this, stanza, false);
  }

  sendSerialized(text: string): void {
    const stanza = parseStored(text);
    if (stanza) this.sendNow(stanza);
  }

  deliver(stanza: Element): Promise<boolean> {
    return this.link.forward(this, stanza, true);
  }

  close(error?: StreamError): void {
    this.link.close(this, error);
  }

  get<T>(key: SessionKey<T>): T | undefined {
    return this.values[key.name] as T | undefined;
  }

  /** State of another node's session is that node's to change. */
  set(): void {}
}

/** The other nodes' sessions by bare JID and resource, and by node (to forget a dead node at once). */
export class Directory implements RemoteSessions {
  private readonly byBare = new Map<string, Map<string, RemoteSession>>();
  private readonly byNode = new Map<string, Set<RemoteSession>>();
  private readonly link: RemoteLink;
  private readonly log: Logger;

  constructor(link: RemoteLink, log: Logger) {
    this.link = link;
    this.log = log;
  }

  of(bare: string): Iterable<RemoteSession> | undefined {
    return this.byBare.get(bare)?.values();
  }

  get(bare: string, resource: string): RemoteSession | undefined {
    return this.byBare.get(bare)?.get(resource);
  }

  exclusive<T>(bare: string, fn: () => Promise<T>): Promise<T> {
    return this.link.exclusive(bare, fn);
  }

  /** The account's sessions are these, as the shared directory has them now (besides this node's). */
  resync(bare: string, entries: [full: string, snapshot: SessionSnapshot][]): void {
    const keep = new Set<string>();
    for (const [full, snap] of entries) keep.add(this.put(full, snap)!.jid.resource);
    const res = this.byBare.get(bare);
    if (res) for (const s of [...res.values()]) if (!keep.has(s.jid.resource)) this.drop(s);
  }

  /** A session was bound or changed on another node (a newer binding of the full JID replaces an older one). */
  put(full: string, snapshot: SessionSnapshot): RemoteSession | undefined {
    const jid = parseJid(full);
    const bare = jid.bare.toString();
    let res = this.byBare.get(bare);
    if (!res) this.byBare.set(bare, (res = new Map()));
    const cur = res.get(jid.resource);
    if (cur) {
      if (cur.node !== snapshot.n) this.nodeSet(cur.node).delete(cur);
      cur.update(snapshot);
      this.nodeSet(snapshot.n).add(cur);
      return cur;
    }
    const s = new RemoteSession(jid, snapshot, this.link, this.log);
    res.set(jid.resource, s);
    this.nodeSet(snapshot.n).add(s);
    return s;
  }

  /** The session of `full` on `node` is gone (a later binding on another node stays). */
  remove(full: string, node: string): void {
    const jid = parseJid(full);
    const bare = jid.bare.toString();
    const res = this.byBare.get(bare);
    const cur = res?.get(jid.resource);
    if (!res || !cur || cur.node !== node) return;
    this.drop(cur);
  }

  drop(s: RemoteSession): void {
    const bare = s.jid.bare.toString();
    const res = this.byBare.get(bare);
    if (res?.get(s.jid.resource) !== s) return;
    res.delete(s.jid.resource);
    if (res.size === 0) this.byBare.delete(bare);
    this.byNode.get(s.node)?.delete(s);
  }

  /** Forgets every session of a node (dead, or about to be reloaded). */
  forgetNode(node: string): number {
    const set = this.byNode.get(node);
    if (!set) return 0;
    const n = set.size;
    for (const s of [...set]) this.drop(s);
    this.byNode.delete(node);
    return n;
  }

  nodes(): string[] {
    return [...this.byNode.keys()];
  }

  private nodeSet(node: string): Set<RemoteSession> {
    let set = this.byNode.get(node);
    if (!set) this.byNode.set(node, (set = new Set()));
    return set;
  }
}
