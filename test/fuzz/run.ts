// A coverage-guided fuzzer over V8's own block coverage, for the fuzz targets in targets/.
//   node test/fuzz/run.ts [target|all] [seconds]     (./run fuzz calls it; 60 s per target)
// Each target exports fuzz(data) that throws on a broken property. The loop mutates inputs from
// the corpus (test/fuzz/corpus/<target>/, committed, and .fuzz/corpus/<target>/, what earlier runs
// found), runs the target, and keeps an input that reached blocks of src/ no input reached before,
// counted in powers of two as AFL counts edges. A target that throws leaves its input in
// .fuzz/crashes/ and the run fails; the input being run is always in .fuzz/current-<target>, so
// one that hangs (the caller's timeout ends the run) is there to replay:
//   node test/fuzz/run.ts <target> --replay FILE
// and `node test/fuzz/run.ts <target|all> --minimize` rewrites the committed corpus as the few
// inputs (40 at most) that reach what all the known ones reach.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export interface FuzzTarget {
  /** Throws when the input breaks a property of the code under test. */
  fuzz(data: Buffer): void | Promise<void>;
  /** Inputs to start from besides the corpus folder's. */
  seeds?: (Buffer | string)[];
  /** Pieces the mutator inserts: tokens of the input's language. */
  dictionary?: (Buffer | string)[];
}

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const TARGETS = readdirSync(join(here, "targets")).filter((f) => f.endsWith(".ts")).map((f) => f.slice(0, -3)).sort();
const MAX_INPUT = 4096;

// --- coverage ----------------------------------------------------------------------------------

const session = new Session();
session.connect();
function post<T>(method: string, params?: object): T {
  let out: T | undefined;
  let error: Error | null = null;
  // An in-thread session answers before post() returns.
  session.post(method, params, (e, r) => {
    error = e;
    out = r as T;
  });
  if (error) throw error;
  return out as T;
}

interface Coverage { result: { url: string; functions: { ranges: { startOffset: number; endOffset: number; count: number }[] }[] }[] }

const SRC = `${root}/src/`;
/** The blocks of src/ the last run reached, as keys "script:offset:bucket" (counts in powers of two). */
function features(): string[] {
  const out: string[] = [];
  for (const script of post<Coverage>("Profiler.takePreciseCoverage").result) {
    if (!script.url.includes(SRC)) continue;
    const name = script.url.slice(script.url.indexOf(SRC) + SRC.length);
    for (const f of script.functions) {
      for (const r of f.ranges) if (r.count > 0) out.push(`${name}:${r.startOffset}:${31 - Math.clz32(r.count)}`);
    }
  }
  return out;
}

// --- mutation ----------------------------------------------------------------------------------

let seed = (Date.now() ^ process.pid) >>> 0;
/** xorshift32: fast, and replayable from the printed seed. */
function rand(n: number): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return ((seed >>> 0) % Math.max(1, n)) | 0;
}

const INTERESTING = [0x00, 0x7f, 0x80, 0xff, 0xc0, 0xed, 0xef, 0xf4, 0x3c, 0x3e, 0x26, 0x3b, 0x27, 0x22, 0x2c, 0x3d];

function mutate(input: Buffer, corpus: Buffer[], dictionary: Buffer[]): Buffer {
  let b = Buffer.from(input);
  const rounds = 1 + rand(4);
  for (let k = 0; k < rounds; k++) {
    const at = rand(b.length + 1);
    switch (rand(8)) {
      case 0: if (b.length > 0) { const i = rand(b.length); b[i] = b[i]! ^ (1 << rand(8)); } break;
      case 1: if (b.length > 0) b[rand(b.length)] = INTERESTING[rand(INTERESTING.length)]!; break;
      case 2: b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + rand(16))]); break;
      case 3: if (dictionary.length > 0) b = Buffer.concat([b.subarray(0, at), dictionary[rand(dictionary.length)]!, b.subarray(at)]); break;
      case 4: {
        const len = 1 + rand(32);
        const piece = b.subarray(at, at + len);
        b = Buffer.concat([b.subarray(0, at), piece, piece, b.subarray(at)]);
        break;
      }
      case 5: {
        const other = corpus[rand(corpus.length)]!;
        const from = rand(other.length);
        b = Buffer.concat([b.subarray(0, at), other.subarray(from, from + 1 + rand(64)), b.subarray(at)]);
        break;
      }
      case 6: b = Buffer.concat([b.subarray(0, at), Buffer.from(Array.from({ length: 1 + rand(8) }, () => rand(256))), b.subarray(at)]); break;
      default: if (dictionary.length > 0) {
        const word = dictionary[rand(dictionary.length)]!;
        b = Buffer.concat([b.subarray(0, at), word, b.subarray(at + word.length)]);
      }
    }
  }
  return b.length > MAX_INPUT ? b.subarray(0, MAX_INPUT) : b;
}

// --- the loop ----------------------------------------------------------------------------------

const asBuffer = (s: Buffer | string) => (typeof s === "string" ? Buffer.from(s, "utf8") : s);
const hash = (b: Buffer) => createHash("sha1").update(b).digest("hex").slice(0, 16);

function readDir(dir: string): Buffer[] {
  return existsSync(dir) ? readdirSync(dir).sort().map((f) => readFileSync(join(dir, f))) : [];
}

