// The command line as an operator uses it: account commands, config check, one-line errors,
// a real `start` that serves, and SIGTERM closing every stream with <system-shutdown/>.
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import { networkInterfaces, tmpdir } from "node:os";
import { Writable } from "node:stream";
import { connect as tlsConnect } from "node:tls";
import { connect, createServer } from "node:net";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { RawClient } from "../helpers/raw.ts";
import { PROXY_OFF, freePort, startProcess } from "../helpers/process.ts";
import { loadConfig } from "../../src/core/config.ts";
import { XmppServer } from "../../src/server.ts";

const root = join(import.meta.dirname, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "xmppd-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[], env: Record<string, string> = {}, input?: string) {
  const r = spawnSync(process.execPath, [join(root, "src/main.ts"), ...args], {
    cwd: dir, env: { ...process.env, ...PROXY_OFF, XMPPD_DATA_DIR: join(dir, "data"), XMPPD_LOG__LEVEL: "warn", ...env }, input, encoding: "utf8", timeout: 20_000,
  });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
}

describe("account commands", () => {
  it("adduser, users, passwd, deluser", () => {
    expect(cli(["adduser", "alice@localhost", "pw1"])).toMatchObject({ code: 0, out: "created alice@localhost" });
    expect(cli(["adduser", "bob"], {}, "pw2\n")).toMatchObject({ code: 0, out: "created bob@localhost" });
    expect(cli(["users"]).out.split("\n")).toEqual(["alice@localhost", "bob@localhost"]);
    expect(cli(["adduser", "alice@localhost", "x"])).toMatchObject({ code: 1, err: "xmppd: account alice@localhost already exists" });
    expect(cli(["passwd", "alice@localhost", "pw3"])).toMatchObject({ code: 0 });
    expect(cli(["deluser", "bob@localhost"])).toMatchObject({ code: 0, out: "deleted bob@localhost" });
    expect(cli(["deluser", "bob@localhost"])).toMatchObject({ code: 1, err: "xmppd: no account bob@localhost" });
    expect(cli(["adduser", "carol@elsewhere.example", "pw"]).err).toMatch(/^xmppd: elsewhere.example is not a domain of this server \(localhost\)/);
    expect(cli(["adduser", "bad user@localhost", "pw"])).toMatchObject({ code: 1 });
  });
});

