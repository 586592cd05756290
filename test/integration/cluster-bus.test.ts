// The route bus of the cluster (src/cluster/redis.ts) in one process against a real Redis, for
// orders of events that whole nodes produce too rarely to test: here the events are fed to the
// node as its subscriber connection would when one read from Redis holds several of them.
// Skipped when Redis does not answer, except in CI (test/helpers/services.ts).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { RedisCluster, type Movable } from "../../src/cluster/redis.ts";
import { RemoteSession } from "../../src/cluster/directory.ts";
import { xml } from "../../src/xml/element.ts";
import { createLogger } from "../../src/core/log.ts";
import { SessionDirectory } from "../../src/core/session.ts";
import { LocalResumption, type SessionTransfer } from "../../src/stream/sm.ts";
import { parseJid } from "../../src/xml/jid.ts";
import { deleteKeys, serviceUp, services } from "../helpers/services.ts";
import { OwnRedis } from "../helpers/own-redis.ts";

const up = await serviceUp("redis");
const prefix = `xmppd-bus-${process.pid}_${Date.now().toString(36)}:`;
const url = `redis://${services.redis.host}:${services.redis.port}/0`;

/** A resumable session of node a whose hand-over completes without waiting (nothing of its own in flight). */
function movable(sessions: SessionDirectory, full: string): Movable {
  const jid = parseJid(full);
  const s = {
    id: "s1", jid, secure: false, log: createLogger("silent"), presence: undefined, priority: 0, lastActivity: 0,
    interested: false, detached: true, hold: undefined, send() {}, sendNow() {}, sendSerialized() {}, close() {},
    get: () => undefined, set() {},
    async handOff(): Promise<SessionTransfer> {
      sessions.remove(s);
      return { jid: full, token: "tok", clientMax: undefined, handled: 1, acked: 0, pending: [], keys: {}, presence: null, priority: 0, interested: false };
    },
  } satisfies Movable;
  return s;
}

describe.skipIf(!up)("the cluster's route bus", () => {
  let watcher: Redis;
  let a: RedisCluster;
  const heard: { channel: string; event: { k: string; id?: string } }[] = [];

  beforeAll(async () => {
    watcher = new Redis(url);
    // Nodes b (where the client resumes) and c (the sender) are this watcher: it hears what a sends them.
    await watcher.subscribe(`${prefix}route:b`, `${prefix}route:c`);
    watcher.on("message", (channel: string, text: string) => heard.push({ channel, event: JSON.parse(text) as { k: string; id?: string } }));
    a = new RedisCluster({ url, node: "a", prefix, ackTimeout: 1000, heartbeat: 300 }, new SessionDirectory(), createLogger("silent"));
    await a.start();
  });

  afterAll(async () => {
    await a?.stop();
    if (watcher) {
      const r = new Redis(url);
      await deleteKeys(r, prefix);
      r.disconnect();
      watcher.disconnect();
    }
  });

  it("a message that reaches the old node in the same read as the hand-over request is forwarded to the new node at once", async () => {
    const sessions = (a as unknown as { sessions: SessionDirectory }).sessions;
    const full = "bob@localhost/phone";
    const bob = movable(sessions, full);
    sessions.add(bob);
    await a.publish(bob);
    const local = new LocalResumption<Movable>();
    a.resumption(local);
    local.add("tok", bob);

    // One read from Redis: b's request for the session, then c's message for it.
    const receive = (a as unknown as { receive(channel: string, text: string): void }).receive.bind(a);
    receive(`${prefix}route:a`, JSON.stringify({ k: "rq", n: "b", id: "b:1", t: "tok", b: "bob@localhost", h: 0 }));
    receive(`${prefix}route:a`, JSON.stringify({ k: "s", n: "c", f: full, x: "<message to='bob@localhost/phone'><body>m</body></message>", id: "c:1" }));

    for (let t = 0; t < 100 && !heard.some((h) => h.event.id === "c:1"); t++) await new Promise((r) => setTimeout(r, 10));
    // The session went to b, and the message after it, not held as if for a closing session.
    expect(heard.map((h) => `${h.channel.slice(prefix.length)} ${h.event.k} ${h.event.id}`)).toEqual(["route:b rs b:1", "route:b s c:1"]);
  });

  it("Redis loses the cluster's keys (restarted without persistence): at its next heartbeat the node writes its sessions and resumption tokens again", async () => {
    const sessions = (a as unknown as { sessions: SessionDirectory }).sessions;
    const carol = movable(sessions, "carol@localhost/pad");
    sessions.add(carol);
    await a.publish(carol);
    a.resumption(new LocalResumption<Movable>()).add("tok-carol", carol);
    const r = new Redis(url);
    try {
      const entries = async () => [await r.hget(`${prefix}sess:carol@localhost`, "pad"), await r.get(`${prefix}smtok:tok-carol`), await r.sismember(`${prefix}nodesess:a`, "carol@localhost/pad")];
      for (let t = 0; t < 100 && (await entries())[1] === null; t++) await new Promise((res) => setTimeout(res, 10));
      await deleteKeys(r, prefix);
      expect(await entries()).toEqual([null, null, 0]);
      // Three heartbeats (300 ms) at most: the next one finds its own key gone.
      let now = await entries();
      for (let t = 0; t < 60 && now[1] === null; t++, now = await entries()) await new Promise((res) => setTimeout(res, 50));
      expect((JSON.parse(now[0] as string) as { n: string }).n).toBe("a");
      expect(now.slice(1)).toEqual(["a", 1]);
    } finally {
      r.disconnect();
    }
  });

  // Two nodes write one archive: the sender's node its copy, the recipient's node its own. Ids
  // alike would keep one of two messages that reach the archive in one millisecond.
  it("each node's ids end with a tag of its own: one another node holds is passed over, and a node restarted under its name gets its own back", async () => {
    const r = new Redis(url);
    const byName = 1 + (createHash("sha256").update("b").digest().readUInt32BE(0) % 1294);
    await r.set(`${prefix}idtag:${byName}`, "z", "PX", 60_000);
    const node = () => new RedisCluster({ url, node: "b", prefix, ackTimeout: 1000, heartbeat: 300 }, new SessionDirectory(), createLogger("silent"));
    try {
      const b = node();
      await b.start();
      expect(a.idTag).toBeGreaterThan(0);
      expect(b.idTag).toBe(1 + (byName % 1294));
      expect(b.idTag).not.toBe(a.idTag);
      await b.stop();
      const again = node();
      await again.start();
      expect(again.idTag).toBe(b.idTag);
      await again.stop();
    } finally {
      r.disconnect();
    }
  });
});

