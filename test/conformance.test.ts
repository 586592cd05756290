// The conformance report without running Smack: a runner result read into outcomes, the
// ratchet's regressions and additions, and the table per specification.
import { describe, expect, it } from "vitest";
import {
  bySpec, count, forProfile, newPasses, noteOn, parseExpected, readRun, regressions, renderResults, specLabel,
  type Exclusions, type RunnerJson,
} from "../conformance/lib/report.ts";

const ex: Exclusions = {
  connections: { "modular-websocket-okhttp": "WebSocket is not built yet." },
  specifications: { "XEP-0045": "MUC is not built yet." },
  tests: { "org.example.FtTest.socks5": "Needs a proxy." },
  notes: { "RaceTest.flaky": "A race in the test.", "*[modular]": "Client bug." },
  profiles: { tls: { connections: { modular: "Client bug with TLS." } } },
};

const json: RunnerJson = {
  smackVersion: "4.5.0-beta5",
  aborted: null,
  tests: {
    "AdHocTest.run": { class: "org.x.AdHocTest", method: "run", spec: "XEP-0050", result: "passed" },
    "AdHocTest.bad": { class: "org.x.AdHocTest", method: "bad", spec: "XEP-0050", result: "failed", reason: "expected bad-request\nstack" },
    "MucTest.join": { class: "org.x.MucTest", method: "join", spec: "XEP-0045", result: "disabled", reason: "Skipping ... disabled" },
    "FtTest.socks5": { class: "org.example.FtTest", method: "socks5", spec: "XEP-0096", result: "disabled", reason: "not enabled" },
    "LoginTest.login[modular-websocket-okhttp]": { class: "org.jivesoftware.smack.LoginTest", method: "login", connection: "modular-websocket-okhttp", result: "disabled", reason: "disabled" },
    "LoginTest.login[tcp]": { class: "org.jivesoftware.smack.LoginTest", method: "login", connection: "tcp", result: "passed" },
    "LoginTest.login[modular]": { class: "org.jivesoftware.smack.LoginTest", method: "login", connection: "modular", result: "passed" },
    "SmTest.resume": { class: "org.x.SmTest", method: "resume", spec: "XEP-0198", result: "impossible", reason: "not supported by service" },
    "RaceTest.flaky": { class: "org.x.RaceTest", method: "flaky", spec: "RFC6121", result: "passed" },
  },
};

describe("readRun", () => {
  const run = readRun(json, ex, "plain", 12.3, "admin commands (XEP-0133)");

  it("maps disabled tests to excluded with the reason from excluded.json", () => {
    expect(run.tests["MucTest.join"]).toMatchObject({ result: "excluded", reason: "MUC is not built yet." });
    expect(run.tests["FtTest.socks5"]).toMatchObject({ result: "excluded", reason: "Needs a proxy." });
    expect(run.tests["LoginTest.login[modular-websocket-okhttp]"]).toMatchObject({ result: "excluded", reason: "WebSocket is not built yet." });
  });

  it("keeps the first line of a failure, and no reason for a pass", () => {
    expect(run.tests["AdHocTest.bad"]).toMatchObject({ result: "failed", reason: "expected bad-request" });
    expect(run.tests["AdHocTest.run"]!.reason).toBeUndefined();
    expect(count(Object.values(run.tests))).toEqual({ passed: 4, failed: 1, impossible: 1, excluded: 3 });
  });

  it("labels specifications as xeps/ does, unannotated tests by package", () => {
    expect(specLabel({ spec: "RFC6121", cls: "x" })).toBe("RFC 6121");
    expect(specLabel({ spec: null, cls: "org.jivesoftware.smack.roster.LowLevelRosterTest" })).toBe("(smack.roster)");
    expect([...bySpec([run]).keys()]).toEqual(["RFC 6121", "XEP-0045", "XEP-0050", "XEP-0096", "XEP-0198", "(smack)"]);
  });
});

describe("the ratchet", () => {
  const run = readRun(json, ex, "plain", 1, "x");
  it("a listed test that did not pass is a regression; other profiles' lines wait for their run", () => {
    const expected = parseExpected("# comment\nplain AdHocTest.run\nplain AdHocTest.bad  # was passing\ntls AdHocTest.bad\nplain Gone.test\n");
    expect(regressions(expected, [run])).toEqual([
      { line: "plain AdHocTest.bad", got: "failed: expected bad-request" },
      { line: "plain Gone.test", got: "not in the run" },
    ]);
  });

  it("newly passing tests are offered, except those with a note (exact or pattern)", () => {
    expect(newPasses(new Set(["plain AdHocTest.run"]), [run], ex.notes)).toEqual(["plain LoginTest.login[tcp]"]);
    expect(noteOn(ex.notes, "LoginTest.login[modular]")).toBe("Client bug.");
    expect(noteOn(ex.notes, "LoginTest.login[tcp]")).toBeUndefined();
  });

  it("a profile's own exclusions add to the common ones", () => {
    expect(Object.keys(forProfile(ex, "tls").connections).sort()).toEqual(["modular", "modular-websocket-okhttp"]);
    expect(Object.keys(forProfile(ex, "plain").connections)).toEqual(["modular-websocket-okhttp"]);
  });
});

describe("renderResults", () => {
  it("has the counts per profile and per specification, every test, and the exclusions with reasons", () => {
    const md = renderResults([readRun(json, ex, "plain", 12.3, "admin commands (XEP-0133)")], [{ name: "plain", description: "no TLS" }], ex, new Map([["XEP-0050", "complete"]]));
    expect(md).toContain("| plain: no TLS | 4 | 1 | 1 | 3 | admin commands (XEP-0133) | 12 s |");
    expect(md).toContain("| XEP-0050 | complete | 2 | 1 / 1 / 0 / 0 |");
    expect(md).toContain("| AdHocTest.bad | failed: expected bad-request |");
    expect(md).toContain("- XEP-0045: MUC is not built yet.");
    expect(md).toContain("- `modular`: Client bug with TLS.");
  });
});
