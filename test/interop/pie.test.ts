// Migrating from Prosody and ejabberd (XEP-0227) with real exports. Prosody 0.12 and ejabberd 23.01
// from Debian run on loopback with scratch configs (pie-sources.ts); a real client (slixmpp) fills
// accounts there: Romeo adds Juliet (name, two groups) and they subscribe to each other until the
// subscription is "both"; Juliet sets a vCard and leaves Tybalt's subscription request unanswered;
// Romeo stores bookmarks in private XML and, on Prosody, publishes an avatar and OMEMO keys to PEP;
// Juliet goes away and Romeo sends her two messages. Each server's own exporter writes the export
// (prosody-migrator to its xep0227 store, ejabberdctl export_piefxis), `xmppd import` reads it
// into a new data folder, a server starts on it, and slixmpp logs in to it with the passwords the
// users had, and finds it all.
//
// Where the exports differ: Prosody's has SCRAM-SHA-1 keys (kept: the logins below use
// SCRAM-SHA-1 and PLAIN against them), PEP and the message archive, but no offline messages (its
// xep0227 driver has no handler for the offline store; what Juliet missed is in her archive);
// ejabberd's has the passwords in plain (turned into SCRAM keys, so slixmpp's default
// SCRAM-SHA-256 works) and the offline messages, but neither PEP nor the archive.
//
// Needs root, Prosody, ejabberd (scripts/bench-deps.sh, run by scripts/debian-deps.sh) and
// python3-slixmpp; skipped without them, except in CI, where their absence is a failure.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeCert } from "../bench/lib/cert.ts";
import { ROOT } from "../helpers/process.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { Agent, login, missingPython, type Command } from "./agent.ts";
import { DOMAIN, missingSources, startEjabberd, startProsody, type SourceServer } from "./pie-sources.ts";

const missing = missingSources() ?? missingPython();
if (missing && process.env.CI) throw new Error(`migration sources unavailable in CI: ${missing}`);

const USERS = { romeo: "Montague-2a", juliet: "Capulet-3b", tybalt: "Prince-of-Cats" };
const AVATAR = Buffer.from("\x89PNG not really").toString("base64");
const scratch = mkdtempSync(join(tmpdir(), "xmppd-pie-interop-"));
// The servers run as their own users and must reach their folders inside it.
chmodSync(scratch, 0o755);
const agents: Agent[] = [];
const servers: { stop(): Promise<void> }[] = [];
let prosody: Promise<SourceServer>;
let ejabberd: Promise<SourceServer>;

beforeAll(() => {
  if (missing) return;
  const tls = makeCert(scratch, DOMAIN);
  // Both start at once (ejabberd takes a while); each test waits for its own.
  prosody = startProsody(join(scratch, "prosody"), tls, USERS);
  ejabberd = startEjabberd(join(scratch, "ejabberd"), tls, USERS);
  prosody.then((s) => servers.push(s), () => {});
  ejabberd.then((s) => servers.push(s), () => {});
});

afterAll(async () => {
  for (const a of agents) a.kill();
  await Promise.allSettled([prosody, ejabberd]);
  for (const s of servers) await s.stop();
  rmSync(scratch, { recursive: true, force: true });
});

/** A slixmpp client logged in with the user's password; `mechanism` is the SASL mechanism it used. */
async function client(port: number, user: keyof typeof USERS, resource: string, flags: string[] = []): Promise<Agent & { mechanism?: unknown }> {
  const { agent, session } = await login("slixmpp", { port, jid: `${user}@${DOMAIN}/${resource}`, password: USERS[user], flags });
  agents.push(agent);
  return Object.assign(agent, { mechanism: session.mechanism });
}

/** Sends and waits for the event that says it was done. */
async function run(a: Agent, command: Command, done: string, fields: Record<string, unknown> = {}) {
  a.send(command);
  return a.next(done, fields, 15_000);
}

