// The command line on a running server, as an operator uses it: `xmppd start` in a child process
// and the commands in others, talking to it over its admin socket. Account commands while it runs
// (a deleted account's session ends at once), sessions, kick, announce, stats, a reload that swaps
// the certificate without dropping a connection, the socket's 0600 mode keeping other users out,
// the database when no server runs, and a second server on the same data refused.
import { spawn, type ChildProcess } from "node:child_process";
import { lstatSync, chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeSelfSigned } from "../../src/core/certificates/self-signed.ts";
import { RawClient } from "../helpers/raw.ts";
import { freePort, ROOT, startProcess } from "../helpers/process.ts";

const dir = mkdtempSync(join(tmpdir(), "xmppd-admin-"));
const data = join(dir, "data");
const certs = join(dir, "certs");
const file = join(dir, "xmppd.jsonc");
let ports: { c2s: number; tls: number };
let server: ChildProcess | undefined;

function writeConfig(extra: Record<string, unknown> = {}): void {
  writeFileSync(file, JSON.stringify({
    domain: "localhost", dataDir: data, log: { level: "warn" },
    c2s: { host: "127.0.0.1", port: ports.c2s, directTlsPort: ports.tls }, http: { port: 0, tlsPort: 0 },
    tls: { cert: join(certs, "fullchain.pem"), key: join(certs, "privkey.pem") },
    ...extra,
  }));
}

function writeCertificate(): void {
  const { cert, key } = makeSelfSigned("localhost");
  writeFileSync(join(certs, "fullchain.pem"), cert, { mode: 0o600 });
  writeFileSync(join(certs, "privkey.pem"), key, { mode: 0o600 });
}

const env = () => ({ ...process.env, XMPPD_LOG__LEVEL: "warn" });
const start = () => startProcess(dir, env(), { args: ["-c", file] });

/** Runs `xmppd <args> -c file` and resolves with its exit code and output (the server runs meanwhile). */
function cli(args: string[], input?: string): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [join(ROOT, "src/main.ts"), ...args, "-c", file], { cwd: dir, env: env() });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  child.stdin.end(input ?? "");
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, out: out.trim(), err: err.trim() })));
}

async function presented(port: number): Promise<string> {
  const s = tlsConnect({ host: "127.0.0.1", port, rejectUnauthorized: false });
  await once(s, "secureConnect");
  const f = s.getPeerCertificate().fingerprint256;
  s.destroy();
  return f;
}

async function stopServer(): Promise<void> {
  if (!server || server.exitCode !== null) return;
  const exited = once(server, "exit");
  server.kill("SIGTERM");
  await exited;
}

beforeAll(async () => {
  mkdirSync(certs, { mode: 0o700 });
  writeCertificate();
  ports = { c2s: await freePort(), tls: await freePort() };
  writeConfig();
  server = await start();
});
afterAll(async () => {
  await stopServer();
  rmSync(dir, { recursive: true, force: true });
});

describe("account commands while the server runs", () => {
  it("adduser, passwd, users and deluser take effect at once; a deleted account's session ends", async () => {
    expect(await cli(["adduser", "alice@localhost", "pw1"])).toMatchObject({ code: 0, out: "created alice@localhost" });
    expect(await cli(["adduser", "bob"], "pw2\n")).toMatchObject({ code: 0, out: "created bob@localhost" });
    (await RawClient.login(ports.c2s, "alice", "pw1")).close();
    expect(await cli(["adduser", "alice@localhost", "x"])).toMatchObject({ code: 1, err: "xmppd: account alice@localhost already exists" });
    expect(await cli(["passwd", "alice", "pw3"])).toMatchObject({ code: 0, out: "password changed for alice@localhost" });
    expect((await RawClient.authenticated(ports.c2s, "alice", "pw1")).sasl).toMatch(/^<failure/);
    const bob = await RawClient.login(ports.c2s, "bob", "pw2");
    expect((await cli(["users"])).out.split("\n")).toEqual(["alice@localhost", "bob@localhost"]);
    expect(await cli(["deluser", "bob@localhost"])).toMatchObject({ code: 0, out: "deleted bob@localhost" });
    await bob.expect("<not-authorized");
    await bob.closedByServer();
    expect(await cli(["deluser", "bob@localhost"])).toMatchObject({ code: 1, err: "xmppd: no account bob@localhost" });
    expect((await cli(["adduser", "carol@elsewhere.example", "pw"])).err).toMatch(/^xmppd: elsewhere\.example is not a domain of this server \(localhost\)/);
  });
});

