// The cluster on Redis: which node holds which full JID, and a route bus between the nodes.
//
// Keys and channels, under the configured prefix:
//   sess:<bare>          hash resource → session snapshot (JSON, its node in "n")
//   nodesess:<node>      set of the full JIDs a node has published (to forget them when it dies)
//   node:<node>          heartbeat, set every `heartbeat` ms with a TTL of three of them
//   lock:<bare>          an account's turn (offline store vs flush) across the nodes, SET NX PX
//   dir                  channel: directory events (up, down, hb, reset) that every node mirrors
//   route:<node>         channel: stanzas for that node's sessions, and its acks and close orders;
//                        resumption requests (rq) and the sessions handed over in answer (rs)
//   smtok:<token>        the node holding the resumable session of an XEP-0198 token
//   idtag:<tag>          the node whose time-ordered ids (storage/ids.ts) end with that tag
//   authfail:<address>   login attempts from an address (its IPv6 prefix) in the current window
//                        that are in progress or failed (INCR at the start, PEXPIRE NX; DECR after
//                        one that refused no password)
//   authacct:<local>     hash n, last: an account's attempts in its window, when the latest is checked
//
// Pub/sub, not streams: a stanza for a session is useful only to the node holding that session,
// now; when that node is gone a stream entry would wait for nobody. What must not be lost (a
// message) is sent with a confirmation: the receiving node acks once it wrote the message to the
// session (whose own XEP-0198 queue then answers for it), and the sender stores it offline when
// PUBLISH reaches no subscriber (the node is down: at once), the node says the session is gone,
// or no ack comes within ackTimeout. Presence, iq and carbon copies are fire-and-forget, like a
// write to a local socket. A node's own heartbeats on `dir` tell the others it lives; one not
// heard of for three heartbeats is forgotten (its sessions no longer count). Once its heartbeat
// key has expired too, one node (the holder of reap:<node>, SET NX) takes its entries out of the
// hashes and ends its sessions here (onDead: their contacts get the unavailable presence the
// sessions never sent), exactly once: the entries are claimed (read and deleted) under the lock.
// A node that restarts under the same name does the same for what its previous run left.
//
// Resumption on another node (XEP-0198 §5 through a load balancer): the node the client reaches
// finds the session's node under smtok:<token> and asks it (rq). That node waits for the writes
// of what the session handled, applies the client's h, takes the session out of its own sessions
// without ending it (no unavailable presence, nothing re-routed), points its own directory at the
// new node, forwards there whatever still reaches it for that full JID, and answers with the
// session's state (rs): counters, unacknowledged stanzas, shared keys, presence. The new node
// installs it synchronously on receipt, before any forwarded stanza is read from the same channel,
// answers <resumed/>, replays, and publishes the session, which turns every node's routing to it.
// A message routed with confirmation is acked by the node that wrote it, so a sender's next
// message waits for the previous one, wherever it was forwarded: order is kept. A node that does
// not answer (dead: no subscriber) means <failed><item-not-found/>.
import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import { StreamError, type StreamErrorCondition } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import type { SessionDirectory, Session } from "../core/session.ts";
import type { Element } from "../xml/element.ts";
import { parseJid } from "../xml/jid.ts";
import { parseStored } from "../xml/stored.ts";
import { NODE_TAGS } from "../storage/ids.ts";
import { ACCOUNT_DELAY_MS, ACCOUNT_MAX_DELAY_MS, ACCOUNT_WINDOW_MS, ADDRESS_WINDOW_MS,
  type LocalLoginThrottle, type LoginThrottle, type LoginThrottleOptions } from "../stream/login-throttle.ts";
import type { ClaimResult, ResumptionRegistry, SessionTransfer } from "../stream/sm.ts";
import { Directory, RemoteSession, snapshotOf, type RemoteLink, type SessionSnapshot } from "./directory.ts";

export interface ClusterOptions {
  url: string;
  node: string;
  prefix: string;
  ackTimeout: number;
  heartbeat: number;
  /** A session of a dead node, ended on its behalf (by one node of the cluster only). */
  onDead?: (session: RemoteSession) => Promise<void>;
}

type DirEvent =
  | { k: "up"; n: string; f: string; s: SessionSnapshot }
  | { k: "down"; n: string; f: string }
  | { k: "hb"; n: string }
  | { k: "reset"; n: string };

/** How long a message for a closing session waits for its close to finish, at most. */
const CLOSE_WAIT_MS = 30_000;

