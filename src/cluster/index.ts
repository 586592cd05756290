// Scale-out: N nodes serving the same domains. Wires the Redis cluster (redis.ts) into a
// server: the other nodes' sessions become visible through SessionDirectory (remote sessions in
// directory.ts), and this node publishes its own as they bind, change presence or shared state,
// and end. Without `cluster.redis` none of this is loaded and a node is on its own.
import { hostname } from "node:os";
import type { ServerConfig } from "../core/config.ts";
import type { Events } from "../core/events.ts";
import type { Logger } from "../core/log.ts";
import type { SessionDirectory, Session } from "../core/session.ts";
import type { IdGenerator } from "../storage/ids.ts";
import type { LocalLoginThrottle, LoginThrottle, LoginThrottleOptions } from "../stream/login-throttle.ts";
import type { ResumptionRegistry } from "../stream/sm.ts";
import { RedisCluster, type BusStats, type Movable } from "./redis.ts";

export type { BusStats };

export interface ClusterHost {
  readonly config: ServerConfig;
  readonly sessions: SessionDirectory;
  readonly events: Events;
  readonly log: Logger;
  /** The ids of archives and queues: each node's get a tag of their own. */
  readonly ids: IdGenerator;
}

export interface Cluster {
  readonly node: string;
  /** The node's resumption registry made cluster-wide (XEP-0198 tokens found on every node). */
  resumption<S extends Movable>(local: ResumptionRegistry<S>): ResumptionRegistry<S>;
  /** The login throttle counted across the nodes. */
  loginThrottle(local: LocalLoginThrottle, opts: LoginThrottleOptions): LoginThrottle;
  /** Messages to other nodes with confirmation, by outcome. */
  readonly bus: Readonly<BusStats>;
  /** Resolves when Redis answers a PING; rejects when it does not. */
  ping(): Promise<void>;
  stop(): Promise<void>;
}

/** Joins the cluster the configuration names; undefined on a single node. */
export async function startCluster(host: ClusterHost): Promise<Cluster | undefined> {
  const c = host.config.cluster;
  if (c.redis === undefined) return undefined;
  const node = c.node ?? `${hostname()}-${host.config.c2s.port}`;
  const log = host.log.child({ cluster: node });
  const { events, sessions } = host;
  // A dead node's session ends here as if its stream had closed without unavailable presence:
  // the presence module tells its contacts, last activity records it, rooms see it leave.
  const onDead = (session: Session) => events.notify("session/closed", { session, reason: "its node died" },
    (err) => log.warn({ err }, "session/closed listener failed for a dead node's session"));
  const cluster = new RedisCluster({ url: c.redis, node, prefix: c.prefix, ackTimeout: c.ackTimeout, heartbeat: c.heartbeat, onDead }, sessions, log);
  // Before start: the previous run's sessions it ends reach contacts on the other nodes.
  sessions.remote = cluster.directory;
  try {
    await cluster.start();
  } catch (err) {
    sessions.remote = undefined;
    throw err;
  }
  host.ids.setNode(cluster.idTag);
  const publish = (s: Session) => cluster.publish(s).catch((err: unknown) => log.warn({ err }, "cluster publish failed"));
  const undo = [
    events.onNotify("session/bound", publish, "first"),
    // A session resumed here from another node: published, so that routing turns to this node.
    events.onNotify("session/resumed", publish, "first"),
    // Before the offline store flushes: from here other nodes deliver live, behind its hold.
    events.onNotify("presence/initial", publish, "first"),
    events.onHandle("presence/broadcast", (ev) => {
      if (ev.origin) void publish(ev.origin);
      return false;
    }, "last"),
    events.onNotify("session/closed", ({ session }) => cluster.withdraw(session).catch((err: unknown) => log.warn({ err }, "cluster withdraw failed")), "first"),
  ];
  sessions.onChange = (s) => void publish(s);
  log.info("joined the cluster");
  return {
    node,
    resumption: (local) => cluster.resumption(local),
    loginThrottle: (local, opts) => cluster.loginThrottle(local, opts),
    bus: cluster.bus,
    ping: () => cluster.ping(),
    async stop() {
      for (const u of undo) u();
      sessions.remote = undefined;
      sessions.onChange = undefined;
      await cluster.stop();
    },
  };
}
