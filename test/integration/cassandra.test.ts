// The whole server on the Cassandra backend (storage.backend = "cassandra", the cluster of
// scripts/services/cassandra.sh): the same modules, over real sockets. Romeo and Juliet chat;
// Romeo writes while Juliet is away and the message waits in Cassandra until her login; her
// archive answers XEP-0313 queries, also after the server restarts on the same keyspace, as
// does a PEP item (XEP-0163, a map store).
// Skipped when no Cassandra answers, except in CI (test/helpers/services.ts).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { NS } from "../../src/xml/ns.ts";
import { CassandraStorage } from "../../src/storage/cassandra/index.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { connect, presence, type Im } from "../helpers/im.ts";
import { items, itemsOf, publish } from "../helpers/pep.ts";
import { dropKeyspace, serviceUp, services } from "../helpers/services.ts";

const MAM = "urn:xmpp:mam:2";
const RSM = "http://jabber.org/protocol/rsm";
const FORWARD = "urn:xmpp:forward:0";

const up = await serviceUp("cassandra");
const { host, port, localDataCenter } = services.cassandra;
const keyspace = `xmppd_it_${process.pid}_${Date.now().toString(36)}`;
const config = {
  storage: {
    backend: "cassandra",
    cassandra: { contactPoints: [`${host}:${port}`], localDataCenter, keyspace, replication: "{'class': 'SimpleStrategy', 'replication_factor': 1}" },
  },
};

const chat = (to: string, body: string) => xml("message", { type: "chat", to, id: body }, xml("body", null, body));
const bodyIs = (body: string) => (el: Element) => el.name === "message" && el.getChildText("body") === body;

async function online(t: TestServer, user: string, resource: string): Promise<Im> {
  const c = await connect(t, user, resource);
  c.send(presence());
  await c.next((el) => el.name === "presence" && el.attrs.from === c.jid, "its own presence");
  return c;
}

/** A MAM query; the bodies of the results in the order they came, and whether the set is complete. */
async function mam(c: Im, withJid?: string, set?: { max: number; before?: string }) {
  const queryid = `q${Math.random().toString(36).slice(2)}`;
  const form = withJid === undefined ? undefined : xml("x", { xmlns: "jabber:x:data", type: "submit" },
    xml("field", { var: "FORM_TYPE", type: "hidden" }, xml("value", null, MAM)),
    xml("field", { var: "with" }, xml("value", null, withJid)));
  const rsm = set && xml("set", { xmlns: RSM }, xml("max", null, String(set.max)), set.before !== undefined && xml("before", null, set.before));
  const iq = await c.ask(xml("iq", { type: "set" }, xml("query", { xmlns: MAM, queryid }, form, rsm)), 20_000);
  expect(iq.attrs.type).toBe("result");
  const results = c.inbox.filter((el) => el.getChild("result", MAM)?.attrs.queryid === queryid);
  const fin = iq.getChild("fin", MAM)!;
  return {
    bodies: results.map((r) => r.getChild("result", MAM)!.getChild("forwarded", FORWARD)!.getChild("message")!.getChildText("body")),
    complete: fin.attrs.complete === "true",
    first: fin.getChild("set", RSM)?.getChildText("first") ?? undefined,
  };
}

describe.skipIf(!up)("the server on Cassandra", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ config, users: { romeo: "pw", juliet: "pw", nurse: "pw" } });
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
    await dropKeyspace(keyspace);
  }, 60_000);

  it("runs on the configured keyspace, not on the embedded file", async () => {
    expect(t.server.storage).toBeInstanceOf(CassandraStorage);
    expect(existsSync(join(t.dataDir, "xmppd.sqlite"))).toBe(false);
    expect(await t.server.accounts.list()).toEqual(["juliet@localhost", "nurse@localhost", "romeo@localhost"]);
  });

  it("Romeo and Juliet chat; a message to Juliet while she is away waits in Cassandra and comes at her login", async () => {
    const romeo = await online(t, "romeo", "orchard");
    let juliet = await online(t, "juliet", "balcony");
    romeo.send(chat("juliet@localhost", "hello"));
    await juliet.next(bodyIs("hello"));
    juliet.send(chat("romeo@localhost", "hi"));
    await romeo.next(bodyIs("hi"));
    const nurse = await online(t, "nurse", "kitchen");
    nurse.send(chat("juliet@localhost", "your mother calls"));
    await juliet.next(bodyIs("your mother calls"));
    await Promise.all([juliet.stop(), nurse.stop()]);

    romeo.send(chat("juliet@localhost", "while you were away"));
    const offline = t.server.storage.log("offline");
    const deadline = Date.now() + 10_000;
    while ((await offline.count("juliet@localhost", {})) === 0) {
      if (Date.now() > deadline) throw new Error("the offline message was not stored");
      await new Promise((r) => setTimeout(r, 50));
    }
    juliet = await connect(t, "juliet", "balcony");
    juliet.send(presence());
    const m = await juliet.next(bodyIs("while you were away"), "the offline message");
    expect(m.getChild("delay", NS.delay)?.attrs.from).toBe("localhost");
    // Delivered, so removed from the queue.
    const until = Date.now() + 10_000;
    while ((await offline.count("juliet@localhost", {})) > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(await offline.count("juliet@localhost", {})).toBe(0);

    // Her archive: the whole conversation in order, the 'with' filter, paging from the end.
    const all = await mam(juliet);
    expect(all.bodies).toEqual(["hello", "hi", "your mother calls", "while you were away"]);
    expect((await mam(juliet, "romeo@localhost")).bodies).toEqual(["hello", "hi", "while you were away"]);
    expect((await mam(juliet, "nurse@localhost/kitchen")).bodies).toEqual(["your mother calls"]);
    const last = await mam(juliet, "romeo@localhost", { max: 2, before: "" });
    expect(last).toMatchObject({ bodies: ["hi", "while you were away"], complete: false });
    expect((await mam(juliet, "romeo@localhost", { max: 2, before: last.first! })).bodies).toEqual(["hello"]);
    await Promise.all([romeo.stop(), juliet.stop()]);
  });

  it("after a restart on the same keyspace, the accounts, the archive and a PEP item are there", async () => {
    const NOTE = "urn:xmpp:tmp:cassandra-note";
    let juliet = await online(t, "juliet", "balcony");
    expect((await juliet.ask(publish(NOTE, xml("note", { xmlns: NOTE }, "Wherefore art thou ☃"), "n1"))).attrs.type).toBe("result");
    await juliet.stop();
    await t.stop(false);
    t = await startServer({ config, dataDir: t.dataDir });
    juliet = await online(t, "juliet", "balcony");
    expect((await mam(juliet, "romeo@localhost")).bodies).toEqual(["hello", "hi", "while you were away"]);
    const got = itemsOf(await juliet.ask(items(NOTE)));
    expect(got.map((i) => i.getChild("note", NOTE)?.getText())).toEqual(["Wherefore art thou ☃"]);
    await juliet.stop();
  }, 30_000);
});
