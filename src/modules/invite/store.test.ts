// The invitation store on the in-memory backend: expiry, single use under racing claims,
// revocation, reserved usernames and quotas; and the links an invitation is shared as.
import { describe, expect, it } from "vitest";
import { Accounts } from "../../core/accounts.ts";
import { StanzaError } from "../../core/errors.ts";
import { MemoryStorage } from "../../storage/memory.ts";
import { invitationStores, Invitations, type Invitation } from "./store.ts";
import { dateTime, invitationUri } from "./uri.ts";

const DAY = 86_400_000;

function world() {
  const storage = new MemoryStorage();
  const accounts = new Accounts(storage, "example.com", 4096);
  let now = Date.UTC(2026, 0, 1);
  const invitations = new Invitations(invitationStores(storage), accounts, () => now);
  return { invitations, accounts, advance: (ms: number) => (now += ms) };
}

const conditionOf = async (p: Promise<unknown>) => p.then(() => "none", (e: unknown) => (e as StanzaError).condition);

describe("Invitations", () => {
  it("a new token is 30 hex characters (120 bits), valid until it expires, then gone", async () => {
    const { invitations, advance } = world();
    const inv = await invitations.create({ kind: "account", creator: "", ttlMs: DAY });
    expect(inv.token).toMatch(/^[0-9a-f]{30}$/);
    expect(await invitations.valid(inv.token)).toEqual(inv);
    advance(DAY);
    expect(await invitations.valid(inv.token)).toBeUndefined();
    expect(await invitations.openOf("")).toEqual([]);
  });

  it("one use: of claims racing for a token exactly one wins; a released one can be claimed again; a spent one is gone", async () => {
    const { invitations } = world();
    const inv = await invitations.create({ kind: "account", creator: "", ttlMs: DAY });
    const results = await Promise.all([1, 2, 3, 4, 5].map(() => invitations.claim(inv.token)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await invitations.valid(inv.token)).toBeUndefined(); // being used
    await invitations.release(inv.token);
    expect(await invitations.valid(inv.token)).toEqual(inv);
    expect(await invitations.claim(inv.token)).toEqual(inv);
    await invitations.spend(inv);
    expect(await invitations.valid(inv.token)).toBeUndefined();
    expect(await invitations.claim(inv.token)).toBeUndefined();
  });

  it("a claim does not look at the expiry again (XEP-0445 §4), a revoked invitation cannot be claimed", async () => {
    const { invitations, advance } = world();
    const a = await invitations.create({ kind: "account", creator: "", ttlMs: 1000 });
    advance(2000);
    expect(await invitations.claim(a.token)).toEqual(a);
    const b = await invitations.create({ kind: "account", creator: "", ttlMs: DAY });
    expect(await invitations.revoke(b.token)).toBe(true);
    expect(await invitations.revoke(b.token)).toBe(false);
    expect(await invitations.claim(b.token)).toBeUndefined();
    expect(await invitations.valid(b.token)).toBeUndefined();
  });

  it("a contact invitation goes with its inviter's account", async () => {
    const { invitations, accounts } = world();
    await accounts.create("romeo", "pw");
    const inv = await invitations.create({ kind: "contact", creator: "romeo@example.com", inviter: "romeo", ttlMs: DAY });
    expect(await invitations.valid(inv.token)).toEqual(inv);
    await accounts.delete("romeo");
    expect(await invitations.valid(inv.token)).toBeUndefined();
    await accounts.create("romeo", "pw");
    expect(await invitations.valid(inv.token)).toBeUndefined();
  });

  it("a creator revokes only its own", async () => {
    const { invitations } = world();
    const inv = await invitations.create({ kind: "contact", creator: "romeo@example.com", inviter: "romeo", ttlMs: DAY });
    expect(await invitations.revoke(inv.token, "tybalt@example.com")).toBe(false);
    expect(await invitations.revoke(inv.token, "romeo@example.com")).toBe(true);
  });

  it("a username stays reserved while its invitation is open, for everyone else; an account's name cannot be reserved", async () => {
    const { invitations, accounts, advance } = world();
    await accounts.create("romeo", "pw");
    expect(await conditionOf(invitations.create({ kind: "account", creator: "", username: "romeo", ttlMs: DAY }))).toBe("conflict");
    const inv = await invitations.create({ kind: "account", creator: "", username: "juliet", ttlMs: DAY });
    expect(await invitations.reserved("juliet")).toBe(true);
    expect(await invitations.reserved("juliet", inv.token)).toBe(false);
    expect(await conditionOf(invitations.create({ kind: "account", creator: "", username: "juliet", ttlMs: DAY }))).toBe("conflict");
    advance(DAY);
    expect(await invitations.reserved("juliet")).toBe(false);
    const again = await invitations.create({ kind: "account", creator: "", username: "juliet", ttlMs: DAY });
    await invitations.spend(again);
    expect(await invitations.reserved("juliet")).toBe(false);
  });

  it("a quota counts the creator's open invitations: used, revoked and expired ones free their place", async () => {
    const { invitations, advance } = world();
    const make = () => invitations.create({ kind: "contact", creator: "romeo@example.com", inviter: "romeo", ttlMs: DAY, quota: 2 });
    const a = await make();
    const b = await make();
    const refused = await make().catch((e: unknown) => e as StanzaError);
    expect(refused).toBeInstanceOf(StanzaError);
    expect([(refused as StanzaError).condition, (refused as StanzaError).type]).toEqual(["resource-constraint", "wait"]);
    await invitations.spend(a);
    const c = await make();
    await invitations.revoke(c.token);
    await make();
    advance(DAY);
    expect((await invitations.openOf("romeo@example.com")).map((i) => i.token)).toEqual([]);
    await make();
    expect(await invitations.valid(b.token)).toBeUndefined();
  });

  it("tokens that cannot be ours are not looked up", async () => {
    const { invitations } = world();
    expect(await invitations.valid("")).toBeUndefined();
    expect(await invitations.valid("a".repeat(65))).toBeUndefined();
  });
});

describe("links (XEP-0401 §4, XEP-0445 §2)", () => {
  const inv = (over: Partial<Invitation>): Invitation => ({ token: "TOKEN", kind: "account", creator: "", created: 0, expires: 0, ...over });

  it("an account invitation, with and without a username; a contact invitation with ibr=y", () => {
    expect(invitationUri(inv({}), "example.com")).toBe("xmpp:example.com?register;preauth=TOKEN");
    expect(invitationUri(inv({ username: "juliet" }), "example.com")).toBe("xmpp:juliet@example.com?register;preauth=TOKEN");
    expect(invitationUri(inv({ kind: "contact", inviter: "romeo" }), "example.com")).toBe("xmpp:romeo@example.com?roster;preauth=TOKEN;ibr=y");
  });

  it("percent-encodes what a URI's localpart may not hold (RFC 5122 §2.7)", () => {
    expect(invitationUri(inv({ username: "a;b=c?d#e" }), "example.com")).toBe("xmpp:a%3Bb%3Dc%3Fd%23e@example.com?register;preauth=TOKEN");
    expect(invitationUri(inv({ username: "ζ'" }), "example.com")).toBe("xmpp:%CE%B6%27@example.com?register;preauth=TOKEN");
  });

  it("the expiry as a XEP-0082 DateTime", () => {
    expect(dateTime(Date.UTC(2017, 10, 6, 2, 56, 15, 123))).toBe("2017-11-06T02:56:15Z");
  });
});
