// The conformance command: Smack's Integration Test Framework against a fresh xmppd, in two
// profiles (loopback without TLS, as the XMPP Interop Testing runners do; and TLS required),
// then RESULTS.md and the ratchet. Exit code 1 when a test on expected-pass.txt did not pass.
//
//   node conformance/run.ts                      both profiles; writes RESULTS.md and results/
//   node conformance/run.ts --profile tls        one profile (RESULTS.md keeps the other's last run)
//   node conformance/run.ts --update             also add newly passing tests to expected-pass.txt
//   node conformance/run.ts --registration ibr   accounts by in-band registration, not XEP-0133
//   node conformance/run.ts --only smackx.commands.AdHocCommandIntegrationTest
//                                                a quick look at some tests; writes only the logs
//   node conformance/run.ts --report             RESULTS.md again from results/ (after editing excluded.json)
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ADMIN, startServer } from "./lib/server.ts";
import { build, runSinttest } from "./lib/smack.ts";
import {
  forProfile, formatExpected, formatRun, newPasses, parseExpected, readRun, regressions, renderResults,
  type Exclusions, type ProfileInfo, type ProfileRun, type RunnerJson,
} from "./lib/report.ts";

const dir = import.meta.dirname;
const root = join(dir, "..");

interface Profile extends ProfileInfo { requireTls: boolean; securityMode: "disabled" | "required" }

export const PROFILES: Profile[] = [
  { name: "plain", description: "securityMode=disabled, c2s.requireTls false (the upstream runners' setting)", requireTls: false, securityMode: "disabled" },
  { name: "tls", description: "securityMode=required: STARTTLS before authentication, the server's self-signed certificate trusted", requireTls: true, securityMode: "required" },
];

const EXPECTED_HEADER = `# The ratchet: tests that must keep passing, one "<profile> <test>" per line. CI fails when one
# does not pass. The list only grows: \`node conformance/run.ts --update\` adds the tests that newly
# pass; a test leaves it only when the test itself changes upstream.`;

export function readExclusions(): Exclusions {
  return JSON.parse(readFileSync(join(dir, "excluded.json"), "utf8")) as Exclusions;
}

/** Spec label -> claim status, from xeps/ (the public feature list). */
export function claimedSpecs(): Map<string, string> {
  const xeps = join(root, "xeps");
  return new Map(readdirSync(xeps).filter((f) => f.endsWith(".json"))
    .map((f) => JSON.parse(readFileSync(join(xeps, f), "utf8")) as { spec: string; status: string })
    .map((c) => [c.spec, c.status]));
}

export function loadRun(profile: string): ProfileRun | undefined {
  const f = join(dir, "results", `${profile}.json`);
  return existsSync(f) ? (JSON.parse(readFileSync(f, "utf8")) as ProfileRun) : undefined;
}