type RouteEvent =
  | { k: "s"; n: string; f: string; x: string; id?: string }
  | { k: "a"; id: string; ok: boolean }
  /** "Still working on it": the target session is closing and re-routing what it never acked first. */
  | { k: "w"; id: string }
  | { k: "c"; f: string; e?: string; t?: string }
  /** Resume request: hand over the session of token t (account b), the client's h. */
  | { k: "rq"; n: string; id: string; t: string; b: string; h: number }
  /** Its answer: the session's state, or why not. */
  | { k: "rs"; id: string; r: SessionTransfer | ClaimResult };

/** A session that can move to another node (ClientSession). */
export interface Movable extends Session {
  handOff(bare: string, h: number, waitMs: number): Promise<SessionTransfer | ClaimResult>;
}

/**
 * The id tags nodes take (storage/ids.ts): not 0, a single server's, nor the last, the imports'
 * (modules/pie). Two nodes writing one archive (the sender's node its copy, the recipient's its
 * own) in one millisecond must not make the same id: the store keeps one entry per id.
 */
const FIRST_TAG = 1;
const TAGS = NODE_TAGS - 2;
/** How long a node's tag stays its own after its last heartbeat (it gets it back when it restarts). */
const TAG_TTL_MS = 10 * 60_000;

/** How long a resumption token is findable in Redis after enable (a session older than this resumes on its own node only). */
const TOKEN_TTL_S = 24 * 3600;
/** How long a node forwards what reaches it for a session that moved away. */
const MOVED_FORWARD_MS = 60_000;

/** Deletes a hash field only if the node named in its snapshot is the given one. */
const DEL_IF_NODE = `local v = redis.call('HGET', KEYS[1], ARGV[1])
if v and cjson.decode(v).n == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0`;

/** Decrements a counter that exists and is above zero (an expired window is not brought back). */
const DECR_IF_COUNTED = `local v = tonumber(redis.call('GET', KEYS[1]) or '0')
if v > 0 then return redis.call('DECR', KEYS[1]) end
return 0`;

/** Decrements the hash field n where it is above zero. */
const HDECR_IF_COUNTED = `local v = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
if v > 0 then return redis.call('HINCRBY', KEYS[1], 'n', -1) end
return 0`;

/**
 * An account's next login attempt (login-throttle.ts, LocalLoginThrottle.account) on Redis's
 * clock: counts it and returns the milliseconds it waits, or -1 when its turn is too far away.
 * ARGV: window, attempts that pass at once, first spacing, longest spacing (and wait).
 */
