import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { GivenUp, SpaceWait } from "./space-wait.ts";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe("messages held for storage space", () => {
  it("are routed again until the store takes them, in the order they were held", async () => {
    const w = new SpaceWait({ process: 10, account: 10 });
    let full = true;
    const order: string[] = [];
    const attempt = (name: string) => async () => {
      if (full) return "full" as const;
      order.push(name);
      return "done" as const;
    };
    const first = w.hold("romeo@example.com", true, attempt("first"), () => true);
    const second = w.hold("romeo@example.com", false, attempt("second"), () => true);
    expect(w.holding("romeo@example.com")).toBe(true);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(order).toEqual([]);
    full = false;
    await vi.advanceTimersByTimeAsync(5_000);
    await Promise.all([first, second]);
    expect(order).toEqual(["first", "second"]);
    expect(w.holding("romeo@example.com")).toBe(false);
    expect(w.size).toBe(0);
  });

  it("gives up beyond the account's bound and the process's, and when the sender's session ends", async () => {
    const w = new SpaceWait({ process: 3, account: 2 });
    const full = async () => "full" as const;
    let alive = true;
    const held = [w.hold("romeo@example.com", true, full, () => alive), w.hold("romeo@example.com", true, full, () => alive)];
    await expect(w.hold("romeo@example.com", true, full, () => true)).rejects.toBeInstanceOf(GivenUp);
    const juliet = w.hold("juliet@example.com", true, full, () => alive);
    await expect(w.hold("mercutio@example.com", true, full, () => true)).rejects.toBeInstanceOf(GivenUp);
    alive = false;
    const settled = Promise.allSettled([...held, juliet]);
    await vi.advanceTimersByTimeAsync(10_000);
    expect((await settled).map((r) => r.status)).toEqual(["rejected", "rejected", "rejected"]);
    expect(w.size).toBe(0);
  });
});
