import { describe, expect, it } from "vitest";
import { orderModules, ServiceRegistry, serviceKey } from "./module.ts";

describe("module order", () => {
  it("puts dependencies first and keeps the list order otherwise", () => {
    const order = orderModules([
      { name: "presence", depends: ["roster"] }, { name: "disco" }, { name: "roster" }, { name: "last", depends: ["roster", "presence"] },
    ]).map((m) => m.name);
    expect(order).toEqual(["roster", "presence", "disco", "last"]);
  });

  it("names a missing dependency and a cycle", () => {
    expect(() => orderModules([{ name: "a", depends: ["b"] }])).toThrow("module a needs module b, which is not loaded");
    expect(() => orderModules([{ name: "a", depends: ["b"] }, { name: "b", depends: ["a"] }])).toThrow("cycle: a -> b -> a");
  });
});

describe("services", () => {
  it("are typed, provided once, and named when missing", () => {
    const reg = new ServiceRegistry();
    const key = serviceKey<{ n: number }>("counter");
    expect(() => reg.use(key, "user")).toThrow(/module user uses service counter, which no loaded module provides/);
    const undo = reg.provide(key, { n: 1 }, "provider");
    expect(reg.use(key, "user").n).toBe(1);
    expect(() => reg.provide(key, { n: 2 }, "other")).toThrow(/provided twice/);
    undo();
    expect(() => reg.use(key, "user")).toThrow();
  });
});