describe("invitations (XEP-0401)", () => {
  it("invite prints a register link and its expiry (modules.invite.expiry); --contact a roster link; --username one for that name", () => {
    expect(cli(["adduser", "host@localhost", "pw"])).toMatchObject({ code: 0 });
    const plain = cli(["invite"], { XMPPD_MODULES__INVITE__EXPIRY: "3600" });
    expect(plain.code).toBe(0);
    const [link, expires] = plain.out.split("\n");
    expect(link).toMatch(/^xmpp:localhost\?register;preauth=[0-9a-f]{30}$/);
    expect(Math.abs(Date.parse(expires!.replace(/^expires /, "")) - (Date.now() + 3_600_000))).toBeLessThan(60_000);
    expect(cli(["invite", "--contact", "host"]).out).toMatch(/^xmpp:host@localhost\?roster;preauth=[0-9a-f]{30};ibr=y\n/);
    expect(cli(["invite", "--username", "Newbie"]).out).toMatch(/^xmpp:newbie@localhost\?register;preauth=/);
  });

  it("refusals are one line: no such contact, a name taken, an unknown token, options that do not go together", () => {
    expect(cli(["invite", "--contact", "nobody"])).toMatchObject({ code: 1, err: "xmppd: no account nobody@localhost" });
    expect(cli(["invite", "--username", "host"])).toMatchObject({ code: 1, err: "xmppd: host is taken" });
    expect(cli(["invite", "--revoke", "0123"])).toMatchObject({ code: 1, err: "xmppd: no open invitation 0123" });
    expect(cli(["invite", "--contact", "host", "--username", "x"]).err).toMatch(/^xmppd: --username is for an account invitation/);
    expect(cli(["users", "--contact", "host"]).err).toMatch(/^xmppd: --domain, --contact, --username and --revoke are options of invite/);
  });

  it("with virtual hosts: --domain makes an invitation for that host, --contact for its account's host; a domain not served is refused", () => {
    const file = join(dir, "hosts.jsonc");
    writeFileSync(file, `{ "hosts": { "b.example": {} } }`);
    const env = { XMPPD_DATA_DIR: join(dir, "hosts-data") };
    const invite = (...args: string[]) => cli(["invite", "-c", file, ...args], env);
    expect(cli(["adduser", "-c", file, "bob@b.example", "pw"], env)).toMatchObject({ code: 0 });
    expect(invite().out).toMatch(/^xmpp:localhost\?register;preauth=[0-9a-f]{30}\n/);
    expect(invite("--domain", "b.example").out).toMatch(/^xmpp:b\.example\?register;preauth=[0-9a-f]{30}\n/);
    expect(invite("--domain", "b.example", "--username", "carol").out).toMatch(/^xmpp:carol@b\.example\?register;preauth=/);
    expect(invite("--contact", "bob@b.example").out).toMatch(/^xmpp:bob@b\.example\?roster;preauth=[0-9a-f]{30};ibr=y\n/);
    expect(invite("--domain", "b.example", "--contact", "bob").out).toMatch(/^xmpp:bob@b\.example\?roster;preauth=/);
    expect(invite("--contact", "bob")).toMatchObject({ code: 1, err: "xmppd: no account bob@localhost" });
    expect(invite("--domain", "localhost", "--contact", "bob@b.example").err).toMatch(/^xmppd: bob@b\.example is not an account of localhost/);
    expect(invite("--domain", "c.example").err).toMatch(/^xmppd: c\.example is not a domain of this server \(localhost, b\.example\)/);
    expect(invite("--revoke", "0123", "--domain", "b.example").err).toMatch(/^xmppd: --revoke takes no other option/);
  });

  it("the running server takes the link's token (XEP-0445) with registration closed; a revoked one it refuses", async () => {
    const token = /preauth=([0-9a-f]+)/.exec(cli(["invite"]).out)![1]!;
    const revoked = /preauth=([0-9a-f]+)/.exec(cli(["invite"]).out)![1]!;
    expect(cli(["invite", "--revoke", revoked])).toMatchObject({ code: 0, out: `revoked ${revoked}` });
    const port = await freePort();
    const child = await startProcess(dir, { ...process.env, XMPPD_DATA_DIR: join(dir, "data"), XMPPD_LOG__LEVEL: "warn", XMPPD_C2S__HOST: "127.0.0.1", XMPPD_C2S__PORT: String(port), XMPPD_C2S__DIRECT_TLS_PORT: "0", XMPPD_HTTP__PORT: "0", XMPPD_HTTP__TLS_PORT: "0" });
    try {
      const { c } = await RawClient.stream(port);
      c.send(`<iq type='set' id='bad'><preauth xmlns='urn:xmpp:pars:0' token='${revoked}'/></iq>`);
      expect(await c.expect(/<iq[^>]*id="bad"[\s\S]*?<\/iq>/)).toContain("<item-not-found");
      c.send(`<iq type='set' id='pa'><preauth xmlns='urn:xmpp:pars:0' token='${token}'/></iq>`);
      expect(await c.expect(/<iq[^>]*id="pa"[^>]*\/>/)).toContain(`type="result"`);
      c.send("<iq type='set' id='reg'><query xmlns='jabber:iq:register'><username>invitee</username><password>pw</password></query></iq>");
      expect(await c.expect(/<iq[^>]*id="reg"[^>]*\/>/)).toContain(`type="result"`);
      c.close();
      (await RawClient.login(port, "invitee", "pw")).close();
    } finally {
      child.kill("SIGKILL");
    }
  });
});

