// The server on its embedded store, killed with SIGKILL again and again at random moments while
// Bob (XEP-0198) pushes numbered messages to Alice, who is offline: group commits of the writer
// thread (src/storage/embedded/writer.ts) are in flight at every kill. After each restart Bob
// tries to resume (the session died with the process: <failed/>), logs in again and sends what
// was not acknowledged. At the end Alice logs in: the offline store gives her every acknowledged
// message in order, and her archive (XEP-0313) holds each of them, in order. A message arrives
// twice only if Bob sent it twice (it was stored, then the process died before its ack).
// test/integration/crash.test.ts kills once, right after the acks; this kills mid-stream.
import { spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Element } from "../../src/xml/element.ts";
import { SmClient } from "../helpers/sm.ts";
import { ROOT, embeddedEnv, freePort, startProcess } from "../helpers/process.ts";
import { Pusher, archived, delivered, expectAllOnce, kill9, sleep } from "../helpers/chaos.ts";

/** Kills; CHAOS_KILLS makes a longer run (./run chaos). */
const KILLS = Number(process.env.CHAOS_KILLS ?? 5);
const dir = mkdtempSync(join(tmpdir(), "xmppd-chaos-kill-"));
let port = 0;
let child: ChildProcess | undefined;

const env = () => ({
  ...embeddedEnv(dir, port),
  // Bob sends as fast as he can, so that many writes are in flight at each kill.
  XMPPD_LIMITS__STANZAS_PER_SECOND: "0", XMPPD_LIMITS__BYTES_PER_SECOND: "0",
});

beforeAll(async () => {
  port = await freePort();
  for (const u of ["alice", "bob"]) {
    const r = spawnSync(process.execPath, [join(ROOT, "src/main.ts"), "adduser", `${u}@localhost`, "pw"], { cwd: dir, env: env(), encoding: "utf8" });
    if (r.status !== 0) throw new Error(r.stderr);
  }
});
afterAll(async () => {
  await kill9(child);
  rmSync(dir, { recursive: true, force: true });
});

/** Bob's session on a fresh server: resumption of the last one first (it fails: the process died), then a new one. */
async function reconnect(p: Pusher, previd: string | undefined): Promise<{ previd: string; resumed: boolean }> {
  if (previd !== undefined) {
    const { c, reply } = await SmClient.resume(port, "bob", previd, 0);
    if (reply.name === "resumed") {
      p.resumed(c, Number(reply.attrs.h));
      return { previd, resumed: true };
    }
    c.cut();
  }
  const { c, enabled } = await SmClient.login(port, "bob", "phone");
  p.attach(c);
  return { previd: enabled.attrs.id!, resumed: false };
}

describe("SIGKILL loop on the embedded store", () => {
  it(`${KILLS} kills at random moments while Bob pushes to offline Alice: every acked message once, in order, in her offline store and her archive`, { timeout: 60_000 + KILLS * 20_000 }, async () => {
    const p = new Pusher("alice@localhost", "m ");
    let previd: string | undefined;
    let resumptions = 0;
    const rounds: string[] = [];
    for (let k = 0; k <= KILLS; k++) {
      child = await startProcess(dir, env());
      const r = await reconnect(p, previd);
      previd = r.previd;
      if (r.resumed) resumptions++;
      if (k === KILLS) break;
      const before = p.acked;
      // Killed 100 to 800 ms into the stream, writes and acks in flight.
      const at = 100 + Math.floor(Math.random() * 700);
      const pushing = p.push(() => false, { burst: 5, pauseMs: 3 });
      await sleep(at);
      const inFlight = p.next - p.acked;
      await kill9(child);
      await pushing;
      p.collect();
      rounds.push(`kill ${k + 1} at ${at} ms: ${p.acked - before} acked this round, ${inFlight} unacked when it fell`);
    }
    // The last run: what was never acknowledged, then a few more, all acknowledged.
    const total = p.sent.length + 20;
    await p.push(() => false, { limit: total });
    expect(await p.settle()).toBe(true);
    expect(p.acked).toBe(total);
    expect(p.errors.map(String)).toEqual([]);
    p.client!.send("</stream:stream>");

    // Alice logs in: the offline store first, then her archive.
    const { c: alice } = await SmClient.login(port, "alice", "phone", { resume: false });
    alice.autoAck = true;
    alice.send("<presence/>");
    const isLast = (e: Element) => e.getChildText("body") === `m ${total - 1}`;
    for (let t = 0; t < 600 && !alice.inbox.some(isLast); t++) await sleep(50);
    await sleep(500); // a second copy of anything would have come by now
    const offline = delivered(alice.inbox.filter((e) => e.name === "message"), "m ");
    alice.inbox.length = 0;
    const archive = delivered(await archived(alice), "m ");
    console.info(`chaos sigkill: ${rounds.join("; ")}; resumed ${resumptions} of ${KILLS} (the session dies with the process)`);
    console.info(`chaos sigkill: ${expectAllOnce("offline store", offline, p)}`);
    console.info(`chaos sigkill: ${expectAllOnce("archive", archive, p)}`);
    alice.send("</stream:stream>");
  });
});
