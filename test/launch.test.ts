// Every way the server is started runs node with the same flags (src/node-flags.ts): ./run, npm
// start and the shebang of src/main.ts (the Dockerfile's entry point: test/docker.test.ts). A
// process started with them really gets the young generation they ask V8 for.
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { NODE_FLAGS } from "../src/node-flags.ts";
import { freePort, startProcess } from "./helpers/process.ts";
import { RawClient } from "./helpers/raw.ts";

const root = join(import.meta.dirname, "..");
const read = (f: string) => readFileSync(join(root, f), "utf8");
const flags = NODE_FLAGS.join(" ");

describe("the node flags of every launcher", () => {
  it("./run starts the CLI with them", () => {
    expect(read("run")).toContain(`exec node ${flags} "$root/src/main.ts" "$@"`);
  });

  it("npm start and the package's bin (the shebang of src/main.ts) carry them", () => {
    const pkg = JSON.parse(read("package.json")) as { scripts: Record<string, string>; bin: Record<string, string> };
    expect(pkg.scripts.start).toBe(`node ${flags} src/main.ts start`);
    expect(read(pkg.bin.xmppd!).split("\n")[0]).toBe(`#!/usr/bin/env -S node ${flags}`);
  });

  it("V8 takes them: the new space stays within 3 semi-spaces of the asked size", () => {
    const semi = Number(/--max-semi-space-size=(\d+)/.exec(flags)![1]);
    const script = "const a=[];for(let i=0;i<3e6;i++){const o={i,s:'x'+i};if(i%100===0)a.push(o)}" +
      "const s=require('v8').getHeapSpaceStatistics().find(x=>x.space_name==='new_space');console.log(s.space_size)";
    const newSpace = Number(execFileSync(process.execPath, [...NODE_FLAGS, "-e", script], { encoding: "utf8" }).trim());
    expect(newSpace).toBeGreaterThan(0);
    expect(newSpace).toBeLessThanOrEqual(3 * semi * 2 ** 20);
  });
});

/**
 * A checkout for ./run: the real script and sources (src/ is a link to this repository's), with a
 * scripts/node.sh that puts this Node and a recording npm first on PATH: the real npm would install
 * into the repository's node_modules. The recording npm makes what `npm ci` makes that ./run looks
 * at: node_modules/.package-lock.json, and the development packages unless --omit=dev.
 */
function checkout(): { root: string; npm: () => string[] } {
  const fake = realpathSync(mkdtempSync(join(tmpdir(), "xmppd-run-")));
  copyFileSync(join(root, "run"), join(fake, "run"));
  chmodSync(join(fake, "run"), 0o755);
  for (const d of ["scripts", "bin"]) mkdirSync(join(fake, d));
  symlinkSync(join(root, "src"), join(fake, "src"));
  writeFileSync(join(fake, "package-lock.json"), "{}\n");
  writeFileSync(join(fake, "scripts/node.sh"), `export PATH="${fake}/bin:${dirname(process.execPath)}:$PATH"\n`);
  writeFileSync(join(fake, "scripts/test.sh"), `echo "tests in $PWD"\n`);
  writeFileSync(join(fake, "bin/npm"), [
    "#!/bin/sh",
    `echo "$PWD: npm $*" >> "${fake}/npm.log"`,
    "rm -rf node_modules && mkdir -p node_modules && touch node_modules/.package-lock.json",
    'case " $* " in *" --omit=dev "*) ;; *) mkdir -p node_modules/vitest ;; esac',
  ].join("\n") + "\n");
  chmodSync(join(fake, "bin/npm"), 0o755);
  return { root: fake, npm: () => existsSync(join(fake, "npm.log")) ? readFileSync(join(fake, "npm.log"), "utf8").trim().split("\n") : [] };
}

const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

function runIn(cwd: string, script: string, args: string[]) {
  const r = spawnSync(script, args, { cwd, encoding: "utf8", timeout: 30_000, env: { ...process.env, XMPPD_LOG__LEVEL: "warn" } });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
}