async function runProfile(p: Profile, classpath: string, opts: { ibr: boolean; only?: string; replyTimeoutMs: number; retry?: boolean }): Promise<ProfileRun | undefined> {
  const logs = join(dir, "target", "logs");
  mkdirSync(logs, { recursive: true });
  // A retry's logs go beside the first run's, which show the failure.
  const name = opts.retry ? `${p.name}-retry` : p.name;
  const server = await startServer({ requireTls: p.requireTls, registration: opts.ibr }, join(logs, `${name}-server.log`));
  const resultsFile = join(logs, `${name}-results.json`);
  const started = Date.now();
  let code: number;
  try {
    code = await runSinttest({
      classpath, port: server.port, securityMode: p.securityMode,
      trustStore: p.securityMode === "required" ? server.trustStore : undefined,
      admin: opts.ibr ? undefined : ADMIN,
      replyTimeoutMs: opts.replyTimeoutMs, exclusions: forProfile(readExclusions(), p.name), only: opts.only,
      resultsFile, logFile: join(logs, `${name}-sinttest.log`),
    });
  } finally {
    await server.stop();
  }
  const seconds = (Date.now() - started) / 1000;
  if (!existsSync(resultsFile)) {
    console.error(`conformance ${p.name}: sinttest exited ${code} without results; see ${join(logs, `${name}-sinttest.log`)}`);
    return undefined;
  }
  const provisioning = opts.ibr ? "in-band registration (XEP-0077)" : "admin commands (XEP-0133)";
  return readRun(JSON.parse(readFileSync(resultsFile, "utf8")) as RunnerJson, forProfile(readExclusions(), p.name), p.name, seconds, provisioning);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      profile: { type: "string", multiple: true },
      update: { type: "boolean" },
      registration: { type: "string", default: "admin" },
      only: { type: "string" },
      "reply-timeout": { type: "string", default: "5000" },
      report: { type: "boolean" },
    },
  });
  if (values.report) {
    writeResults([]);
    return 0;
  }
  const names = values.profile ?? PROFILES.map((p) => p.name);
  const profiles = names.map((n) => PROFILES.find((p) => p.name === n) ?? fail(`no profile '${n}' (${PROFILES.map((p) => p.name).join(", ")})`));
  if (values.registration !== "admin" && values.registration !== "ibr") fail("--registration is admin or ibr");
  const opts = { ibr: values.registration === "ibr", only: values.only, replyTimeoutMs: Number(values["reply-timeout"]) };

  const t0 = Date.now();
  const classpath = build();
  const runs: ProfileRun[] = [];
  let broken = false;
  for (const p of profiles) {
    const run = await runProfile(p, classpath, opts);
    if (!run) {
      broken = true;
      continue;
    }
    runs.push(run);
    const c = Object.values(run.tests).reduce((a, t) => ((a[t.result] = (a[t.result] ?? 0) + 1), a), {} as Record<string, number>);
    console.log(`conformance ${p.name}: ${c.passed ?? 0} passed, ${c.failed ?? 0} failed, ${c.impossible ?? 0} impossible, ${c.excluded ?? 0} excluded (${Math.round(run.seconds)} s)`);
    if (run.aborted) {
      console.error(`conformance ${p.name}: the run stopped part way: ${run.aborted}`);
      broken = true;
    }
    if (values.only) for (const [id, t] of Object.entries(run.tests)) if (t.result !== "excluded") console.log(`  ${t.result.padEnd(10)} ${id}${t.reason ? `: ${t.reason}` : ""}`);
  }
  if (values.only) return broken ? 1 : 0;

  // A ratchet test that failed gets one more run of its own before it counts as a regression:
  // some of Smack's tests race with their own listener threads on a loaded machine. A test that
  // passes on its retry is recorded as passed with a note saying so, and printed as flaky.
  const expectedFile = join(dir, "expected-pass.txt");
  const expected = parseExpected(existsSync(expectedFile) ? readFileSync(expectedFile, "utf8") : "");
  for (const l of regressions(expected, runs)) {
    const [profileName, id] = l.line.split(" ") as [string, string];
    const profile = PROFILES.find((p) => p.name === profileName);
    const run = runs.find((r) => r.profile === profileName);
    const retry = profile && run && !broken ? await runProfile(profile, classpath, { ...opts, only: id.replace(/\[.*\]$/, ""), retry: true }) : undefined;
    if (run && retry?.tests[id]?.result === "passed") {
      console.error(`conformance: FLAKY ${l.line}: failed (${l.got.slice(0, 200)}), passed on its own retry`);
      run.tests[id] = { ...retry.tests[id]!, reason: `passed on a retry of its own after: ${l.got.slice(0, 300)}` };
    }
  }

  writeResults(runs);

  const lost = regressions(expected, runs);
  const gained = newPasses(expected, runs, readExclusions().notes);
  if (values.update && broken) console.error("conformance: not updating expected-pass.txt from a broken run");
  else if (values.update && gained.length) {
    for (const g of gained) expected.add(g);
    writeFileSync(expectedFile, formatExpected(expected, EXPECTED_HEADER));
    console.log(`conformance: added ${gained.length} newly passing tests to expected-pass.txt`);
  } else if (gained.length) {
    console.log(`conformance: ${gained.length} tests pass that are not on expected-pass.txt yet (node conformance/run.ts --update adds them):`);
    for (const g of gained) console.log(`  ${g}`);
  }
  for (const l of lost) console.error(`conformance: REGRESSION ${l.line}: ${l.got}`);
  console.log(`conformance: ${lost.length} regressions on expected-pass.txt (${expected.size} tests), ${Math.round((Date.now() - t0) / 1000)} s in all`);
  return lost.length || broken ? 1 : 0;
}

/** results/<profile>.json for the runs made, then RESULTS.md from every profile's latest results. */
function writeResults(runs: ProfileRun[]): void {
  mkdirSync(join(dir, "results"), { recursive: true });
  for (const r of runs) writeReport(join(dir, "results", `${r.profile}.json`), formatRun(r));
  const all = PROFILES.map((p) => runs.find((r) => r.profile === p.name) ?? loadRun(p.name)).filter((r): r is ProfileRun => r !== undefined);
  const peers = readdirSync(join(dir, "results")).filter((f) => f.startsWith("peer-")).map((f) => JSON.parse(readFileSync(join(dir, "results", f), "utf8")) as ProfileRun);
  writeReport(join(dir, "RESULTS.md"), renderResults(all, PROFILES, readExclusions(), claimedSpecs(), peers));
}

/** Writes the file unless only run times differ, so a run that changes no outcome leaves the tree clean. */
function writeReport(path: string, content: string): void {
  const mask = (s: string) => s.replace(/\| \d+ s \|/g, "| s |").replace(/"seconds": ?[\d.]+/g, "\"seconds\":0");
  if (existsSync(path) && mask(readFileSync(path, "utf8")) === mask(content)) return;
  writeFileSync(path, content);
}

function fail(message: string): never {
  console.error(`conformance: ${message}`);
  process.exit(2);
}

if (import.meta.main) {
  main().then((code) => (process.exitCode = code), (e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
}
