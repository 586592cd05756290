// The server process drained with SIGTERM (a deploy): it stops accepting connections at once,
// finishes what its clients sent (and tells a stream-managed sender, with a last <a/>, that it is
// stored), asks each stream-managed client for a last <a/>, ends every stream with
// <system-shutdown/> so that clients reconnect, sends what a client never acknowledged to offline
// storage, and exits with code 0 within shutdown.drainTimeout. After a restart the recipient
// finds every message exactly once, in order.
import { spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Element } from "../../src/xml/element.ts";
import { RawClient } from "../helpers/raw.ts";
import { SmClient, chat } from "../helpers/sm.ts";
import { ROOT as root, freePort, startProcess as start } from "../helpers/process.ts";

const dir = mkdtempSync(join(tmpdir(), "xmppd-drain-"));
const SM = "urn:xmpp:sm:3";
const DRAIN_TIMEOUT = 8;
let port = 0;
let child: ChildProcess | undefined;

const env = () => ({
  ...process.env, XMPPD_DATA_DIR: join(dir, "data"), XMPPD_LOG__LEVEL: "warn", XMPPD_C2S__HOST: "127.0.0.1",
  XMPPD_C2S__PORT: String(port), XMPPD_C2S__DIRECT_TLS_PORT: "0", XMPPD_HTTP__PORT: "0", XMPPD_HTTP__TLS_PORT: "0", XMPPD_SHUTDOWN__DRAIN_TIMEOUT: String(DRAIN_TIMEOUT),
});

beforeAll(async () => {
  port = await freePort();
  for (const u of ["alice", "bob", "carol"]) {
    const r = spawnSync(process.execPath, [join(root, "src/main.ts"), "adduser", `${u}@localhost`, "pw"], { cwd: dir, env: env(), encoding: "utf8" });
    if (r.status !== 0) throw new Error(r.stderr);
  }
});
afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child!.once("exit", r));
    child.kill("SIGKILL");
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

/** Sends the messages, then <r/>, and resolves when the server's <a/> counts `total` stanzas. */
async function sendAcked(c: SmClient, messages: Element[], total: number): Promise<void> {
  for (const m of messages) c.send(m);
  c.send(`<r xmlns='${SM}'/>`);
  for (;;) {
    const a = await c.next((e) => e.name === "a" && e.attrs.xmlns === SM, "an ack", 10_000);
    if (a.attrs.h === String(total)) return;
    c.send(`<r xmlns='${SM}'/>`);
  }
}

/** Resolves with the exit code and the seconds from now to the exit. */
function exitOf(c: ChildProcess): Promise<{ code: number | null; seconds: number }> {
  const t0 = Date.now();
  return new Promise((r) => c.once("exit", (code) => r({ code, seconds: (Date.now() - t0) / 1000 })));
}

function connectError(): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve("connected");
    });
    s.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

const isShutdown = (e: Element) => e.name === "stream:error" && e.getChild("system-shutdown", "urn:ietf:params:xml:ns:xmpp-streams") !== undefined;

async function bodiesAfterLogin(user: string, resource: string, last: string): Promise<string[]> {
  const c = (await SmClient.login(port, user, resource, { resume: false })).c;
  c.send("<presence/>");
  await c.next((e) => e.getChildText("body") === last, `'${last}'`, 10_000);
  await new Promise((r) => setTimeout(r, 300));
  const bodies = c.inbox.map((e) => e.getChildText("body")).filter((b): b is string => b !== null);
  c.cut();
  return [...bodies, last];
}