/**
 * Runs the CLI on a terminal: util-linux's `script` (in every Debian) gives it a pseudo-terminal
 * that echoes what is typed unless the program turns echo off. Each answer is typed once its
 * prompt has appeared, as a person would; resolves with everything the terminal showed.
 */
function onTerminal(args: string[], answers: string[]): Promise<{ code: number | null; screen: string }> {
  const quote = (a: string) => `'${a.replaceAll("'", "'\\''")}'`;
  const command = [process.execPath, join(root, "src/main.ts"), ...args].map(quote).join(" ");
  const child = spawn("script", ["-qfec", command, "/dev/null"], {
    cwd: dir, env: { ...process.env, XMPPD_DATA_DIR: join(dir, "data"), XMPPD_LOG__LEVEL: "warn" }, stdio: ["pipe", "pipe", "inherit"],
  });
  let screen = "";
  let typed = 0;
  child.stdout.on("data", (d: Buffer) => {
    screen += d.toString();
    const prompts = screen.match(/password( \(again\))?: /g)?.length ?? 0;
    while (typed < prompts && typed < answers.length) child.stdin.write(`${answers[typed++]}\r`);
  });
  return new Promise((resolve) => child.once("close", (code) => {
    child.stdin.end();
    resolve({ code, screen });
  }));
}

