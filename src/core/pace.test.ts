import { describe, expect, it } from "vitest";
import { pace } from "./pace.ts";

describe("pace", () => {
  it("lets a timer due meanwhile run within a long loop, a pace or two later", async () => {
    let fired = -1;
    setTimeout(() => (fired = step), 0);
    let step = 0;
    const until = Date.now() + 5;
    while (Date.now() < until) {} // the timer is due before the loop starts
    for (; step < 1000; step++) await pace(step, 100);
    // setImmediate resumes in the check phase; the timers phase comes at the next turn's start.
    expect([100, 200]).toContain(fired);
  });

  it("does not wait between the other steps", () => {
    expect(pace(0, 100)).toBeUndefined();
    expect(pace(99, 100)).toBeUndefined();
    expect(pace(100, 100)).toBeInstanceOf(Promise);
  });
});
