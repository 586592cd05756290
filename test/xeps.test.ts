// xeps/ is the public feature list. This keeps it, the modules' declared specs and the server's
// disco#info in agreement: a feature advertised without a claim, or claimed without being
// advertised, fails here.
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coreSpecs, modules } from "../src/modules/index.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { RawClient } from "./helpers/raw.ts";
import { withTable, xepsTable } from "../scripts/xeps-table.ts";

export interface Claim {
  spec: string;
  name: string;
  version: string;
  status: "complete" | "partial";
  module: string;
  /** Features this spec puts in the server's disco#info. */
  features?: string[];
  /** Features this spec puts in an account's disco#info. */
  accountFeatures?: string[];
  tests: string[];
  notes?: string;
}

const dir = join(import.meta.dirname, "..", "xeps");
export const claims: Claim[] = readdirSync(dir).filter((f) => f.endsWith(".json"))
  .map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")) as Claim);

function discoFeatures(xmlText: string): string[] {
  return [...xmlText.matchAll(/<feature var=["']([^"']+)["']/g)].map((m) => m[1]!).sort();
}

describe("xeps/ claims", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ users: { claims: "pw" }, config: { registration: { enabled: true } } });
  });
  afterAll(() => t.stop());

  it("name a loaded module that declares the spec, and tests that exist", () => {
    for (const c of claims) {
      const m = c.module === "core" ? { specs: coreSpecs } : modules.find((x) => x.name === c.module);
      expect(m, `${c.spec}: module ${c.module}`).toBeDefined();
      expect(m!.specs.map((s) => s.spec), `${c.spec} declared by ${c.module}`).toContain(c.spec);
      expect(m!.specs.find((s) => s.spec === c.spec)!.version).toBe(c.version);
      for (const f of c.tests) expect(existsSync(join(dir, "..", f)), `${c.spec}: test ${f}`).toBe(true);
    }
  });

  it("are the table in README.md (node scripts/xeps-table.ts rewrites it)", () => {
    const readme = readFileSync(join(dir, "..", "README.md"), "utf8");
    expect(withTable(readme, xepsTable(dir))).toBe(readme);
  });

  it("cover every spec a module declares", () => {
    const claimed = new Set(claims.map((c) => c.spec));
    for (const m of modules) for (const s of m.specs) expect(claimed.has(s.spec), `${m.name} declares ${s.spec}`).toBe(true);
  });

  it("match the server's disco#info features exactly", async () => {
    const c = await RawClient.login(t.port, "claims", "pw");
    c.send(`<iq type='get' id='d1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    const host = await c.expect(/<iq[^>]*id=["']d1["'][\s\S]*?<\/iq>/);
    c.send(`<iq type='get' id='d2' to='claims@localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    const account = await c.expect(/<iq[^>]*id=["']d2["'][\s\S]*?<\/iq>/);
    c.close();
    expect(discoFeatures(host)).toEqual([...new Set(claims.flatMap((x) => x.features ?? []))].sort());
    expect(discoFeatures(account)).toEqual([...new Set(claims.flatMap((x) => x.accountFeatures ?? []))].sort());
  });
});