/** What the users do on the old server (see the header). */
async function fill(source: SourceServer, pep: boolean): Promise<void> {
  const romeo = await client(source.port, "romeo", "balcony");
  const juliet = await client(source.port, "juliet", "chamber");
  // Each asks for its roster first: RFC 6121 §2.1.6 pushes go to interested resources only.
  for (const a of [romeo, juliet]) {
    await run(a, { cmd: "roster", ver: "" }, "roster");
    a.send({ cmd: "presence" });
  }
  await run(romeo, { cmd: "roster_set", jid: `juliet@${DOMAIN}`, name: "Juliet", groups: ["Capulets", "Friends"] }, "roster_set");
  romeo.send({ cmd: "subscribe", to: `juliet@${DOMAIN}` });
  await juliet.next("presence", { type: "subscribe" });
  juliet.send({ cmd: "approve", to: `romeo@${DOMAIN}` });
  juliet.send({ cmd: "subscribe", to: `romeo@${DOMAIN}` });
  await romeo.next("presence", { type: "subscribe" });
  romeo.send({ cmd: "approve", to: `juliet@${DOMAIN}` });
  const both = (items: unknown) => (items as { jid: string; subscription: string }[]).some((i) => i.subscription === "both");
  await romeo.next("roster_push", { items: both });
  await juliet.next("roster_push", { items: both });
  await run(juliet, { cmd: "vcard_set", fn: "Juliet Capulet", nickname: "Jules" }, "vcard_set");
  // Tybalt asks to see Juliet's presence; she never answers (a pending request, XEP-0227 §4.9).
  const tybalt = await client(source.port, "tybalt", "street");
  tybalt.send({ cmd: "subscribe", to: `juliet@${DOMAIN}` });
  await juliet.next("presence", { type: "subscribe", from: `tybalt@${DOMAIN}` });
  expect(await tybalt.quit()).toBe(0);
  await run(romeo, { cmd: "bookmarks_set", room: `orchard@conference.${DOMAIN}`, name: "The Orchard", nick: "Romeo" }, "bookmarks_set");
  if (pep) {
    await run(romeo, { cmd: "avatar_publish", data: AVATAR }, "published", { what: "avatar" });
    romeo.send({ cmd: "omemo_publish", device: 4242 });
    await romeo.next("published", { what: "devicelist" });
    await romeo.next("published", { what: "bundle" });
  }
  expect(await juliet.quit()).toBe(0);
  romeo.send({ cmd: "message", to: `juliet@${DOMAIN}`, body: "Shall I hear more, or shall I speak at this?", id: "m1" });
  romeo.send({ cmd: "message", to: `juliet@${DOMAIN}`, body: "Call me but love.", id: "m2" });
  // The old server has stored both once it answers something sent after them.
  await run(romeo, { cmd: "roster", ver: "" }, "roster");
  expect(await romeo.quit()).toBe(0);
}

/** `xmppd import` in a process of its own, on a new data folder; returns it and what the command said. */
function importInto(name: string, files: string[]): { dataDir: string; said: string } {
  const dataDir = join(scratch, name);
  const env = { ...process.env, XMPPD_DOMAIN: DOMAIN, XMPPD_DATA_DIR: dataDir, XMPPD_LOG__LEVEL: "warn" };
  const r = spawnSync(process.execPath, [join(ROOT, "src/main.ts"), "import", ...files], { cwd: scratch, env, encoding: "utf8", timeout: 60_000 });
  expect(r.status, r.stdout + r.stderr).toBe(0);
  return { dataDir, said: r.stdout };
}

type Item = { jid: string; subscription: string; name: string | null; groups: string[] };
async function rosterOf(a: Agent): Promise<Item[]> {
  return (await run(a, { cmd: "roster", ver: "" }, "roster")).items as Item[];
}

