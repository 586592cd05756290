// A terminal client from Debian, go-sendxmpp (go-xmpp underneath): Bob listens, Alice sends a
// line from the shell, Bob's terminal prints it. go-xmpp sends an empty <show/> with its initial
// presence, which the server must take as plain "available".
import { spawn, spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "../helpers/server.ts";
import { parseJid } from "../../src/xml/jid.ts";

const installed = spawnSync("go-sendxmpp", ["--version"]).status === 0;
const ci = process.env.CI === "true";
let t: TestServer;

beforeAll(async () => {
  if (installed) t = await startServer({ users: { alice: "alicepw", bob: "bobpw" } });
});
afterAll(() => t?.stop());

describe.skipIf(!installed && !ci)("go-sendxmpp", () => {
  it("is installed in CI", () => expect(installed).toBe(true));

  it("Alice sends a line from the shell; Bob, listening, prints it", { timeout: 30_000 }, async () => {
    const server = `127.0.0.1:${t.port}`;
    const bob = spawn("go-sendxmpp", ["-l", "-u", "bob@localhost", "-p", "bobpw", "-j", server, "-n"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    bob.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const killer = setTimeout(() => bob.kill("SIGKILL"), 25_000);
    try {
      // Bob is available once his session has sent initial presence.
      const deadline = Date.now() + 10_000;
      while (!t.server.sessions.of(parseJid("bob@localhost")).some((s) => s.presence)) {
        if (Date.now() > deadline) throw new Error("bob never became available");
        await new Promise((r) => setTimeout(r, 100));
      }
      // Not spawnSync: the server runs in this process and must keep serving meanwhile.
      const sender = spawn("go-sendxmpp", ["-u", "alice@localhost", "-p", "alicepw", "-j", server, "-n", "bob@localhost"], { stdio: ["pipe", "ignore", "pipe"] });
      sender.stdin.end("Hello Bob, from the shell\n");
      const code = await new Promise<number | null>((r) => {
        const t = setTimeout(() => sender.kill("SIGKILL"), 15_000);
        sender.once("exit", (c) => (clearTimeout(t), r(c)));
      });
      expect(code).toBe(0);
      const until = Date.now() + 10_000;
      while (!out.includes("Hello Bob, from the shell") && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      expect(out).toContain("Hello Bob, from the shell");
      expect(out).toContain("alice@localhost");
    } finally {
      clearTimeout(killer);
      bob.kill();
    }
  });
});
