// xeps/ is the public feature list. This keeps it, the modules' declared specs, the server's
// disco#info, the README table, the DOAP file and the conformance expectations in agreement: a
// feature advertised without a claim, claimed without being advertised, or claimed while its
// Smack tests are excluded or failing unexplained, fails here.
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coreSpecs, modules } from "../src/modules/index.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { RawClient } from "./helpers/raw.ts";
import { DOAP_FILE, withTable, xepsTable } from "../scripts/xeps-table.ts";
import { doap } from "../scripts/doap.ts";
import { forProfile, noteOn, normalizeSpec, parseExpected, specLabel, type Exclusions, type ProfileRun } from "../conformance/lib/report.ts";

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
    // Configured so that every feature is on: registration, and a STUN/TURN server (XEP-0215 announces nothing without one).
    t = await startServer({ users: { claims: "pw" }, config: { registration: { enabled: true }, modules: { extdisco: { host: "turn.localhost", secret: "s" } } } });
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

  it("are the DOAP file xeps/xmppd.doap (node scripts/xeps-table.ts rewrites it)", () => {
    expect(readFileSync(DOAP_FILE, "utf8")).toBe(doap(dir));
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

describe("xeps/ claims and the conformance suite (conformance/)", () => {
  const conformance = join(dir, "..", "conformance");
  const ex = JSON.parse(readFileSync(join(conformance, "excluded.json"), "utf8")) as Exclusions;
  const expected = parseExpected(readFileSync(join(conformance, "expected-pass.txt"), "utf8"));
  const runs = ["plain", "tls"].map((p) => JSON.parse(readFileSync(join(conformance, "results", `${p}.json`), "utf8")) as ProfileRun);
  const claimed = new Set(claims.map((c) => c.spec));

  it("exclude no specification the server claims (a claimed spec is run)", () => {
    for (const profile of ["plain", "tls"]) {
      const excluded = Object.keys(forProfile(ex, profile).specifications).map(normalizeSpec);
      for (const c of claims) expect(excluded, `${c.spec} is claimed in xeps/ and excluded in ${profile}`).not.toContain(normalizeSpec(c.spec));
    }
  });

  it("have every Smack test of a claimed spec on the ratchet, or explained in excluded.json", () => {
    for (const run of runs) {
      for (const [id, t] of Object.entries(run.tests)) {
        if (!claimed.has(specLabel(t)) || t.result === "excluded") continue;
        const ok = expected.has(`${run.profile} ${id}`) || noteOn(ex.notes, id) !== undefined;
        expect(ok, `${run.profile} ${id} (${specLabel(t)}, ${t.result}) is neither on expected-pass.txt nor explained`).toBe(true);
      }
    }
  });

  it("the committed results pass every ratchet test, and the ratchet holds no test with a note", () => {
    for (const line of expected) {
      const [profile, id] = line.split(" ") as [string, string];
      expect(runs.find((r) => r.profile === profile)?.tests[id]?.result, line).toBe("passed");
      expect(noteOn(ex.notes, id), `${line} has a note in excluded.json`).toBeUndefined();
    }
  });
});