// On a Redis of the test's own, which it freezes (SIGSTOP) and restarts. Node x sends a message
// with confirmation to node y, played by a plain Redis client that answers with the ack node y
// would send. A message given up on is stored offline; if it reached the other node all the
// same, its recipient would get it twice.
const hasRedisServer = spawnSync("redis-server", ["--version"]).status === 0;
if (!hasRedisServer) console.warn("route bus tests with a Redis of their own skipped: no redis-server (apt-get install redis-server)");
describe.skipIf(!hasRedisServer)("the route bus while Redis is silent", () => {
  const dir = mkdtempSync(join(tmpdir(), "xmppd-bus-"));
  let own: OwnRedis;
  let x: RedisCluster;
  let y: Redis;
  const sent: string[] = [];

  beforeAll(async () => {
    own = await OwnRedis.start(dir);
    x = new RedisCluster({ url: own.url, node: "x", prefix: "bus:", ackTimeout: 500, heartbeat: 100 }, new SessionDirectory(), createLogger("silent"));
    await x.start();
  });

  afterAll(async () => {
    y?.disconnect();
    await x?.stop().catch(() => undefined);
    await own?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Node y subscribed: `onMessage` is told of each message sent to it, with its event id. */
  async function nodeY(onMessage: (id: string) => void): Promise<void> {
    y?.disconnect();
    y = new Redis(own.url);
    await y.subscribe("bus:route:y");
    y.on("message", (_channel: string, text: string) => {
      const e = JSON.parse(text) as { k: string; id: string };
      if (e.k === "s") {
        sent.push(e.id);
        onMessage(e.id);
      }
    });
  }

  const toY = () => new RemoteSession(parseJid("bob@localhost/phone"), { n: "y", p: null, pr: 0, i: false, k: {} }, x, createLogger("silent"));
  const message = () => xml("message", { to: "bob@localhost/phone", type: "chat" }, xml("body", null, "hi"));

  it("Redis freezes with the message in it for four ack timeouts: the ack is waited for, the message is not given up", async () => {
    await nodeY((id) => {
      const answer = new Redis(own.url);
      void answer.publish("bus:route:x", JSON.stringify({ k: "a", id, ok: true })).finally(() => answer.disconnect());
    });
    // Frozen before the message is published: it waits in Redis, then reaches node y, whose ack
    // comes back after the thaw. The sender's ack timeouts meanwhile find Redis silent.
    own.freeze();
    setTimeout(() => own.thaw(), 2000);
    const started = Date.now();
    expect(await x.forward(toY(), message(), true)).toBe(true);
    expect(Date.now() - started).toBeGreaterThan(1800);
    expect(sent.length).toBe(1);
  });

  it("an ack published while the sender's subscription is not back yet (Redis restarted) is published again until it is", async () => {
    // Now node x is the receiver: a message from node z for a session of x; z subscribes 200 ms later.
    const sessions = (x as unknown as { sessions: SessionDirectory }).sessions;
    sessions.add(movable(sessions, "carol@localhost/pad"));
    const receive = (x as unknown as { receive(channel: string, text: string): void }).receive.bind(x);
    receive("bus:route:x", JSON.stringify({ k: "s", n: "z", f: "carol@localhost/pad", x: "<message to='carol@localhost/pad'><body>m</body></message>", id: "z:1" }));
    await new Promise((r) => setTimeout(r, 200));
    const z = new Redis(own.url);
    const acks: string[] = [];
    z.on("message", (_c: string, text: string) => acks.push((JSON.parse(text) as { id: string }).id));
    await z.subscribe("bus:route:z");
    for (let t = 0; t < 40 && acks.length === 0; t++) await new Promise((r) => setTimeout(r, 25));
    z.disconnect();
    expect(acks).toEqual(["z:1"]);
  });
});
