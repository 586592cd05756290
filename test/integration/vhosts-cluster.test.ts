// Virtual hosts in a cluster: two server processes serve a.example and b.example, sharing a
// Redis of the test's own (sessions and the route bus, src/cluster/); each keeps its own embedded
// store, and the accounts are made on each with `xmppd adduser user@domain`. Alice of a.example
// on node 1 and Bob of b.example on node 2 chat both ways, to bare and full JIDs; Alice of
// b.example, on node 2 too, is another account and gets none of it.
import { spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { ROOT, freePort, startProcess } from "../helpers/process.ts";
import { OwnRedis } from "../helpers/own-redis.ts";
import { Im } from "../helpers/im.ts";

// The nodes make self-signed certificates; the clients take them.
process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";

const A = "a.example";
const B = "b.example";
const dir = mkdtempSync(join(tmpdir(), "xmppd-vhosts-cluster-"));
const configFile = join(dir, "xmppd.json");
const nodes: Record<string, { port: number; child?: ChildProcess }> = { one: { port: 0 }, two: { port: 0 } };
const env = (node: string) => ({
  ...process.env, XMPPD_DATA_DIR: join(dir, node), XMPPD_C2S__PORT: String(nodes[node]!.port), XMPPD_CLUSTER__NODE: node,
});
const isMessage = (body: string) => (el: Element) => el.name === "message" && el.getChildText("body") === body;

let redis: OwnRedis;
const clients: Im[] = [];

async function online(node: string, user: string, domain: string, resource: string): Promise<Im> {
  const im = await Im.login(nodes[node]!.port, user, resource, { domain });
  clients.push(im);
  im.send(xml("presence"));
  await im.next((el) => el.name === "presence" && el.attrs.from === im.jid, "its own presence");
  return im;
}

beforeAll(async () => {
  redis = await OwnRedis.start(dir);
  for (const n of Object.values(nodes)) n.port = await freePort();
  writeFileSync(configFile, JSON.stringify({
    domain: A, hosts: { [B]: {} },
    log: { level: "warn" },
    c2s: { host: "127.0.0.1", directTlsPort: 0 },
    http: { port: 0, tlsPort: 0 },
    s2s: { enabled: false },
    modules: { proxy65: { port: 0 } },
    // The clients ask for their resources by RFC 6120 binding (SASL2's Bind 2 would add to them).
    auth: { sasl2: false },
    cluster: { redis: redis.url, prefix: "xmppd-vhosts:", ackTimeout: 1000, heartbeat: 300 },
  }));
  for (const node of Object.keys(nodes)) {
    for (const jid of [`alice@${A}`, `bob@${B}`, `alice@${B}`]) {
      const r = spawnSync(process.execPath, [join(ROOT, "src/main.ts"), "-c", configFile, "adduser", jid, "pw"], { cwd: dir, env: env(node), encoding: "utf8" });
      if (r.status !== 0) throw new Error(r.stderr);
      expect(r.stdout.trim()).toBe(`created ${jid}`);
    }
  }
  for (const node of Object.keys(nodes)) nodes[node]!.child = await startProcess(dir, env(node), { args: ["-c", configFile], timeoutMs: 60_000 });
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.stop().catch(() => {})));
  for (const n of Object.values(nodes)) {
    const c = n.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) continue;
    const exited = new Promise((r) => c.once("exit", r));
    c.kill("SIGTERM");
    await exited;
  }
  await redis?.kill();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe("two hosts on two nodes sharing Redis", () => {
  it("Alice (a.example, node one) and Bob (b.example, node two) chat both ways; Alice of b.example gets none of it", async () => {
    const alice = await online("one", "alice", A, "laptop");
    const bob = await online("two", "bob", B, "phone");
    const otherAlice = await online("two", "alice", B, "desk");
    alice.send(xml("message", { to: `bob@${B}`, type: "chat" }, xml("body", null, "hello Bob")));
    expect((await bob.next(isMessage("hello Bob"), "Alice's message")).attrs.from).toBe(`alice@${A}/laptop`);
    bob.send(xml("message", { to: `alice@${A}/laptop`, type: "chat" }, xml("body", null, "hello Alice")));
    expect((await alice.next(isMessage("hello Alice"), "Bob's message")).attrs.from).toBe(`bob@${B}/phone`);
    bob.send(xml("message", { to: `alice@${A}`, type: "chat" }, xml("body", null, "to your bare JID")));
    await alice.next(isMessage("to your bare JID"), "Bob's message to her bare JID");
    await otherAlice.nothing((el) => el.name === "message");
  });
});