describe.skipIf(missing)("from Prosody 0.12 (prosody-migrator, xep0227 store)", () => {
  let ours: TestServer;
  afterAll(() => ours?.stop());

  it("keeps the passwords (SCRAM-SHA-1 keys), the roster with subscriptions, groups and a pending request, vCard, private XML, PEP and the archive", { timeout: 120_000 }, async () => {
    const source = await prosody;
    await fill(source, true);
    const files = await source.export(join(scratch, "prosody-export"));
    expect(files.map((f) => f.split("/").pop())).toEqual([`juliet@${DOMAIN}.xml`, `romeo@${DOMAIN}.xml`, `tybalt@${DOMAIN}.xml`]);
    const { dataDir, said } = importInto("from-prosody", files);
    expect(said).toMatch(/^imported 3 accounts: juliet@localhost, romeo@localhost, tybalt@localhost$/m);
    expect(said).toMatch(/3 accounts came with SCRAM-SHA-1 keys only/);
    ours = await startServer({ dataDir });

    // SCRAM-SHA-1 against the keys Prosody had: the password itself never reached this server.
    const juliet = await client(ours.port, "juliet", "phone", ["--no-channel-binding", "--mechanism", "SCRAM-SHA-1"]);
    expect(juliet.mechanism).toBe("SCRAM-SHA-1");
    expect(await rosterOf(juliet)).toEqual([{ jid: `romeo@${DOMAIN}`, subscription: "both", ask: null, name: null, groups: [] }]);
    expect(await run(juliet, { cmd: "vcard_get" }, "vcard")).toMatchObject({ fn: "Juliet Capulet", nickname: "Jules" });
    // Tybalt's request, still unanswered, comes again when she is online.
    juliet.send({ cmd: "presence" });
    await juliet.next("presence", { type: "subscribe", from: `tybalt@${DOMAIN}` });
    // What she missed while away: Prosody's export carries it in her archive.
    const mam = await run(juliet, { cmd: "mam", with: `romeo@${DOMAIN}` }, "mam");
    expect((mam.messages as { body: string; from: string }[]).map((m) => [m.from, m.body])).toEqual([
      [`romeo@${DOMAIN}/balcony`, "Shall I hear more, or shall I speak at this?"], [`romeo@${DOMAIN}/balcony`, "Call me but love."],
    ]);
    expect(await juliet.quit()).toBe(0);

    // PLAIN is checked against the same kept keys.
    const romeo = await client(ours.port, "romeo", "laptop", ["--mechanism", "PLAIN"]);
    expect(romeo.mechanism).toBe("PLAIN");
    expect(await rosterOf(romeo)).toEqual([{ jid: `juliet@${DOMAIN}`, subscription: "both", ask: null, name: "Juliet", groups: expect.arrayContaining(["Capulets", "Friends"]) }]);
    expect((await run(romeo, { cmd: "bookmarks_get" }, "bookmarks")).conferences).toEqual([{ jid: `orchard@conference.${DOMAIN}`, name: "The Orchard", nick: "Romeo" }]);
    // Stored in private XML there, they are where XEP-0402 clients (Conversations, Dino) look too.
    const native = await run(romeo, { cmd: "pep_items", jid: `romeo@${DOMAIN}`, node: "urn:xmpp:bookmarks:1" }, "pep_items");
    expect((native.items as { id: string }[]).map((i) => i.id)).toEqual([`orchard@conference.${DOMAIN}`]);
    const devices = await run(romeo, { cmd: "pep_items", jid: `romeo@${DOMAIN}`, node: "eu.siacs.conversations.axolotl.devicelist" }, "pep_items");
    expect((devices.items as { payload: string }[])[0]!.payload).toContain("<ns0:device id=\"4242\"");
    const avatar = await run(romeo, { cmd: "pep_items", jid: `romeo@${DOMAIN}`, node: "urn:xmpp:avatar:data" }, "pep_items");
    expect((avatar.items as { payload: string }[])[0]!.payload).toContain(AVATAR);
    expect(await romeo.quit()).toBe(0);

    // Juliet reads Romeo's OMEMO keys: the node kept the open access model it was published with.
    // This login binds SCRAM-SHA-1 to the TLS channel (tls-unique, TLS 1.2) with the same kept keys.
    const reader = await client(ours.port, "juliet", "tablet", ["--tls12", "--mechanism", "SCRAM-SHA-1-PLUS"]);
    expect(reader.mechanism).toBe("SCRAM-SHA-1-PLUS");
    const bundle = await run(reader, { cmd: "omemo_fetch", jid: `romeo@${DOMAIN}` }, "bundle");
    expect(bundle).toMatchObject({ devices: [4242], ik: 33, spk: 33, prekeys: 100 });
    expect(await reader.quit()).toBe(0);
  });
});