describe("sessions, announce, kick, stats", () => {
  it("lists the sessions, reaches each with an announcement, ends one, and counts", async () => {
    await cli(["adduser", "dave@localhost", "pw"]);
    const phone = await RawClient.login(ports.c2s, "dave", "pw", "phone");
    const laptop = await RawClient.login(ports.c2s, "dave", "pw", "laptop");
    try {
      const listed = await cli(["sessions", "--json"]);
      expect(listed.code).toBe(0);
      const sessions = JSON.parse(listed.out) as { jid: string; secure: boolean; detached: boolean }[];
      expect(sessions.map((s) => s.jid)).toEqual(["dave@localhost/laptop", "dave@localhost/phone"]);
      expect(sessions.every((s) => s.secure && !s.detached)).toBe(true);
      expect((await cli(["sessions"])).out).toMatch(/^dave@localhost\/laptop\s+connected\s+tls\s+priority 0\s+idle \d+ s$/m);

      expect(await cli(["announce", "maintenance", "at", "10:00"])).toMatchObject({ code: 0, out: "announced to 2 sessions" });
      for (const c of [phone, laptop]) {
        const m = await c.expect(/<message[^>]*type=["']headline["'][^>]*>[\s\S]*?<\/message>/);
        expect(m).toMatch(/from=["']localhost["']/);
        expect(m).toContain("<body>maintenance at 10:00</body>");
      }

      expect(await cli(["kick", "dave@localhost/phone"])).toMatchObject({ code: 0, out: "kicked dave@localhost/phone" });
      await phone.expect("<policy-violation");
      await phone.closedByServer();
      expect(JSON.parse((await cli(["sessions", "--json"])).out).map((s: { jid: string }) => s.jid)).toEqual(["dave@localhost/laptop"]);
      expect(await cli(["kick", "dave@localhost/phone"])).toMatchObject({ code: 1, err: "xmppd: no session dave@localhost/phone on this server" });

      const stats = JSON.parse((await cli(["stats", "--json"])).out) as { sessions: { bound: number }; stanzas: { sent: { message: number } }; auth: Record<string, { success: number }> };
      expect(stats.sessions.bound).toBe(1);
      expect(stats.stanzas.sent.message).toBeGreaterThanOrEqual(2);
      expect(stats.auth["SCRAM-SHA-256"]!.success).toBeGreaterThanOrEqual(2);
      expect((await cli(["stats"])).out).toMatch(/^sessions\.bound: 1$/m);
    } finally {
      phone.close();
      laptop.close();
    }
  });
});

describe("reload", () => {
  it("swaps the certificate for new connections and STARTTLS without dropping one, and says what needs a restart", async () => {
    await cli(["adduser", "erin@localhost", "pw"]);
    const before = await presented(ports.tls);
    const erin = await RawClient.login(ports.c2s, "erin", "pw");
    try {
      writeCertificate();
      writeConfig({ c2s: { host: "127.0.0.1", port: ports.c2s + 1, directTlsPort: ports.tls }, admins: ["erin@localhost"] });
      const r = await cli(["reload"]);
      expect(r.code).toBe(0);
      const after = await presented(ports.tls);
      expect(after).not.toBe(before);
      expect(r.out).toContain(`SHA-256 ${after}`);
      expect(r.out).toMatch(/admins \(1\)/);
      expect(r.out).toMatch(/^changed, needs a restart: c2s\.port$/m);
      // STARTTLS gets it too.
      const { c } = await RawClient.stream(ports.c2s);
      expect((c.socket as TLSSocket).getPeerCertificate().fingerprint256).toBe(after);
      c.close();
      // The session from before the reload goes on.
      erin.send("<iq type='get' id='still' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
      await erin.expect(/<iq[^>]*id=["']still["'][^>]*type=["']result["']|<iq[^>]*type=["']result["'][^>]*id=["']still["']/);
      // A certificate that cannot be read changes nothing.
      writeConfig({ tls: { cert: join(certs, "missing.pem"), key: join(certs, "privkey.pem") } });
      expect((await cli(["reload"])).err).toMatch(/^xmppd: tls\.cert: cannot read .*missing\.pem/);
      expect(await presented(ports.tls)).toBe(after);
    } finally {
      erin.close();
      writeConfig();
    }
  });
});

describe("the admin socket is the server user's only", () => {
  it("is made 0600, and another user cannot connect even where it can reach the file", async () => {
    const socket = join(data, "admin.sock");
    expect(lstatSync(socket).isSocket()).toBe(true);
    expect(lstatSync(socket).mode & 0o777).toBe(0o600);
    // Open the folders on the way, so that only the socket's own mode stands in the way.
    chmodSync(dir, 0o755);
    chmodSync(data, 0o755);
    try {
      const probe = "import socket, sys\ns = socket.socket(socket.AF_UNIX)\ntry:\n  s.connect(sys.argv[1]); print('connected')\nexcept OSError as e:\n  print(e.errno)";
      const asNobody = spawn("/usr/bin/python3", ["-c", probe, socket], { uid: 65534, gid: 65534 });
      let out = "";
      asNobody.stdout.on("data", (d: Buffer) => (out += d.toString()));
      await once(asNobody, "close");
      expect(out.trim()).toBe("13"); // EACCES
    } finally {
      chmodSync(data, 0o700);
      chmodSync(dir, 0o700);
    }
  });
});

describe("without a running server", () => {
  it("a second server on the same data is refused; stopped, the live commands say so and the account commands use the database", async () => {
    const second = await start().then(() => "started", (e: Error) => e.message);
    expect(second).toMatch(/exited 1 before serving: xmppd: a server is running already: it answers on .*admin\.sock/);
    await stopServer();
    expect(existsSync(join(data, "admin.sock"))).toBe(false);
    const r = await cli(["sessions"]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`xmppd: the server is not running (no server answers on ${join(data, "admin.sock")})`);
    expect(await cli(["adduser", "frank@localhost", "pw"])).toMatchObject({ code: 0, out: "created frank@localhost" });
    expect((await cli(["users"])).out.split("\n")).toContain("frank@localhost");
  });

  it("a socket left by a server that was killed is replaced at the next start", async () => {
    server = await start();
    const killed = once(server, "exit");
    server.kill("SIGKILL");
    await killed;
    expect(existsSync(join(data, "admin.sock"))).toBe(true);
    server = await start();
    expect((await cli(["users"])).out.split("\n")).toContain("frank@localhost");
    (await RawClient.login(ports.c2s, "frank", "pw")).close();
  });
});
