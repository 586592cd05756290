// How long the property tests run. `npm test` runs each property a bounded number of times;
// FUZZ_SCALE multiplies that (`./run fuzz` sets it for long runs) and FUZZ_SEED replays a run
// (fast-check prints the seed and the path of a failure). A long run lifts vitest's timeout
// (`--testTimeout`); a test that sets its own scales it with timeout().
import type { Parameters } from "fast-check";

const scale = Number(process.env.FUZZ_SCALE ?? "1");
const seed = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);

/** fast-check parameters for `base` runs at scale 1. */
export function runs<T>(base: number): Parameters<T> {
  const p: Parameters<T> = { numRuns: Math.max(1, Math.round(base * (Number.isFinite(scale) && scale > 0 ? scale : 1))) };
  if (seed !== undefined && Number.isInteger(seed)) p.seed = seed;
  return p;
}

/** A test's own timeout for `ms` at scale 1, grown with the scale (it would override --testTimeout). */
export function timeout(ms: number): number {
  return Math.round(ms * (Number.isFinite(scale) && scale > 1 ? scale : 1));
}
