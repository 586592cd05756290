// What held the server's core while each slow one-to-one message was on its way. Inputs: the
// latency samples of a run (BENCH_LATENCY_DUMP=FILE: "sendEpochMs latencyMs" per line), the
// scheduler's record of core 0 over the same time, and the offset between the two clocks:
//
//   BENCH_LATENCY_DUMP=/tmp/lat.txt node --expose-gc test/bench/run.ts one2one-bare --servers ours --no-tls &
//   # once the log says "throughput:" (the latency phase is next):
//   python3 -c 'import time; print(time.time()*1000 - time.clock_gettime(time.CLOCK_MONOTONIC)*1000)' > /tmp/off
//   perf sched record -k CLOCK_MONOTONIC -C 0 -o /tmp/sched.data -- sleep 23
//   perf sched timehist -i /tmp/sched.data --cpu 0 > /tmp/sched.txt
//   node test/bench/slow-samples.ts /tmp/lat.txt /tmp/sched.txt "$(cat /tmp/off)" [thresholdMs=1]
//
// Each slow sample is put in one class: "event loop" when the server's main thread was in a run
// of 1.5 ms or more that began before the message arrived (a GC pause, a long callback); else
// "writer" when the embedded store's writer thread held the core for 30% of the wait or more;
// "V8 threads" likewise for V8's helper threads; "idle" when the core was idle half the wait or
// more (the delay was on the generator's side); "other" for the rest.
import { readFileSync } from "node:fs";

interface Run { start: number; end: number; task: string }

const [latFile, schedFile, offArg, thrArg] = process.argv.slice(2);
if (!latFile || !schedFile || !offArg) {
  console.error("usage: slow-samples.ts LATENCY_DUMP SCHED_TIMEHIST CLOCK_OFFSET_MS [THRESHOLD_MS]");
  process.exit(2);
}
const offset = Number(offArg);
const threshold = Number(thrArg ?? 1);

// perf sched timehist: "time cpu task wait sch-delay run" per switch, times in seconds and ms.
const runs: Run[] = [];
for (const line of readFileSync(schedFile, "utf8").split("\n")) {
  const f = line.trim().split(/\s+/);
  if (f.length < 6 || !/^\d+\.\d+$/.test(f[0]!)) continue;
  const end = Number(f[0]) * 1000;
  const run = Number(f[f.length - 1]);
  runs.push({ start: end - run, end, task: f.slice(2, -3).join(" ").replace(/\[.*$/, "") });
}
runs.sort((a, b) => a.start - b.start);

const slow = readFileSync(latFile, "utf8").split("\n").filter(Boolean)
  .map((l) => l.split(" ").map(Number) as [number, number])
  .filter(([, latency]) => latency > threshold)
  .map(([sent, latency]) => ({ from: sent - offset, to: sent - offset + latency }));

/** The index of the first run that starts at or after t. */
function firstFrom(t: number): number {
  let lo = 0, hi = runs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (runs[mid]!.start < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const classes = new Map<string, number>();
for (const s of slow) {
  const wait = s.to - s.from;
  let longLoop = false, writer = 0, v8 = 0, idle = 0;
  // A run that began a while before the message (a long one) is found by stepping back.
  for (let i = Math.max(0, firstFrom(s.from) - 8); i < runs.length && runs[i]!.start < s.to; i++) {
    const r = runs[i]!;
    const overlap = Math.min(r.end, s.to) - Math.max(r.start, s.from);
    if (overlap <= 0) continue;
    if (r.task === "MainThread" && r.end - r.start >= 1.5 && r.start <= s.from + 0.3) longLoop = true;
    else if (r.task === "WorkerThread") writer += overlap;
    else if (r.task === "V8Worker") v8 += overlap;
    else if (r.task === "<idle>") idle += overlap;
  }
  const k = longLoop ? "event loop" : writer >= 0.3 * wait ? "writer" : v8 >= 0.3 * wait ? "V8 threads" : idle >= 0.5 * wait ? "idle" : "other";
  classes.set(k, (classes.get(k) ?? 0) + 1);
}
const covered = runs.length > 0 ? `${((runs.at(-1)!.end - runs[0]!.start) / 1000).toFixed(1)} s of core 0` : "no scheduler record";
console.log(`${slow.length} samples over ${threshold} ms (${covered})`);
for (const [k, n] of [...classes].sort((a, b) => b[1] - a[1])) console.log(`  ${k.padEnd(11)} ${n}`);
