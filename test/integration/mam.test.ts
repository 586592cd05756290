// XEP-0313 Message Archive Management over real sockets: Romeo and Juliet talk, and each finds the
// conversation in their own archive, in the same order; Juliet's copies carry the archive's
// stanza-ids (XEP-0359) and a forged one never reaches her; she pages through thousands of
// messages both ways (XEP-0059), filters them, sets her preferences (XEP-0441); a server with
// retention 0 keeps nothing; and a slow store delays the archive, never the messages.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { SqliteStorage } from "../../src/storage/embedded/sqlite.ts";
import { parseStored } from "../../src/xml/stored.ts";
import type { LogStore, StorageProvider } from "../../src/storage/types.ts";
import { ARCHIVE } from "../../src/modules/mam/index.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { accounts, connect, errorOf, given, type Im, presence } from "../helpers/im.ts";
import { RawClient } from "../helpers/raw.ts";
import { SmClient } from "../helpers/sm.ts";
import { join } from "node:path";
import { parseJid } from "../../src/xml/jid.ts";

const MAM = "urn:xmpp:mam:2";
const RSM = "http://jabber.org/protocol/rsm";
const SID = "urn:xmpp:sid:0";
const FORWARD = "urn:xmpp:forward:0";
const HINTS = "urn:xmpp:hints";