describe("./run", () => {
  it("runs the server's commands in the caller's folder: -c FILE and dataDir are the caller's, and a missing file is named in full", () => {
    const c = checkout();
    const caller = realpathSync(mkdtempSync(join(tmpdir(), "xmppd-caller-")));
    made.push(c.root, caller);
    writeFileSync(join(caller, "site.jsonc"), `{ "dataDir": "state" }`);
    const run = join(c.root, "run");
    expect(runIn(caller, run, ["check", "-c", "site.jsonc"]).out.split("\n")[0])
      .toBe(`configuration OK (${caller}/site.jsonc): domain localhost, data in ${caller}/state, embedded storage in ${caller}/state/xmppd.sqlite`);
    expect(runIn(caller, run, ["adduser", "amy@localhost", "pw", "-c", "site.jsonc"])).toMatchObject({ code: 0, out: "created amy@localhost" });
    expect(existsSync(join(caller, "state", "xmppd.sqlite"))).toBe(true);
    expect(existsSync(join(c.root, "state"))).toBe(false);
    expect(runIn(caller, run, ["check", "-c", "bad.jsonc"])).toMatchObject({ code: 1, err: `xmppd: configuration error: config file ${caller}/bad.jsonc not found` });
    // ./xmppd.jsonc, the default config file, is the caller's too.
    writeFileSync(join(caller, "xmppd.jsonc"), `{ "domain": "caller.example" }`);
    expect(runIn(caller, run, ["check"]).out).toMatch(/^configuration OK \(.*\/xmppd\.jsonc\): domain caller\.example, /);
    // The tests run in the repository, wherever they are started from.
    expect(runIn(caller, run, ["test"]).out).toBe(`tests in ${c.root}`);
  });
});

describe("./run installs what the command needs", () => {
  it("the production dependencies for the server's commands, everything for the tests; a development checkout keeps everything", () => {
    const c = checkout();
    made.push(c.root);
    const run = join(c.root, "run");
    const production = `${c.root}: npm ci --omit=dev --silent --no-audit --no-fund`;
    const all = `${c.root}: npm ci --silent --no-audit --no-fund`;
    expect(runIn(c.root, run, ["check"]).code).toBe(0);
    expect(c.npm()).toEqual([production]);
    expect(runIn(c.root, run, ["users"]).code).toBe(0);
    expect(c.npm()).toEqual([production]); // installed already
    expect(runIn(c.root, run, ["test"]).out).toBe(`tests in ${c.root}`);
    expect(c.npm()).toEqual([production, all]);
    expect(runIn(c.root, run, ["check"]).code).toBe(0);
    expect(c.npm()).toEqual([production, all]);
    // A new lock file (git pull): the server's command installs again, and keeps the development packages here.
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(c.root, "package-lock.json"), later, later);
    expect(runIn(c.root, run, ["check"]).code).toBe(0);
    expect(c.npm()).toEqual([production, all, all]);
  });
});

describe("a production install (npm ci --omit=dev)", () => {
  const hook = join(root, "test/helpers/production-only.ts");
  const productionOnly = { NODE_OPTIONS: `--import=${hook}` };

  it("is what the test's import hook gives: a development dependency does not import", () => {
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", "await import('vitest')"], { cwd: root, encoding: "utf8", env: { ...process.env, ...productionOnly } });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/vitest, imported by .*, is not in package.json's dependencies/);
  });

  it("runs the server: account commands, then a start with every listener and module, a login and a WebSocket", async () => {
    const data = mkdtempSync(join(tmpdir(), "xmppd-production-"));
    made.push(data);
    const env = { ...process.env, ...productionOnly, XMPPD_DATA_DIR: join(data, "data"), XMPPD_LOG__LEVEL: "warn" };
    const add = spawnSync(process.execPath, [join(root, "src/main.ts"), "adduser", "pat@localhost", "pw"], { cwd: data, env, encoding: "utf8" });
    expect(add.stderr).toBe("");
    expect(add.stdout.trim()).toBe("created pat@localhost");
    const [c2s, directTls, http, https] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const child = await startProcess(data, { ...env, XMPPD_C2S__HOST: "127.0.0.1", XMPPD_HTTP__TLS_HOST: "127.0.0.1", XMPPD_C2S__PORT: String(c2s),
      XMPPD_C2S__DIRECT_TLS_PORT: String(directTls), XMPPD_HTTP__PORT: String(http), XMPPD_HTTP__TLS_PORT: String(https) });
    try {
      (await RawClient.login(c2s, "pat", "pw")).close();
      const ws = new WebSocket(`ws://127.0.0.1:${http}/xmpp-websocket`, "xmpp");
      await new Promise<void>((resolve, reject) => {
        ws.onopen = () => resolve();
        ws.onerror = () => reject(new Error("the WebSocket did not open"));
      });
      ws.close();
    } finally {
      child.kill("SIGKILL");
    }
  });
});
