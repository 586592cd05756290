import { describe, expect, it } from "vitest";
import { InFlight } from "./durability.ts";

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

const tick = () => new Promise((r) => setImmediate(r));

describe("InFlight", () => {
  it("settles at once with nothing on its way", async () => {
    const f = new InFlight();
    expect(f.size).toBe(0);
    await f.settled();
  });

  it("settles once every write has, a failed one included, and only then", async () => {
    const f = new InFlight();
    const [a, b] = [deferred(), deferred()];
    f.add(a.promise);
    f.add(b.promise);
    let settled = false;
    void f.settled().then(() => (settled = true));
    a.resolve();
    await tick();
    expect([settled, f.size]).toEqual([false, 1]);
    b.reject(new Error("disk"));
    await tick();
    expect([settled, f.size]).toEqual([true, 0]);
  });

  it("waits for writes added while it waits, and starts afresh after", async () => {
    const f = new InFlight();
    const [a, b, c] = [deferred(), deferred(), deferred()];
    f.add(a.promise);
    const first = f.settled();
    let done = false;
    void first.then(() => (done = true));
    f.add(b.promise);
    a.resolve();
    await tick();
    expect(done).toBe(false);
    b.resolve();
    await first;
    f.add(c.promise);
    const second = f.settled();
    expect(second).not.toBe(first);
    let again = false;
    void second.then(() => (again = true));
    await tick();
    expect(again).toBe(false);
    c.resolve();
    await second;
  });
});
