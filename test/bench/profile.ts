// Reads a V8 CPU profile (node --cpu-prof, written by `./run bench --cpu-prof DIR`) and prints
// where the time went: self time by function and by source file, and inclusive time of chosen
// entry points, as shares of the busy (non-idle) samples. Run: node test/bench/profile.ts FILE
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

export interface Summary {
  busyMs: number;
  idleMs: number;
  byFunction: [string, number][];
  byFile: [string, number][];
  inclusive: [string, number][];
}

const short = (url: string): string => url.replace(/^file:\/\/.*?\/(src|node_modules|test)\//, "$1/").replace(/^node:/, "node:");

/** Shares (0..1) of busy time, largest first. */
export function summarize(p: Profile, entries: string[] = []): Summary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  let busy = 0;
  let idle = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i]!;
    const dt = (p.timeDeltas[i + 1] ?? p.timeDeltas[i] ?? 0) / 1000;
    const name = byId.get(id)?.callFrame.functionName;
    if (name === "(idle)") {
      idle += dt;
      continue;
    }
    busy += dt;
    self.set(id, (self.get(id) ?? 0) + dt);
  }
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  const incl = new Map<string, number>();
  for (const [id, ms] of self) {
    const n = byId.get(id)!;
    const f = n.callFrame;
    const where = f.url ? `${short(f.url)}:${f.lineNumber + 1}` : "";
    const key = `${f.functionName || "(anonymous)"} ${where}`.trim();
    fn.set(key, (fn.get(key) ?? 0) + ms);
    const fk = f.url ? short(f.url) : f.functionName;
    file.set(fk, (file.get(fk) ?? 0) + ms);
    // Inclusive: charge each entry point found on the stack once.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const name = byId.get(cur)!.callFrame.functionName;
      if (entries.includes(name) && !seen.has(name)) {
        seen.add(name);
        incl.set(name, (incl.get(name) ?? 0) + ms);
      }
    }
  }
  const top = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, v / busy] as [string, number]);
  return { busyMs: busy, idleMs: idle, byFunction: top(fn), byFile: top(file), inclusive: top(incl) };
}

const pct = (x: number) => `${(x * 100).toFixed(1).padStart(5)}%`;

if (import.meta.main) {
  const [path, n = "30", ...entries] = process.argv.slice(2);
  if (!path) throw new Error("usage: node test/bench/profile.ts FILE.cpuprofile [top] [entryFunction...]");
  const s = summarize(JSON.parse(readFileSync(path, "utf8")) as Profile, entries);
  console.log(`busy ${Math.round(s.busyMs)} ms, idle ${Math.round(s.idleMs)} ms`);
  console.log("\nself time by function:");
  for (const [k, v] of s.byFunction.slice(0, Number(n))) console.log(`${pct(v)}  ${k}`);
  console.log("\nself time by file:");
  for (const [k, v] of s.byFile.slice(0, Number(n))) console.log(`${pct(v)}  ${k}`);
  if (s.inclusive.length) {
    console.log("\ninclusive time of entry points:");
    for (const [k, v] of s.inclusive) console.log(`${pct(v)}  ${k}`);
  }
}
