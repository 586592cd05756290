// What one account may take of the pubsub service (pubsub.localhost) that every account shares,
// over real sockets and with the shipped defaults: Romeo creates nodes until his own quota
// refuses him (policy-violation with XEP-0060's <max-nodes-exceeded/>), while Juliet still
// creates hers; a deleted node gives its place back; the count survives a restart; the
// service-wide limit refuses everyone with resource-constraint. A create reads no list of the
// service's nodes however many there are, and disco#items of the service answers a page
// (XEP-0059) even when none was asked for.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { xml, type Element } from "../../src/xml/element.ts";
import { SqliteStorage } from "../../src/storage/embedded/sqlite.ts";
import type { MapStore, StorageProvider } from "../../src/storage/types.ts";
import { DEFAULT_CONFIG } from "../../src/modules/pubsub/config.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { connect, errorOf, type Im } from "../helpers/im.ts";
import { OWNER, PUBSUB, pubsubCondition } from "../helpers/pep.ts";

const PS = "pubsub.localhost";
const ITEMS = "http://jabber.org/protocol/disco#items";
const RSM = "http://jabber.org/protocol/rsm";
/** The shipped per-account quota (modules.pubsub.maxNodesPerAccount). */
const QUOTA = 100;

const create = (node: string) => xml("iq", { type: "set", to: PS }, xml("pubsub", { xmlns: PUBSUB }, xml("create", { node })));
const remove = (node: string) => xml("iq", { type: "set", to: PS }, xml("pubsub", { xmlns: OWNER }, xml("delete", { node })));
const discoItems = (...set: (Element | undefined)[]) => xml("iq", { type: "get", to: PS }, xml("query", { xmlns: ITEMS }, set.length ? xml("set", { xmlns: RSM }, ...set) : undefined));
const ok = (el: Element) => expect(el.attrs.type, el.toString()).toBe("result");

async function createMany(c: Im, prefix: string, n: number): Promise<void> {
  const replies = await Promise.all(Array.from({ length: n }, (_, i) => c.ask(create(`${prefix}-${i}`))));
  for (const r of replies) ok(r);
}

describe("node quotas of the pubsub service", () => {
  let t: TestServer;
  const open: Im[] = [];
  const login = async (user: string) => {
    const c = await connect(t, user);
    open.push(c);
    return c;
  };
  beforeAll(async () => {
    // The service-wide limit lowered so that two accounts reach it; the per-account quota as shipped.
    t = await startServer({ users: { romeo: "pw", juliet: "pw", benvolio: "pw" }, config: { modules: { pubsub: { maxNodes: 150 } } } });
  });
  afterAll(async () => {
    await Promise.all(open.map((c) => c.stop().catch(() => {})));
    await t.stop();
  });

  it("Romeo creates his quota of nodes; the next is policy-violation + max-nodes-exceeded, and Juliet still creates", async () => {
    const romeo = await login("romeo");
    await createMany(romeo, "romeo", QUOTA);
    const refused = await romeo.ask(create("romeo-one-more"));
    expect(refused.attrs.type).toBe("error");
    expect(errorOf(refused)).toBe("policy-violation");
    expect(pubsubCondition(refused)).toBe("max-nodes-exceeded");
    const juliet = await login("juliet");
    ok(await juliet.ask(create("juliet-0")));
    // A node he deletes gives its place back.
    ok(await romeo.ask(remove("romeo-0")));
    ok(await romeo.ask(create("romeo-again")));
    expect(errorOf(await romeo.ask(create("romeo-and-again")))).toBe("policy-violation");
  });

  it("the quota is kept across a restart", async () => {
    await Promise.all(open.splice(0).map((c) => c.stop()));
    await t.stop(false);
    t = await startServer({ dataDir: t.dataDir, config: { modules: { pubsub: { maxNodes: 150 } } } });
    const romeo = await login("romeo");
    expect(errorOf(await romeo.ask(create("romeo-after-restart")))).toBe("policy-violation");
  });

  it("the service-wide limit refuses everyone with resource-constraint + max-nodes-exceeded", async () => {
    const juliet = await login("juliet");
    await createMany(juliet, "juliet-more", 49); // 100 of Romeo's + 50 of Juliet's: the service's 150
    const benvolio = await login("benvolio");
    const refused = await benvolio.ask(create("benvolio-0"));
    expect(errorOf(refused)).toBe("resource-constraint");
    expect(pubsubCondition(refused)).toBe("max-nodes-exceeded");
  });

  it("disco#items of the service answers a bounded page with its <set/>, and pages through every node once (XEP-0059)", async () => {
    const juliet = await login("juliet");
    const first = (await juliet.ask(discoItems())).getChild("query")!;
    const set = first.getChild("set", RSM);
    expect(set?.getChildText("count")).toBe("150");
    expect(first.getChildren("item").length).toBeLessThan(150);
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const q = (await juliet.ask(discoItems(xml("max", null, "40"), after === undefined ? undefined : xml("after", null, after)))).getChild("query")!;
      const page = q.getChildren("item").map((i) => i.attrs.node!);
      seen.push(...page);
      if (page.length < 40) break;
      after = q.getChild("set", RSM)!.getChildText("last")!;
    }
    expect(seen.length).toBe(150);
    expect(new Set(seen).size).toBe(150);
  });
});

