// `./run backup DIR` and `./run restore DIR` on the server as an operator runs it (child processes
// of src/main.ts, over real sockets): Romeo and Juliet set up a roster, a vCard and an uploaded
// file on a running server, Romeo keeps sending Juliet (away) messages that the server acknowledges
// (XEP-0198), and the backup is taken in the middle of that. The server is stopped, the backup
// restored into a new data folder, a server started on it: Juliet logs in with her password and
// finds her roster, her vCard, the file, every message acknowledged before the backup began (and
// none sent after it ended), in order; the self-signed certificate is the same one.
// A restore, or a second server, on the folder of a running server is refused (its lock).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml } from "../../src/xml/element.ts";
import { connect } from "../helpers/im.ts";
import { ROOT, freePort, startProcess } from "../helpers/process.ts";
import { SmClient, chat } from "../helpers/sm.ts";

process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";
const UPLOAD = "urn:xmpp:http:upload:0";
const SM = "urn:xmpp:sm:3";
const dir = mkdtempSync(join(tmpdir(), "xmppd-backup-"));
const running: ChildProcess[] = [];

async function ports() {
  return { c2s: await freePort(), https: await freePort() };
}
type Ports = Awaited<ReturnType<typeof ports>>;

const env = (dataDir: string, p: Ports) => ({
  ...process.env, XMPPD_DOMAIN: "localhost", XMPPD_DATA_DIR: dataDir, XMPPD_LOG__LEVEL: "warn", XMPPD_C2S__HOST: "127.0.0.1",
  XMPPD_C2S__PORT: String(p.c2s), XMPPD_C2S__DIRECT_TLS_PORT: "0", XMPPD_HTTP__PORT: "0", XMPPD_HTTP__TLS_HOST: "127.0.0.1", XMPPD_HTTP__TLS_PORT: String(p.https),
});

/** Runs a command of the CLI; its exit code and what it printed. */
function cli(e: NodeJS.ProcessEnv, ...args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [join(ROOT, "src/main.ts"), ...args], { cwd: dir, env: e, encoding: "utf8", timeout: 60_000 });
  return { status: r.status, out: r.stdout + r.stderr };
}

/** The same, without blocking this process (whose clients keep talking meanwhile). */
function cliAsync(e: NodeJS.ProcessEnv, ...args: string[]): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, "src/main.ts"), ...args], { cwd: dir, env: e });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("close", (status) => resolve({ status, out }));
  });
}

