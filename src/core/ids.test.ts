import { describe, expect, it } from "vitest";
import { randomToken } from "./ids.ts";

describe("random tokens", () => {
  it("have the length asked for and do not repeat, across pool refills", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const t = randomToken(12, "base64url");
      expect(t).toMatch(/^[A-Za-z0-9_-]{16}$/);
      seen.add(t);
    }
    expect(seen.size).toBe(2000);
    expect(randomToken(4, "hex")).toMatch(/^[0-9a-f]{8}$/);
    expect(Buffer.from(randomToken(18, "base64"), "base64")).toHaveLength(18);
  });

  it("refuse sizes outside 1..256 bytes", () => {
    expect(() => randomToken(0, "hex")).toThrow(RangeError);
    expect(() => randomToken(257, "hex")).toThrow(RangeError);
  });
});
