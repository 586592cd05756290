import { describe, expect, it } from "vitest";
import { parseJid } from "../xml/jid.ts";
import { MemoryStorage } from "../storage/memory.ts";
import { Hosts } from "./hosts.ts";
import { ConfigError } from "./schema.ts";

const closed = { enabled: false, perHourPerAddress: 5 };
const hosts = () => new Hosts([
  ["a.example", { admins: ["admin@a.example"], registration: { enabled: true, perHourPerAddress: 5 } }],
  ["b.example", { admins: ["boss@b.example"], registration: closed }],
], new MemoryStorage(), 4096);

describe("virtual hosts", () => {
  it("keeps each domain's accounts apart in the one store", async () => {
    const h = hosts();
    expect(h.primary.domain).toBe("a.example");
    expect(h.domains).toEqual(["a.example", "b.example"]);
    await h.get("a.example")!.accounts.create("alice", "pw-a");
    await h.get("b.example")!.accounts.create("alice", "pw-b");
    await h.get("b.example")!.accounts.create("bob", "pw");
    expect(await h.exists(parseJid("bob@b.example"))).toBe(true);
    expect(await h.exists(parseJid("bob@a.example"))).toBe(false);
    expect(await h.exists(parseJid("bob@c.example"))).toBe(false);
    expect(await h.get("a.example")!.accounts.list()).toEqual(["alice@a.example"]);
    expect((await h.get("b.example")!.accounts.list()).sort()).toEqual(["alice@b.example", "bob@b.example"]);
    expect(await h.get("a.example")!.accounts.credentials("alice")).not.toEqual(await h.get("b.example")!.accounts.credentials("alice"));
  });

  it("makes each host's admins admins of that host only", () => {
    const h = hosts();
    const admin = parseJid("admin@a.example/laptop");
    const boss = parseJid("boss@b.example");
    expect(h.isAdmin(admin)).toBe(true);
    expect(h.isAdmin(admin, "b.example")).toBe(false);
    expect(h.isAdmin(boss)).toBe(true);
    expect(h.isAdmin(boss, "a.example")).toBe(false);
    expect(h.isAdmin(boss, "c.example")).toBe(false);
    expect(h.setAdmins([["a.example", ["admin@a.example"]], ["b.example", ["boss@b.example"]]])).toBe(false);
    expect(h.setAdmins([["b.example", ["boss@b.example", "deputy@b.example"]]])).toBe(true);
    expect(h.isAdmin(parseJid("deputy@b.example"))).toBe(true);
    // One bad JID: nothing changes.
    expect(() => h.setAdmins([["a.example", []], ["b.example", ["@@"]]])).toThrow(ConfigError);
    expect(h.isAdmin(admin)).toBe(true);
  });

  it("refuses a host named twice, the domain among them, and an admin that is no JID", () => {
    expect(() => new Hosts([["a.example", { admins: [], registration: closed }], ["a.example", { admins: [], registration: closed }]], new MemoryStorage(), 4096))
      .toThrow(ConfigError);
    expect(() => new Hosts([["a.example", { admins: ["@@"], registration: closed }]], new MemoryStorage(), 4096)).toThrow(/admins of a\.example: '@@' is not a JID/);
  });
});
