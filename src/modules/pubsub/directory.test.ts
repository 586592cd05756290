import { describe, expect, it } from "vitest";
import { MemoryStorage } from "../../storage/memory.ts";
import { NodeDirectory } from "./directory.ts";

const SERVICE = "pubsub.example.com";

describe("the service's node directory", () => {
  it("counts the nodes each account created, in memory, and keeps who created what in its store", async () => {
    const creators = new MemoryStorage().map<string>("pubsub.creators");
    const d = new NodeDirectory(creators, SERVICE);
    await d.load([]);
    await d.add("b", "romeo@example.com");
    await d.add("a", "romeo@example.com");
    await d.add("c", "juliet@example.com");
    expect(d.names.list).toEqual(["a", "b", "c"]);
    expect(d.createdByAccount("romeo@example.com")).toBe(2);
    await d.remove("a");
    expect(d.createdByAccount("romeo@example.com")).toBe(1);
    expect(d.size).toBe(2);

    const again = new NodeDirectory(creators, SERVICE);
    await again.load(["b", "c", "older"]);
    expect(again.names.list).toEqual(["b", "c", "older"]);
    expect(again.createdByAccount("romeo@example.com")).toBe(1);
    expect(again.createdByAccount("juliet@example.com")).toBe(1);
  });

  it("a creator recorded for a node no longer stored counts for nobody", async () => {
    const creators = new MemoryStorage().map<string>("pubsub.creators");
    await creators.set(SERVICE, "gone", "romeo@example.com");
    const d = new NodeDirectory(creators, SERVICE);
    await d.load(["here"]);
    expect(d.createdByAccount("romeo@example.com")).toBe(0);
  });
});