describe.skipIf(missing)("from ejabberd 23.01 (ejabberdctl export_piefxis)", () => {
  let ours: TestServer;
  afterAll(() => ours?.stop());

  it("turns the passwords into SCRAM keys and brings the roster with subscriptions, groups and a pending request, vCard, private XML and the offline messages", { timeout: 120_000 }, async () => {
    const source = await ejabberd;
    await fill(source, false);
    const files = await source.export(join(scratch, "ejabberd-export"));
    expect(files).toHaveLength(1);
    const { dataDir, said } = importInto("from-ejabberd", files);
    expect(said).toMatch(/^imported 3 accounts: romeo@localhost, juliet@localhost, tybalt@localhost$/m);
    expect(said).toMatch(/2 offline messages/);
    ours = await startServer({ dataDir });

    // slixmpp as it comes: SCRAM-SHA-256, with keys made from the password ejabberd exported.
    const juliet = await client(ours.port, "juliet", "phone");
    expect(juliet.mechanism).toBe("SCRAM-SHA-256");
    juliet.send({ cmd: "presence" });
    const first = await juliet.next("message", { body: "Shall I hear more, or shall I speak at this?" });
    const second = await juliet.next("message", { body: "Call me but love." });
    expect([first, second].map((m) => [m.from, m.delayed])).toEqual([[`romeo@${DOMAIN}/balcony`, true], [`romeo@${DOMAIN}/balcony`, true]]);
    await juliet.next("presence", { type: "subscribe", from: `tybalt@${DOMAIN}` });
    expect(juliet.events.filter((e) => e.event === "message").indexOf(first)).toBeLessThan(juliet.events.filter((e) => e.event === "message").indexOf(second));
    expect(await rosterOf(juliet)).toEqual([{ jid: `romeo@${DOMAIN}`, subscription: "both", ask: null, name: null, groups: [] }]);
    expect(await run(juliet, { cmd: "vcard_get" }, "vcard")).toMatchObject({ fn: "Juliet Capulet", nickname: "Jules" });
    expect(await juliet.quit()).toBe(0);

    const romeo = await client(ours.port, "romeo", "laptop");
    expect(await rosterOf(romeo)).toEqual([{ jid: `juliet@${DOMAIN}`, subscription: "both", ask: null, name: "Juliet", groups: expect.arrayContaining(["Capulets", "Friends"]) }]);
    expect((await run(romeo, { cmd: "bookmarks_get" }, "bookmarks")).conferences).toEqual([{ jid: `orchard@conference.${DOMAIN}`, name: "The Orchard", nick: "Romeo" }]);
    // Stored in private XML there, they are where XEP-0402 clients (Conversations, Dino) look too.
    const native = await run(romeo, { cmd: "pep_items", jid: `romeo@${DOMAIN}`, node: "urn:xmpp:bookmarks:1" }, "pep_items");
    expect((native.items as { id: string }[]).map((i) => i.id)).toEqual([`orchard@conference.${DOMAIN}`]);
    expect(await romeo.quit()).toBe(0);
  });
});