const ACCOUNT_TURN = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
local last = tonumber(redis.call('HGET', KEYS[1], 'last') or '0')
local free, first, longest = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local spacing = 0
if n + 1 > free then spacing = math.min(first * 2 ^ math.min(n - free, 30), longest) end
local at = math.max(now, last + spacing)
if at - now > longest then return -1 end
redis.call('HSET', KEYS[1], 'n', n + 1, 'last', at)
redis.call('PEXPIRE', KEYS[1], ARGV[1], 'NX')
return at - now`;

/** Deletes a key only if it still holds the given value (a lock released by its holder only). */
const DEL_IF_VALUE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** Messages sent to another node with confirmation, by outcome (the metrics read them). */
export interface BusStats {
  /** Sent with confirmation. */
  sent: number;
  /** Confirmed written by the other node. */
  acked: number;
  /** The other node answered that the session was gone. */
  refused: number;
  /** No answer within ackTimeout. */
  timeouts: number;
  /** No node subscribed (it is down), or Redis refused the publish. */
  unreachable: number;
}

export class RedisCluster implements RemoteLink {
  readonly directory: Directory;
  readonly node: string;
  readonly bus: BusStats = { sent: 0, acked: 0, refused: 0, timeouts: 0, unreachable: 0 };
  /** The tag of this node's ids, one no other node of the cluster holds (set by start). */
  idTag = 0;
  private readonly opts: ClusterOptions;
  private readonly cmd: Redis;
  private readonly sub: Redis;
  private readonly sessions: SessionDirectory;
  private readonly log: Logger;
  private readonly pending = new Map<string, { settle(ok: boolean): void; hold(): void }>();
  private readonly lastSeen = new Map<string, number>();
  private readonly dead = new Set<string>();
  /** Dead nodes whose entries nobody has claimed yet, as far as this node knows. */
  private readonly unreaped = new Set<string>();
  private readonly published = new WeakMap<Session, string>();
  /** Local sessions published and not yet withdrawn, by full JID: one that is not bound any more is closing. */
  private readonly publishedFull = new Map<string, Session>();
  /** Route events waiting for a closing session's end (its unacked messages re-routed first). */
  private readonly closing = new Map<string, (() => void)[]>();
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Sessions handed over to another node, by full JID: what still reaches this node for them goes there. */
  private readonly moved = new Map<string, string>();
  /** Sessions being handed over, by full JID: route events that find them gone wait for the outcome. */
  private readonly handing = new Map<string, RouteEvent[]>();
  /** Resumptions asked of other nodes, by request id. */
  private readonly claims = new Map<string, { node: string; settle(r: SessionTransfer | ClaimResult): void }>();
  private localResumption: ResumptionRegistry<Movable> | undefined;
  /** Resumption tokens of this node's sessions (their smtok keys, set again if Redis lost them). */
  private readonly tokens = new Set<string>();
  /** When Redis last answered a heartbeat: a confirmation is not given up on while it is silent. */
  private answeredAt = Date.now();
  /** When Redis answered again after a silence: what was held in it is still on its way for a while. */
  private backAt = 0;
  /** Whether this node has beaten once: a heartbeat key missing after that was lost or expired. */
  private beaten = false;

  constructor(opts: ClusterOptions, sessions: SessionDirectory, log: Logger) {
    this.opts = opts;
    this.node = opts.node;
    this.sessions = sessions;
    this.log = log;
    this.directory = new Directory(this, log);
    this.cmd = new Redis(opts.url, { lazyConnect: true });
    this.sub = new Redis(opts.url, { lazyConnect: true });
    for (const r of [this.cmd, this.sub]) r.on("error", (err) => this.log.warn({ err }, "cluster redis connection"));
  }

  private key(...parts: string[]): string {
    return this.opts.prefix + parts.join(":");
  }

  async start(): Promise<void> {
    await Promise.all([this.cmd.connect(), this.sub.connect()]);
    this.sub.on("message", (channel: string, text: string) => this.receive(channel, text));
    await this.sub.subscribe(this.key("dir"), this.key("route", this.node));
    this.idTag = await this.claimIdTag();
    await this.load();
    // Entries a previous run of this node left (it crashed): not sessions of ours any more. Claimed
    // under the same lock as another node would (it may be at it already), before the first
    // heartbeat, which would have the others reload them.
    await this.reapOwn();
    await this.cmd.publish(this.key("dir"), JSON.stringify({ k: "reset", n: this.node } satisfies DirEvent));
    await this.beat();
    this.timer = setInterval(() => void this.tick().catch((err: unknown) => this.log.warn({ err }, "cluster heartbeat")), this.opts.heartbeat);
    this.timer.unref();
  }

  /** Whether Redis answers (readiness): rejects when it does not. */
  async ping(): Promise<void> {
    await this.cmd.ping();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.forgetRedis(this.node);
    await this.cmd.del(this.key("node", this.node));
    await this.cmd.publish(this.key("dir"), JSON.stringify({ k: "reset", n: this.node } satisfies DirEvent));
    for (const p of this.pending.values()) p.settle(false);
    this.pending.clear();
    for (const c of [...this.claims.values()]) c.settle({ kind: "not-found" });
    this.sub.disconnect();
    await this.cmd.quit();
  }

  // --- this node's sessions --------------------------------------------------------------------

  /** Publishes a local session's state (bound, presence, shared keys); nothing when unchanged. */
  async publish(s: Session): Promise<void> {
    const snap = snapshotOf(this.node, s);
    const json = JSON.stringify(snap);
    if (this.published.get(s) === json) return;
    this.published.set(s, json);
    const full = s.jid.toString();
    this.publishedFull.set(full, s);
    // A binding here replaces the same full JID on another node (that node closes its own).
    const other = this.directory.get(s.jid.bare.toString(), s.jid.resource);
    if (other) this.directory.drop(other);
    await this.cmd.multi()
      .hset(this.key("sess", s.jid.bare.toString()), s.jid.resource, json)
      .sadd(this.key("nodesess", this.node), full)
      .publish(this.key("dir"), JSON.stringify({ k: "up", n: this.node, f: full, s: snap } satisfies DirEvent))
      .exec();
  }

  /** A local session ended (unless a newer local session took its full JID, which stays published). */
  async withdraw(s: Session): Promise<void> {
    if (!this.published.has(s) || this.sessions.local(s.jid) !== undefined) return;
    this.published.delete(s);
    const full = s.jid.toString();
    if (this.publishedFull.get(full) === s) this.publishedFull.delete(full);
    for (const wake of this.closing.get(full)?.splice(0) ?? []) wake();
    this.closing.delete(full);
    await this.cmd.multi()
      .eval(DEL_IF_NODE, 1, this.key("sess", s.jid.bare.toString()), s.jid.resource, this.node)
      .srem(this.key("nodesess", this.node), full)
      .publish(this.key("dir"), JSON.stringify({ k: "down", n: this.node, f: full } satisfies DirEvent))
      .exec();
  }

  // --- other nodes' sessions (RemoteLink) ------------------------------------------------------

  forward(session: RemoteSession, stanza: Element, confirm: boolean): Promise<boolean> {
    const node = session.node;
    if (this.dead.has(node)) return Promise.resolve(false);
    const channel = this.key("route", node);
    const event: RouteEvent = { k: "s", n: this.node, f: session.jid.toString(), x: stanza.toString() };
    if (!confirm) {
      this.cmd.publish(channel, JSON.stringify(event)).then(
        (n) => { if (n === 0) this.nodeDown(node, "no subscriber"); },
        (err: unknown) => this.log.warn({ err, node }, "cluster route failed"));
      return Promise.resolve(true);
    }
    const id = event.id = `${this.node}:${++this.seq}`;
    return new Promise<boolean>((resolve) => {
      const settle = (ok: boolean) => {
        if (!this.pending.delete(id)) return;
        clearTimeout(timer);
        // Forgotten before the sender goes on, so that its offline path no longer sees the session.
        if (!ok) this.directory.drop(session);
        resolve(ok);
      };
      const expire = () => {
        // Redis has not answered a heartbeat for two of them: the message, or its ack, may be
        // waiting in it (stalled, restarting) and reach the other node after all; given up now,
        // it would also be stored offline and reach its recipient twice. The wait goes on while
        // Redis is silent, and for an ack timeout after it answers again (what it held is on its
        // way then).
        const now = Date.now();
        if (now - this.answeredAt > 2 * this.opts.heartbeat || now - this.backAt < this.opts.ackTimeout) return hold();
        this.bus.timeouts++;
        this.nodeDown(node, `no ack in ${this.opts.ackTimeout} ms`);
        settle(false);
      };
      let timer = setTimeout(expire, this.opts.ackTimeout);
      // The other node said it is still at it: its answer may take another ackTimeout.
      const hold = () => {
        clearTimeout(timer);
        timer = setTimeout(expire, this.opts.ackTimeout);
      };
      this.pending.set(id, { settle, hold });
      this.bus.sent++;
      this.cmd.publish(channel, JSON.stringify(event)).then((n) => {
        if (n !== 0) return;
        this.bus.unreachable++;
        this.nodeDown(node, "no subscriber");
        settle(false);
      }, (err: unknown) => {
        this.bus.unreachable++;
        this.log.warn({ err, node }, "cluster route failed");
        settle(false);
      });
    });
  }

  close(session: RemoteSession, error: StreamError | undefined): void {
    const event: RouteEvent = { k: "c", f: session.jid.toString(), e: error?.condition, t: error?.text };
    void this.cmd.publish(this.key("route", session.node), JSON.stringify(event)).catch(() => undefined);
  }

  // --- events from the other nodes -------------------------------------------------------------

  private receive(channel: string, text: string): void {
    let event: DirEvent | RouteEvent;
    try {
      event = JSON.parse(text) as DirEvent | RouteEvent;
    } catch {
      return;
    }
    if (channel === this.key("dir")) this.onDir(event as DirEvent);
    else this.onRoute(event as RouteEvent);
  }

  private onDir(e: DirEvent): void {
    if (e.n === this.node) return;
    if (e.k === "reset") {
      this.directory.forgetNode(e.n);
      return;
    }
    this.seen(e.n);
    if (e.k === "up") {
      const jid = parseJid(e.f);
      const mine = this.sessions.local(jid);
      if (mine) {
        // The same full JID bound on another node later: the newer session wins (RFC 6120 §7.7.2.2).
        this.published.delete(mine);
        if (this.publishedFull.get(e.f) === mine) this.publishedFull.delete(e.f);
        mine.close(new StreamError("conflict", "replaced by a new session with the same resource"));
      }
      this.directory.put(e.f, e.s);
    } else if (e.k === "down") this.directory.remove(e.f, e.n);
  }

  private onRoute(e: RouteEvent): void {
    if (e.k === "a") {
      const p = this.pending.get(e.id);
      if (p === undefined) return;
      if (e.ok) this.bus.acked++;
      else this.bus.refused++;
      p.settle(e.ok);
      return;
    }
    if (e.k === "w") {
      this.pending.get(e.id)?.hold();
      return;
    }
    if (e.k === "rq") {
      void this.handOff(e).catch((err: unknown) => this.log.warn({ err }, "cluster: session hand-over failed"));
      return;
    }
    if (e.k === "rs") {
      const claim = this.claims.get(e.id);
      if (claim) claim.settle(e.r);
      else if ("jid" in e.r) this.log.error({ jid: e.r.jid, unacked: e.r.pending.length }, "cluster: a session was handed over after its resumption gave up");
      return;
    }
    const jid = parseJid(e.f);
    const session = this.sessions.local(jid);
    if (!session) {
      const waiting = this.handing.get(e.f);
      if (waiting) {
        waiting.push(e);
        return;
      }
      const to = this.moved.get(e.f);
      if (to !== undefined) {
        // Resumed on another node: it writes and acks (to the sender) from there.
        void this.cmd.publish(this.key("route", to), JSON.stringify(e)).catch(() => undefined);
        return;
      }
    }
    if (e.k === "c") {
      session?.close(e.e ? new StreamError(e.e as StreamErrorCondition, e.t) : undefined);
      return;
    }
    if (!session && e.id !== undefined && this.publishedFull.has(e.f)) {
      // The session is closing: what it never acked is being re-routed (offline, another
      // resource). "Gone" is said after that, so that this newer message is stored behind them;
      // meanwhile the sender hears every half ack timeout that the answer is coming.
      const sender = this.key("route", e.n);
      const wait = JSON.stringify({ k: "w", id: e.id } satisfies RouteEvent);
      const holding = () => void this.cmd.publish(sender, wait).catch(() => undefined);
      holding();
      const keep = setInterval(holding, this.opts.ackTimeout / 2).unref();
      void this.afterClose(e.f).then(() => {
        clearInterval(keep);
        this.onRoute(e);
      });
      return;
    }
    const stanza = session && parseStored(e.x);
    if (session && stanza) session.send(stanza);
    if (e.id !== undefined) this.ack(e.n, { k: "a", id: e.id, ok: stanza !== undefined });
  }

  /**
   * Answers a message sent with confirmation. Published to no subscriber, the sender's
   * subscription is being restored (Redis restarted): published again until it is there, for
   * an ack timeout at most (a sender that is really gone never subscribes again).
   */
  private ack(to: string, ack: Extract<RouteEvent, { k: "a" }>, until = Date.now() + this.opts.ackTimeout): void {
    this.cmd.publish(this.key("route", to), JSON.stringify(ack)).then((n) => {
      if (n === 0 && Date.now() < until) setTimeout(() => this.ack(to, ack, until), 50).unref();
    }, () => undefined);
  }

  /** Resolves once the closing session of `full` is withdrawn, or after CLOSE_WAIT_MS at most (a close that never ends). */
  private afterClose(full: string): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.publishedFull.delete(full);
        resolve();
      }, CLOSE_WAIT_MS).unref();
      let list = this.closing.get(full);
      if (!list) this.closing.set(full, (list = []));
      list.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  // --- stream management resumption across nodes ----------------------------------------------

  /** The resumption registry of a node in the cluster: local sessions by token, their tokens in Redis. */
  resumption<S extends Movable>(local: ResumptionRegistry<S>): ResumptionRegistry<S> {
    this.localResumption = local as unknown as ResumptionRegistry<Movable>;
    const tokenKey = (t: string) => this.key("smtok", t);
    return {
      add: (token, session) => {
        local.add(token, session);
        this.tokens.add(token);
        void this.cmd.set(tokenKey(token), this.node, "EX", TOKEN_TTL_S).catch((err: unknown) => this.log.warn({ err }, "cluster: token not stored"));
      },
      get: (token) => local.get(token),
      delete: (token, session) => {
        if (local.get(token) !== session) return;
        local.delete(token, session);
        this.tokens.delete(token);
        void this.cmd.eval(DEL_IF_VALUE, 1, tokenKey(token), this.node).catch(() => undefined);
      },
      claim: (token, bare, h, adopt) => this.claimSession(token, bare, h, adopt),
    };
  }

  /** Asks the node holding the token's session to hand it over; `adopt` installs it here. */
  private async claimSession(token: string, bare: string, h: number, adopt: (t: SessionTransfer) => void): Promise<ClaimResult> {
    const node = await this.cmd.get(this.key("smtok", token));
    if (node === null || node === this.node || this.dead.has(node)) return { kind: "not-found" };
    const id = `${this.node}:${++this.seq}`;
    return new Promise<ClaimResult>((resolve) => {
      const finish = (r: ClaimResult) => {
        if (!this.claims.delete(id)) return;
        clearTimeout(timer);
        resolve(r);
      };
      // The other node bounds its own wait to ackTimeout; this is for a node that never answers.
      const timer = setTimeout(() => finish({ kind: "not-found" }), 3 * this.opts.ackTimeout + 1000);
      this.claims.set(id, {
        node,
        settle: (r) => {
          if (!("jid" in r)) return finish(r);
          adopt(r);
          finish({ kind: "moved" });
        },
      });
      const rq: RouteEvent = { k: "rq", n: this.node, id, t: token, b: bare, h };
      this.cmd.publish(this.key("route", node), JSON.stringify(rq)).then((n) => {
        if (n !== 0) return;
        this.nodeDown(node, "no subscriber");
        finish({ kind: "not-found" });
      }, () => finish({ kind: "not-found" }));
    });
  }

  /** Another node's client resumes a session of this node: hand it over. */
  private async handOff(e: Extract<RouteEvent, { k: "rq" }>): Promise<void> {
    const s = this.localResumption?.get(e.t);
    if (!s) {
      await this.cmd.publish(this.key("route", e.n), JSON.stringify({ k: "rs", id: e.id, r: { kind: "not-found" } } satisfies RouteEvent));
      return;
    }
    // Between the session leaving this node's sessions and this function going on, events for it
    // (read from Redis in the same chunk as the request) wait here, then follow it or find it again.
    const from = s.jid.toString();
    let waiting = this.handing.get(from);
    const mine = waiting === undefined;
    if (mine) this.handing.set(from, (waiting = []));
    let r: SessionTransfer | ClaimResult;
    try {
      r = await s.handOff(e.b, e.h, this.opts.ackTimeout);
    } catch (err) {
      this.log.warn({ err, jid: from }, "cluster: session hand-over failed");
      r = { kind: "not-found" };
    }
    if (mine) this.handing.delete(from);
    if ("jid" in r) {
      // From here (synchronously, before this node reads another event) the session is the other node's.
      const full = r.jid;
      this.published.delete(s!);
      if (this.publishedFull.get(full) === s) this.publishedFull.delete(full);
      this.moved.set(full, e.n);
      setTimeout(() => {
        if (this.moved.get(full) === e.n) this.moved.delete(full);
      }, MOVED_FORWARD_MS).unref();
      this.directory.put(full, { n: e.n, p: r.presence, pr: r.priority, i: r.interested, k: r.keys });
      void this.cmd.srem(this.key("nodesess", this.node), full).catch(() => undefined);
    }
    // The answer is published before what waited is forwarded behind it, on the same connection.
    const answered = this.cmd.publish(this.key("route", e.n), JSON.stringify({ k: "rs", id: e.id, r } satisfies RouteEvent));
    if (mine) for (const w of waiting!) this.onRoute(w);
    await answered;
  }

  // --- the login throttle across the nodes ----------------------------------------------------

  /**
   * The login throttle (login-throttle.ts) shared by the nodes: per address a fixed window
   * counted when an attempt starts (INCR, and PEXPIRE NX on the first) and uncounted when it ends
   * without a refused password; per account the turns of its attempts, in one script on Redis's
   * clock. This node's own count of an address still answers first, so an address throttled here
   * costs no round trip. Redis unreachable: this node's own counts decide.
   */
  loginThrottle(local: LocalLoginThrottle, opts: LoginThrottleOptions): LoginThrottle {
    const addr = (address: string) => this.key("authfail", address);
    const acct = (account: string) => this.key("authacct", account);
    const unavailable = (err: unknown) => this.log.warn({ err }, "cluster: login throttle unavailable");
    return {
      begin: (address) => {
        if (!local.begin(address)) return false;
        const k = addr(address);
        return this.cmd.multi().incr(k).pexpire(k, ADDRESS_WINDOW_MS, "NX").exec().then(
          (r) => !(Number(r?.[0]?.[1]) > opts.perAddress),
          (err: unknown) => {
            unavailable(err);
            return true;
          });
      },
      release: (address) => {
        local.release(address);
        void this.cmd.eval(DECR_IF_COUNTED, 1, addr(address)).catch(unavailable);
      },
      account: (account) => (this.cmd.eval(ACCOUNT_TURN, 1, acct(account), ACCOUNT_WINDOW_MS, opts.perAccount,
        ACCOUNT_DELAY_MS, ACCOUNT_MAX_DELAY_MS) as Promise<number>).then(
        (wait) => (wait < 0 ? undefined : wait),
        (err: unknown) => {
          unavailable(err);
          return local.account(account);
        }),
      releaseAccount: (account) => {
        local.releaseAccount(account);
        void this.cmd.eval(HDECR_IF_COUNTED, 1, acct(account)).catch(unavailable);
      },
    };
  }

  // --- an account's turn across the nodes ------------------------------------------------------

  /**
   * Runs fn holding the account's lock (lock:<bare>, SET NX with a TTL kept fresh while fn runs),
   * after reloading the account's sessions from the hashes: a session another node published
   * before it took the lock is seen, whether or not its directory event has arrived.
   */
  async exclusive<T>(bare: string, fn: () => Promise<T>): Promise<T> {
    const lock = this.key("lock", bare);
    const token = `${this.node}:${++this.seq}`;
    const ttl = 10_000;
    let acquired = false;
    for (let wait = 2, waited = 0; waited < 2 * ttl; waited += wait, wait = Math.min(wait * 2, 50)) {
      if ((await this.cmd.set(lock, token, "PX", ttl, "NX")) !== null) {
        acquired = true;
        break;
      }
      await new Promise((r) => setTimeout(r, wait));
    }
    if (!acquired) this.log.warn({ account: bare }, "cluster: account lock not acquired, going on without it");
    const keep = acquired ? setInterval(() => void this.cmd.pexpire(lock, ttl).catch(() => undefined), ttl / 3) : undefined;
    try {
      await this.resync(bare);
      return await fn();
    } finally {
      clearInterval(keep);
      if (acquired) await this.cmd.eval(DEL_IF_VALUE, 1, lock, token).catch(() => undefined);
    }
  }

  private async resync(bare: string): Promise<void> {
    const entries: [string, SessionSnapshot][] = [];
    for (const [resource, json] of Object.entries(await this.cmd.hgetall(this.key("sess", bare)))) {
      const snap = JSON.parse(json) as SessionSnapshot;
      if (snap.n !== this.node && !this.dead.has(snap.n)) entries.push([`${bare}/${resource}`, snap]);
    }
    this.directory.resync(bare, entries);
  }

  /** A node was heard of: alive. One taken for dead comes back with its sessions reloaded. */
  private seen(node: string): void {
    this.lastSeen.set(node, Date.now());
    this.unreaped.delete(node);
    if (this.dead.delete(node)) void this.reload(node).catch((err: unknown) => this.log.warn({ err, node }, "cluster reload failed"));
  }

  private nodeDown(node: string, why: string): void {
    if (this.dead.has(node)) return;
    this.dead.add(node);
    this.unreaped.add(node);
    this.lastSeen.delete(node);
    for (const c of [...this.claims.values()]) if (c.node === node) c.settle({ kind: "not-found" });
    const n = this.directory.forgetNode(node);
    this.log.warn({ node, sessions: n, why }, "cluster node taken for dead");
  }

  private async tick(): Promise<void> {
    await this.beat();
    const now = Date.now();
    if (now - this.answeredAt > 2 * this.opts.heartbeat) this.backAt = now;
    this.answeredAt = now;
    const limit = Date.now() - 3 * this.opts.heartbeat;
    for (const [node, at] of this.lastSeen) if (at < limit) this.nodeDown(node, "no heartbeat");
    for (const node of [...this.unreaped]) {
      // Taken for dead on a missing ack or subscriber: reaped only once its heartbeat has expired.
      if ((await this.cmd.exists(this.key("node", node))) === 1) continue;
      this.unreaped.delete(node);
      await this.reap(node);
    }
  }

  /**
   * Claims a dead node's entries (one node does, the holder of its reap lock) and ends its
   * sessions on its behalf. Returns false when another node holds the lock.
   */
  private async reap(node: string): Promise<boolean> {
    const lock = this.key("reap", node);
    const token = `${this.node}:${++this.seq}`;
    if ((await this.cmd.set(lock, token, "PX", 30 * this.opts.heartbeat, "NX")) === null) return false;
    try {
      const gone = await this.claim(node);
      if (gone.length > 0) this.log.warn({ node, sessions: gone.length }, "cluster: ending a dead node's sessions");
      for (const s of gone) await this.opts.onDead?.(s).catch((err: unknown) => this.log.warn({ err, node }, "cluster: a dead session's end failed"));
    } finally {
      await this.cmd.eval(DEL_IF_VALUE, 1, lock, token);
    }
    return true;
  }

  /** This node's previous run, reaped by this node unless another is at it (then waits for it). */
  private async reapOwn(): Promise<void> {
    for (let i = 0; i < 100; i++) {
      if (await this.reap(this.node)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    await this.forgetRedis(this.node);
  }

  /** Reads and removes a node's entries; its sessions as they were published. */
  private async claim(node: string): Promise<RemoteSession[]> {
    const fulls = await this.cmd.smembers(this.key("nodesess", node));
    const out: RemoteSession[] = [];
    for (const full of fulls) {
      const jid = parseJid(full);
      const json = await this.cmd.hget(this.key("sess", jid.bare.toString()), jid.resource);
      const snap = json === null ? undefined : (JSON.parse(json) as SessionSnapshot);
      if (snap?.n === node) out.push(new RemoteSession(jid, snap, this, this.log));
    }
    await this.forgetRedis(node, fulls);
    return out;
  }

  private async beat(): Promise<void> {
    const key = this.key("node", this.node);
    const r = await this.cmd.multi()
      .exists(key)
      .set(key, String(Date.now()), "PX", 3 * this.opts.heartbeat)
      .set(this.key("idtag", String(this.idTag)), this.node, "PX", TAG_TTL_MS)
      .publish(this.key("dir"), JSON.stringify({ k: "hb", n: this.node } satisfies DirEvent))
      .exec();
    const lost = this.beaten && r?.[0]?.[1] === 0;
    this.beaten = true;
    if (lost) await this.republish();
  }

  /** A tag no other node holds, from the one its name hashes to: its own again after a restart. */
  private async claimIdTag(): Promise<number> {
    const first = createHash("sha256").update(this.node).digest().readUInt32BE(0) % TAGS;
    for (let i = 0; i < TAGS; i++) {
      const tag = FIRST_TAG + ((first + i) % TAGS);
      const key = this.key("idtag", String(tag));
      if ((await this.cmd.set(key, this.node, "PX", TAG_TTL_MS, "NX")) !== null || (await this.cmd.get(key)) === this.node) return tag;
    }
    throw new Error(`cluster: every one of the ${TAGS} id tags is held by another node`);
  }

  /**
   * This node's heartbeat key was gone: Redis lost its data (restarted without persistence, or
   * a replica without them took over), or it heard nothing from this node for three heartbeats
   * (Redis or the network stalled) and the other nodes may have claimed this node's entries. Its
   * live sessions and resumption tokens are written and announced again, so that the other
   * nodes route to them once more.
   */
  private async republish(): Promise<void> {
    const live = [...this.publishedFull.values()].filter((s) => this.sessions.local(s.jid) === s);
    this.log.warn({ sessions: live.length, tokens: this.tokens.size }, "cluster: this node's entries were gone from Redis; publishing them again");
    for (const s of live) {
      this.published.delete(s);
      await this.publish(s);
    }
    const m = this.cmd.multi();
    for (const t of this.tokens) m.set(this.key("smtok", t), this.node, "EX", TOKEN_TTL_S, "NX");
    await m.exec();
  }

  // --- the directory in Redis ------------------------------------------------------------------

  /** Removes a node's entries from the session hashes (those another node has taken since stay). */
  private async forgetRedis(node: string, known?: string[]): Promise<void> {
    const set = this.key("nodesess", node);
    const fulls = known ?? await this.cmd.smembers(set);
    const m = this.cmd.multi();
    for (const full of fulls) {
      const jid = parseJid(full);
      m.eval(DEL_IF_NODE, 1, this.key("sess", jid.bare.toString()), jid.resource, node);
    }
    await m.del(set).exec();
  }

  /** Every live node's sessions, at start (the directory events keep them current from then on). */
  private async load(): Promise<void> {
    const alive = new Map<string, boolean>();
    const isAlive = async (node: string) => {
      let a = alive.get(node);
      if (a === undefined) alive.set(node, (a = (await this.cmd.exists(this.key("node", node))) === 1));
      return a;
    };
    const from = this.key("sess", "").length;
    let cursor = "0";
    do {
      const [next, keys] = await this.cmd.scan(cursor, "MATCH", this.key("sess", "*"), "COUNT", 500);
      cursor = next;
      for (const key of keys) {
        const bare = key.slice(from);
        for (const [resource, json] of Object.entries(await this.cmd.hgetall(key))) {
          const snap = JSON.parse(json) as SessionSnapshot;
          if (snap.n === this.node || !(await isAlive(snap.n))) continue;
          this.seen(snap.n);
          this.directory.put(`${bare}/${resource}`, snap);
        }
      }
    } while (cursor !== "0");
  }

  /** A node's sessions again, from its set (after it was taken for dead and is heard of again). */
  private async reload(node: string): Promise<void> {
    for (const full of await this.cmd.smembers(this.key("nodesess", node))) {
      const jid = parseJid(full);
      const json = await this.cmd.hget(this.key("sess", jid.bare.toString()), jid.resource);
      const snap = json === null ? undefined : (JSON.parse(json) as SessionSnapshot);
      if (snap?.n === node) this.directory.put(full, snap);
    }
  }
}