describe("SIGTERM drains the server", () => {
  it("refuses new connections, ends streams with system-shutdown, stores what was not acknowledged, exits 0", { timeout: 60_000 }, async () => {
    child = await start(dir, env());
    // Bob is online with stream management and never acknowledges: what he receives stays unacked.
    const bob = (await SmClient.login(port, "bob", "phone")).c;
    bob.send("<presence/>");
    await bob.next((e) => e.name === "presence" && e.attrs.from === "bob@localhost/phone", "his own presence");
    // Carol has no stream management.
    const carol = await RawClient.login(port, "carol", "pw", "desk");
    const alice = (await SmClient.login(port, "alice", "laptop", { resume: false })).c;

    const acked = Array.from({ length: 20 }, (_, i) => `m${i}`);
    await sendAcked(alice, acked.map((b) => chat("bob@localhost", b)), acked.length);
    await bob.next((e) => e.getChildText("body") === "m19", "the acked messages");
    // Ten more are in flight, not acknowledged by the server yet, as the signal comes.
    const inFlight = Array.from({ length: 10 }, (_, i) => `m${20 + i}`);
    for (const b of inFlight) alice.send(chat("bob@localhost", b));
    const exited = exitOf(child);
    child.kill("SIGTERM");

    // New connections are refused at once, while the drain waits for Bob's last ack.
    await new Promise((r) => setTimeout(r, 300));
    expect(await connectError()).toBe("ECONNREFUSED");

    // Alice learns how many of the thirty are stored (those whose bytes the server had read when
    // the signal came: it reads nothing after), then is told to reconnect.
    const lastAck = await alice.next((e) => e.name === "a" && e.attrs.xmlns === SM && Number(e.attrs.h) >= 20, "a last ack", 5000);
    const stored = Number(lastAck.attrs.h);
    expect(stored).toBeLessThanOrEqual(30);
    await alice.next(isShutdown, "system-shutdown", 5000);
    expect(alice.inbox.filter((e) => e.name === "a")).toEqual([]);
    // Bob is asked for an ack, does not answer, and is told to reconnect once the wait is over.
    await bob.next((e) => e.name === "r" && e.attrs.xmlns === SM, "a last ack request", 5000);
    await bob.next(isShutdown, "system-shutdown", 5000);
    await carol.closedByServer();
    expect(carol.buffer).toMatch(/<stream:error><system-shutdown xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']\/>.*<\/stream:stream>$/);

    const { code, seconds } = await exited;
    expect(code).toBe(0);
    expect(seconds).toBeLessThan(DRAIN_TIMEOUT);
    console.info(`drain: exited ${code} ${seconds.toFixed(2)} s after SIGTERM`);

    // Alice reconnects and sends again, as XEP-0198 has her do, what the server did not count.
    child = await start(dir, env());
    const again = (await SmClient.login(port, "alice", "laptop2", { resume: false })).c;
    const unacked = [...acked, ...inFlight].slice(stored);
    await sendAcked(again, unacked.map((b) => chat("bob@localhost", b)), unacked.length);
    console.info(`drain: ${stored} of 30 stored before the drain closed Alice's stream, ${unacked.length} sent again after it`);
    // Bob's next login (a new session) gets from offline storage every message he had not acknowledged: all 30, once, in order.
    const got = await bodiesAfterLogin("bob", "phone2", "m29");
    expect(got).toEqual([...acked, ...inFlight]);
  });

  it("a client that answers the last ack request gets nothing twice: its acknowledged messages do not go offline", { timeout: 60_000 }, async () => {
    if (!child || child.exitCode !== null) child = await start(dir, env());
    const bob = (await SmClient.login(port, "bob", "phone")).c;
    bob.send("<presence/>");
    await bob.next((e) => e.name === "presence" && e.attrs.from === "bob@localhost/phone", "his own presence");
    const alice = (await SmClient.login(port, "alice", "laptop", { resume: false })).c;
    await sendAcked(alice, Array.from({ length: 5 }, (_, i) => chat("bob@localhost", `n${i}`)), 5);
    await bob.next((e) => e.getChildText("body") === "n4", "the messages");
    // He leaves the server's request after the burst unanswered, and answers the next one.
    await bob.next((e) => e.name === "r" && e.attrs.xmlns === SM, "the ack request after the burst");
    bob.autoAck = true;
    const exited = exitOf(child!);
    child!.kill("SIGTERM");
    await bob.next(isShutdown, "system-shutdown", 5000);
    const { code, seconds } = await exited;
    expect(code).toBe(0);
    // No client left waiting: the drain does not use its timeout.
    expect(seconds).toBeLessThan(2);

    child = await start(dir, env());
    const carol = (await SmClient.login(port, "carol", "c", { resume: false })).c;
    await sendAcked(carol, [chat("bob@localhost", "marker")], 1);
    const got = await bodiesAfterLogin("bob", "phone3", "marker");
    expect(got).toEqual(["marker"]);
  });
});