describe("the password prompt", () => {
  it("on a terminal: not echoed, asked twice, and the account takes it", async () => {
    const typed = await onTerminal(["adduser", "erin@localhost"], ["s3cX\u007fret", "s3cret"]);
    expect(typed.code).toBe(0);
    expect(typed.screen).toMatch(/^password: \r?\npassword \(again\): \r?\ncreated erin@localhost/);
    expect(typed.screen).not.toMatch(/s3c/);
    const port = await freePort();
    const child = await startProcess(dir, { ...process.env, XMPPD_DATA_DIR: join(dir, "data"), XMPPD_LOG__LEVEL: "warn", XMPPD_C2S__HOST: "127.0.0.1", XMPPD_C2S__PORT: String(port), XMPPD_C2S__DIRECT_TLS_PORT: "0", XMPPD_HTTP__PORT: "0", XMPPD_HTTP__TLS_PORT: "0" });
    try {
      (await RawClient.login(port, "erin", "s3cret")).close();
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("on a terminal: two different answers change nothing", async () => {
    const typed = await onTerminal(["adduser", "frank@localhost"], ["one", "two"]);
    expect(typed.code).toBe(1);
    expect(typed.screen).toMatch(/xmppd: the passwords do not match/);
    expect(typed.screen).not.toMatch(/one|two/);
    const changed = await onTerminal(["passwd", "erin@localhost"], ["one", "two"]);
    expect(changed.code).toBe(1);
    expect(cli(["users"]).out.split("\n")).not.toContain("frank@localhost");
  });

  it("from a pipe: the first line, asked once (scripts)", () => {
    expect(cli(["adduser", "gina@localhost"], {}, "pw4\n")).toMatchObject({ code: 0, out: "created gina@localhost" });
    expect(cli(["passwd", "gina@localhost"], {}, "pw5\nignored\n")).toMatchObject({ code: 0, out: "password changed for gina@localhost" });
    expect(cli(["passwd", "gina@localhost"], {}, "")).toMatchObject({ code: 1, err: "xmppd: no password given" });
  });
});

describe("configuration errors are one line", () => {
  it("check passes on defaults and names a bad key", () => {
    expect(cli(["check"])).toMatchObject({ code: 0 });
    const file = join(dir, "bad.jsonc");
    writeFileSync(file, `{ // comment\n "c2s": { "port": "five" } }`);
    const r = cli(["check", "-c", file]);
    expect(r.code).toBe(1);
    expect(r.err).toBe("xmppd: configuration error: c2s.port: must be an integer");
    writeFileSync(file, `{ "limits": { "stanzaSiz": 1 } }`);
    expect(cli(["check", "-c", file]).err).toMatch(/^xmppd: configuration error: limits\.stanzaSiz: unknown option/);
    expect(cli(["check"], { XMPPD_C2S__PORT: "x" }).err).toBe("xmppd: configuration error: c2s.port: must be an integer");
    expect(cli(["check", "-c", join(dir, "missing.jsonc")]).err).toMatch(/^xmppd: configuration error: config file .* not found$/);
  });

  it("check validates the storage section without connecting to the cluster", () => {
    const file = join(dir, "storage.jsonc");
    writeFileSync(file, `{ "storage": { "backend": "cassandra", "cassandra": { "contactPoints": ["10.0.0.7:9042"], "keyspace": "chat",
      "replication": "{'class': 'NetworkTopologyStrategy', 'dc1': 3}" } } }`);
    // 10.0.0.7 is never contacted: check only validates.
    expect(cli(["check", "-c", file])).toMatchObject({ code: 0 });
    expect(cli(["check", "-c", file]).out).toMatch(/cassandra storage: keyspace chat at 10\.0\.0\.7:9042 \(datacenter1, LOCAL_QUORUM\)$/m);
    expect(cli(["check"]).out).toMatch(/embedded storage in .*xmppd\.sqlite$/m);
    expect(cli(["check"], { XMPPD_STORAGE__BACKEND: "mongo" }).err).toBe("xmppd: configuration error: storage.backend: must be one of embedded, cassandra");
    expect(cli(["check", "-c", file], { XMPPD_STORAGE__CASSANDRA__KEYSPACE: "Chat-1" }).err)
      .toMatch(/^xmppd: configuration error: storage\.cassandra\.keyspace: must be lower-case letters/);
    expect(cli(["check", "-c", file], { XMPPD_STORAGE__CASSANDRA__REPLICATION: "{'class': 'Everywhere'}" }).err)
      .toBe("xmppd: configuration error: storage.cassandra.replication: class must be SimpleStrategy or NetworkTopologyStrategy");
    expect(cli(["check", "-c", file], { XMPPD_STORAGE__CASSANDRA__CONSISTENCY: "SOME" }).err)
      .toMatch(/^xmppd: configuration error: storage\.cassandra\.consistency: must be one of LOCAL_QUORUM/);
  });

  it("an unknown command prints the usage", () => {
    const r = cli(["frobnicate"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^xmppd: unknown command 'frobnicate'/);
  });

  it("check refuses the module options start refuses, from the file and from the environment", () => {
    const file = join(dir, "modules.jsonc");
    writeFileSync(file, `{ "modules": { "mam": { "retention": "abc" } } }`);
    const message = "xmppd: configuration error: modules.mam.retention: must be an integer";
    const off = { XMPPD_C2S__PORT: "0", XMPPD_C2S__DIRECT_TLS_PORT: "0", XMPPD_HTTP__PORT: "0", XMPPD_HTTP__TLS_PORT: "0" };
    expect(cli(["check", "-c", file])).toMatchObject({ code: 1, err: message });
    expect(cli(["start", "-c", file], off)).toMatchObject({ code: 1, err: message });
    expect(cli(["check"], { XMPPD_MODULES__MAM__RETENTION: "abc" })).toMatchObject({ code: 1, err: message });
    expect(cli(["check"], { XMPPD_MODULES__MAM__RETENTION: "7" })).toMatchObject({ code: 0 });
    writeFileSync(file, `{ "modules": { "upload": { "s3": { "buckt": "x" } } } }`);
    expect(cli(["check", "-c", file]).err).toMatch(/^xmppd: configuration error: modules\.upload\.s3\.buckt: unknown option/);
    writeFileSync(file, `{ "modules": { "mamm": {} } }`);
    expect(cli(["check", "-c", file]).err).toMatch(/^xmppd: configuration error: modules\.mamm: no such module/);
  });

  it("config-doc documents the module options", () => {
    const doc = cli(["config-doc"]);
    expect(doc.code).toBe(0);
    expect(doc.out).toMatch(/^\| `modules\.mam\.retention` \| integer \| `\d+` \| .+ \|$/m);
    expect(doc.out).toMatch(/^\| `modules\.upload\.storage` \| one of local \\\| s3 \| `"local"` \| .+ \|$/m);
  });

  it("check creates nothing", () => {
    const data = join(dir, "check-data");
    expect(cli(["check"], { XMPPD_DATA_DIR: data })).toMatchObject({ code: 0 });
    expect(existsSync(data)).toBe(false);
  });

  it("a port in use is one line", async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const port = (blocker.address() as { port: number }).port;
    const r = cli(["start"], { XMPPD_C2S__HOST: "127.0.0.1", XMPPD_C2S__PORT: String(port), XMPPD_C2S__DIRECT_TLS_PORT: "0", XMPPD_HTTP__PORT: "0", XMPPD_HTTP__TLS_PORT: "0" });
    blocker.close();
    expect(r.code).toBe(1);
    expect(r.err).toBe(`xmppd: port ${port} on 127.0.0.1 is already in use`);
  });
});

describe("a start that cannot open a listener", () => {
  const names = ["c2s", "directTls", "http", "https"] as const;
  for (const taken of names) {
    it(`stops when the ${taken} port is taken: exit 1, one line, no data folder, no database`, async () => {
      const ports = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await freePort()] as const)));
      const blocker = createServer();
      await new Promise<void>((r) => blocker.listen(ports[taken], "127.0.0.1", r));
      const data = join(dir, `data-${taken}`);
      try {
        const r = cli(["start"], {
          XMPPD_DATA_DIR: data, XMPPD_C2S__HOST: "127.0.0.1", XMPPD_HTTP__HOST: "127.0.0.1", XMPPD_HTTP__TLS_HOST: "127.0.0.1",
          XMPPD_C2S__PORT: String(ports.c2s), XMPPD_C2S__DIRECT_TLS_PORT: String(ports.directTls),
          XMPPD_HTTP__PORT: String(ports.http), XMPPD_HTTP__TLS_PORT: String(ports.https),
        });
        // spawnSync's timeout would leave a null status: the process exited by itself.
        expect(r.code).toBe(1);
        expect(r.err).toBe(`xmppd: port ${ports[taken]} on 127.0.0.1 is already in use`);
        expect(existsSync(data)).toBe(false);
      } finally {
        blocker.close();
      }
    });
  }

  it("two listeners on one port are refused the same way", async () => {
    const port = await freePort();
    const r = cli(["start"], { XMPPD_C2S__HOST: "127.0.0.1", XMPPD_HTTP__HOST: "127.0.0.1", XMPPD_HTTP__TLS_HOST: "127.0.0.1", XMPPD_C2S__PORT: String(port), XMPPD_C2S__DIRECT_TLS_PORT: "0",
      XMPPD_HTTP__PORT: String(port), XMPPD_HTTP__TLS_PORT: "0", XMPPD_DATA_DIR: join(dir, "data-twice") });
    expect(r).toMatchObject({ code: 1, err: `xmppd: port ${port} on 127.0.0.1 is already in use` });
    expect(existsSync(join(dir, "data-twice"))).toBe(false);
  });

  it("a failure after storage was opened removes the data folder the start made", () => {
    const data = join(dir, "data-nocert");
    const r = cli(["start"], { XMPPD_DATA_DIR: data, XMPPD_TLS__CERT: join(dir, "none.pem"), XMPPD_TLS__KEY: join(dir, "none.key"),
      XMPPD_C2S__PORT: "0", XMPPD_C2S__DIRECT_TLS_PORT: "0", XMPPD_HTTP__PORT: "0", XMPPD_HTTP__TLS_PORT: "0" });
    expect(r).toMatchObject({ code: 1, err: `xmppd: configuration error: tls.cert: cannot read ${join(dir, "none.pem")} (ENOENT)` });
    expect(existsSync(data)).toBe(false);
  });

  it("a listener that cannot open after others did closes them, and the modules and storage with them", async () => {
    const [open, taken] = [await freePort(), await freePort()];
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(taken, "127.0.0.1", r));
    const cfg = loadConfig(undefined, { ...PROXY_OFF, XMPPD_DATA_DIR: join(dir, "data-inproc"), XMPPD_LOG__LEVEL: "silent", XMPPD_C2S__HOST: "127.0.0.1", XMPPD_HTTP__HOST: "127.0.0.1", XMPPD_HTTP__TLS_HOST: "127.0.0.1",
      XMPPD_C2S__PORT: String(open), XMPPD_C2S__DIRECT_TLS_PORT: "0", XMPPD_HTTP__PORT: "0", XMPPD_HTTP__TLS_PORT: String(taken) });
    const server = new XmppServer(cfg);
    try {
      // The race a check before the start cannot close: the port is taken between the two.
      await expect(server.start()).rejects.toThrow(`port ${taken} on 127.0.0.1 is already in use`);
      const refused = await new Promise<boolean>((r) => connect(open, "127.0.0.1").once("connect", () => r(false)).once("error", () => r(true)));
      expect(refused).toBe(true);
      await expect(server.storage.keyval("x").get("y")).rejects.toThrow();
    } finally {
      blocker.close();
    }
  });
});

