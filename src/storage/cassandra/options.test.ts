import { describe, expect, it } from "vitest";
import { nativePort } from "./options.ts";

describe("the native port of the contact points", () => {
  it("is the port they all name, which the nodes the driver discovers are reached at", () => {
    expect(nativePort(["127.0.0.2:19042", "127.0.0.3:19042", "[::1]:19042"])).toBe(19042);
    expect(nativePort(["cassandra:9142"])).toBe(9142);
  });

  it("is the driver's own (undefined) when they name none, or not the same one", () => {
    expect(nativePort(["127.0.0.2", "127.0.0.3"])).toBeUndefined();
    expect(nativePort(["127.0.0.2:19042", "127.0.0.3:19043"])).toBeUndefined();
    expect(nativePort(["127.0.0.2:19042", "127.0.0.3"])).toBeUndefined();
    expect(nativePort(["::1"])).toBeUndefined();
  });
});