/** The map stores of `inner`, counting the entries each getAll returns for its store's name. */
function counting(inner: StorageProvider, read: Map<string, number>): StorageProvider {
  return {
    ...inner,
    keyval: (name) => inner.keyval(name),
    log: (name) => inner.log(name),
    owners: (name) => inner.owners(name),
    purgeOwner: (owner) => inner.purgeOwner(owner),
    close: () => inner.close(),
    map: <T>(name: string): MapStore<T> => {
      const m = inner.map<T>(name);
      return {
        ...m,
        get: (owner, key) => m.get(owner, key),
        set: (owner, key, value) => m.set(owner, key, value),
        clear: (owner) => m.clear(owner),
        getAll: async (owner) => {
          const all = await m.getAll(owner);
          read.set(name, (read.get(name) ?? 0) + all.size);
          return all;
        },
      };
    },
  };
}

describe("a create at 10,000 nodes", () => {
  it("reads no list of the service's nodes (it read all 10,000 on every create)", { timeout: 60_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "xmppd-test-"));
    const given = new SqliteStorage(join(dataDir, "xmppd.sqlite"));
    const nodes = given.map("pubsub.nodes");
    await Promise.all(Array.from({ length: Number(process.env.GIVEN ?? 10_000) }, (_, i) => nodes.set(PS, `given-${i}`, { ...DEFAULT_CONFIG, access: "open" })));
    await given.close();
    const read = new Map<string, number>();
    const t = await startServer({
      dataDir, users: { romeo: "pw" },
      config: { modules: { pubsub: { maxNodes: 20_000, maxNodesPerAccount: 1000 } } },
      storage: (dir) => counting(new SqliteStorage(join(dir, "xmppd.sqlite")), read),
    });
    const romeo = await connect(t, "romeo");
    try {
      ok(await romeo.ask(create("warm-up")));
      read.clear();
      // Sent at once, so that the time is the server's (the service takes them one at a time).
      const started = performance.now();
      for (const r of await Promise.all(Array.from({ length: 200 }, (_, i) => romeo.ask(create(`timed-${i}`))))) ok(r);
      const perCreate = (performance.now() - started) / 200;
      console.log(`create at 10,000 nodes: ${perCreate.toFixed(2)} ms each, entries listed: ${JSON.stringify(Object.fromEntries(read))}`);
      expect(read.get("pubsub.nodes") ?? 0).toBe(0);
    } finally {
      await romeo.stop();
      await t.stop();
    }
  });
});

describe("subscriptions of one node", () => {
  it("beyond the node's limit, a subscribe is policy-violation + too-many-subscriptions (XEP-0060 §6.1.3.9)", async () => {
    const t = await startServer({ users: { romeo: "pw", juliet: "pw" }, config: { modules: { pubsub: { maxSubscribers: 1 } } } });
    const [romeo, juliet] = [await connect(t, "romeo"), await connect(t, "juliet")];
    try {
      ok(await romeo.ask(create("crowded")));
      const subscribe = (c: Im) => c.ask(xml("iq", { type: "set", to: PS }, xml("pubsub", { xmlns: PUBSUB }, xml("subscribe", { node: "crowded", jid: c.jid }))));
      ok(await subscribe(romeo));
      const refused = await subscribe(juliet);
      expect(errorOf(refused)).toBe("policy-violation");
      expect(pubsubCondition(refused)).toBe("too-many-subscriptions");
      expect(refused.getChild("error")!.attrs.type).toBe("wait");
    } finally {
      await Promise.all([romeo.stop(), juliet.stop()]);
      await t.stop();
    }
  });
});
