import { describe, expect, it } from "vitest";
import { WriteMarks } from "./write-marks.ts";

describe("write marks", () => {
  it("name a key's last write until it lands, and forget landed keys only once there are many", () => {
    const m = new WriteMarks();
    m.mark("a", 1);
    m.mark("b", 2);
    m.mark("a", 3);
    expect(m.pending("a", 2)).toBe(3);
    expect(m.pending("b", 2)).toBeUndefined();
    expect(m.pending("c", 0)).toBeUndefined();
    for (let i = 0; i < 5000; i++) m.mark(`k${i}`, 10 + i);
    m.landed(4000); // k0..k3990 landed and are dropped; later ones stay pending
    expect(m.pending("k4999", 4000)).toBe(5009);
    expect(m.pending("k0", 0)).toBeUndefined(); // forgotten: nothing of it is pending any more
    expect(m.pending("a", 2)).toBeUndefined(); // landed by 4000, dropped
  });
});