async function start(e: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; fingerprint: string }> {
  let said = "";
  const output = new PassThrough();
  output.on("data", (d: Buffer) => (said += d.toString()));
  const child = await startProcess(dir, e, { output });
  running.push(child);
  return { child, fingerprint: /SHA-256 ([0-9A-F:]+)/i.exec(said)?.[1] ?? "" };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

afterAll(async () => {
  for (const c of running) if (c.exitCode === null) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

const original = join(dir, "data");
const fresh = join(dir, "restored");
const backupDir = join(dir, "backup");
let p1: Ports;

beforeAll(async () => {
  p1 = await ports();
  for (const u of ["romeo", "juliet"]) {
    const r = cli(env(original, p1), "adduser", `${u}@localhost`, "pw");
    if (r.status !== 0) throw new Error(r.out);
  }
});

describe("backup while serving, restore, log in", () => {
  it("keeps everything acknowledged before the backup began, the roster, the vCard, the uploaded file and the certificate", { timeout: 120_000 }, async () => {
    const first = await start(env(original, p1));
    // Data made while the server runs.
    const romeo = await connect({ port: p1.c2s }, "romeo", "balcony");
    const juliet = await connect({ port: p1.c2s }, "juliet", "chamber");
    expect((await romeo.ask(xml("iq", { type: "set" }, xml("query", { xmlns: "jabber:iq:roster" }, xml("item", { jid: "juliet@localhost", name: "Juliet" }, xml("group", null, "Capulets")))))).attrs.type).toBe("result");
    expect((await juliet.ask(xml("iq", { type: "set" }, xml("vCard", { xmlns: "vcard-temp" }, xml("FN", null, "Juliet Capulet"))))).attrs.type).toBe("result");
    const file = "Wherefore art thou?\n".repeat(500);
    const slot = (await juliet.ask(xml("iq", { type: "get", to: "upload.localhost" }, xml("request", { xmlns: UPLOAD, filename: "note.txt", size: String(file.length), "content-type": "text/plain" })))).getChild("slot", UPLOAD)!;
    expect((await fetch(slot.getChild("put")!.attrs.url!, { method: "PUT", body: file, headers: { "content-type": "text/plain" } })).status).toBe(201);
    const getUrl = new URL(slot.getChild("get")!.attrs.url!);
    await juliet.stop();

    // Traffic: Romeo sends one message at a time, each acknowledged (stored) before the next.
    const sender = (await SmClient.login(p1.c2s, "romeo", "phone", { resume: false })).c;
    let acked = 0;
    let sent = 0;
    let sending = true;
    const traffic = (async () => {
      for (let i = 0; sending; i++) {
        sender.send(chat("juliet@localhost", `line ${i}`));
        sent = i + 1;
        sender.send(`<r xmlns='${SM}'/>`);
        await sender.next((e) => e.name === "a" && e.attrs.xmlns === SM && e.attrs.h === String(i + 1), "an ack", 10_000);
        acked = i + 1;
      }
    })();
    await until(() => acked >= 20);
    const before = acked;
    const b = await cliAsync(env(original, p1), "backup", backupDir);
    // A message sent before the backup ended may be in it although its ack arrives afterwards;
    // one sent after it ended may not.
    const after = sent;
    const ackedAfter = acked;
    sending = false;
    await traffic;
    expect(b.status, b.out).toBe(0);
    expect(b.out).toMatch(new RegExp(`backed up ${original} to ${backupDir}: the database \\(\\d+ bytes\\) and \\d+ files`));
    expect(ackedAfter).toBeGreaterThan(before); // the server kept serving during the backup
    expect(statSync(backupDir).mode & 0o777).toBe(0o700);
    expect(readdirSync(dir).filter((f) => f.includes(".partial-"))).toEqual([]);

    // While that server runs, its folder is locked: no restore into it, no second server on it.
    const busy = cli(env(original, p1), "restore", "--replace", backupDir);
    expect(busy.status).toBe(1);
    expect(busy.out).toContain(`xmppd: a server is running on ${original} (it holds ${join(original, "xmppd.lock")}): stop it before restoring`);
    const second = cli(env(original, await ports()), "start");
    expect(second.status).toBe(1);
    // The running server answers on its admin socket, which a start asks before it takes the lock.
    expect(second.out).toContain(`xmppd: a server is running already: it answers on ${join(original, "admin.sock")}`);
    // A backup goes into a new folder only.
    expect(cli(env(original, p1), "backup", backupDir).out).toContain(`xmppd: ${backupDir} exists; a backup goes into a new folder`);

    for (const c of [romeo]) await c.stop();
    sender.cut();
    await stop(first.child);

    // Restore into a new folder, and start there.
    const p2 = await ports();
    const r = cli(env(fresh, p2), "restore", backupDir);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(new RegExp(`restored ${backupDir} into ${fresh}: the database \\(\\d+ bytes\\) and \\d+ files$`, "m"));
    const second2 = await start(env(fresh, p2));
    expect(second2.fingerprint).not.toBe("");
    expect(second2.fingerprint).toBe(first.fingerprint);

    const back = await connect({ port: p2.c2s }, "juliet", "again");
    back.send(xml("presence"));
    const lines: string[] = [];
    const bodies = async () => {
      await new Promise((res) => setTimeout(res, 1000));
      for (const m of back.inbox.filter((e) => e.name === "message")) lines.push(m.getChildText("body") ?? "");
    };
    await bodies();
    expect(lines.length).toBeGreaterThanOrEqual(before);
    expect(lines.length).toBeLessThanOrEqual(after);
    expect(lines).toEqual(Array.from({ length: lines.length }, (_, i) => `line ${i}`));
    console.info(`backup during traffic: ${before} acknowledged when it began, ${after} when it ended, ${lines.length} restored`);

    const card = await back.ask(xml("iq", { type: "get", to: "juliet@localhost" }, xml("vCard", { xmlns: "vcard-temp" })));
    expect(card.getChild("vCard")?.getChildText("FN")).toBe("Juliet Capulet");
    const restoredFile = await fetch(`https://localhost:${p2.https}${getUrl.pathname}`);
    expect(restoredFile.status).toBe(200);
    expect(await restoredFile.text()).toBe(file);
    await back.stop();
    const romeo2 = await connect({ port: p2.c2s }, "romeo", "again");
    const roster = await romeo2.ask(xml("iq", { type: "get" }, xml("query", { xmlns: "jabber:iq:roster" })));
    expect(roster.getChild("query")!.getChildren("item").map((i) => [i.attrs.jid, i.attrs.name, i.getChildText("group")])).toEqual([["juliet@localhost", "Juliet", "Capulets"]]);
    await romeo2.stop();
    await stop(second2.child);
  });

  it("refuses a folder that holds data unless told to move it aside, and a damaged backup", async () => {
    for (const c of running) await stop(c); // should the test before have failed with its server up
    const e = env(fresh, await ports());
    const refused = cli(e, "restore", backupDir);
    expect(refused.status).toBe(1);
    expect(refused.out).toMatch(/holds data \(.*xmppd\.sqlite.*\); --replace moves it aside first/);
    const replaced = cli(e, "restore", "--replace", backupDir);
    expect(replaced.status, replaced.out).toBe(0);
    const aside = /what it held before is in (\S+)$/m.exec(replaced.out)?.[1];
    expect(aside && existsSync(join(aside, "xmppd.sqlite"))).toBe(true);

    const manifest = JSON.parse(readFileSync(join(backupDir, "manifest.json"), "utf8")) as { files: { path: string }[] };
    const victim = join(backupDir, "files", manifest.files[0]!.path);
    writeFileSync(victim, readFileSync(victim, "utf8") + "x");
    const damaged = cli(env(join(dir, "third"), await ports()), "restore", backupDir);
    expect(damaged.status).toBe(1);
    expect(damaged.out).toContain(`xmppd: the backup is damaged: ${manifest.files[0]!.path} does not match its size and SHA-256 in manifest.json`);
    expect(existsSync(join(dir, "third", "xmppd.sqlite"))).toBe(false);
  });
});

async function until(cond: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}
