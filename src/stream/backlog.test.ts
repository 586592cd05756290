import { describe, expect, it } from "vitest";
import { BacklogLedger, SLOW } from "./backlog.ts";

describe("BacklogLedger", () => {
  const MB = 1024 * 1024;
  it("counts only slow connections, per account and in all", () => {
    const l = new BacklogLedger({ account: 4 * MB, process: 10 * MB });
    const a = {}, b = {};
    expect(l.note(a, "x", SLOW, () => SLOW)).toBe(true);
    expect(l.held("x")).toBe(0);
    expect(l.note(a, "x", MB, () => MB)).toBe(true);
    expect(l.note(b, "x", 2 * MB, () => 2 * MB)).toBe(true);
    expect(l.held("x")).toBe(3 * MB);
    expect(l.held()).toBe(3 * MB);
    l.forget(a);
    expect(l.held("x")).toBe(2 * MB);
  });

  it("refuses the write that takes an account past its bound, after reading the others again", () => {
    const l = new BacklogLedger({ account: 4 * MB, process: 100 * MB });
    let aNow = 3 * MB;
    const a = {}, b = {};
    l.note(a, "x", aNow, () => aNow);
    expect(l.note(b, "x", 2 * MB, () => 2 * MB)).toBe(false);
    // a drained meanwhile: read again, the account is under its bound.
    aNow = 0;
    expect(l.note(b, "x", 2 * MB, () => 2 * MB)).toBe(true);
    expect(l.held("x")).toBe(2 * MB);
    // Another account is not concerned.
    expect(l.note({}, "y", 3 * MB, () => 3 * MB)).toBe(true);
  });

  it("refuses the write that takes the process past its bound", () => {
    const l = new BacklogLedger({ account: 8 * MB, process: 10 * MB });
    for (let i = 0; i < 3; i++) expect(l.note({}, `u${i}`, 3 * MB, () => 3 * MB)).toBe(true);
    expect(l.note({}, "u9", 2 * MB, () => 2 * MB)).toBe(false);
  });
});
