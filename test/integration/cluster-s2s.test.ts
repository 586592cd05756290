// Federation from a cluster: two nodes serve a.test (sharing Redis and Cassandra), a third server
// b.test federates with it. Other servers reach the cluster through one node (here, a static
// route to node 1, as a load balancer would pick one); each node connects out by itself. The
// dialback secret is made once and kept in the shared storage, so node 1 answers for a key node 2
// made: Romeo on node 2 writes to Juliet on b.test over node 2's own stream, which b.test
// verifies with node 1. Juliet's answers come in through node 1 and reach Romeo on node 2 over
// the cluster's bus. Skipped when Redis or Cassandra does not answer, except in CI.
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { Im } from "../helpers/im.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { deleteKeys, dropKeyspace, serviceUp, services } from "../helpers/services.ts";

process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";

const up = (await serviceUp("redis")) && (await serviceUp("cassandra"));
const run = `${process.pid}_${Date.now().toString(36)}`;
const keyspace = `xmppd_s2s_${run}`;
const prefix = `xmppd-s2s-${run}:`;

let node1: TestServer;
let node2: TestServer;
let b: TestServer;

function clusterNode(name: string): Promise<TestServer> {
  const { host, port, localDataCenter } = services.cassandra;
  return startServer({
    config: {
      domain: "a.test",
      storage: { backend: "cassandra", cassandra: { contactPoints: [`${host}:${port}`], localDataCenter, keyspace, replication: { class: "SimpleStrategy", replication_factor: 1 } } },
      cluster: { redis: `redis://${services.redis.host}:${services.redis.port}/0`, prefix, node: name, ackTimeout: 1000, heartbeat: 300 },
      s2s: { enabled: true, host: "127.0.0.1", routes: {}, connectTimeout: 5 },
    },
  });
}

const login = (t: TestServer, user: string) => Im.login(t.port, user, "r", { domain: t.domain, timeoutMs: 10_000 });
const isChat = (body: string) => (el: Element) => el.name === "message" && el.getChildText("body") === body;

beforeAll(async () => {
  if (!up) return;
  node1 = await clusterNode("n1");
  node2 = await clusterNode("n2");
  await node1.server.accounts.create("romeo", "pw");
  b = await startServer({ config: { domain: "b.test", s2s: { enabled: true, host: "127.0.0.1", routes: {}, connectTimeout: 5 } }, users: { juliet: "pw" } });
  // b.test reaches a.test at node 1 only; both nodes reach b.test.
  b.server.config.s2s.routes["a.test"] = `127.0.0.1:${node1.server.ports.s2s}`;
  for (const n of [node1, node2]) n.server.config.s2s.routes["b.test"] = `127.0.0.1:${b.server.ports.s2s}`;
}, 120_000);

afterAll(async () => {
  if (!up) return;
  for (const t of [b, node2, node1]) await t?.stop();
  const redis = new Redis({ host: services.redis.host, port: services.redis.port, lazyConnect: true });
  await redis.connect();
  await deleteKeys(redis, prefix);
  redis.disconnect();
  await dropKeyspace(keyspace);
});

describe.skipIf(!up && !process.env.CI)("federation from a cluster", () => {
  it("node 2's own stream is verified by node 1 (one dialback secret, in storage), and answers reach node 2 through the bus", { timeout: 60_000 }, async () => {
    const romeo = await login(node2, "romeo");
    const juliet = await login(b, "juliet");
    romeo.send(xml("presence"));
    juliet.send(xml("presence"));
    romeo.send(xml("message", { to: "juliet@b.test", type: "chat", id: "c1" }, xml("body", null, "from the second node")));
    expect((await juliet.next(isChat("from the second node"), "romeo's message", 20_000)).attrs.from).toBe("romeo@a.test/r");
    // Node 2 went out itself; b.test asked node 1 about its key (b's only route to a.test).
    expect(node2.server.federation!.describe()).toContainEqual(expect.objectContaining({ remote: "b.test", state: expect.stringMatching(/^ready \(dialback/) }));
    juliet.send(xml("message", { to: "romeo@a.test", type: "chat", id: "c2" }, xml("body", null, "through the first node")));
    expect((await romeo.next(isChat("through the first node"), "juliet's answer", 20_000)).attrs.from).toBe("juliet@b.test/r");
    // It came in on node 1: node 2 has no stream from b.test.
    expect((await node1.server.stats()).s2s).toMatchObject({ open: { in: expect.any(Number) } });
    expect(((await node1.server.stats()).s2s as { open: { in: number } }).open.in).toBeGreaterThan(0);
    expect(((await node2.server.stats()).s2s as { open: { in: number } }).open.in).toBe(0);
    await romeo.stop();
    await juliet.stop();
  });
});
