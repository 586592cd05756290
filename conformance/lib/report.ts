// What a sinttest run means: the runner's JSON read into one outcome per test (passed, failed,
// impossible, excluded), grouped by the specification each test class names, rendered as
// RESULTS.md, and held against the ratchet (expected-pass.txt: tests that must keep passing).
// Pure functions over plain data; conformance/run.ts does the files and processes.

export type Outcome = "passed" | "failed" | "impossible" | "excluded";

export interface TestOutcome {
  /** The class's @SpecificationReference document as written (e.g. "XEP-0050", "RFC6121"), or null. */
  spec: string | null;
  /** Fully qualified test class. */
  cls: string;
  result: Outcome;
  reason?: string;
}

export interface ProfileRun {
  profile: string;
  smackVersion: string;
  /** Wall time of the sinttest run, in seconds. */
  seconds: number;
  /** How the accounts were made: XEP-0133 commands or XEP-0077 registration. */
  provisioning: string;
  /** The framework's stack trace when it stopped part way; null when it ran to the end. */
  aborted: string | null;
  tests: Record<string, TestOutcome>;
}

/** conformance/excluded.json: what is not run, and why; and notes on failures that are not the server's. */
export interface Exclusions {
  connections: Record<string, string>;
  specifications: Record<string, string>;
  /** Fully qualified Class.method. */
  tests: Record<string, string>;
  /** Test id (or a pattern with *) -> explanation, shown next to its outcome; such tests stay off the ratchet. */
  notes: Record<string, string>;
  /** Exclusions of one profile only, added to the ones above. */
  profiles?: Record<string, { connections?: Record<string, string>; specifications?: Record<string, string>; tests?: Record<string, string> }>;
}

/** The exclusions that apply to one profile: the common ones and the profile's own. */
export function forProfile(ex: Exclusions, profile: string): Exclusions {
  const own = ex.profiles?.[profile] ?? {};
  return {
    connections: { ...ex.connections, ...own.connections },
    specifications: { ...ex.specifications, ...own.specifications },
    tests: { ...ex.tests, ...own.tests },
    notes: ex.notes,
  };
}