const chat = (to: string, body: string, ...extra: Element[]) => xml("message", { type: "chat", to, id: body }, xml("body", null, body), ...extra);
const bodyIs = (body: string) => (el: Element) => el.name === "message" && el.getChildText("body") === body;
const stanzaIds = (el: Element) => el.getChildren("stanza-id", SID).map((s) => ({ by: s.attrs.by, id: s.attrs.id }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Page {
  iq: Element;
  results: Element[];
  /** Archive ids, bodies and senders of the results, in the order they came. */
  ids: string[];
  bodies: string[];
  froms: string[];
  complete: boolean;
  count: number | undefined;
  first: string | undefined;
  index: number | undefined;
  last: string | undefined;
}

let queries = 0;

/** Sends a MAM query and gathers its results, which come before the iq result that ends them. */
async function mam(c: Im, fields: Record<string, string | string[]> = {}, set: { max?: number; after?: string; before?: string } = {},
  opts: { to?: string; flip?: boolean } = {}): Promise<Page> {
  const queryid = `q${++queries}`;
  const form = xml("x", { xmlns: "jabber:x:data", type: "submit" },
    xml("field", { var: "FORM_TYPE", type: "hidden" }, xml("value", null, MAM)),
    Object.entries(fields).map(([k, v]) => xml("field", { var: k }, (Array.isArray(v) ? v : [v]).map((x) => xml("value", null, x)))));
  const rsm = Object.keys(set).length === 0 ? undefined : xml("set", { xmlns: RSM },
    set.max !== undefined && xml("max", null, String(set.max)),
    set.after !== undefined && xml("after", null, set.after),
    set.before !== undefined && xml("before", null, set.before));
  const iq = await c.ask(xml("iq", { type: "set", to: opts.to }, xml("query", { xmlns: MAM, queryid }, form, rsm, opts.flip && xml("flip-page"))), 20_000);
  const results: Element[] = [];
  for (let i = 0; i < c.inbox.length; i++) {
    if (c.inbox[i]!.getChild("result", MAM)?.attrs.queryid === queryid) results.push(...c.inbox.splice(i--, 1));
  }
  const fwd = results.map((r) => r.getChild("result", MAM)!.getChild("forwarded", FORWARD)!.getChild("message")!);
  const fin = iq.getChild("fin", MAM);
  const rs = fin?.getChild("set", RSM);
  const first = rs?.getChild("first");
  return {
    iq, results,
    ids: results.map((r) => r.getChild("result", MAM)!.attrs.id!),
    bodies: fwd.map((m) => m.getChildText("body") ?? ""),
    froms: fwd.map((m) => m.attrs.from ?? ""),
    complete: fin?.attrs.complete === "true",
    count: rs?.getChildText("count") ? Number(rs.getChildText("count")) : undefined,
    first: first?.getText(),
    index: first?.attrs.index === undefined ? undefined : Number(first.attrs.index),
    last: rs?.getChildText("last") ?? undefined,
  };
}

/** Sends the bodies from one client to another, waiting for each to arrive: their order is then fixed. */
async function talk(from: Im, to: Im, ...bodies: string[]): Promise<Element[]> {
  const got: Element[] = [];
  for (const b of bodies) {
    from.send(chat(to.jid.split("/")[0]!, b));
    got.push(await to.next(bodyIs(b), `message ${b}`));
  }
  return got;
}

/** Logs in and sends initial presence, so that messages to the bare JID reach this resource. */
async function online(server: Pick<TestServer, "port">, user: string, resource: string, opts?: { timeoutMs?: number }): Promise<Im> {
  const c = await connect(server, user, resource, opts);
  c.send(presence());
  await c.next((el) => el.name === "presence" && el.attrs.from === c.jid, "its own presence");
  return c;
}

let t: TestServer;
beforeAll(async () => {
  t = await startServer();
});
afterAll(() => t.stop());

describe("the archive of a conversation", () => {
  let romeo: Im;
  let juliet: Im;
  let r: string;
  let j: string;
  beforeAll(async () => {
    [r, j] = (await accounts(t, "romeo", "juliet")) as [string, string];
    romeo = await online(t, r, "orchard");
    juliet = await online(t, j, "balcony");
  });
  afterAll(async () => {
    await Promise.all([romeo.stop(), juliet.stop()]);
  });

  it("Romeo and Juliet each find the whole conversation in their own archive, in the same order", async () => {
    for (let i = 0; i < 3; i++) {
      await talk(romeo, juliet, `r${i}`);
      await talk(juliet, romeo, `j${i}`);
    }
    const hers = await mam(juliet);
    const his = await mam(romeo);
    expect(hers.bodies).toEqual(["r0", "j0", "r1", "j1", "r2", "j2"]);
    expect(his.bodies).toEqual(hers.bodies);
    expect(hers.froms).toEqual(his.froms);
    expect(hers.froms.slice(0, 2)).toEqual([romeo.jid, juliet.jid]);
    // Each archive has ids of its own, in the order of the conversation.
    expect([...hers.ids].sort()).toEqual(hers.ids);
    expect([...his.ids].sort()).toEqual(his.ids);
    expect(new Set([...hers.ids, ...his.ids]).size).toBe(12);
    expect(hers).toMatchObject({ complete: true, count: 6, index: 0, first: hers.ids[0], last: hers.ids[5] });
    // §4.2: results come to the querying resource from the archive, forwarded with the time they were archived.
    const res = hers.results[0]!;
    expect(res.attrs).toMatchObject({ to: juliet.jid, from: `${j}@localhost` });
    const fwd = res.getChild("result", MAM)!.getChild("forwarded", FORWARD)!;
    expect(Date.now() - Date.parse(fwd.getChild("delay", "urn:xmpp:delay")!.attrs.stamp!)).toBeLessThan(60_000);
    expect(fwd.getChild("message")!.attrs).toMatchObject({ xmlns: "jabber:client", type: "chat", to: `${j}@localhost`, from: romeo.jid });
  });

  it("Juliet's messages carry her archive's stanza-id, increasing, equal to the archive's; Romeo's id never reaches her", async () => {
    const got = await talk(romeo, juliet, "s0", "s1", "s2");
    const ids = got.map((m) => {
      const sids = stanzaIds(m);
      expect(sids).toHaveLength(1);
      expect(sids[0]!.by).toBe(`${j}@localhost`);
      return sids[0]!.id!;
    });
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(3);
    const hers = await mam(juliet, {}, { max: 3, before: "" });
    expect(hers.bodies).toEqual(["s0", "s1", "s2"]);
    expect(hers.ids).toEqual(ids);
    // The archived copy holds the stanza-id too (XEP-0313 §4.2 allows it).
    expect(stanzaIds(hers.results[0]!.getChild("result", MAM)!.getChild("forwarded", FORWARD)!.getChild("message")!)).toEqual([{ by: `${j}@localhost`, id: ids[0] }]);
  });

  it("a stanza-id claiming to be by Juliet's account or by the server is removed before she gets the message; others stay", async () => {
    romeo.send(chat(`${j}@localhost`, "forged",
      xml("stanza-id", { xmlns: SID, by: `${j}@localhost`, id: "fake-1" }),
      xml("stanza-id", { xmlns: SID, by: "localhost", id: "fake-2" }),
      xml("stanza-id", { xmlns: SID, by: "room@conference.example", id: "theirs" }),
      xml("origin-id", { xmlns: SID, id: "origin-1" })));
    const m = await juliet.next(bodyIs("forged"));
    const sids = stanzaIds(m);
    expect(sids.map((s) => s.by).sort()).toEqual([`${j}@localhost`, "room@conference.example"]);
    expect(sids.find((s) => s.by === `${j}@localhost`)!.id).not.toBe("fake-1");
    expect(m.getChild("origin-id", SID)?.attrs.id).toBe("origin-1");
    // Romeo's own archive copy is cleaned of ids that claim to be by him or by the server as well.
    romeo.send(chat(`${j}@localhost`, "forged2", xml("stanza-id", { xmlns: SID, by: `${r}@localhost`, id: "fake-3" })));
    await juliet.next(bodyIs("forged2"));
    const his = await mam(romeo, {}, { max: 1, before: "" });
    expect(his.bodies).toEqual(["forged2"]);
    expect(stanzaIds(his.results[0]!.getChild("result", MAM)!.getChild("forwarded", FORWARD)!.getChild("message")!)).toEqual([]);
  });

  it("an archive result forged by Romeo is taken out of his message before Juliet gets it", async () => {
    const result = (prefix = "") => xml(`${prefix}result`, { [prefix ? `xmlns:${prefix.slice(0, -1)}` : "xmlns"]: MAM, queryid: "q1", id: "fake" },
      xml("forwarded", { xmlns: FORWARD }, xml("message", { xmlns: "jabber:client", from: "nurse@localhost/x", to: `${j}@localhost`, type: "chat" },
        xml("body", null, "the nurse says yes"))));
    romeo.send(chat(`${j}@localhost`, "with a result", result()));
    const m = await juliet.next(bodyIs("with a result"));
    expect(m.getChild("result", MAM)).toBeUndefined();
    romeo.send(chat(`${j}@localhost/balcony`, "prefixed result", result("m:")));
    expect((await juliet.next(bodyIs("prefixed result"))).toString()).not.toContain("the nurse says yes");
    // Her own archive's results still come whole.
    const page = await mam(juliet, {}, { max: 1, before: "" });
    expect(page.bodies).toEqual(["prefixed result"]);
  });

  it("keeps receipts and markers, but not chat states alone, headlines, or messages hinted no-store / no-permanent-store", async () => {
    const before = (await mam(juliet, {}, { max: 0 })).count!;
    romeo.send(xml("message", { type: "chat", to: `${j}@localhost`, id: "cs" }, xml("composing", { xmlns: "http://jabber.org/protocol/chatstates" })));
    romeo.send(chat(`${j}@localhost`, "nostore", xml("no-store", { xmlns: HINTS })));
    romeo.send(chat(`${j}@localhost`, "noperm", xml("no-permanent-store", { xmlns: HINTS })));
    romeo.send(xml("message", { type: "headline", to: juliet.jid }, xml("body", null, "headline")));
    romeo.send(xml("message", { type: "chat", to: `${j}@localhost`, id: "rcpt" }, xml("received", { xmlns: "urn:xmpp:receipts", id: "s0" })));
    romeo.send(chat(`${j}@localhost`, "end"));
    const nostore = await juliet.next(bodyIs("nostore"));
    expect(stanzaIds(nostore)).toEqual([]); // not archived, so no archive id (XEP-0313 §3.5)
    const receipt = await juliet.next((el) => el.attrs.id === "rcpt");
    expect(stanzaIds(receipt)).toHaveLength(1);
    await juliet.next(bodyIs("end"));
    const page = await mam(juliet, {}, { max: 2, before: "" });
    expect(page.count).toBe(before + 2);
    expect(page.results.map((x) => x.getChild("result", MAM)!.getChild("forwarded", FORWARD)!.getChild("message")!.attrs.id)).toEqual(["rcpt", "end"]);
  });

  it("flip-page sends the same page newest first; metadata names the first and last entries", async () => {
    const page = await mam(juliet, {}, { max: 4, before: "" });
    const flipped = await mam(juliet, {}, { max: 4, before: "" }, { flip: true });
    expect(flipped.ids).toEqual([...page.ids].reverse());
    expect(flipped).toMatchObject({ first: page.first, last: page.last, count: page.count });
    const meta = (await juliet.ask(xml("iq", { type: "get" }, xml("metadata", { xmlns: MAM })))).getChild("metadata", MAM)!;
    const all = await mam(juliet);
    expect(meta.getChild("start")?.attrs.id).toBe(all.ids[0]);
    expect(meta.getChild("end")?.attrs.id).toBe(all.ids[all.ids.length - 1]);
    expect(Date.parse(meta.getChild("end")!.attrs.timestamp!)).toBeGreaterThan(Date.now() - 60_000);
  });

  it("nobody but Juliet may read her archive, her preferences or its metadata (forbidden)", async () => {
    expect(errorOf((await mam(romeo, {}, {}, { to: `${j}@localhost` })).iq)).toBe("forbidden");
    expect(romeo.inbox.filter((el) => el.getChild("result", MAM))).toEqual([]);
    expect(errorOf(await romeo.ask(xml("iq", { type: "get", to: `${j}@localhost` }, xml("prefs", { xmlns: MAM }))))).toBe("forbidden");
    expect(errorOf(await romeo.ask(xml("iq", { type: "set", to: `${j}@localhost` }, xml("prefs", { xmlns: MAM, default: "never" }))))).toBe("forbidden");
    expect(errorOf(await romeo.ask(xml("iq", { type: "get", to: `${j}@localhost` }, xml("metadata", { xmlns: MAM }))))).toBe("forbidden");
    expect(errorOf(await romeo.ask(xml("iq", { type: "get", to: `${j}@localhost` }, xml("query", { xmlns: MAM }))))).toBe("forbidden");
  });
});

describe("discovery", () => {
  it("the account announces urn:xmpp:mam:2, #extended and urn:xmpp:sid:0; the server urn:xmpp:sid:0", async () => {
    const [u] = await accounts(t, "disco");
    const c = await online(t, u!, "r");
    const features = async (to: string) => (await c.ask(xml("iq", { type: "get", to }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" }))))
      .getChild("query")!.getChildren("feature").map((f) => f.attrs.var);
    expect(await features(`${u}@localhost`)).toEqual(expect.arrayContaining([MAM, `${MAM}#extended`, SID]));
    const host = await features("localhost");
    expect(host).toContain(SID);
    expect(host).not.toContain(MAM);
    await c.stop();
  });

  it("the query form lists every field the server takes, none required (§4.1.5)", async () => {
    const [u] = await accounts(t, "form");
    const c = await online(t, u!, "r");
    const x = (await c.ask(xml("iq", { type: "get" }, xml("query", { xmlns: MAM })))).getChild("query", MAM)!.getChild("x", "jabber:x:data")!;
    expect(x.getChildren("field").map((f) => f.attrs.var)).toEqual(["FORM_TYPE", "with", "start", "end", "before-id", "after-id", "ids"]);
    expect(x.getChildren("field").some((f) => f.getChild("required"))).toBe(false);
    await c.stop();
  });
});

describe("a full archive, paged (XEP-0059)", () => {
  const N = 3000;
  let juliet: Im;
  let romeo: Im;
  let all: string[];

  beforeAll(async () => {
    const [r, j] = (await accounts(t, "romeo", "juliet")) as [string, string];
    romeo = await online(t, r, "orchard", { timeoutMs: 30_000 });
    juliet = await online(t, j, "balcony", { timeoutMs: 30_000 });
    const started = performance.now();
    for (let i = 0; i < N; i++) romeo.send(chat(`${j}@localhost`, `m${i}`));
    await juliet.next(bodyIs(`m${N - 1}`), "the last message", 60_000);
    console.log(`mam: ${N} messages routed and archived twice in ${(performance.now() - started).toFixed(0)} ms`);
    juliet.inbox.length = 0;
  }, 90_000);
  afterAll(async () => {
    await Promise.all([romeo.stop(), juliet.stop()]);
  });

  it("forward: pages of the server's limit (a larger max is capped at 250), complete only on the last", async () => {
    let after: string | undefined;
    const pages: Page[] = [];
    const started = performance.now();
    for (;;) {
      const p = await mam(juliet, {}, after === undefined ? { max: 100_000 } : { max: 100_000, after });
      pages.push(p);
      if (p.complete) break;
      after = p.last;
      expect(pages.length).toBeLessThan(20);
    }
    const ms = performance.now() - started;
    console.log(`mam: ${N} results in ${pages.length} pages of 250 in ${ms.toFixed(0)} ms (${(ms / pages.length).toFixed(1)} ms a page)`);
    expect(pages.map((p) => p.bodies.length)).toEqual(Array(N / 250).fill(250));
    expect(pages.map((p) => p.index)).toEqual(pages.map((_, i) => i * 250));
    expect(pages.every((p) => p.count === N)).toBe(true);
    expect(pages.map((p) => p.complete)).toEqual([...Array(N / 250 - 1).fill(false), true]);
    all = pages.flatMap((p) => p.ids);
    expect(pages.flatMap((p) => p.bodies)).toEqual(Array.from({ length: N }, (_, i) => `m${i}`));
    expect([...all].sort()).toEqual(all);
  });

  it("backward: the last page with an empty <before/>, then before the first of each page", async () => {
    const ids: string[][] = [];
    let before = "";
    for (;;) {
      const p = await mam(juliet, {}, { max: 700, before });
      ids.unshift(p.ids);
      expect(p.index).toBe(N - ids.flat().length);
      if (p.complete) break;
      before = p.first!;
    }
    expect(ids.map((x) => x.length)).toEqual(Array(N / 250).fill(250));
    expect(ids.flat()).toEqual(all);
  });

  it("the sender's archive holds the same messages in the same order", async () => {
    const his = await mam(romeo, {}, { max: 250, before: "" });
    expect(his.count).toBe(N);
    expect(his.bodies).toEqual(Array.from({ length: 250 }, (_, i) => `m${N - 250 + i}`));
  });

  it("ranges by id: after-id and before-id bound the set; RSM pages within it; max 0 counts", async () => {
    const p = await mam(juliet, { "after-id": all[99]!, "before-id": all[200]! }, { max: 50, after: all[149]! });
    expect(p.ids).toEqual(all.slice(150, 200));
    expect(p).toMatchObject({ count: 100, index: 50, complete: true });
    const counted = await mam(juliet, { "after-id": all[99]! }, { max: 0 });
    expect(counted).toMatchObject({ count: N - 100, complete: false, first: undefined });
    expect(counted.results).toEqual([]);
    const started = performance.now();
    const one = await mam(juliet, { ids: [all[1234]!, all[2345]!] });
    console.log(`mam: two messages by id out of ${N} in ${(performance.now() - started).toFixed(1)} ms`);
    expect(one.bodies).toEqual(["m1234", "m2345"]);
  });
});

describe("filters (XEP-0313 §4.1)", () => {
  let romeo: Im;
  let nurse: Im;
  let juliet: Im;
  let j: string;
  let r: string;
  let stamps: number[];
  let ids: string[];

  beforeAll(async () => {
    const [rr, n, jj] = (await accounts(t, "romeo", "nurse", "juliet")) as [string, string, string];
    [r, j] = [rr, jj];
    romeo = await online(t, r, "orchard");
    nurse = await online(t, n, "kitchen");
    juliet = await online(t, j, "balcony");
    // r0, n0, r1, n1, r2, a few milliseconds apart so that times differ.
    for (let i = 0; i < 3; i++) {
      await talk(romeo, juliet, `r${i}`);
      await sleep(5);
      if (i < 2) await talk(nurse, juliet, `n${i}`);
      await sleep(5);
    }
    const p = await mam(juliet);
    ids = p.ids;
    stamps = p.results.map((x) => Date.parse(x.getChild("result", MAM)!.getChild("forwarded", FORWARD)!.getChild("delay", "urn:xmpp:delay")!.attrs.stamp!));
    expect(p.bodies).toEqual(["r0", "n0", "r1", "n1", "r2"]);
  });
  afterAll(async () => {
    await Promise.all([romeo.stop(), nurse.stop(), juliet.stop()]);
  });

  it("with a bare JID: every resource of it; with a full JID: that resource only", async () => {
    expect((await mam(juliet, { with: `${r}@localhost` })).bodies).toEqual(["r0", "r1", "r2"]);
    expect((await mam(juliet, { with: `${r}@localhost/orchard` })).bodies).toEqual(["r0", "r1", "r2"]);
    expect((await mam(juliet, { with: `${r}@localhost/garden` })).bodies).toEqual([]);
    const none = await mam(juliet, { with: "tybalt@localhost" });
    expect(none).toMatchObject({ bodies: [], complete: true, count: 0, first: undefined, last: undefined });
  });

  it("start and end, inclusive, by the times the results carry", async () => {
    const iso = (ms: number) => new Date(ms).toISOString();
    expect((await mam(juliet, { start: iso(stamps[1]!), end: iso(stamps[3]!) })).bodies).toEqual(["n0", "r1", "n1"]);
    expect((await mam(juliet, { start: iso(stamps[4]!) })).bodies).toEqual(["r2"]);
    expect((await mam(juliet, { end: iso(stamps[0]!) })).bodies).toEqual(["r0"]);
    // With a time zone offset, the same instant.
    const plus2 = new Date(stamps[3]! + 2 * 3600_000).toISOString().replace("Z", "+02:00");
    expect((await mam(juliet, { start: plus2 })).bodies).toEqual(["n1", "r2"]);
  });

  it("ids, after-id and before-id (#extended), combined with 'with'", async () => {
    expect((await mam(juliet, { ids: [ids[3]!, ids[1]!] })).bodies).toEqual(["n0", "n1"]);
    expect((await mam(juliet, { "after-id": ids[1]! })).bodies).toEqual(["r1", "n1", "r2"]);
    expect((await mam(juliet, { "after-id": ids[0]!, "before-id": ids[4]! })).bodies).toEqual(["n0", "r1", "n1"]);
    expect((await mam(juliet, { "after-id": ids[0]!, with: `${r}@localhost` })).bodies).toEqual(["r1", "r2"]);
  });

  it("an id the archive does not have is item-not-found, in the form or in RSM", async () => {
    for (const q of [
      mam(juliet, { "after-id": "nosuchid" }),
      mam(juliet, { "before-id": "nosuchid" }),
      mam(juliet, { ids: [ids[0]!, "nosuchid"] }),
      mam(juliet, {}, { after: "nosuchid" }),
      mam(juliet, {}, { before: "nosuchid" }),
    ]) {
      const p = await q;
      expect(p.iq.attrs.type).toBe("error");
      expect(errorOf(p.iq)).toBe("item-not-found");
      expect(p.results).toEqual([]);
    }
  });

  it("a malformed form is bad-request; a field the server does not know, feature-not-implemented", async () => {
    expect(errorOf((await mam(juliet, { start: "yesterday" })).iq)).toBe("bad-request");
    expect(errorOf((await mam(juliet, { with: "a@b@c" })).iq)).toBe("bad-request");
    expect(errorOf((await mam(juliet, { "{urn:example}full-text": "balcony" })).iq)).toBe("feature-not-implemented");
    const badMax = await juliet.ask(xml("iq", { type: "set" }, xml("query", { xmlns: MAM }, xml("set", { xmlns: RSM }, xml("max", null, "lots")))));
    expect(errorOf(badMax)).toBe("bad-request");
  });
});

describe("preferences (XEP-0441)", () => {
  const prefs = (c: Im, attrs?: Record<string, string>, always: string[] = [], never: string[] = []) =>
    c.ask(xml("iq", { type: attrs ? "set" : "get" }, xml("prefs", { xmlns: MAM, ...attrs },
      attrs && xml("always", null, always.map((x) => xml("jid", null, x))),
      attrs && xml("never", null, never.map((x) => xml("jid", null, x))))));
  const listOf = (el: Element, name: string) => el.getChild("prefs", MAM)!.getChild(name)!.getChildren("jid").map((x) => x.getText());

  let romeo: Im;
  let nurse: Im;
  let juliet: Im;
  let r: string;
  let n: string;
  let j: string;
  beforeAll(async () => {
    [r, n, j] = (await accounts(t, "romeo", "nurse", "juliet")) as [string, string, string];
    romeo = await online(t, r, "orchard");
    nurse = await online(t, n, "kitchen");
    juliet = await online(t, j, "balcony");
  });
  afterAll(async () => {
    await Promise.all([romeo.stop(), nurse.stop(), juliet.stop()]);
  });

  it("start as 'always' with empty lists, and are stored as set", async () => {
    const p = await prefs(juliet);
    expect(p.getChild("prefs", MAM)!.attrs.default).toBe("always");
    expect(p.getChild("prefs", MAM)!.getChild("always")).toBeDefined();
    expect(p.getChild("prefs", MAM)!.getChild("never")).toBeDefined();
    const set = await prefs(juliet, { default: "never" }, [`${r}@localhost`], [`${n}@localhost/kitchen`]);
    expect(listOf(set, "always")).toEqual([`${r}@localhost`]);
    const again = await prefs(juliet);
    expect(again.getChild("prefs", MAM)!.attrs.default).toBe("never");
    expect(listOf(again, "never")).toEqual([`${n}@localhost/kitchen`]);
  });

  it("'never' keeps messages out of her archive (and without a stanza-id), except from JIDs she always archives", async () => {
    await prefs(juliet, { default: "never" }, [`${r}@localhost`]);
    const [fromNurse] = await talk(nurse, juliet, "never-n");
    const [fromRomeo] = await talk(romeo, juliet, "never-r");
    expect(stanzaIds(fromNurse!)).toEqual([]);
    expect(stanzaIds(fromRomeo!)).toHaveLength(1);
    expect((await mam(juliet, { with: `${n}@localhost` })).bodies).toEqual([]);
    expect((await mam(juliet, { with: `${r}@localhost` })).bodies).toEqual(["never-r"]);
    // Her own messages to the Nurse stay out of her archive; the Nurse's archive is the Nurse's affair.
    await talk(juliet, nurse, "to-nurse");
    expect((await mam(juliet, { with: `${n}@localhost` })).bodies).toEqual([]);
    expect((await mam(nurse, { with: `${j}@localhost` })).bodies).toEqual(["never-n", "to-nurse"]);
  });

  it("a never-listed full JID excludes that resource only; 'never' wins over 'always'", async () => {
    await prefs(juliet, { default: "always" }, [`${n}@localhost`], [`${n}@localhost/kitchen`]);
    const nurse2 = await online(t, n, "garden");
    await talk(nurse, juliet, "from-kitchen");
    await talk(nurse2, juliet, "from-garden");
    await nurse2.stop();
    expect((await mam(juliet, { with: `${n}@localhost` })).bodies).toEqual(["from-garden"]);
  });

  it("'roster' archives messages with contacts on her roster only", async () => {
    await given(t, j, r, "both");
    await prefs(juliet, { default: "roster" });
    await talk(romeo, juliet, "roster-r");
    await talk(nurse, juliet, "roster-n");
    expect((await mam(juliet, { start: new Date(Date.now() - 5000).toISOString() })).bodies.filter((b) => b.startsWith("roster"))).toEqual(["roster-r"]);
  });

  it("a default that is not always, never or roster is bad-request, and changes nothing", async () => {
    expect(errorOf(await prefs(juliet, { default: "sometimes" }))).toBe("bad-request");
    expect(errorOf(await prefs(juliet, { default: "always" }, ["not a jid@@"]))).toBe("bad-request");
    expect((await prefs(juliet)).getChild("prefs", MAM)!.attrs.default).toBe("roster");
  });
});

describe("the archive and the rest of the delivery", () => {
  it("a client that queried the archive gets unacknowledged messages from it, not again from the server (XEP-0198)", async () => {
    const [r, j] = (await accounts(t, "romeo", "juliet")) as [string, string];
    const romeo = await online(t, r, "orchard");
    for (const queried of [true, false]) {
      const raw = await RawClient.login(t.port, j, "pw", "phone");
      raw.send("<enable xmlns='urn:xmpp:sm:3'/>");
      await raw.expect(/<enabled[^>]*\/>/);
      raw.send("<presence/><iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
      await raw.expect(/<iq[^>]*id=["']p1["'][^>]*\/>/);
      if (queried) {
        raw.send(`<iq type='set' id='mq'><query xmlns='${MAM}'/></iq>`);
        await raw.expect(/<iq[^>]*id=["']mq["'][\s\S]*?<\/iq>/);
      }
      const body = `unacked-${queried}`;
      romeo.send(chat(`${j}@localhost`, body));
      // Juliet's phone gets it with the archive's id, but never acknowledges it, and drops.
      const got = await raw.expect(new RegExp(`<message[^>]*>(?:(?!</message>)[\\s\\S])*${body}[\\s\\S]*?</message>`));
      expect(got).toContain(`by="${j}@localhost"`);
      raw.close();
      // The session ends; what it never acknowledged has been dealt with once the server settles.
      for (let i = 0; i < 100 && t.server.sessions.hasResource(parseJid(`${j}@localhost`), "phone"); i++) await sleep(10);
      await t.server.settled();
      const isBounce = (el: Element) => el.attrs.type === "error" && el.attrs.id === body;
      const again = await online(t, j, "desk");
      if (queried) {
        // The archive has it; the client reads it there: no bounce to Romeo, no second delivery.
        await romeo.nothing(isBounce, 300);
        await again.nothing(bodyIs(body), 0);
      } else {
        // Without the archive, the message is not dropped: it bounces to Romeo, or (with an offline store) comes back to Juliet.
        const back = () => romeo.inbox.some(isBounce) || again.inbox.some(bodyIs(body));
        for (let i = 0; i < 150 && !back(); i++) await sleep(20);
        expect(back()).toBe(true);
      }
      await again.stop();
      expect((await mam(romeo, {}, { max: 1, before: "" })).bodies).toEqual([body]);
    }
    await romeo.stop();
  });

  it("a message the server routes again with its archive id (an unacknowledged one) keeps the id and is archived once", async () => {
    const [r, j] = (await accounts(t, "romeo", "juliet")) as [string, string];
    const romeo = await online(t, r, "orchard");
    const juliet = await online(t, j, "balcony");
    const [first] = await talk(romeo, juliet, "once");
    const id = stanzaIds(first!)[0]!.id!;
    // What the offline store does with a message a session never acknowledged: route it again.
    await t.server.router.reroute(parseStored(first!.toString())!);
    const again = await juliet.next(bodyIs("once"));
    expect(stanzaIds(again)).toEqual([{ by: `${j}@localhost`, id }]);
    expect((await mam(juliet)).bodies).toEqual(["once"]);
    // In a cluster the id may be another node's, its write not landed yet (in neither this
    // node's queue nor the store): the message keeps it all the same, so that the offline store
    // sorts it before the messages stored since.
    const pending = t.server.ids.next();
    await t.server.router.reroute(parseStored(first!.toString().replace(id, pending).replace(">once<", ">elsewhere<"))!);
    expect(stanzaIds(await juliet.next(bodyIs("elsewhere")))).toEqual([{ by: `${j}@localhost`, id: pending }]);
    expect((await mam(juliet)).bodies).toEqual(["once"]);
    // The same id on a message routed from anywhere else (another server, a component) is a forgery: replaced, and archived anew.
    await t.server.router.route(parseStored(first!.toString().replace(">once<", ">twice<"))!);
    const forged = await juliet.next(bodyIs("twice"));
    expect(stanzaIds(forged)).toHaveLength(1);
    expect(stanzaIds(forged)[0]!.id).not.toBe(id);
    expect((await mam(juliet)).bodies).toEqual(["once", "twice"]);
    await Promise.all([romeo.stop(), juliet.stop()]);
  });

  it("messages to oneself are archived once; messages to an account that does not exist, never", async () => {
    const [j] = (await accounts(t, "juliet")) as [string];
    const a = await online(t, j, "a");
    const b = await online(t, j, "b");
    a.send(chat(b.jid, "note to self"));
    await b.next(bodyIs("note to self"));
    a.send(chat("nobody@localhost", "lost"));
    expect(errorOf(await a.next((el) => el.attrs.type === "error"))).toBe("service-unavailable");
    // The sender's archive records what was sent, as sent (the bounce, an error, is not archived).
    expect((await mam(a)).bodies).toEqual(["note to self", "lost"]);
    await Promise.all([a.stop(), b.stop()]);
    const archive = t.server.storage.log("mam");
    expect((await archive.query("nobody@localhost", { limit: 10 })).entries).toEqual([]);
  });

  it("entries expire 30 days (the default retention) after they were archived", async () => {
    const [r, j] = (await accounts(t, "romeo", "juliet")) as [string, string];
    const romeo = await online(t, r, "orchard");
    const juliet = await online(t, j, "balcony");
    await talk(romeo, juliet, "expiring");
    await t.server.services.use(ARCHIVE, "test").flush();
    const [e] = (await t.server.storage.log("mam").query(`${j}@localhost`, { limit: 1 })).entries;
    expect(e!.expires - e!.at).toBe(30 * 86_400_000);
    await Promise.all([romeo.stop(), juliet.stop()]);
  });

  it("a deleted account's archive goes with it; an account made again under the name starts empty", async () => {
    const [r, j] = (await accounts(t, "romeo", "juliet")) as [string, string];
    const romeo = await online(t, r, "orchard");
    const juliet = await online(t, j, "balcony");
    await talk(romeo, juliet, "before deletion");
    expect((await mam(juliet)).count).toBe(1);
    const bye = await juliet.ask(xml("iq", { type: "set" }, xml("query", { xmlns: "jabber:iq:register" }, xml("remove"))));
    expect(bye.attrs.type).toBe("result");
    for (let i = 0; i < 100 && (await t.server.accounts.exists(j)); i++) await sleep(20);
    await t.server.settled();
    await sleep(50);
    await t.server.accounts.create(j, "pw");
    const reborn = await online(t, j, "balcony");
    expect((await mam(reborn)).count).toBe(0);
    // Romeo's archive is his: the conversation stays there.
    expect((await mam(romeo)).bodies).toEqual(["before deletion"]);
    await Promise.all([romeo.stop(), reborn.stop()]);
  });
});

describe("a quota per archive (modules.mam.quota)", () => {
  /**
   * A quota of 1,000 (the shipped one is 10,000: the same code at a tenth of the size, and under
   * sm.maxQueue, the unacknowledged stanzas a client may hold), and the entries an archive may be
   * over it by while a count of it is on its way.
   */
  const QUOTA = 1_000;
  const SLACK = 10;
  let tq: TestServer;
  beforeAll(async () => {
    tq = await startServer({ config: { modules: { mam: { quota: QUOTA } } }, users: { romeo: "pw", juliet: "pw" } });
  });
  afterAll(() => tq.stop());

  it("the oldest entries beyond it go, in both archives; the newest stay, and a client still pages through them", { timeout: 120_000 }, async () => {
    const romeo = await online(tq, "romeo", "orchard", { timeoutMs: 60_000 });
    const juliet = await online(tq, "juliet", "balcony", { timeoutMs: 60_000 });
    const n = QUOTA + 3 * SLACK;
    for (let i = 0; i < n; i++) romeo.send(chat("juliet@localhost", `q${i}`));
    await juliet.next(bodyIs(`q${n - 1}`), "the last message", 60_000);
    juliet.inbox.length = 0;
    await tq.server.services.use(ARCHIVE, "test").flush();
    let count = Infinity;
    for (let i = 0; i < 100 && count > QUOTA + SLACK; i++) {
      count = (await mam(juliet, {}, { max: 0 })).count!;
      if (count > QUOTA + SLACK) await sleep(50);
    }
    expect(count).toBeLessThanOrEqual(QUOTA + SLACK);
    expect(count).toBeGreaterThanOrEqual(QUOTA);
    const newest = await mam(juliet, {}, { max: 1, before: "" });
    expect(newest.bodies).toEqual([`q${n - 1}`]);
    const oldest = await mam(juliet, {}, { max: 1 });
    expect(Number(oldest.bodies[0]!.slice(1))).toBe(n - count);
    expect((await mam(romeo, {}, { max: 0 })).count).toBeLessThanOrEqual(QUOTA + SLACK);
    await Promise.all([romeo.stop(), juliet.stop()]);
  });
});

describe("retention 0: delivered messages are not kept", () => {
  let t0: TestServer;
  beforeAll(async () => {
    t0 = await startServer({ config: { modules: { mam: { retention: 0 } } }, users: { romeo: "pw", juliet: "pw" } });
  });
  afterAll(() => t0.stop());

  it("archives nothing, stamps no stanza-id, and still removes forged ones", async () => {
    const romeo = await online(t0, "romeo", "orchard");
    const juliet = await online(t0, "juliet", "balcony");
    romeo.send(chat("juliet@localhost", "ephemeral", xml("stanza-id", { xmlns: SID, by: "juliet@localhost", id: "fake" })));
    const m = await juliet.next(bodyIs("ephemeral"));
    expect(stanzaIds(m)).toEqual([]);
    await talk(juliet, romeo, "reply");
    expect(await mam(juliet)).toMatchObject({ bodies: [], count: 0, complete: true });
    expect(await mam(romeo)).toMatchObject({ bodies: [], count: 0, complete: true });
    expect(t0.server.services.use(ARCHIVE, "test").stats().queued).toBe(0);
    await Promise.all([romeo.stop(), juliet.stop()]);
  });
});

describe("a slow store delays the archive, never the messages", () => {
  /** The embedded store, except that the archive's appends wait until the test opens the gate. */
  function gatedStorage(dir: string, gate: { wait: Promise<void>; appends: number }): StorageProvider {
    const inner = new SqliteStorage(join(dir, "xmppd.sqlite"));
    const log = (name: string): LogStore => {
      const real = inner.log(name);
      if (name !== "mam") return real;
      const gated = async (write: () => Promise<void>) => {
        gate.appends++;
        await gate.wait;
        return write();
      };
      // The queue writes the store's packed batches (appendBatch) where it has them.
      return { ...real, append: (entries) => gated(() => real.append(entries)), appendBatch: (batch) => gated(() => real.appendBatch!(batch)) };
    };
    return {
      keyval: (name) => inner.keyval(name),
      map: (name) => inner.map(name),
      log,
      owners: (name) => inner.owners(name),
      purgeOwner: (owner) => inner.purgeOwner(owner),
      close: () => inner.close(),
    };
  }

  it("a stream-managed sender's ack (XEP-0198 h) waits for the archive write; delivery does not", async () => {
    let open: () => void = () => {};
    const gate = { wait: new Promise<void>((r) => (open = r)), appends: 0 };
    const ts = await startServer({ users: { romeo: "pw", juliet: "pw" }, storage: (dir) => gatedStorage(dir, gate) });
    const juliet = await online(ts, "juliet", "balcony");
    const { c: romeo } = await SmClient.login(ts.port, "romeo", "sm", { resume: false });
    const SM = "urn:xmpp:sm:3";
    romeo.send(chat("juliet@localhost", "durable"));
    romeo.send(`<r xmlns='${SM}'/>`);
    await juliet.next(bodyIs("durable"), "the message, before its archive write", 2000);
    await new Promise((r) => setTimeout(r, 200));
    expect(romeo.inbox.filter((e) => e.name === "a")).toEqual([]); // not acked while the write waits
    open();
    const a = await romeo.next((e) => e.name === "a" && e.attrs.xmlns === SM, "the ack once the archive has it", 3000);
    expect(a.attrs.h).toBe("1");
    expect((await mam(juliet)).bodies).toEqual(["durable"]);
    romeo.cut();
    await juliet.stop();
    await ts.stop();
  });

  it("Juliet gets each message while its archive write waits; senders wait only once the queue's bound is reached; stop writes what is queued", async () => {
    let open: () => void = () => {};
    const gate = { wait: new Promise<void>((r) => (open = r)), appends: 0 };
    const ts = await startServer({
      config: { modules: { mam: { queueSize: 10, batchSize: 4 } } },
      users: { romeo: "pw", juliet: "pw" },
      storage: (dir) => gatedStorage(dir, gate),
    });
    const stats = () => ts.server.services.use(ARCHIVE, "test").stats();
    const romeo = await online(ts, "romeo", "orchard");
    const juliet = await online(ts, "juliet", "balcony");

    // Each message is two writes (Romeo's archive, Juliet's): five fill the queue of ten.
    for (let i = 0; i < 5; i++) {
      romeo.send(chat("juliet@localhost", `slow${i}`));
      await juliet.next(bodyIs(`slow${i}`), `slow${i}`, 2000);
    }
    expect(gate.appends).toBeGreaterThan(0); // a write is under way, and not finished
    expect(stats()).toMatchObject({ written: 0, depth: 10, waits: 0 });

    // The sixth finds the queue full: Romeo's stream waits (back-pressure), the message with it.
    romeo.send(chat("juliet@localhost", "slow5"));
    await juliet.nothing(bodyIs("slow5"), 300);
    expect(stats().waits).toBe(1);
    // Juliet's own traffic is not held up by Romeo's wait: her stream answers at once.
    const pong = await juliet.ask(xml("iq", { type: "get", to: "localhost" }, xml("ping", { xmlns: "urn:xmpp:ping" })), 1000);
    expect(pong.attrs.type).toBe("result");

    open();
    await juliet.next(bodyIs("slow5"), "slow5 once the store moved", 5000);
    await ts.server.services.use(ARCHIVE, "test").flush();
    // The entry of the push that waited was queued beyond the bound, by one.
    expect(stats()).toMatchObject({ written: 12, depth: 0, waits: 1, maxDepth: 11 });
    expect(stats().batches).toBeGreaterThanOrEqual(3);
    expect((await mam(juliet)).bodies).toEqual(["slow0", "slow1", "slow2", "slow3", "slow4", "slow5"]);

    // Shut down with writes queued behind a slow store: the server waits for them before closing storage.
    let reopen: () => void = () => {};
    gate.wait = new Promise<void>((r) => (reopen = r));
    romeo.send(chat("juliet@localhost", "last words"));
    await juliet.next(bodyIs("last words"));
    expect(stats().written).toBe(12);
    const stopping = ts.stop(false);
    setTimeout(reopen, 200);
    await stopping;
    await Promise.all([romeo.stop().catch(() => {}), juliet.stop().catch(() => {})]);

    const again = await startServer({ dataDir: ts.dataDir });
    const j2 = await online(again, "juliet", "balcony");
    expect((await mam(j2, {}, { max: 1, before: "" })).bodies).toEqual(["last words"]);
    await j2.stop();
    await again.stop();
  });
});