async function fuzzTarget(name: string, seconds: number): Promise<boolean> {
  const target = (await import(join(here, "targets", `${name}.ts`))) as FuzzTarget;
  const work = join(root, ".fuzz");
  const found = join(work, "corpus", name);
  mkdirSync(found, { recursive: true });
  mkdirSync(join(work, "crashes"), { recursive: true });
  const dictionary = (target.dictionary ?? []).map(asBuffer);
  const corpus: Buffer[] = [];
  const seen = new Set<string>();
  let execs = 0;

  const run = async (input: Buffer): Promise<string[] | Error> => {
    writeFileSync(join(work, `current-${name}`), input);
    execs++;
    try {
      await target.fuzz(input);
    } catch (e) {
      features();
      return e instanceof Error ? e : new Error(String(e));
    }
    return features();
  };
  const crash = (input: Buffer, e: Error): boolean => {
    const file = join(work, "crashes", `${name}-${hash(input)}`);
    writeFileSync(file, input);
    console.error(`${name}: FINDING after ${execs} runs: ${e.stack ?? e.message}\n  input: ${file}\n  ${JSON.stringify(input.toString("latin1").slice(0, 300))}`);
    return false;
  };
  const consider = (input: Buffer, result: string[]): boolean => {
    let fresh = false;
    for (const f of result) if (!seen.has(f)) {
      seen.add(f);
      fresh = true;
    }
    if (fresh) corpus.push(input);
    return fresh;
  };

  post("Profiler.enable");
  post("Profiler.startPreciseCoverage", { callCount: true, detailed: true });
  features(); // what loading the target reached is not the inputs' doing
  const start = [...(target.seeds ?? []).map(asBuffer), ...readDir(join(here, "corpus", name)), ...readDir(found)];
  for (const input of start.length > 0 ? start : [Buffer.alloc(0)]) {
    const r = await run(input);
    if (r instanceof Error) return crash(input, r);
    consider(input, r);
  }
  const began = Date.now();
  const stop = began + seconds * 1000;
  let report = began + 10_000;
  let added = 0;
  console.log(`${name}: ${corpus.length} inputs, ${seen.size} blocks to start with (seed ${seed})`);
  while (Date.now() < stop) {
    const input = mutate(corpus[rand(corpus.length)]!, corpus, dictionary);
    const r = await run(input);
    if (r instanceof Error) return crash(input, r);
    if (consider(input, r)) {
      added++;
      writeFileSync(join(found, hash(input)), input);
    }
    if (Date.now() > report) {
      report += 10_000;
      console.log(`${name}: ${execs} runs (${Math.round(execs / ((Date.now() - began) / 1000))}/s), ${corpus.length} inputs, ${seen.size} blocks`);
    }
  }
  post("Profiler.stopPreciseCoverage");
  console.log(`${name}: done, ${execs} runs in ${seconds} s, ${corpus.length} inputs (${added} new, in .fuzz/corpus/${name}), ${seen.size} blocks`);
  return true;
}

/**
 * Rewrites the committed corpus of `name` as a few inputs that reach every block all known inputs
 * reach: greedily the one that adds most, the shorter on a tie, at most `max`.
 */
async function minimize(name: string, max: number): Promise<void> {
  const target = (await import(join(here, "targets", `${name}.ts`))) as FuzzTarget;
  const committed = join(here, "corpus", name);
  const inputs = [...readDir(committed), ...readDir(join(root, ".fuzz", "corpus", name))];
  post("Profiler.enable");
  post("Profiler.startPreciseCoverage", { callCount: true, detailed: true });
  features();
  const reach: { input: Buffer; blocks: Set<string> }[] = [];
  for (const input of inputs) {
    try {
      await target.fuzz(input);
    } catch {
      // a finding is for the crashes folder, not the corpus
    }
    reach.push({ input, blocks: new Set(features()) });
  }
  const covered = new Set<string>();
  const chosen: Buffer[] = [];
  while (chosen.length < max) {
    let best: { input: Buffer; blocks: Set<string> } | undefined;
    let gain = 0;
    for (const r of reach) {
      let g = 0;
      for (const f of r.blocks) if (!covered.has(f)) g++;
      if (g > gain || (g === gain && g > 0 && best !== undefined && r.input.length < best.input.length)) [best, gain] = [r, g];
    }
    if (best === undefined || gain === 0) break;
    for (const f of best.blocks) covered.add(f);
    chosen.push(best.input);
  }
  rmSync(committed, { recursive: true, force: true });
  mkdirSync(committed, { recursive: true });
  for (const input of chosen) writeFileSync(join(committed, hash(input)), input);
  console.log(`${name}: ${chosen.length} of ${inputs.length} inputs reach ${covered.size} blocks, in test/fuzz/corpus/${name}`);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const replay = args.indexOf("--replay");
  if (replay >= 0) {
    const target = (await import(join(here, "targets", `${args[0]}.ts`))) as FuzzTarget;
    await target.fuzz(readFileSync(args[replay + 1]!));
    console.log("no finding");
    return;
  }
  if (args.includes("--minimize")) {
    for (const t of args[0] === "all" ? TARGETS : [args[0]!]) await minimize(t, 40);
    return;
  }
  const which = args[0] === undefined || args[0] === "all" ? TARGETS : [args[0]];
  const seconds = Number(args[1] ?? 60);
  for (const t of which) if (!TARGETS.includes(t)) throw new Error(`no target ${t}; there are ${TARGETS.join(", ")}`);
  let ok = true;
  for (const t of which) ok = (await fuzzTarget(t, seconds)) && ok;
  process.exitCode = ok ? 0 : 1;
}

await main();
