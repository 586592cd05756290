// The server process killed with SIGKILL right after it acknowledged messages (XEP-0198 <a/>):
// after a restart on the same data folder, every acknowledged message is delivered — from the
// offline store to a recipient who was offline, from the archive to one whose session died with
// the process — in order per sender. Duplicates seen by a client that de-duplicates by id are
// counted and reported.
import { spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { SmClient, chat } from "../helpers/sm.ts";
import { RawClient } from "../helpers/raw.ts";
import { ROOT as root, embeddedEnv, freePort, startProcess as start } from "../helpers/process.ts";
import { kill9 } from "../helpers/chaos.ts";

// test/chaos/sigkill.test.ts kills the process again and again in the middle of a stream.
const dir = mkdtempSync(join(tmpdir(), "xmppd-crash-"));
const SM = "urn:xmpp:sm:3";
let port = 0;
let child: ChildProcess | undefined;

const env = () => embeddedEnv(dir, port);

const startProcess = () => start(dir, env());

/** Sends the messages, then <r/>, and resolves when the server's <a/> counts all of them. */
async function sendAcked(c: SmClient, messages: Element[]): Promise<void> {
  for (const m of messages) c.send(m);
  c.send(`<r xmlns='${SM}'/>`);
  const want = String(messages.length);
  for (;;) {
    const a = await c.next((e) => e.name === "a" && e.attrs.xmlns === SM, "an ack", 10_000);
    if (a.attrs.h === want) return;
    c.send(`<r xmlns='${SM}'/>`);
  }
}

/** Bodies in arrival order, and how many arrived twice (by message id). */
function tally(stanzas: Element[], prefix: string): { bodies: string[]; duplicates: number } {
  const seen = new Set<string>();
  let duplicates = 0;
  const bodies: string[] = [];
  for (const s of stanzas) {
    const body = s.getChildText("body");
    if (!body?.startsWith(prefix)) continue;
    if (seen.has(body)) duplicates++;
    else bodies.push(body);
    seen.add(body);
  }
  return { bodies, duplicates };
}

beforeAll(async () => {
  port = await freePort();
  for (const u of ["alice", "bob", "carol", "dave"]) {
    const r = spawnSync(process.execPath, [join(root, "src/main.ts"), "adduser", `${u}@localhost`, "pw"], { cwd: dir, env: env(), encoding: "utf8" });
    if (r.status !== 0) throw new Error(r.stderr);
  }
});
afterAll(async () => {
  await kill9(child);
  rmSync(dir, { recursive: true, force: true });
});

describe("SIGKILL right after the ack", () => {
  it("loses nothing acked: offline recipient, two concurrent senders, restart, all delivered in order", { timeout: 60_000 }, async () => {
    child = await startProcess();
    const bob = (await SmClient.login(port, "bob", "b", { resume: false })).c;
    const carol = (await SmClient.login(port, "carol", "c", { resume: false })).c;
    const n = 25;
    await Promise.all([
      sendAcked(bob, Array.from({ length: n }, (_, i) => chat("alice@localhost", `bob ${i}`))),
      sendAcked(carol, Array.from({ length: n }, (_, i) => chat("alice@localhost", `carol ${i}`))),
    ]);
    await kill9(child);
    child = await startProcess();

    const alice = (await SmClient.login(port, "alice", "phone", { resume: false })).c;
    alice.send("<presence/>");
    await alice.next((e) => e.getChildText("body") === `bob ${n - 1}`, "bob's last", 10_000);
    await alice.next((e) => e.getChildText("body") === `carol ${n - 1}`, "carol's last", 10_000);
    await new Promise((r) => setTimeout(r, 300));
    const all = [...alice.inbox];
    const fromBob = tally(all, "bob ");
    const fromCarol = tally(all, "carol ");
    // Two in the tail of the list were taken out by next(); put them back where they were.
    expect([...fromBob.bodies, `bob ${n - 1}`]).toEqual(Array.from({ length: n }, (_, i) => `bob ${i}`));
    expect([...fromCarol.bodies, `carol ${n - 1}`]).toEqual(Array.from({ length: n }, (_, i) => `carol ${i}`));
    console.info(`crash, offline recipient: ${2 * n} acked, ${2 * n} delivered after restart, duplicates ${fromBob.duplicates + fromCarol.duplicates}`);
    expect(fromBob.duplicates + fromCarol.duplicates).toBe(0);
    for (const c of [alice, bob, carol]) c.cut();
  });

  it("an online recipient whose session dies with the process finds every acked message in the archive", { timeout: 60_000 }, async () => {
    const dave = (await SmClient.login(port, "dave", "phone")).c;
    dave.send("<presence/>");
    const bob = (await SmClient.login(port, "bob", "b2", { resume: false })).c;
    const n = 20;
    await sendAcked(bob, Array.from({ length: n }, (_, i) => chat("dave@localhost", `live ${i}`)));
    await kill9(child!);
    child = await startProcess();

    const next = (await SmClient.login(port, "dave", "phone2", { resume: false })).c;
    next.send(xml("iq", { type: "set", id: "mam1" }, xml("query", { xmlns: "urn:xmpp:mam:2", queryid: "q1" },
      xml("set", { xmlns: "http://jabber.org/protocol/rsm" }, xml("max", null, "100")))).toString());
    await next.next((e) => e.name === "iq" && e.attrs.id === "mam1", "the archive's answer", 10_000);
    const archived = next.inbox
      .filter((e) => e.getChild("result", "urn:xmpp:mam:2"))
      .map((e) => e.getChild("result", "urn:xmpp:mam:2")!.getChild("forwarded")!.getChild("message")!);
    const seenLive = tally(dave.inbox, "live ").bodies;
    const fromArchive = tally(archived, "live ");
    expect(fromArchive.bodies).toEqual(Array.from({ length: n }, (_, i) => `live ${i}`));
    console.info(`crash, online recipient: ${n} acked, ${seenLive.length} seen before the crash, ${fromArchive.bodies.length} in the archive after it`);
    for (const c of [dave, next, bob]) c.cut();
  });

  it("a sender without stream management: the answer to its ping after a burst means the burst is stored", { timeout: 60_000 }, async () => {
    child ??= await startProcess();
    // Writes to the offline store are left running for the group commit, not awaited one by one:
    // the ping's answer waits for them.
    const sender = await RawClient.login(port, "carol", "pw", "burst");
    const n = 200;
    for (let i = 0; i < n; i++) sender.send(chat("bob@localhost", `burst ${i}`).toString());
    sender.send("<iq type='get' id='barrier' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    await sender.expect(/<iq[^>]*id=["']barrier["']/, 10_000);
    await kill9(child!);
    child = await startProcess();

    const bob = (await SmClient.login(port, "bob", "later", { resume: false })).c;
    bob.send("<presence/>");
    await bob.next((e) => e.getChildText("body") === `burst ${n - 1}`, "the last of the burst", 10_000);
    const got = tally(bob.inbox, "burst ");
    expect([...got.bodies, `burst ${n - 1}`]).toEqual(Array.from({ length: n }, (_, i) => `burst ${i}`));
    expect(got.duplicates).toBe(0);
    sender.socket.destroy();
    bob.cut();
  });
});
