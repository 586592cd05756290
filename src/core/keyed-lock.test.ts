import { describe, expect, it } from "vitest";
import { KeyedLock } from "./keyed-lock.ts";

const tick = () => new Promise((r) => setTimeout(r, 1));

describe("KeyedLock", () => {
  it("runs holders of one key one at a time, in order", async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    const job = (name: string) => lock.run("k", async () => {
      log.push(`${name}+`);
      await tick();
      log.push(`${name}-`);
      return name;
    });
    expect(await Promise.all([job("a"), job("b"), job("c")])).toEqual(["a", "b", "c"]);
    expect(log).toEqual(["a+", "a-", "b+", "b-", "c+", "c-"]);
    expect(lock.size).toBe(0);
  });
  it("lets different keys run together", async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    await Promise.all(["x", "y"].map((k) => lock.run(k, async () => {
      log.push(`${k}+`);
      await tick();
      log.push(`${k}-`);
    })));
    expect(log).toEqual(["x+", "y+", "x-", "y-"]);
  });
  it("releases after a failure, which reaches only its caller", async () => {
    const lock = new KeyedLock();
    const failed = lock.run("k", async () => {
      throw new Error("boom");
    });
    const next = lock.run("k", async () => "ok");
    await expect(failed).rejects.toThrow("boom");
    expect(await next).toBe("ok");
    expect(lock.size).toBe(0);
  });
});