/** The note on a test: by its id, or by a pattern where * stands for any text. */
export function noteOn(notes: Record<string, string>, id: string): string | undefined {
  if (notes[id] !== undefined) return notes[id];
  for (const [pattern, note] of Object.entries(notes)) {
    if (!pattern.includes("*")) continue;
    const re = new RegExp(`^${pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
    if (re.test(id)) return note;
  }
  return undefined;
}

interface RunnerEntry { class: string; method: string; connection?: string; spec?: string; result: string; reason?: string }
export interface RunnerJson { smackVersion: string; testRunId?: string; aborted: string | null; tests: Record<string, RunnerEntry> }

/** sinttest's own comparison of specification names: case and punctuation do not count. */
export function normalizeSpec(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]/g, "");
}

/** "RFC6121" -> "RFC 6121"; XEPs unchanged; null -> the test's package, for unannotated classes. */
export function specLabel(t: Pick<TestOutcome, "spec" | "cls">): string {
  if (t.spec) return t.spec.replace(/^RFC\s*(\d+)$/i, "RFC $1");
  const pkg = t.cls.slice(0, t.cls.lastIndexOf(".")).replace(/^org\.(jivesoftware|igniterealtime)\./, "");
  return `(${pkg})`;
}

/** Why the runner reported a test as disabled: the exclusion it fell under. */
function exclusionReason(e: RunnerEntry, ex: Exclusions): string {
  if (e.connection && ex.connections[e.connection]) return ex.connections[e.connection]!;
  const byTest = ex.tests[`${e.class}.${e.method}`] ?? ex.tests[e.class];
  if (byTest) return byTest;
  const spec = e.spec ? Object.entries(ex.specifications).find(([k]) => normalizeSpec(k) === normalizeSpec(e.spec!)) : undefined;
  return spec ? spec[1] : e.reason ?? "disabled";
}

export function readRun(json: RunnerJson, ex: Exclusions, profile: string, seconds: number, provisioning: string): ProfileRun {
  const tests: Record<string, TestOutcome> = {};
  // What differs from run to run (the run's id in account names, resources the server chose) is
  // masked, so that the committed report changes only when an outcome does.
  const stable = (s: string) => {
    const masked = s.replace(/\/xmppd-[A-Za-z0-9_-]{8}/g, "/xmppd-…");
    return json.testRunId ? masked.replaceAll(json.testRunId, "…") : masked;
  };
  for (const [id, e] of Object.entries(json.tests)) {
    const result: Outcome = e.result === "passed" || e.result === "failed" || e.result === "impossible" ? e.result : "excluded";
    let reason = result === "excluded" ? exclusionReason(e, ex) : e.reason;
    if (e.result === "not-run") reason = `not run: ${e.reason}`;
    tests[id] = { spec: e.spec ?? null, cls: e.class, result, ...(reason !== undefined && result !== "passed" ? { reason: stable(firstLine(reason)) } : {}) };
  }
  return { profile, smackVersion: json.smackVersion, seconds, provisioning, aborted: json.aborted ? stable(firstLine(json.aborted)) : null, tests };
}

function firstLine(s: string): string {
  const line = s.split("\n")[0]!.trim();
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}

/** A run as results/<profile>.json keeps it: one line per test, so a diff shows what changed. */
export function formatRun(r: ProfileRun): string {
  const { tests, ...head } = r;
  const lines = Object.entries(tests).map(([id, t]) => `  ${JSON.stringify(id)}: ${JSON.stringify(t)}`);
  return `${JSON.stringify(head).slice(0, -1)},\n "tests": {\n${lines.join(",\n")}\n }\n}\n`;
}

export type Counts = Record<Outcome, number>;
const zero = (): Counts => ({ passed: 0, failed: 0, impossible: 0, excluded: 0 });

export function count(tests: Iterable<TestOutcome>): Counts {
  const c = zero();
  for (const t of tests) c[t.result]++;
  return c;
}

/** Test ids by specification label, both sorted. */
export function bySpec(runs: ProfileRun[]): Map<string, string[]> {
  const groups = new Map<string, Set<string>>();
  for (const r of runs) {
    for (const [id, t] of Object.entries(r.tests)) {
      const label = specLabel(t);
      if (!groups.has(label)) groups.set(label, new Set());
      groups.get(label)!.add(id);
    }
  }
  const order = (a: string, b: string) => (a.startsWith("(") === b.startsWith("(") ? a.localeCompare(b, "en", { numeric: true }) : a.startsWith("(") ? 1 : -1);
  return new Map([...groups].sort(([a], [b]) => order(a, b)).map(([k, v]) => [k, [...v].sort()]));
}

// ---- the ratchet --------------------------------------------------------------------------------

/** expected-pass.txt: "<profile> <test id>" per line; # comments. */
export function parseExpected(text: string): Set<string> {
  const out = new Set<string>();
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    if (line) out.add(line.split(/\s+/).join(" "));
  }
  return out;
}

export function formatExpected(lines: Set<string>, header: string): string {
  return `${header}\n${[...lines].sort().join("\n")}\n`;
}

/** Expected tests of the runs' profiles that did not pass: each is a regression. */
export function regressions(expected: Set<string>, runs: ProfileRun[]): { line: string; got: string }[] {
  const out: { line: string; got: string }[] = [];
  for (const line of [...expected].sort()) {
    const [profile, id] = line.split(" ") as [string, string];
    const run = runs.find((r) => r.profile === profile);
    if (!run) continue;
    const t = run.tests[id];
    if (t?.result !== "passed") out.push({ line, got: t ? `${t.result}${t.reason ? `: ${t.reason}` : ""}` : "not in the run" });
  }
  return out;
}

/**
 * Tests that passed and are not on the list yet (the list only grows: `--update` adds them).
 * A test with a note in excluded.json is left off: its outcome does not depend on the server.
 */
export function newPasses(expected: Set<string>, runs: ProfileRun[], notes: Record<string, string> = {}): string[] {
  const out: string[] = [];
  for (const r of runs) {
    for (const [id, t] of Object.entries(r.tests)) if (t.result === "passed" && noteOn(notes, id) === undefined && !expected.has(`${r.profile} ${id}`)) out.push(`${r.profile} ${id}`);
  }
  return out.sort();
}

// ---- RESULTS.md ---------------------------------------------------------------------------------

export interface ProfileInfo { name: string; description: string }

function cell(t: TestOutcome | undefined, notes: Record<string, string>, id: string): string {
  if (!t) return "—";
  if (t.result === "passed" || t.result === "excluded") return t.result;
  const noted = noteOn(notes, id) !== undefined ? " (see the note below)" : "";
  return esc(`${t.result}${t.reason ? `: ${t.reason}` : ""}${noted}`);
}

/** "- `a`, `b`: reason" lines, one per distinct reason. */
function reasons(map: Record<string, string>): string[] {
  const byReason = new Map<string, string[]>();
  for (const [k, v] of Object.entries(map)) byReason.set(v, [...(byReason.get(v) ?? []), k]);
  const lines = [...byReason].map(([reason, keys]) => `- ${keys.map((k) => (/^(XEP|RFC)/.test(k) ? k : `\`${k}\``)).join(", ")}: ${esc(reason)}`);
  return lines.length > 0 ? lines : ["- none"];
}

function esc(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/</g, "&lt;").replace(/\n/g, " ");
}

export function renderResults(runs: ProfileRun[], profiles: ProfileInfo[], ex: Exclusions, claimed: Map<string, string>, peers: ProfileRun[] = []): string {
  const out: string[] = [];
  const smack = runs[0]?.smackVersion ?? "?";
  out.push("# Conformance: Smack's Integration Test Framework", "");
  out.push(`Generated by \`node conformance/run.ts\` (see [README.md](README.md)); do not edit. Smack ${esc(smack)}, the`);
  out.push("suite the XMPP Interop Testing project runs against Openfire, ejabberd and Prosody, run against a");
  out.push("fresh server on loopback in each profile.", "");
  out.push("| profile | passed | failed | impossible | excluded | accounts | sinttest run |", "|---|---|---|---|---|---|---|");
  for (const r of runs) {
    const c = count(Object.values(r.tests));
    const p = profiles.find((x) => x.name === r.profile);
    out.push(`| ${r.profile}: ${esc(p?.description ?? "")} | ${c.passed} | ${c.failed} | ${c.impossible} | ${c.excluded} | ${esc(r.provisioning)} | ${Math.round(r.seconds)} s |`);
  }
  for (const r of runs) if (r.aborted) out.push("", `**The ${r.profile} run stopped part way:** ${esc(r.aborted)}`);
  out.push("", "*passed*: the test ran and passed; *failed*: it ran and failed; *impossible*: the test itself",
    "found that a precondition was missing (its reason is shown); *excluded*: not run, for the reason in",
    "the last section. A failure with a note is explained there (not a server fault, or a known one).");

  const groups = bySpec(runs);
  out.push("", "## Per specification", "");
  out.push(`| specification | claimed in xeps/ | tests | ${runs.map((r) => `${r.profile}: passed / failed / impossible / excluded`).join(" | ")} |`);
  out.push(`|---|---|---|${runs.map(() => "---|").join("")}`);
  for (const [label, ids] of groups) {
    const cols = runs.map((r) => {
      const c = count(ids.map((id) => r.tests[id]).filter((t): t is TestOutcome => t !== undefined));
      return `${c.passed} / ${c.failed} / ${c.impossible} / ${c.excluded}`;
    });
    out.push(`| ${label} | ${claimed.get(label) ?? "no"} | ${ids.length} | ${cols.join(" | ")} |`);
  }

  out.push("", "## Every test", "");
  for (const [label, ids] of groups) {
    out.push(`### ${label}`, "", `| test | ${runs.map((r) => r.profile).join(" | ")} |`, `|---|${runs.map(() => "---|").join("")}`);
    for (const id of ids) out.push(`| ${esc(id)} | ${runs.map((r) => cell(r.tests[id], ex.notes, id)).join(" | ")} |`);
    out.push("");
  }

  out.push("## Excluded, and why", "");
  out.push("A feature not built yet is a reason to leave tests out; a bug of the server is not. Connections:", "");
  out.push(...reasons(ex.connections), "", "Specifications:", "", ...reasons(ex.specifications), "", "Single tests:", "", ...reasons(ex.tests));
  for (const [profile, own] of Object.entries(ex.profiles ?? {})) {
    out.push("", `In the ${profile} profile only:`, "", ...reasons({ ...own.connections, ...own.specifications, ...own.tests }));
  }
  out.push("", "## Notes on failures", "", "Tests with a note run, and stay off the ratchet: their outcome does not depend on the server.", "");
  out.push(...reasons(ex.notes));

  if (peers.length) {
    const ours = runs.find((r) => r.profile === "plain");
    out.push("", "## The same suite against other servers, for scale", "");
    out.push("`node conformance/peers.ts` runs the plain profile's selection against the Debian packages of",
      "other servers on loopback (same Smack, same exclusions, accounts through their XEP-0133 commands).", "");
    out.push("| server | passed | failed | impossible | excluded | sinttest run |", "|---|---|---|---|---|---|");
    for (const r of [...(ours ? [{ ...ours, profile: "xmppd (plain)" }] : []), ...peers]) {
      const c = count(Object.values(r.tests));
      out.push(`| ${esc(r.profile)} | ${c.passed} | ${c.failed} | ${c.impossible} | ${c.excluded} | ${Math.round(r.seconds)} s |`);
    }
    const all = [...(ours ? [ours] : []), ...peers];
    out.push("", `| specification | ${all.map((r) => (r === ours ? "xmppd" : esc(r.profile.split(" (")[0]!))).join(" | ")} |`, `|---|${all.map(() => "---|").join("")}`);
    for (const [label, ids] of bySpec(all)) {
      const cols = all.map((r) => {
        const c = count(ids.map((id) => r.tests[id]).filter((t): t is TestOutcome => t !== undefined));
        return c.passed + c.failed + c.impossible === 0 ? "excluded" : `${c.passed} / ${c.failed} / ${c.impossible}`;
      });
      out.push(`| ${label} | ${cols.join(" | ")} |`);
    }
    out.push("", "(passed / failed / impossible)");
  }
  return out.join("\n") + "\n";
}
