// Scale-out: three server processes for one domain, on different ports, sharing Redis
// (sessions, presence, the route bus: src/cluster/) and Cassandra (accounts, rosters, offline
// messages, archives). Alice is on node a, Bob on node b, Bob's second resource on node c: they
// chat both ways, subscribe to each other's presence and see its changes, ask each other iqs,
// and get carbons from across the cluster. Then node b is killed with SIGKILL: what Alice sends
// Bob meanwhile is acknowledged, stored offline and delivered, in order, when Bob logs in on c.
// Skipped when Redis or Cassandra does not answer, except in CI (test/helpers/services.ts).
import { spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { xml, type Element } from "../../src/xml/element.ts";
import { capsHash } from "../../src/modules/disco.ts";
import { ROOT, freePort, startProcess } from "../helpers/process.ts";
import { deleteKeys, dropKeyspace, serviceUp, services } from "../helpers/services.ts";
import { published } from "../helpers/directory.ts";
import { SmClient, chat } from "../helpers/sm.ts";

const up = (await serviceUp("redis")) && (await serviceUp("cassandra"));
const SM = "urn:xmpp:sm:3";
const run = `${process.pid}_${Date.now().toString(36)}`;
const keyspace = `xmppd_cluster_${run}`;
const prefix = `xmppd-cluster-${run}:`;
const dir = mkdtempSync(join(tmpdir(), "xmppd-cluster-"));
const configFile = join(dir, "xmppd.json");
const { host: cHost, port: cPort, localDataCenter } = services.cassandra;

const nodes: Record<string, { port: number; child?: ChildProcess }> = { a: { port: 0 }, b: { port: 0 }, c: { port: 0 } };

const env = (node: string) => ({
  ...process.env, XMPPD_DATA_DIR: join(dir, node), XMPPD_C2S__PORT: String(nodes[node]?.port ?? 0), XMPPD_CLUSTER__NODE: node,
});

function writeConfig(): void {
  writeFileSync(configFile, JSON.stringify({
    domain: "localhost",
    log: { level: "warn" },
    c2s: { host: "127.0.0.1", directTlsPort: 0, requireTls: false },
    http: { port: 0, tlsPort: 0 },
    storage: {
      backend: "cassandra",
      cassandra: { contactPoints: [`${cHost}:${cPort}`], localDataCenter, keyspace, replication: { class: "SimpleStrategy", replication_factor: 1 } },
    },
    cluster: { redis: `redis://${services.redis.host}:${services.redis.port}/0`, prefix, ackTimeout: 1000, heartbeat: 300 },
  }));
}

async function kill9(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise((r) => c.once("exit", r));
  c.kill("SIGKILL");
  await exited;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isMessage = (body: string) => (el: Element) => el.name === "message" && el.getChildText("body") === body;

/** Logged in on `node` (stream management on, acks answered), initial presence sent and echoed. */
async function online(node: string, user: string, resource: string): Promise<SmClient> {
  const { c } = await SmClient.login(nodes[node]!.port, user, resource, { resume: false });
  c.autoAck = true;
  c.send("<presence/>");
  await c.next((e) => e.name === "presence" && e.attrs.from === `${user}@localhost/${resource}` && e.attrs.type === undefined, "its own presence");
  return c;
}

/** Sends the messages, then <r/>, and resolves when the server's <a/> counts them all. */
async function sendAcked(c: SmClient, messages: Element[]): Promise<void> {
  const base = await ackCount(c);
  for (const m of messages) c.send(m);
  const want = base + messages.length;
  for (;;) {
    c.send(`<r xmlns='${SM}'/>`);
    const a = await c.next((e) => e.name === "a" && e.attrs.xmlns === SM, "an ack", 10_000);
    if (Number(a.attrs.h) >= want) return;
    await sleep(20);
  }
}

async function ackCount(c: SmClient): Promise<number> {
  c.send(`<r xmlns='${SM}'/>`);
  return Number((await c.next((e) => e.name === "a" && e.attrs.xmlns === SM, "an ack")).attrs.h);
}

describe.skipIf(!up)("three nodes sharing Redis and Cassandra", () => {
  let alice: SmClient;
  let bob: SmClient;

  beforeAll(async () => {
    writeConfig();
    for (const n of Object.values(nodes)) n.port = await freePort();
    for (const u of ["alice", "bob", "romeo", "juliet"]) {
      const r = spawnSync(process.execPath, [join(ROOT, "src/main.ts"), "-c", configFile, "adduser", `${u}@localhost`, "pw"], { cwd: dir, env: env("a"), encoding: "utf8" });
      if (r.status !== 0) throw new Error(r.stderr);
    }
    for (const name of Object.keys(nodes)) nodes[name]!.child = await startProcess(dir, env(name), { args: ["-c", configFile], timeoutMs: 60_000 });
    alice = await online("a", "alice", "laptop");
    bob = await online("b", "bob", "phone");
  }, 120_000);

  afterAll(async () => {
    for (const n of Object.values(nodes)) if (n.child) await kill9(n.child);
    if (up) {
      const r = new Redis(services.redis.port, services.redis.host);
      await deleteKeys(r, prefix);
      r.disconnect();
      await dropKeyspace(keyspace);
    }
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it("Alice on a and Bob on b chat both ways, to bare and full JIDs", async () => {
    alice.send(chat("bob@localhost", "hello Bob"));
    const got = await bob.next(isMessage("hello Bob"), "Alice's message");
    expect(got.attrs.from).toBe("alice@localhost/laptop");
    bob.send(chat("alice@localhost/laptop", "hello Alice"));
    expect((await alice.next(isMessage("hello Alice"), "Bob's message")).attrs.from).toBe("bob@localhost/phone");
  });

  it("presence crosses nodes: a subscription request, its approval, then Bob's status change", async () => {
    alice.send(xml("presence", { to: "bob@localhost", type: "subscribe" }));
    await bob.next((e) => e.name === "presence" && e.attrs.type === "subscribe" && e.attrs.from === "alice@localhost", "Alice's request");
    bob.send(xml("presence", { to: "alice@localhost", type: "subscribed" }));
    await alice.next((e) => e.name === "presence" && e.attrs.from === "bob@localhost/phone" && e.attrs.type === undefined, "Bob's presence");
    bob.send(xml("presence", {}, xml("show", null, "away")));
    const away = await alice.next((e) => e.name === "presence" && e.attrs.from === "bob@localhost/phone" && e.getChildText("show") === "away", "Bob's away");
    expect(away.attrs.to).toBe("alice@localhost");
  });

  it("an iq to a full JID on another node reaches that client, and its answer comes back", async () => {
    alice.send(xml("iq", { type: "get", to: "bob@localhost/phone", id: "v1" }, xml("query", { xmlns: "jabber:iq:version" })));
    const iq = await bob.next((e) => e.name === "iq" && e.attrs.id === "v1", "Alice's iq");
    expect(iq.attrs.from).toBe("alice@localhost/laptop");
    bob.send(xml("iq", { type: "result", to: iq.attrs.from!, id: "v1" }, xml("query", { xmlns: "jabber:iq:version" }, xml("name", null, "bob's client"))));
    const result = await alice.next((e) => e.name === "iq" && e.attrs.id === "v1", "Bob's answer");
    expect(result.attrs.type).toBe("result");
    expect(result.attrs.from).toBe("bob@localhost/phone");
    expect(result.getChild("query")?.getChildText("name")).toBe("bob's client");
  });

  it("PEP across nodes: Bob publishes his nickname on b; Alice's +notify client on a is told, her client without caps is not", async () => {
    const NICK = "http://jabber.org/protocol/nick";
    const DISCO = "http://jabber.org/protocol/disco#info";
    const identities = [{ category: "client", type: "pc", name: "caps client" }];
    const features = [DISCO, `${NICK}+notify`];
    const { c: phone } = await SmClient.login(nodes.a!.port, "alice", "phone", { resume: false });
    phone.autoAck = true;
    phone.send(xml("presence", {}, xml("c", { xmlns: "http://jabber.org/protocol/caps", hash: "sha-1", node: "https://xmppd.test/cluster", ver: capsHash(identities, features) })));
    // XEP-0115: the server asks the client what its caps mean; the client answers.
    const ask = await phone.next((e) => e.name === "iq" && e.attrs.type === "get" && e.getChild("query", DISCO) !== undefined, "the server's disco#info");
    phone.send(xml("iq", { type: "result", id: ask.attrs.id, to: ask.attrs.from },
      xml("query", { xmlns: DISCO, node: ask.getChild("query")!.attrs.node }, identities.map((i) => xml("identity", i)), features.map((f) => xml("feature", { var: f })))));
    // Its +notify travels to the other nodes with its directory entry.
    await published(prefix, "alice@localhost/phone", (k) => (k["pep.notify"] as string[] | undefined)?.includes(NICK) === true, "the +notify");
    await sleep(50); // and from Redis to node b, published in the same transaction

    bob.send(xml("iq", { type: "set", id: "nick1" }, xml("pubsub", { xmlns: "http://jabber.org/protocol/pubsub" },
      xml("publish", { node: NICK }, xml("item", {}, xml("nick", { xmlns: NICK }, "Bobby"))))));
    expect((await bob.next((e) => e.name === "iq" && e.attrs.id === "nick1", "the publish result")).attrs.type).toBe("result");
    const isNick = (e: Element) => e.name === "message" && e.getChild("event", "http://jabber.org/protocol/pubsub#event")?.getChild("items")?.attrs.node === NICK;
    const event = await phone.next(isNick, "the nickname event on node a");
    expect(event.attrs.from).toBe("bob@localhost");
    expect(event.getChild("event")!.getChild("items")!.getChild("item")!.getChildText("nick")).toBe("Bobby");
    await sleep(300);
    expect(alice.inbox.filter(isNick)).toEqual([]);
    phone.send("</stream:stream>");
    await sleep(200);
  });

  it("carbons: Bob's resource on c gets copies of what his resource on b receives and sends", async () => {
    const tablet = await online("c", "bob", "tablet");
    tablet.send(xml("iq", { type: "set", id: "cb" }, xml("enable", { xmlns: "urn:xmpp:carbons:2" })));
    expect((await tablet.next((e) => e.name === "iq" && e.attrs.id === "cb", "carbons enabled")).attrs.type).toBe("result");
    // The directory update that says "carbons enabled" travels to the other nodes asynchronously.
    await published(prefix, "bob@localhost/tablet", (k) => k["carbons.enabled"] === true, "carbons enabled");
    await sleep(50);
    alice.send(chat("bob@localhost/phone", "to the phone"));
    await bob.next(isMessage("to the phone"), "the message");
    const received = await tablet.next((e) => e.getChild("received", "urn:xmpp:carbons:2") !== undefined, "a received carbon");
    expect(received.getChild("received")!.getChild("forwarded")!.getChild("message")!.getChildText("body")).toBe("to the phone");
    bob.send(chat("alice@localhost", "from the phone"));
    await alice.next(isMessage("from the phone"), "Bob's message");
    const sent = await tablet.next((e) => e.getChild("sent", "urn:xmpp:carbons:2") !== undefined, "a sent carbon");
    expect(sent.getChild("sent")!.getChild("forwarded")!.getChild("message")!.getChildText("body")).toBe("from the phone");
    tablet.send("</stream:stream>");
    await sleep(300);
  });

  // Message r20 reaches b as Juliet logs out there: b routes it again, to the offline store, with
  // the stanza-id a gave it and whose write may still be in a's archive queue; it must keep that
  // id (StanzaEvent.returned) to sort before r21, which a stores meanwhile.
  it("Juliet moves from b to c while Romeo on a keeps writing: every message acked arrives once, in order; receipts and markers come back", { timeout: 60_000 }, async () => {
    const romeo = await online("a", "romeo", "home");
    const onB = await online("b", "juliet", "phone");
    const n = 80;
    const message = (i: number) => xml("message", { to: "juliet@localhost", type: "chat", id: `r${i}` },
      xml("body", null, `r ${i}`), xml("request", { xmlns: "urn:xmpp:receipts" }), xml("markable", { xmlns: "urn:xmpp:chat-markers:0" }));
    let onC: SmClient | undefined;
    let readOnB: string[] = [];
    // Romeo writes without pause; Juliet logs out of b after 20 of them, and in on c 20 later.
    const writing = (async () => {
      for (let i = 0; i < n; i++) {
        romeo.send(message(i));
        if (i === 0) {
          // Juliet on b answers the first: a receipt and a displayed marker, from b to a.
          await onB.next(isMessage("r 0"), "the first message on b");
          onB.inbox.unshift(xml("message", {}, xml("body", null, "r 0")));
          onB.send(xml("message", { to: "romeo@localhost/home", id: "rcpt0" }, xml("received", { xmlns: "urn:xmpp:receipts", id: "r0" })));
          onB.send(xml("message", { to: "romeo@localhost", type: "chat", id: "mark0" }, xml("displayed", { xmlns: "urn:xmpp:chat-markers:0", id: "r0" })));
        }
        if (i === 20) {
          // A clean logout: the last <a/> counts what the client read, then the stream ends.
          onB.send(`<a xmlns='${SM}' h='${onB.handled}'/></stream:stream>`);
          readOnB = onB.bodies("r ");
        }
        if (i === 40) void online("c", "juliet", "phone").then((c) => (onC = c));
        await sleep(5);
      }
    })();
    const received = await romeo.next((e) => e.getChild("received", "urn:xmpp:receipts")?.attrs.id === "r0", "the receipt from b");
    expect(received.attrs.from).toBe("juliet@localhost/phone");
    await romeo.next((e) => e.getChild("displayed", "urn:xmpp:chat-markers:0")?.attrs.id === "r0", "the marker from b");
    await writing;
    await sendAcked(romeo, []);
    expect(await ackCount(romeo)).toBeGreaterThanOrEqual(n);
    for (let t = 0; !onC && t < 100; t++) await sleep(50);
    const c = onC!;
    await c.next(isMessage(`r ${n - 1}`), "the last message, on c", 15_000);
    c.inbox.push(xml("message", {}, xml("body", null, `r ${n - 1}`)));
    const readOnC = c.bodies("r ");
    const all = [...readOnB, ...readOnC];
    console.info(`cluster: Juliet read ${readOnB.length} on b, ${readOnC.length} on c (${readOnC.filter((b) => Number(b.slice(2)) <= 40).length} of them from the offline store or b's unacked)`);
    expect(all).toEqual(Array.from({ length: n }, (_, i) => `r ${i}`));

    // From c, Juliet acknowledges what she got there: receipts and a marker reach Romeo on a.
    for (const body of readOnC) c.send(xml("message", { to: "romeo@localhost/home", id: `rc-${body}` }, xml("received", { xmlns: "urn:xmpp:receipts", id: `r${body.slice(2)}` })));
    c.send(xml("message", { to: "romeo@localhost", type: "chat", id: "mark-last" }, xml("displayed", { xmlns: "urn:xmpp:chat-markers:0", id: `r${n - 1}` })));
    const receipts: string[] = [];
    for (const body of readOnC) {
      const r = await romeo.next((e) => e.getChild("received", "urn:xmpp:receipts") !== undefined, `the receipt for ${body}`);
      expect(r.attrs.from).toBe("juliet@localhost/phone");
      receipts.push(r.getChild("received")!.attrs.id!);
    }
    expect(receipts).toEqual(readOnC.map((b) => `r${b.slice(2)}`));
    const marker = await romeo.next((e) => e.getChild("displayed", "urn:xmpp:chat-markers:0") !== undefined, "the displayed marker from c");
    expect(marker.getChild("displayed")!.attrs.id).toBe(`r${n - 1}`);
    romeo.send("</stream:stream>");
    c.send("</stream:stream>");
    await sleep(200);
  });

  it("node b is killed: what Alice sends Bob meanwhile is acked, kept, and delivered in order on node c", { timeout: 60_000 }, async () => {
    const n = 10;
    await sendAcked(alice, Array.from({ length: 3 }, (_, i) => chat("bob@localhost", `before ${i}`)));
    for (let i = 0; i < 3; i++) await bob.next(isMessage(`before ${i}`), `before ${i}`);
    await kill9(nodes.b!.child!);
    const started = Date.now();
    await sendAcked(alice, Array.from({ length: n }, (_, i) => chat("bob@localhost", `while down ${i}`)));
    const ackedIn = Date.now() - started;

    // RFC 6121 §4.6.3: a session that ends without unavailable presence has it sent on its behalf.
    // Nodes a and c both take b for dead; one of them ends b's sessions, so Alice hears it once.
    const isGone = (e: Element) => e.name === "presence" && e.attrs.from === "bob@localhost/phone" && e.attrs.type === "unavailable";
    const gone = await alice.next(isGone, "Bob's unavailable presence, on his node's death", 10_000);
    expect(gone.attrs.to).toBe("alice@localhost");
    const goneIn = Date.now() - started;
    await sleep(1500); // five heartbeats: time for a second, wrong one
    expect(alice.inbox.filter(isGone)).toEqual([]);

    const again = await online("c", "bob", "phone");
    await again.next(isMessage(`while down ${n - 1}`), "the last one", 10_000);
    await sleep(200);
    const bodies = again.inbox.filter((e) => e.name === "message").map((e) => e.getChildText("body") ?? "");
    expect([...bodies.filter((b) => b.startsWith("while down")), `while down ${n - 1}`]).toEqual(Array.from({ length: n }, (_, i) => `while down ${i}`));
    console.info(`cluster: node b killed; ${n} messages acked in ${ackedIn} ms while it was down, all delivered in order on node c; Alice saw Bob unavailable ${goneIn} ms after the kill`);
    again.send("</stream:stream>");
  });
});
