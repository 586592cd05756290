// The disk fills up under a running server, for real: its data folder is a small tmpfs that the
// test mounts (it needs root; it is skipped otherwise), fills with a file, then frees. Alice
// (XEP-0198) sends messages to Bob, who is offline. While nothing can be written, each message
// the offline store refuses gets resource-constraint (type wait) and no acknowledgement: h stops
// before it. Once the space is back, the server stores what it held, acknowledges all of it, and
// takes new messages; Bob then gets every message Alice had acknowledged, once. With Bob online,
// messages reach him at once while their archive copies wait for space, and Alice's ack waits
// with them. What Carol's session had not acknowledged when it ended is kept until the offline
// store takes it. The database passes SQLite's integrity check at the end.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmdirSync, rmSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { xml, type Element } from "../../src/xml/element.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { errorOf } from "../helpers/im.ts";
import { SmClient } from "../helpers/sm.ts";

const SM = "urn:xmpp:sm:3";
const MAM = "urn:xmpp:mam:2";
const RSM = "http://jabber.org/protocol/rsm";
const root = process.getuid?.() === 0;

/** Fills the filesystem of `dir` with one file, to the last byte it takes; returns the file. */
function fill(dir: string): string {
  const path = join(dir, "filler");
  const fd = openSync(path, "w");
  try {
    for (const size of [1 << 20, 1 << 16, 1 << 12, 512, 1]) {
      const chunk = Buffer.alloc(size, 0x55);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOSPC") throw e;
      }
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

const message = (i: number | string) => xml("message", { to: "bob@localhost", type: "chat", id: `m-${i}` },
  xml("body", null, `full ${i} ${"x".repeat(2000)}`));
const isAck = (e: Element) => e.name === "a" && e.attrs.xmlns === SM;

/** The h of the next <a/> after an <r/>. */
async function ackNow(c: SmClient): Promise<number> {
  c.send(`<r xmlns='${SM}'/>`);
  return Number((await c.next(isAck, "an ack", 10_000)).attrs.h);
}

describe.runIf(root)("a full disk", () => {
  let dir = "";
  let t: TestServer | undefined;
  beforeAll(() => {
    dir = mkdtempSync("/tmp/xmppd-disk-full-");
    const m = spawnSync("mount", ["-t", "tmpfs", "-o", "size=32m,mode=0700", "tmpfs", dir], { encoding: "utf8" });
    if (m.status !== 0) throw new Error(`mount: ${m.stderr}`);
  });
  afterAll(async () => {
    // Bounded, so that the filesystem is unmounted whatever state the server is in.
    if (t) await Promise.race([t.stop(false).catch(() => {}), new Promise((r) => setTimeout(r, 15_000))]);
    if (spawnSync("umount", [dir]).status !== 0) spawnSync("umount", ["-l", dir]);
    rmdirSync(dir);
  }, 30_000);

  it("refuses what it cannot store with resource-constraint and no ack, then stores it all once space is back", { timeout: 120_000 }, async () => {
    t = await startServer({ dataDir: dir, users: { alice: "pw", bob: "pw", carol: "pw" } });
    const { c: alice } = await SmClient.login(t.port, "alice", "phone");
    alice.send(message("before"));
    expect(await ackNow(alice)).toBe(1);

    const filler = fill(dir);
    const n = 40;
    for (let i = 0; i < n; i++) alice.send(message(i));
    const refused = await alice.next((e) => e.name === "message" && e.attrs.type === "error", "an error", 15_000);
    expect(errorOf(refused)).toBe("resource-constraint");
    expect(refused.getChild("error")!.attrs.type).toBe("wait");
    // The answer to an <r/> waits for what came before it to be stored: none while the disk is
    // full, or one that stops before the first refused message.
    alice.send(`<r xmlns='${SM}'/>`);
    await new Promise((r) => setTimeout(r, 3000));
    const errors = [refused, ...alice.inbox.filter((e) => e.name === "message" && e.attrs.type === "error")];
    const firstRefused = Math.min(...errors.map((e) => Number(e.attrs.id!.slice(2))));
    for (const a of alice.inbox.filter(isAck)) expect(Number(a.attrs.h)).toBeLessThanOrEqual(1 + firstRefused);
    alice.inbox.splice(0, alice.inbox.length, ...alice.inbox.filter((e) => !isAck(e)));

    unlinkSync(filler);
    let h = 0;
    while (h < 1 + n) h = Number((await alice.next(isAck, "the ack once space is back", 30_000)).attrs.h);
    expect(h).toBe(1 + n);
    alice.send(message("after"));
    expect(await ackNow(alice)).toBe(2 + n);

    const { c: bob } = await SmClient.login(t.port, "bob", "desk");
    bob.send("<presence/>");
    const last = await bob.next((e) => e.getChildText("body")?.startsWith("full after") === true, "the last message", 15_000);
    await new Promise((r) => setTimeout(r, 300));
    const ids = [...bob.inbox.filter((e) => e.name === "message" && e.attrs.type === "chat").map((e) => e.attrs.id), last.attrs.id];
    expect(ids).toEqual(["m-before", ...Array.from({ length: n }, (_, i) => `m-${i}`), "m-after"]);
  });

  it("delivers to a recipient online at once, holding the sender's ack until the archive has the messages", { timeout: 120_000 }, async () => {
    const { c: alice } = await SmClient.login(t!.port, "alice", "tablet");
    const { c: bob } = await SmClient.login(t!.port, "bob", "phone");
    bob.send("<presence/>");
    await bob.next((e) => e.name === "presence" && e.attrs.from === "bob@localhost/phone", "his own presence");
    const filler = fill(dir);
    const n = 20;
    for (let i = 0; i < n; i++) alice.send(message(`online ${i}`));
    for (let i = 0; i < n; i++) await bob.next((e) => e.attrs.id === `m-online ${i}`, `message ${i}`, 10_000);
    // A room made persistent meanwhile: its record cannot be written either, and the server goes on.
    alice.send(xml("presence", { to: "full@conference.localhost/alice" }, xml("x", { xmlns: "http://jabber.org/protocol/muc" })));
    await alice.next((e) => e.name === "presence" && e.attrs.from === "full@conference.localhost/alice", "her self-presence", 10_000);
    alice.send(xml("iq", { type: "set", to: "full@conference.localhost", id: "persist" }, xml("query", { xmlns: "http://jabber.org/protocol/muc#owner" },
      xml("x", { xmlns: "jabber:x:data", type: "submit" }, xml("field", { var: "muc#roomconfig_persistentroom" }, xml("value", null, "1"))))));
    await alice.next((e) => e.name === "iq" && e.attrs.id === "persist", "the room's configuration", 10_000);
    alice.send(`<r xmlns='${SM}'/>`);
    await new Promise((r) => setTimeout(r, 3000));
    expect(alice.inbox.filter(isAck).map(String)).toEqual([]);
    expect(alice.inbox.filter((e) => e.attrs.type === "error").map(String)).toEqual([]);

    unlinkSync(filler);
    expect(Number((await alice.next(isAck, "the ack once space is back", 30_000)).attrs.h)).toBe(n + 2);
    // Bob's archive has each message once: the 42 of before and these.
    bob.send(xml("iq", { type: "set", id: "count" }, xml("query", { xmlns: MAM },
      xml("x", { xmlns: "jabber:x:data", type: "submit" },
        xml("field", { var: "FORM_TYPE", type: "hidden" }, xml("value", null, MAM)),
        xml("field", { var: "with" }, xml("value", null, "alice@localhost"))),
      xml("set", { xmlns: RSM }, xml("max", null, "0")))));
    const fin = await bob.next((e) => e.name === "iq" && e.attrs.id === "count", "the archive's count", 10_000);
    expect(fin.getChild("fin", MAM)?.getChild("set", RSM)?.getChildText("count")).toBe(String(42 + n));

  });

  it("keeps what a session that ends had not acknowledged, and stores it offline once space is back", { timeout: 120_000 }, async () => {
    const { c: alice } = await SmClient.login(t!.port, "alice", "watch");
    const { c: carol } = await SmClient.login(t!.port, "carol", "laptop", { resume: false });
    carol.send("<presence/>");
    await carol.next((e) => e.name === "presence" && e.attrs.from === "carol@localhost/laptop", "her own presence");
    const filler = fill(dir);
    const n = 5;
    for (let i = 0; i < n; i++) alice.send(xml("message", { to: "carol@localhost/laptop", type: "chat", id: `c-${i}` }, xml("body", null, `to carol ${i}`)));
    for (let i = 0; i < n; i++) await carol.next((e) => e.attrs.id === `c-${i}`, `message ${i}`, 10_000);
    // She never acknowledges them, and leaves: they go the undelivered way, to the offline store, which is full.
    carol.send("</stream:stream>");
    await new Promise((r) => setTimeout(r, 1500));
    expect(alice.inbox.filter((e) => e.attrs.type === "error").map(String)).toEqual([]);

    unlinkSync(filler);
    await new Promise((r) => setTimeout(r, 6000));
    const { c: back } = await SmClient.login(t!.port, "carol", "laptop");
    back.send("<presence/>");
    const last = await back.next((e) => e.attrs.id === `c-${n - 1}`, "the last of them", 15_000);
    const ids = [...back.inbox.filter((e) => e.name === "message" && e.attrs.type === "chat").map((e) => e.attrs.id), last.attrs.id];
    expect(ids).toEqual(Array.from({ length: n }, (_, i) => `c-${i}`));
  });

  it("leaves a database that passes SQLite's integrity check", { timeout: 60_000 }, async () => {
    rmSync(join(dir, "filler"), { force: true });
    await t!.stop(false);
    t = undefined;
    const db = new DatabaseSync(join(dir, "xmppd.sqlite"));
    try {
      expect(db.prepare("PRAGMA integrity_check").all()).toEqual([{ integrity_check: "ok" }]);
    } finally {
      db.close();
    }
  });
});
