// XEP-0227 import and export on a store in memory. The fixtures are real exports: Prosody 0.12's
// prosody-migrator (xep0227 driver) and ejabberd 23.01's export_piefxis, made from accounts a
// slixmpp client filled (test/interop/pie.test.ts makes them again, against the real servers).
// Passwords: romeo "Montague-2a", juliet "Capulet-3b".
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { Accounts } from "../../core/accounts.ts";
import { verifyPassword } from "../../core/credentials.ts";
import { parseShape } from "../../core/schema.ts";
import { MemoryStorage } from "../../storage/memory.ts";
import type { LogEntry, StorageProvider } from "../../storage/types.ts";
import { idTime } from "../../storage/ids.ts";
import { parseStored } from "../../xml/stored.ts";
import { BLOCKLIST_STORE } from "../blocking/lists.ts";
import { ARCHIVE_STORE } from "../mam/archive.ts";
import { OFFLINE_STORE } from "../offline/queue.ts";
import { pepNodes } from "../pep/index.ts";
import { PRIVATE_STORES } from "../private.ts";
import { rosterStores } from "../roster/service.ts";
import { VCARD_STORE } from "../vcard/index.ts";
import { exportAccounts, importFiles, pieLimits, type OptionsOf, type PieLimits } from "./index.ts";

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "fixtures");
const PROSODY = [join(FIXTURES, "prosody", "juliet@localhost.xml"), join(FIXTURES, "prosody", "romeo@localhost.xml")];
const EJABBERD = join(FIXTURES, "ejabberd", "20261207-061112.xml");
const scratch = mkdtempSync(join(tmpdir(), "xmppd-pie-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Every module's default options, as a server without a config file has them. */
const defaults: OptionsOf = (def) => parseShape(def.options ?? {}, undefined, `modules.${def.name}.`) as never;

function target(limits: PieLimits = pieLimits(defaults, 4096), storage: StorageProvider = new MemoryStorage()) {
  const accounts = new Accounts(storage, "localhost", 4096);
  return { storage, accounts, hosts: new Map([["localhost", accounts]]), limits };
}
type Target = ReturnType<typeof target>;

async function logOf(t: Target, store: string, owner: string): Promise<LogEntry[]> {
  return (await t.storage.log(store).query(owner, { limit: 1000 })).entries;
}

/** Whatever an account left in any store (nothing, after a refused import). */
async function anything(t: Target, owner: string): Promise<unknown[]> {
  const found: unknown[] = [];
  if (await t.storage.keyval("accounts").get(owner)) found.push("account");
  if ((await rosterStores(t.storage).items.getAll(owner)).size) found.push("roster");
  if (await t.storage.keyval(VCARD_STORE).get(owner)) found.push("vcard");
  if ((await t.storage.map(PRIVATE_STORES.items).getAll(owner)).size) found.push("private");
  if ((await pepNodes(t.storage).all(owner)).size) found.push("pep");
  for (const s of [OFFLINE_STORE, ARCHIVE_STORE]) if ((await logOf(t, s, owner)).length) found.push(s);
  return found;
}

function file(name: string, text: string): string {
  const path = join(scratch, name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}

const user = (inner: string, attrs = "name='romeo' password='pw'") =>
  `<server-data xmlns='urn:xmpp:pie:0'><host jid='localhost'><user ${attrs}>${inner}</user></host></server-data>`;

describe("Prosody's export (prosody-migrator, xep0227 driver)", () => {
  it("keeps the SCRAM-SHA-1 keys: the old passwords work, and no password was ever known", async () => {
    const t = target();
    const s = await importFiles(PROSODY, t);
    expect(s.accounts.sort()).toEqual(["juliet@localhost", "romeo@localhost"]);
    const romeo = (await t.accounts.record("romeo"))!;
    expect(Object.keys(romeo.credentials)).toEqual(["SHA-1"]);
    expect(romeo.credentials["SHA-1"]!.iterations).toBe(10_000);
    expect(romeo.importing).toBeUndefined();
    expect(await verifyPassword(romeo.credentials, "Montague-2a")).toBe(true);
    expect(await verifyPassword(romeo.credentials, "montague-2a")).toBe(false);
    expect(await verifyPassword((await t.accounts.credentials("juliet"))!, "Capulet-3b")).toBe(true);
    expect(s.notes.join("\n")).toMatch(/2 accounts came with SCRAM-SHA-1 keys only/);
  });

  it("brings the roster with subscription states, names and groups, and a roster version of its own", async () => {
    const t = target();
    await importFiles(PROSODY, t);
    const roster = rosterStores(t.storage);
    expect([...(await roster.items.getAll("romeo@localhost")).values()]).toEqual([
      { jid: "juliet@localhost", name: "Juliet", groups: ["Friends", "Capulets"], subscription: "both" },
    ]);
    expect([...(await roster.items.getAll("juliet@localhost")).values()]).toEqual([{ jid: "romeo@localhost", groups: [], subscription: "both" }]);
    expect(await roster.versions.get("romeo@localhost")).toBeGreaterThan(1_000_000_000_000);
  });

  it("brings vCard, private XML and PEP nodes (OMEMO, avatar) with their access models and items", async () => {
    const t = target();
    const s = await importFiles(PROSODY, t);
    expect(parseStored((await t.storage.keyval<string>(VCARD_STORE).get("juliet@localhost"))!)?.getChildText("FN")).toBe("Juliet Capulet");
    const bookmarks = parseStored((await t.storage.map<string>(PRIVATE_STORES.items).get("romeo@localhost", "{storage:bookmarks}storage"))!);
    expect(bookmarks?.getChild("conference")?.attrs).toMatchObject({ jid: "orchard@conference.localhost", name: "The Orchard" });
    expect(await t.storage.keyval(PRIVATE_STORES.keys).get("romeo@localhost")).toEqual(["{storage:bookmarks}storage"]);
    const pep = pepNodes(t.storage);
    const nodes = await pep.all("romeo@localhost");
    expect([...nodes.keys()].sort()).toEqual(["eu.siacs.conversations.axolotl.bundles:4242", "eu.siacs.conversations.axolotl.devicelist",
      "storage:bookmarks", "urn:xmpp:avatar:data", "urn:xmpp:avatar:metadata", "urn:xmpp:bookmarks:1"]);
    expect(nodes.get("eu.siacs.conversations.axolotl.devicelist")!.access).toBe("open");
    expect(nodes.get("urn:xmpp:avatar:data")!.access).toBe("presence");
    const [devices] = await pep.list("romeo@localhost", "eu.siacs.conversations.axolotl.devicelist");
    expect(devices).toMatchObject({ id: "current", publisher: "romeo@localhost" });
    expect(parseStored(devices!.xml)?.getChild("device")?.attrs.id).toBe("4242");
    const [bundle] = await pep.list("romeo@localhost", "eu.siacs.conversations.axolotl.bundles:4242");
    expect(parseStored(bundle!.xml)?.getChild("prekeys")?.getChildren("preKeyPublic")).toHaveLength(100);
    expect(s.counts).toMatchObject({ "PEP nodes": 6, "PEP items": 6, "private XML elements": 1, vCards: 1 });
    expect(s.notes.join("\n")).toMatch(/no equivalent for were left out: pubsub#deliver_notifications/);
  });

  it("brings the archive in order, under ids of this server that sort by the messages' times", async () => {
    const t = target();
    await importFiles(PROSODY, t, { now: Date.parse("2026-12-08T00:00:00Z") });
    const entries = await logOf(t, ARCHIVE_STORE, "juliet@localhost");
    expect(entries.map((e) => parseStored(e.value)?.getChildText("body"))).toEqual(["Shall I hear more?", "Or shall I speak at this?"]);
    expect(entries.map((e) => e.with)).toEqual(["romeo@localhost/a", "romeo@localhost/a"]);
    expect(entries[0]!.at).toBe(Date.parse("2026-12-07T06:10:12Z"));
    expect(idTime(entries[0]!.id)).toBe(entries[0]!.at);
    expect(entries[0]!.id < entries[1]!.id).toBe(true);
    expect(parseStored(entries[0]!.value)?.attrs.xmlns).toBeUndefined();
    // Romeo's copy of what he sent: the other party is the recipient.
    expect((await logOf(t, ARCHIVE_STORE, "romeo@localhost")).map((e) => e.with)).toEqual(["juliet@localhost", "juliet@localhost"]);
  });

  it("leaves out archived messages older than the retention, and says so", async () => {
    const t = target();
    const s = await importFiles(PROSODY, t, { now: Date.parse("2027-06-01T00:00:00Z") });
    expect(await logOf(t, ARCHIVE_STORE, "juliet@localhost")).toEqual([]);
    expect(s.notes).toContain("juliet@localhost: archive: 2 messages older than modules.mam.retention (30 days) were left out");
  });
});

describe("bookmarks (XEP-0402 §5.3)", () => {
  it("kept in private XML only, are also written where XEP-0402 clients and XEP-0048 PEP clients look, as the bookmarks module keeps them", async () => {
    const t = target();
    const s = await importFiles(PROSODY, t);
    const pep = pepNodes(t.storage);
    const [native] = await pep.list("romeo@localhost", "urn:xmpp:bookmarks:1");
    expect(native?.id).toBe("orchard@conference.localhost");
    const conference = parseStored(native!.xml)!;
    expect([conference.attrs, conference.getChildText("nick")]).toEqual([{ xmlns: "urn:xmpp:bookmarks:1", name: "The Orchard", autojoin: "true" }, "Romeo"]);
    expect((await pep.config("romeo@localhost", "urn:xmpp:bookmarks:1"))).toMatchObject({ access: "whitelist", maxItems: "max", sendLast: "never" });
    const [legacy] = await pep.list("romeo@localhost", "storage:bookmarks");
    expect(parseStored(legacy!.xml)?.getChild("conference")?.attrs.jid).toBe("orchard@conference.localhost");
    expect(s.notes).toContain("romeo@localhost: bookmarks (1) copied from private XML storage:bookmarks to PEP urn:xmpp:bookmarks:1 and PEP storage:bookmarks, as the bookmarks module keeps them");
  });

  it("kept in PEP only, are also written to private XML; without the bookmarks module, nothing is copied", async () => {
    const native = user(`<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:xmpp:bookmarks:1'><item id='hall@conference.localhost'>` +
      `<conference xmlns='urn:xmpp:bookmarks:1' name='Hall'><nick>R</nick></conference></item></items></pubsub>`);
    const t = target();
    await importFiles([file("native.xml", native)], t);
    expect(parseStored((await t.storage.map<string>(PRIVATE_STORES.items).get("romeo@localhost", "{storage:bookmarks}storage"))!)?.getChild("conference")?.attrs)
      .toEqual({ jid: "hall@conference.localhost", name: "Hall", autojoin: "false" });
    const bare = target({ ...pieLimits(defaults, 4096), bookmarks: false });
    await importFiles([file("native.xml", native)], bare);
    expect(await bare.storage.map(PRIVATE_STORES.items).getAll("romeo@localhost")).toEqual(new Map());
  });
});

describe("ejabberd's export (export_piefxis: a main file that XIncludes the host's)", () => {
  it("turns the plain passwords into SCRAM keys for both hashes, and keeps no password", async () => {
    const t = target();
    await importFiles([EJABBERD], t);
    const romeo = (await t.accounts.record("romeo"))!;
    expect(Object.keys(romeo.credentials).sort()).toEqual(["SHA-1", "SHA-256"]);
    expect(await verifyPassword(romeo.credentials, "Montague-2a")).toBe(true);
    expect(JSON.stringify(romeo)).not.toContain("Montague");
  });

  it("queues the offline messages in order, with the delay ejabberd stamped, waiting from the import", async () => {
    const t = target();
    const now = Date.parse("2026-12-08T00:00:00Z");
    await importFiles([EJABBERD], t, { now });
    const queue = await logOf(t, OFFLINE_STORE, "juliet@localhost");
    expect(queue.map((e) => parseStored(e.value)?.getChildText("body"))).toEqual(["Shall I hear more?", "Or shall I speak at this?"]);
    expect(queue[0]!.at).toBe(Date.parse("2026-12-07T06:11:10.924Z"));
    expect(queue[0]!.expires).toBe(now + 30 * 86_400_000);
    expect(parseStored(queue[0]!.value)?.getChild("delay", "urn:xmpp:delay")?.attrs.stamp).toBe("2026-12-07T06:11:10.924968Z");
    expect([...(await rosterStores(t.storage).items.getAll("romeo@localhost")).values()][0]).toMatchObject({ subscription: "both", groups: ["Capulets", "Friends"] });
  });

  it("refuses an account that exists already, and writes nothing of the others", async () => {
    const t = target();
    await t.accounts.create("juliet", "other");
    await expect(importFiles([EJABBERD], t)).rejects.toThrow(/juliet@localhost exists already/);
    expect(await anything(t, "romeo@localhost")).toEqual([]);
  });
});

describe("refusals: nothing is written", () => {
  const refused = async (files: string[], pattern: RegExp, options = {}) => {
    const t = target();
    await expect(importFiles(files, t, options)).rejects.toThrow(pattern);
    expect(await t.accounts.list()).toEqual([]);
    expect(await anything(t, "romeo@localhost")).toEqual([]);
  };

  it("a file larger than the size cap, before reading it", async () => {
    await refused(PROSODY, /larger than 0 MiB/, { maxBytes: 10_000 });
  });

  it("malformed XML, saying where", async () => {
    const text = readFileSync(PROSODY[1]!, "utf8");
    await refused([file("cut.xml", text.slice(0, 5000) + "<oops")], /not a readable XML file \(not-well-formed/);
    await refused([file("cut2.xml", text.slice(0, 5000))], /ends before its root element does/);
  });

  it("restricted XML: a DTD with entities (billion laughs), comments, processing instructions", async () => {
    await refused([file("dtd.xml", `<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol "lol">]>${user("")}`)], /restricted-xml/);
    await refused([file("comment.xml", user("<!-- hi -->"))], /restricted-xml: comments are not allowed/);
    await refused([file("pi.xml", user("<?php ?>"))], /restricted-xml/);
  });

  it("a file that is not XEP-0227", async () => {
    await refused([file("other.xml", "<stream xmlns='jabber:client'/>")], /not a XEP-0227 export/);
  });

  it("elements it does not know, unless told to leave them out; then they are listed", async () => {
    const text = user("<query xmlns='jabber:iq:roster'/><secret xmlns='urn:example:unknown'/>");
    await refused([file("unknown.xml", text)], /cannot keep.*\n {2}unknown element \{urn:example:unknown\}secret \(romeo@localhost\)\n--skip-unknown/s);
    const t = target();
    const s = await importFiles([file("unknown.xml", text)], t, { skipUnknown: true });
    expect(s.leftOut).toEqual(["unknown element {urn:example:unknown}secret (romeo@localhost)"]);
    expect(await t.accounts.exists("romeo")).toBe(true);
  });

  it("data whose module is not loaded", async () => {
    const limits = { ...pieLimits(defaults, 4096), archive: undefined };
    const t = target(limits);
    await expect(importFiles([PROSODY[0]!], t)).rejects.toThrow(/archive \(module mam is not loaded\) \(juliet@localhost\)/);
    expect(await t.accounts.list()).toEqual([]);
    const none = target({ ...pieLimits(defaults, 4096), archive: { retention: 0 } });
    await expect(importFiles([PROSODY[0]!], none)).rejects.toThrow(/archive \(modules.mam.retention is 0: nothing is archived\)/);
  });

  it("another host, a bad name, a user twice", async () => {
    await refused([file("host.xml", user("").replace("jid='localhost'", "jid='example.org'"))], /host example.org is not a domain of this server \(localhost\)/);
    await refused([file("name.xml", user("", "name='ro meo' password='pw'"))], /'ro meo' is not a valid local part/);
    await refused([PROSODY[1]!, file("again.xml", user(""))], /romeo@localhost is in the export twice/);
  });

  it("one bad user among good ones: none of them", async () => {
    const bad = file("bad-roster.xml", user("<query xmlns='jabber:iq:roster'><item jid='a@b/c' subscription='both'/></query>", "name='mercutio' password='pw'"));
    const t = target();
    await expect(importFiles([EJABBERD, bad], t)).rejects.toThrow(/mercutio@localhost.*'a@b\/c' is not a bare JID/);
    expect(await t.accounts.list()).toEqual([]);
  });

  it("SCRAM credentials that do not decode, or only for a mechanism this server lacks", async () => {
    const scram = (mechanism: string, key: string) => `<scram-credentials xmlns='urn:xmpp:pie:0#scram' mechanism='${mechanism}'>` +
      `<iter-count>4096</iter-count><salt>c2FsdA==</salt><server-key>${key}</server-key><stored-key>${key}</stored-key></scram-credentials>`;
    await refused([file("short.xml", user(scram("SCRAM-SHA-1", "AAAA"), "name='romeo'"))], /do not have the sizes of SHA-1/);
    await refused([file("512.xml", user(scram("SCRAM-SHA-512", "AAAA"), "name='romeo'"))], /credentials for SCRAM-SHA-512 only/);
    const key = Buffer.alloc(32, 7).toString("base64");
    const t = target();
    await importFiles([file("256.xml", user(scram("SCRAM-SHA-256", key), "name='romeo'"))], t);
    expect((await t.accounts.record("romeo"))!.credentials["SHA-256"]).toEqual({ iterations: 4096, salt: "c2FsdA==", serverKey: key, storedKey: key });
  });

  it("nesting deeper than the parser's limit", async () => {
    await refused([file("deep.xml", user(`<query xmlns='jabber:iq:private'>${"<a xmlns='urn:x'>".repeat(70)}${"</a>".repeat(70)}</query>`))], /not a readable XML file \(policy-violation: elements nested too deep/);
  });

  it("XIncludes that leave the export's folder, are absolute, loop, or want text", async () => {
    const main = (href: string, extra = "") => `<server-data xmlns='urn:xmpp:pie:0' xmlns:xi='http://www.w3.org/2001/XInclude'><xi:include href='${href}'${extra}/></server-data>`;
    file("outside.xml", user(""));
    await refused([file("inc/up.xml", main("../outside.xml"))], /leads out of the export's folder/);
    await refused([file("inc/abs.xml", main(join(scratch, "outside.xml")))], /is not a relative reference/);
    await refused([file("inc/scheme.xml", main("http://example.org/x.xml"))], /is not a relative reference/);
    await refused([file("inc/self.xml", main("self.xml"))], /already being read \(a cycle\)/);
    await refused([file("inc/text.xml", main("x.xml", " parse='text'"))], /parse='text' is not supported/);
  });

  it("limits of the modules that keep the data: a vCard over modules.vcard.maxSize", async () => {
    const t = target({ ...pieLimits(defaults, 4096), vcard: { maxSize: 50 } });
    await expect(importFiles(PROSODY, t)).rejects.toThrow(/its vCard is larger than 50 bytes \(modules.vcard.maxSize\)/);
    expect(await t.accounts.list()).toEqual([]);
  });

  it("with --dry-run, reports and writes nothing", async () => {
    const t = target();
    const s = await importFiles(PROSODY, t, { dryRun: true });
    expect(s.written).toBe(false);
    expect(s.accounts).toHaveLength(2);
    expect(await t.accounts.list()).toEqual([]);
  });
});

describe("XInclude (§5)", () => {
  it("follows the XEP's own layout: a main file, a host file, a user file", async () => {
    const xi = "xmlns:xi='http://www.w3.org/2001/XInclude'";
    const main = file("layout/main.xml", `<?xml version='1.0' encoding='UTF-8'?><server-data xmlns='urn:xmpp:pie:0' ${xi}><xi:include href='localhost.xml'/></server-data>`);
    file("layout/localhost.xml", `<host xmlns='urn:xmpp:pie:0' ${xi} jid='localhost'><xi:include href='localhost/juliet.xml'/></host>`);
    file("layout/localhost/juliet.xml", `<user xmlns='urn:xmpp:pie:0' name='juliet' password='pw'><query xmlns='jabber:iq:roster'>` +
      `<item jid='romeo@montague.net' name='Romeo' subscription='both'><group>Friends</group></item></query>` +
      `<vCard xmlns='vcard-temp'><FN>Juliet Capulet</FN></vCard></user>`);
    const t = target();
    await importFiles([main], t);
    expect([...(await rosterStores(t.storage).items.getAll("juliet@localhost")).values()]).toEqual([{ jid: "romeo@montague.net", name: "Romeo", groups: ["Friends"], subscription: "both" }]);
    expect(await verifyPassword((await t.accounts.credentials("juliet"))!, "pw")).toBe(true);
  });
});

describe("all or nothing while writing", () => {
  /** A store whose archive appends fail. */
  function failingArchive(): StorageProvider {
    const inner = new MemoryStorage();
    return Object.assign(Object.create(inner) as MemoryStorage, {
      log: (name: string) => {
        const log = inner.log(name);
        return name === ARCHIVE_STORE ? { ...log, append: () => Promise.reject(new Error("disk full")) } : log;
      },
    });
  }

  it("a write that fails removes what the import wrote before it", async () => {
    const t = target(undefined, failingArchive());
    await expect(importFiles(PROSODY, t)).rejects.toThrow(/a write failed: disk full; nothing was kept/);
    expect(await t.accounts.list()).toEqual([]);
    for (const u of ["romeo@localhost", "juliet@localhost"]) expect(await anything(t, u)).toEqual([]);
  });

  it("an import that was killed half-way left accounts nobody can log in to; the next import replaces them", async () => {
    const t = target();
    expect(await t.accounts.reserveForImport("juliet")).toBe("reserved");
    await rosterStores(t.storage).items.set("juliet@localhost", "tybalt@localhost", { jid: "tybalt@localhost", groups: [], subscription: "none" });
    expect(await t.accounts.credentials("juliet")).toEqual({});
    await importFiles([EJABBERD], t);
    expect([...(await rosterStores(t.storage).items.getAll("juliet@localhost")).keys()]).toEqual(["romeo@localhost"]);
    expect(await verifyPassword((await t.accounts.credentials("juliet"))!, "Capulet-3b")).toBe(true);
  });
});

describe("export", () => {
  it("writes what an import reads back the same: keys, roster, vCard, private XML, PEP, offline, archive, blocklist", async () => {
    const a = target();
    await importFiles([...PROSODY], a, { now: Date.parse("2026-12-08T00:00:00Z") });
    await a.storage.log(OFFLINE_STORE).append([{ owner: "juliet@localhost", id: "0000000010000zz", at: 1, with: "nurse@localhost/x", value: "<message from='nurse@localhost/x' to='juliet@localhost'><body>Madam!</body></message>", expires: 0 }]);
    await a.storage.map<number>(BLOCKLIST_STORE).set("romeo@localhost", "tybalt@localhost", 5);
    await rosterStores(a.storage).pending.set("juliet@localhost", "paris@localhost", { xml: "<presence from='paris@localhost' to='juliet@localhost' type='subscribe'/>", at: 7 });
    const out = join(scratch, "export.xml");
    const summary = await exportAccounts(out, a);
    expect(summary).toMatchObject({ accounts: 2, archived: 4, offline: 1 });
    expect(readFileSync(out, "utf8")).not.toMatch(/Montague|Capulet-3b/);
    await expect(exportAccounts(out, a)).rejects.toThrow(/exists; the export does not replace a file/);

    const b = target();
    await importFiles([out], b, { now: Date.parse("2026-12-08T00:00:00Z") });
    for (const owner of ["romeo@localhost", "juliet@localhost"]) {
      expect((await b.accounts.record(owner.split("@")[0]!))!.credentials).toEqual((await a.accounts.record(owner.split("@")[0]!))!.credentials);
      for (const s of ["items", "pending"] as const) {
        expect([...(await rosterStores(b.storage)[s].getAll(owner)).entries()].map(([k, v]) => [k, s === "pending" ? parseStored((v as { xml: string }).xml)?.attrs : v]))
          .toEqual([...(await rosterStores(a.storage)[s].getAll(owner)).entries()].map(([k, v]) => [k, s === "pending" ? parseStored((v as { xml: string }).xml)?.attrs : v]));
      }
      expect(await b.storage.keyval(VCARD_STORE).get(owner)).toEqual(await a.storage.keyval(VCARD_STORE).get(owner));
      expect(await b.storage.map(PRIVATE_STORES.items).getAll(owner)).toEqual(await a.storage.map(PRIVATE_STORES.items).getAll(owner));
      expect(await pepNodes(b.storage).all(owner)).toEqual(await pepNodes(a.storage).all(owner));
      for (const node of (await pepNodes(a.storage).all(owner)).keys()) {
        const strip = (items: { id: string; xml: string }[]) => items.map(({ id, xml }) => ({ id, xml }));
        expect(strip(await pepNodes(b.storage).list(owner, node))).toEqual(strip(await pepNodes(a.storage).list(owner, node)));
      }
      for (const store of [ARCHIVE_STORE, OFFLINE_STORE]) {
        const body = (e: LogEntry) => [e.at, e.with, parseStored(e.value)?.getChildText("body")];
        expect((await logOf(b, store, owner)).map(body)).toEqual((await logOf(a, store, owner)).map(body));
      }
      expect(await b.storage.map(BLOCKLIST_STORE).getAll(owner).then((m) => [...m.keys()])).toEqual(await a.storage.map(BLOCKLIST_STORE).getAll(owner).then((m) => [...m.keys()]));
    }
  });

  it("writes a <host/> per hosted domain, which an import with the same hosts reads back, and one without them refuses", async () => {
    const twoHosts = (storage: StorageProvider = new MemoryStorage()) => {
      const hosts = new Map(["localhost", "example.net"].map((d) => [d, new Accounts(storage, d, 4096)]));
      return { storage, hosts, limits: pieLimits(defaults, 4096) };
    };
    const a = twoHosts();
    await a.hosts.get("localhost")!.create("alice", "alice-of-localhost");
    await a.hosts.get("example.net")!.create("alice", "alice-of-example-net");
    await rosterStores(a.storage).items.set("alice@example.net", "alice@localhost", { jid: "alice@localhost", groups: [], subscription: "both" });
    const out = join(scratch, "two-hosts.xml");
    expect(await exportAccounts(out, a)).toMatchObject({ accounts: 2 });
    expect(readFileSync(out, "utf8").match(/<host jid='[^']+'>/g)).toEqual(["<host jid='localhost'>", "<host jid='example.net'>"]);

    const b = twoHosts();
    expect((await importFiles([out], b)).accounts.sort()).toEqual(["alice@example.net", "alice@localhost"]);
    expect(await verifyPassword((await b.hosts.get("localhost")!.credentials("alice"))!, "alice-of-localhost")).toBe(true);
    expect(await verifyPassword((await b.hosts.get("example.net")!.credentials("alice"))!, "alice-of-example-net")).toBe(true);
    expect([...(await rosterStores(b.storage).items.getAll("alice@example.net")).keys()]).toEqual(["alice@localhost"]);

    const one = target();
    await expect(importFiles([out], one)).rejects.toThrow(/host example\.net is not a domain of this server \(localhost\)/);
    expect(await one.accounts.list()).toEqual([]);
  });

  it("leaves out an account an import has not finished", async () => {
    const t = target();
    await t.accounts.reserveForImport("mercutio");
    const s = await exportAccounts(join(scratch, "skipped.xml"), t);
    expect(s).toMatchObject({ accounts: 0, skipped: ["mercutio@localhost"] });
  });
});

describe("incoming subscription requests (§4.9)", () => {
  it("are stored as the roster module stores one that waits for an answer, in jabber:client or, as Prosody writes them, in the user's namespace", async () => {
    const t = target();
    await importFiles([file("pending.xml", user("<presence xmlns='jabber:client' type='subscribe' from='tybalt@localhost/street'><status>Well met</status></presence>" +
      "<presence type='subscribe' from='paris@localhost'/>"))], t);
    const pending = await rosterStores(t.storage).pending.getAll("romeo@localhost");
    expect([...pending.keys()].sort()).toEqual(["paris@localhost", "tybalt@localhost"]);
    const tybalt = parseStored(pending.get("tybalt@localhost")!.xml)!;
    expect([tybalt.attrs, tybalt.getChildText("status")]).toEqual([{ from: "tybalt@localhost", to: "romeo@localhost", type: "subscribe" }, "Well met"]);
  });
});

describe("privacy lists", () => {
  it("blocked JIDs of the default list go to the blocklist; other rules are left out with a note", async () => {
    const t = target();
    const s = await importFiles([file("privacy.xml", user(`<query xmlns='jabber:iq:privacy'><default name='b'/>` +
      `<list name='b'><item type='jid' value='tybalt@localhost' action='deny' order='1'/><item type='jid' value='paris@localhost' action='deny' order='2'><message/></item></list>` +
      `<list name='other'><item type='jid' value='nurse@localhost' action='deny' order='1'/></list></query>`))], t);
    expect([...(await t.storage.map(BLOCKLIST_STORE).getAll("romeo@localhost")).keys()]).toEqual(["tybalt@localhost"]);
    expect(s.notes).toContain("romeo@localhost: privacy lists: 2 rules other than blocked JIDs were left out (this server has XEP-0191 blocking, not XEP-0016 privacy lists)");
  });
});
