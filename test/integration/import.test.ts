// `./run import` and `./run export` as an operator runs them (src/main.ts in a process of its own):
// a refusal is one plain answer with exit code 1 and nothing written; --dry-run reports and writes
// nothing; an import, then an export (mode 0600), then that export imported into another data
// folder gives the same accounts, which log in with their old passwords over a real socket.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { xml } from "../../src/xml/element.ts";
import { connect } from "../helpers/im.ts";
import { ROOT } from "../helpers/process.ts";
import { startServer } from "../helpers/server.ts";

const dir = mkdtempSync(join(tmpdir(), "xmppd-import-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const FIXTURES = join(ROOT, "src/modules/pie/fixtures");
const EJABBERD = join(FIXTURES, "ejabberd", "20261207-061112.xml");

function cli(dataDir: string, domain: string, ...args: string[]): { status: number | null; out: string; err: string } {
  const env = { ...process.env, XMPPD_DOMAIN: domain, XMPPD_DATA_DIR: dataDir, XMPPD_LOG__LEVEL: "warn" };
  const r = spawnSync(process.execPath, [join(ROOT, "src/main.ts"), ...args], { cwd: dir, env, encoding: "utf8", timeout: 60_000 });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

describe("xmppd import and export", () => {
  it("refuses an export for another domain in one answer, and writes nothing", () => {
    const data = join(dir, "other");
    const r = cli(data, "example.org", "import", EJABBERD);
    expect(r.status).toBe(1);
    expect(existsSync(data)).toBe(false); // the data folder the refused import would have used is not left behind
    expect(r.err).toBe(`xmppd: the export cannot be imported; nothing was written:\n` +
      `  ${join(FIXTURES, "ejabberd", "20261207-061112_localhost.xml")}: host localhost is not a domain of this server (example.org); addresses are kept as they are, so import it into a server for localhost (or add it to hosts)\n`);
  });

  it("--dry-run reports, an import writes, an export writes a private file that another server imports", async () => {
    const a = join(dir, "a");
    const dry = cli(a, "localhost", "import", "--dry-run", EJABBERD);
    expect(dry.status, dry.err).toBe(0);
    expect(dry.out.split("\n")[0]).toBe("would import (--dry-run: nothing was written) 2 accounts: romeo@localhost, juliet@localhost");
    expect(existsSync(a)).toBe(false);
    expect(cli(a, "localhost", "import", EJABBERD).out.split("\n").slice(0, 2)).toEqual([
      "imported 2 accounts: romeo@localhost, juliet@localhost",
      "with 2 roster items, 1 vCard, 1 private XML element, 2 PEP nodes, 2 PEP items, 2 offline messages",
    ]);
    expect(cli(a, "localhost", "users").out).toBe("juliet@localhost\nromeo@localhost\n");
    const again = cli(a, "localhost", "import", EJABBERD);
    expect(again.status).toBe(1);
    expect(again.err).toContain("romeo@localhost exists already on this server");

    const file = join(dir, "export.xml");
    const e = cli(a, "localhost", "export", file);
    expect(e.status, e.err).toBe(0);
    expect(e.out).toBe(`exported 2 accounts of localhost (2 offline and 0 archived messages) to ${file}, readable by this user only\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(cli(a, "localhost", "export", file).err).toBe(`xmppd: ${file} exists; the export does not replace a file\n`);

    const b = join(dir, "b");
    expect(cli(b, "localhost", "import", file).status).toBe(0);
    const t = await startServer({ dataDir: b });
    try {
      const juliet = await connect(t, "juliet", "r", { password: "Capulet-3b" });
      juliet.send(xml("presence"));
      const first = await juliet.next((s) => s.name === "message", "an offline message");
      expect(first.getChildText("body")).toBe("Shall I hear more?");
      const roster = await juliet.ask(xml("iq", { type: "get" }, xml("query", { xmlns: "jabber:iq:roster" })));
      expect(roster.getChild("query")!.getChildren("item").map((i) => [i.attrs.jid, i.attrs.subscription])).toEqual([["romeo@localhost", "both"]]);
      await juliet.stop();
    } finally {
      await t.stop(false);
    }
  });
});
