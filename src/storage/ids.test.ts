import { describe, expect, it } from "vitest";
import { IdGenerator, idFloor, idTime } from "./ids.ts";

describe("time-ordered ids", () => {
  it("increase strictly in string order, within a millisecond and across them", () => {
    let t = 1_700_000_000_000;
    const gen = new IdGenerator(0, () => t);
    const ids: string[] = [];
    for (let i = 0; i < 1000; i++) {
      if (i % 100 === 0) t++;
      ids.push(gen.next());
    }
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => id.length === 15)).toBe(true);
  });

  it("keep increasing when the clock steps back", () => {
    let t = 2_000_000;
    const gen = new IdGenerator(0, () => t);
    const a = gen.next();
    t -= 1000;
    const b = gen.next();
    expect(b > a).toBe(true);
  });

  it("carry the time and a node tag", () => {
    const gen = new IdGenerator(7, () => 1_763_856_000_000);
    const id = gen.next();
    expect(idTime(id)).toBe(1_763_856_000_000);
    expect(id.endsWith("07")).toBe(true);
    expect(idFloor(1_763_856_000_000) <= id).toBe(true);
    expect(idFloor(1_763_856_000_001) > id).toBe(true);
    expect(idTime("not-an-id")).toBeUndefined();
    expect(() => new IdGenerator(36 * 36)).toThrow(RangeError);
  });
});