describe("the data folder is the server user's only", () => {
  const mode = (p: string) => lstatSync(p).mode & 0o777;

  it("what the commands make there is 0600, its folders 0700", () => {
    const data = join(dir, "data-private");
    expect(cli(["adduser", "hal@localhost", "pw"], { XMPPD_DATA_DIR: data })).toMatchObject({ code: 0 });
    expect(mode(data)).toBe(0o700);
    expect(mode(join(data, "xmppd.sqlite"))).toBe(0o600);
  });

  it("start takes group and other permissions off what is there, leaves links alone, and SQLite's -wal and -shm are 0600", async () => {
    const data = join(dir, "data-loose");
    expect(cli(["adduser", "ida@localhost", "pw"], { XMPPD_DATA_DIR: data })).toMatchObject({ code: 0 });
    mkdirSync(join(data, "old"));
    writeFileSync(join(data, "old", "notes"), "x");
    writeFileSync(join(dir, "outside"), "x");
    symlinkSync(join(dir, "outside"), join(data, "link"));
    for (const [p, m] of [[data, 0o755], [join(data, "xmppd.sqlite"), 0o644], [join(data, "old"), 0o775], [join(data, "old", "notes"), 0o664], [join(dir, "outside"), 0o644]] as const) chmodSync(p, m);
    const port = await freePort();
    let log = "";
    const output = new Writable({ write: (chunk: Buffer, _enc, done) => { log += chunk.toString(); done(); } });
    const child = await startProcess(dir, { ...process.env, XMPPD_DATA_DIR: data, XMPPD_LOG__LEVEL: "warn", XMPPD_C2S__HOST: "127.0.0.1", XMPPD_C2S__PORT: String(port), XMPPD_C2S__DIRECT_TLS_PORT: "0", XMPPD_HTTP__PORT: "0", XMPPD_HTTP__TLS_PORT: "0" }, { output });
    try {
      (await RawClient.login(port, "ida", "pw")).close();
      expect(mode(data)).toBe(0o700);
      expect(mode(join(data, "old"))).toBe(0o700);
      for (const f of ["xmppd.sqlite", "xmppd.sqlite-wal", "xmppd.sqlite-shm", "old/notes", "certs/localhost.crt", "certs/localhost.key"]) expect(mode(join(data, f)), f).toBe(0o600);
      expect(mode(join(data, "certs"))).toBe(0o700);
      expect(mode(join(dir, "outside"))).toBe(0o644);
      const warning = JSON.parse(log.split("\n").find((l) => l.includes("group and other permissions removed"))!) as { changed: string[] };
      expect(warning.changed.sort()).toEqual([data, join(data, "old"), join(data, "old", "notes"), join(data, "xmppd.sqlite")].sort());
    } finally {
      child.kill("SIGKILL");
    }
  });
});

