import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Batcher } from "./batch.ts";
import type { Summary } from "./notification.ts";

describe("Batcher", () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it("pushes the first event at once and sums the rest of the window into one push", () => {
    const fired: Summary[] = [];
    const b = new Batcher<string>(10_000, (_t, s) => fired.push(s));
    b.add("k", "t", 1, "a", "one");
    expect(fired).toEqual([{ count: 1, sender: "a", body: "one" }]);
    for (let i = 2; i <= 20; i++) b.add("k", "t", 1, i % 2 ? "a" : "b", `m${i}`);
    expect(fired).toHaveLength(1);
    vi.advanceTimersByTime(10_000);
    expect(fired[1]).toEqual({ count: 19, sender: "b", body: "m20" });
    // The push at the window's end opened another; a quiet one closes and is forgotten.
    vi.advanceTimersByTime(10_000);
    expect(fired).toHaveLength(2);
    expect(b.size).toBe(0);
    b.add("k", "t", 2, "c", undefined);
    expect(fired[2]).toEqual({ count: 2, sender: "c", body: undefined });
  });

  it("keeps registrations apart, and a dropped one sends nothing more", () => {
    const fired: string[] = [];
    const b = new Batcher<string>(1000, (t, s) => fired.push(`${t}:${s.count}`));
    b.add("k1", "one", 1, "a", undefined);
    b.add("k2", "two", 1, "a", undefined);
    b.add("k1", "one", 1, "a", undefined);
    b.add("k2", "two", 1, "a", undefined);
    b.drop("k2");
    vi.advanceTimersByTime(1000);
    expect(fired).toEqual(["one:1", "two:1", "one:1"]);
    b.clear();
    expect(b.size).toBe(0);
  });

  it("pushes an urgent event at once, inside a window, with what the window held; the window goes on", () => {
    const fired: Summary[] = [];
    const b = new Batcher<string>(10_000, (_t, s) => fired.push(s));
    b.add("k", "t", 1, "a", "one");
    b.add("k", "t", 1, "a", "two");
    b.urgent("k", "t", 1, "romeo", undefined);
    expect(fired).toEqual([{ count: 1, sender: "a", body: "one" }, { count: 2, sender: "romeo", body: undefined, priority: "high" }]);
    b.add("k", "t", 1, "a", "three");
    vi.advanceTimersByTime(10_000);
    expect(fired[2]).toEqual({ count: 1, sender: "a", body: "three" });
    // On a quiet registration it opens a window, like any first event.
    b.urgent("q", "t", 1, "romeo", undefined);
    b.add("q", "t", 1, "a", "four");
    expect(fired).toHaveLength(4);
    expect(fired[3]!.priority).toBe("high");
  });
});
