// Scale-out: stream management resumption on another node, and the failed-login throttle
// across the nodes. Three server processes for one domain share Redis (src/cluster/); each keeps
// its own embedded store (the accounts are created on each), since nothing here needs a shared
// one. Bob is on node a behind a CutProxy (the network a phone loses) while Alice on node c writes
// to him without pause; his connection is cut, and he resumes on node b: the session moves from a
// to b over the route bus, and every message arrives once, in order, h counted right; then the
// chat goes on, routed to b. When the session's node is dead, resumption fails (item-not-found).
// Skipped when Redis does not answer, except in CI (test/helpers/services.ts).
import { spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import type { Element } from "../../src/xml/element.ts";
import { ROOT, freePort, startProcess } from "../helpers/process.ts";
import { CutProxy } from "../helpers/proxy.ts";
import { FEATURES, OPEN, RawClient } from "../helpers/raw.ts";
import { deleteKeys, serviceUp, services } from "../helpers/services.ts";
import { published } from "../helpers/directory.ts";
import { SmClient, chat } from "../helpers/sm.ts";

const up = await serviceUp("redis");
const SM = "urn:xmpp:sm:3";
const run = `${process.pid}_${Date.now().toString(36)}`;
const prefix = `xmppd-resume-${run}:`;
const dir = mkdtempSync(join(tmpdir(), "xmppd-resume-"));
const configFile = join(dir, "xmppd.json");
const nodes: Record<string, { port: number; child?: ChildProcess }> = { a: { port: 0 }, b: { port: 0 }, c: { port: 0 } };
const env = (node: string) => ({
  ...process.env, XMPPD_DATA_DIR: join(dir, node), XMPPD_C2S__PORT: String(nodes[node]?.port ?? 0), XMPPD_CLUSTER__NODE: node,
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isMessage = (body: string) => (el: Element) => el.name === "message" && el.getChildText("body") === body;

async function kill9(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise((r) => c.once("exit", r));
  c.kill("SIGKILL");
  await exited;
}

async function ackCount(c: SmClient): Promise<number> {
  c.send(`<r xmlns='${SM}'/>`);
  return Number((await c.next((e) => e.name === "a" && e.attrs.xmlns === SM, "an ack")).attrs.h);
}

describe.skipIf(!up)("XEP-0198 resumption on another node, and the login throttle, across three nodes", () => {
  let redis: Redis | undefined;

  beforeAll(async () => {
    redis = new Redis(services.redis.port, services.redis.host);
    writeFileSync(configFile, JSON.stringify({
      domain: "localhost",
      log: { level: "warn" },
      c2s: { host: "127.0.0.1", directTlsPort: 0, requireTls: false },
      http: { port: 0, tlsPort: 0 },
      auth: { failuresPerMinute: 3, failuresPerAccount: 2 },
      cluster: { redis: `redis://${services.redis.host}:${services.redis.port}/0`, prefix, ackTimeout: 1000, heartbeat: 300 },
    }));
    for (const n of Object.values(nodes)) n.port = await freePort();
    for (const node of Object.keys(nodes)) {
      for (const u of ["alice", "bob", "carol"]) {
        const r = spawnSync(process.execPath, [join(ROOT, "src/main.ts"), "-c", configFile, "adduser", `${u}@localhost`, "pw"], { cwd: dir, env: env(node), encoding: "utf8" });
        if (r.status !== 0) throw new Error(r.stderr);
      }
    }
    for (const name of Object.keys(nodes)) nodes[name]!.child = await startProcess(dir, env(name), { args: ["-c", configFile], timeoutMs: 60_000 });
  }, 120_000);

  afterAll(async () => {
    for (const n of Object.values(nodes)) if (n.child) await kill9(n.child);
    if (redis) {
      await deleteKeys(redis, prefix);
      redis.disconnect();
    }
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  let previd = "";
  let bobOnB: SmClient | undefined;

  it("Bob's connection to node a is cut while Alice on c writes; he resumes on b: the unacked and the new messages once, in order, h right; then chat is routed to b", { timeout: 60_000 }, async () => {
    const proxy = await CutProxy.start(nodes.a!.port);
    const { c: bob, enabled } = await SmClient.login(proxy.port, "bob", "phone");
    expect(enabled.name).toBe("enabled");
    previd = enabled.attrs.id!;
    const { c: alice } = await SmClient.login(nodes.c!.port, "alice", "desk", { resume: false });
    alice.autoAck = true;
    // Node a learns of Alice's session on c through the shared directory, asynchronously.
    await published(prefix, "alice@localhost/desk", () => true, "Alice's session");
    // Bob says something first: the server has handled one of his stanzas (the h of <resumed/>).
    bob.send(chat("alice@localhost/desk", "hi from a"));
    await alice.next(isMessage("hi from a"), "Bob's message from a");

    const n = 60;
    let bobH = 0;
    let resumed: { c: SmClient; reply: Element } | undefined;
    let readOnA: string[] = [];
    for (let i = 0; i < n; i++) {
      alice.send(chat("bob@localhost/phone", `m ${i}`));
      if (i === 10) {
        // Bob has read (and acknowledges) what came so far, except the last one or two in flight.
        for (let t = 0; !bob.inbox.some(isMessage("m 8")) && t < 200; t++) await sleep(10);
        readOnA = bob.bodies("m ");
        bobH = readOnA.length;
        bob.send(`<a xmlns='${SM}' h='${bobH}'/>`);
        await sleep(50);
        proxy.cutAll();
      }
      // Alice keeps writing while Bob's session moves from a to b.
      if (i === 25) void SmClient.resume(nodes.b!.port, "bob", previd, bobH).then((r) => (resumed = r));
      await sleep(5);
    }
    // Everything Alice sent is acked by the cluster (h counts a stanza once it is delivered or stored).
    expect(await ackCount(alice)).toBe(n);
    for (let t = 0; !resumed && t < 100; t++) await sleep(50);
    const { c, reply } = resumed!;
    expect(reply.name).toBe("resumed");
    expect(reply.attrs.previd).toBe(previd);
    expect(reply.attrs.h).toBe("1");
    c.autoAck = true;
    await c.next(isMessage(`m ${n - 1}`), "the last message, on b", 10_000);
    c.inbox.push(chat("bob@localhost/phone", `m ${n - 1}`));
    await sleep(300); // a duplicate would have come by now
    const readOnB = c.bodies("m ");
    console.info(`cluster resume: Bob read ${readOnA.length} on a, acked them, and ${readOnB.length} on b (replayed from a's queue or forwarded)`);
    expect([...readOnA, ...readOnB]).toEqual(Array.from({ length: n }, (_, i) => `m ${i}`));
    // The client's count of what it received is what the server sent: an <a/> with it is accepted.
    c.send(`<a xmlns='${SM}' h='${c.handled}'/>`);

    // The shared directory names node b for Bob's full JID; a's connection is gone.
    const entry = JSON.parse((await redis!.hget(`${prefix}sess:bob@localhost`, "phone"))!) as { n: string };
    expect(entry.n).toBe("b");
    expect(await redis!.get(`${prefix}smtok:${previd}`)).toBe("b");
    expect(proxy.open).toBe(0);

    // The chat goes on: Alice on c reaches Bob on b, and Bob's answer (counted in h) reaches her.
    alice.send(chat("bob@localhost/phone", "after the move"));
    await c.next(isMessage("after the move"), "a new message on b");
    c.send(chat("alice@localhost/desk", "hi from b"));
    const hi = await alice.next(isMessage("hi from b"), "Bob's message from b");
    expect(hi.attrs.from).toBe("bob@localhost/phone");
    expect(await ackCount(c)).toBe(2);
    bobOnB = c;
    alice.send("</stream:stream>");
    await proxy.close();
  });

  it("the session's node is dead: resumption fails with item-not-found", { timeout: 30_000 }, async () => {
    expect(bobOnB).toBeDefined();
    bobOnB!.cut();
    await kill9(nodes.b!.child!);
    const started = Date.now();
    const { reply } = await SmClient.resume(nodes.c!.port, "bob", previd, bobOnB!.handled);
    expect(reply.name).toBe("failed");
    expect(reply.getChild("item-not-found", "urn:ietf:params:xml:ns:xmpp-stanzas")).toBeDefined();
    expect(Date.now() - started).toBeLessThan(3000);
    // The client binds anew.
    const again = await RawClient.login(nodes.c!.port, "bob", "pw", "phone");
    again.close();
  });

  it("failed logins count across the nodes: two on a and one on c throttle the address on a", { timeout: 30_000 }, async () => {
    const fail = async (port: number) => {
      const { c, sasl } = await RawClient.authenticated(port, "alice", "wrong");
      c.close();
      return sasl;
    };
    expect(await fail(nodes.a!.port)).toContain("not-authorized");
    expect(await fail(nodes.a!.port)).toContain("not-authorized");
    // Under the limit on each node alone: the right password works on c.
    const ok = await RawClient.authenticated(nodes.c!.port, "alice", "pw");
    expect(ok.sasl).toContain("<success");
    ok.c.close();
    expect(await fail(nodes.c!.port)).toContain("not-authorized");
    // Three in the window, two of them on a: a throttles even the right password.
    const { c, sasl } = await RawClient.authenticated(nodes.a!.port, "alice", "pw");
    c.close();
    expect(sasl).toContain("temporary-auth-failure");
  });

  it("attempts in progress count across the nodes: exchanges started on a and c leave no room for another", { timeout: 30_000 }, async () => {
    const from = "127.0.0.7";
    const open = async (port: number) => {
      const c = await RawClient.connect(port, false, from);
      c.send(OPEN());
      await c.expect(FEATURES);
      return c;
    };
    const conns = [await open(nodes.a!.port), await open(nodes.c!.port), await open(nodes.c!.port), await open(nodes.a!.port)];
    const started = [];
    for (const c of conns) started.push(await c.scramStart("nobody"));
    expect(started.slice(0, 3).every((x) => typeof x !== "string")).toBe(true);
    expect(started[3]).toContain("temporary-auth-failure");
    for (const c of conns) c.close();
  });

  it("an account's turns are kept across the nodes: past its failures, the next attempt on another node waits", { timeout: 30_000 }, async () => {
    const attempt = async (port: number, n: number, password: string) => {
      const c = await RawClient.connect(port, false, `127.0.0.${n}`);
      c.send(OPEN());
      await c.expect(FEATURES);
      const t0 = Date.now();
      const answer = await c.scram("carol", password);
      c.close();
      return { answer, ms: Date.now() - t0 };
    };
    expect((await attempt(nodes.a!.port, 11, "wrong")).answer).toContain("not-authorized");
    expect((await attempt(nodes.c!.port, 12, "wrong")).answer).toContain("not-authorized");
    const third = await attempt(nodes.a!.port, 13, "pw");
    expect(third.answer).toMatch(/^<success/);
    expect(third.ms).toBeGreaterThanOrEqual(900);
  });
});