/** Whether a TCP connection to host:port is accepted. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((r) => {
    const s = connect(port, host).once("connect", () => (s.destroy(), r(true))).once("error", () => r(false));
  });
}

/** The SHA-256 fingerprint of the certificate a TLS listener presents. */
async function presented(port: number): Promise<string> {
  const s = tlsConnect({ host: "127.0.0.1", port, rejectUnauthorized: false });
  await once(s, "secureConnect");
  const fingerprint = s.getPeerCertificate().fingerprint256;
  s.destroy();
  return fingerprint;
}

describe("start", () => {
  it("a Cassandra cluster that does not answer is one line, and nothing is served", async () => {
    const port = await freePort();
    const r = cli(["start"], { XMPPD_STORAGE__BACKEND: "cassandra", XMPPD_STORAGE__CASSANDRA__CONTACT_POINTS: `127.0.0.1:${port}`, XMPPD_C2S__PORT: "0", XMPPD_C2S__DIRECT_TLS_PORT: "0", XMPPD_HTTP__PORT: "0", XMPPD_HTTP__TLS_PORT: "0" });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`^xmppd: storage unavailable: cassandra at 127\\.0\\.0\\.1:${port}: .+$`));
  });


  it("says every listener with its address and the certificate's SHA-256 fingerprint; plain HTTP is on loopback, the rest on every address", async () => {
    const [c2s, directTls, http, https] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const data = join(dir, "data-line");
    let log = "";
    const output = new Writable({ write: (chunk: Buffer, _enc, done) => { log += chunk.toString(); done(); } });
    const child = await startProcess(dir, { ...process.env, XMPPD_DATA_DIR: data, XMPPD_LOG__LEVEL: "warn",
      XMPPD_C2S__PORT: String(c2s), XMPPD_C2S__DIRECT_TLS_PORT: String(directTls), XMPPD_HTTP__PORT: String(http), XMPPD_HTTP__TLS_PORT: String(https) }, { output });
    try {
      await expect.poll(() => /^xmppd: serving .*$/m.test(log)).toBe(true);
      const fingerprint = await presented(directTls);
      expect(fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
      expect(await presented(https)).toBe(fingerprint);
      expect(/^xmppd: serving .*$/m.exec(log)![0]).toBe(`xmppd: serving localhost on c2s [::]:${c2s}, direct TLS [::]:${directTls}, ` +
        `http (ws://) 127.0.0.1:${http}, https (wss://) [::]:${https}; certificate ${data}/certs/localhost.crt, SHA-256 ${fingerprint}`);
      // From another address of this machine, the plain HTTP port is not there; the others are.
      const other = Object.values(networkInterfaces()).flat().find((i) => i && !i.internal && i.family === "IPv4")?.address;
      if (other !== undefined) {
        expect(await accepts(other, http)).toBe(false);
        for (const port of [c2s, directTls, https]) expect(await accepts(other, port)).toBe(true);
      }
      expect(await accepts("127.0.0.1", http)).toBe(true);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("serves the accounts made with adduser, and SIGTERM closes streams with <system-shutdown/>", async () => {
    cli(["adduser", "dave@localhost", "pw"]);
    const port = await freePort();
    const child = await startProcess(dir, { ...process.env, XMPPD_DATA_DIR: join(dir, "data"), XMPPD_LOG__LEVEL: "warn", XMPPD_C2S__HOST: "127.0.0.1", XMPPD_C2S__PORT: String(port), XMPPD_C2S__DIRECT_TLS_PORT: "0", XMPPD_HTTP__PORT: "0", XMPPD_HTTP__TLS_PORT: "0" });
    try {
      const c = await RawClient.login(port, "dave", "pw");
      const exited = new Promise<number | null>((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await c.expect("<stream:error><system-shutdown");
      await c.closedByServer();
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});
