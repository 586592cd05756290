import { describe, expect, it } from "vitest";
import { Shapers } from "./limits.ts";

const limits = { bytesPerSecond: 1000, burstBytes: 2000, stanzasPerSecond: 10, stanzaBurst: 20 };

describe("input shapers", () => {
  it("let a burst through, then ask for the time the rate needs", () => {
    const s = new Shapers(limits);
    const t = 1_000_000;
    expect(s.bytes("romeo@example.com", 2000, t)).toBe(0);
    expect(s.bytes("romeo@example.com", 500, t)).toBe(500);
    expect(s.bytes("romeo@example.com", 500, t + 500)).toBe(500);
    for (let i = 0; i < 20; i++) expect(s.stanza("romeo@example.com", t)).toBe(0);
    expect(s.stanza("romeo@example.com", t)).toBe(100);
  });

  it("give one allowance per key, whoever asks; other keys have their own", () => {
    const s = new Shapers(limits);
    const t = 1_000_000;
    expect(s.bytes("romeo@example.com", 1500, t)).toBe(0);
    expect(s.bytes("romeo@example.com", 1500, t)).toBe(1000); // a second connection of the account
    expect(s.bytes("juliet@example.com", 1500, t)).toBe(0);
  });

  it("forget keys idle long enough to be full again, which changes nothing", () => {
    const s = new Shapers(limits);
    const t = 1_000_000;
    s.bytes("romeo@example.com", 2000, t);
    for (let i = 0; i < 5000; i++) s.bytes(`u${i}@example.com`, 1, t + 10_000);
    expect(s.bytes("romeo@example.com", 2000, t + 10_000)).toBe(0);
  });

  it("are off when both rates are 0", () => {
    const s = new Shapers({ ...limits, bytesPerSecond: 0, stanzasPerSecond: 0 });
    expect(s.on).toBe(false);
    expect(s.bytes("romeo@example.com", 1e9)).toBe(0);
    expect(s.stanza("romeo@example.com")).toBe(0);
  });
});
