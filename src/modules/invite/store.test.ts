// The invitation store on the in-memory backend: expiry, single use under racing claims,
// revocation, reserved usernames and quotas; each invitation its domain's (two hosted domains),
// records stored before invitations had one; and the links an invitation is shared as.
import { describe, expect, it } from "vitest";
import { Hosts } from "../../core/hosts.ts";
import { StanzaError } from "../../core/errors.ts";
import { MemoryStorage } from "../../storage/memory.ts";
import { invitationStores, Invitations, type Invitation } from "./store.ts";
import { dateTime, invitationUri } from "./uri.ts";

const DAY = 86_400_000;

const A = "example.com";
const B = "b.example";

/** example.com (the configuration's domain) and b.example. */
function world() {
  const storage = new MemoryStorage();
  const host = { admins: [], registration: { enabled: false, perHourPerAddress: 5 } };
  const hosts = new Hosts([[A, host], [B, host]], storage, 4096);
  let now = Date.UTC(2026, 0, 1);
  const stores = invitationStores(storage);
  const invitations = new Invitations(stores, hosts, () => now);
  return { invitations, stores, accounts: hosts.get(A)!.accounts, accountsB: hosts.get(B)!.accounts, now: () => now, advance: (ms: number) => (now += ms) };
}

const conditionOf = async (p: Promise<unknown>) => p.then(() => "none", (e: unknown) => (e as StanzaError).condition);

describe("Invitations", () => {
  it("a new token is 30 hex characters (120 bits), valid until it expires, then gone", async () => {
    const { invitations, advance } = world();
    const inv = await invitations.create({ kind: "account", domain: A, creator: "", ttlMs: DAY });
    expect(inv.token).toMatch(/^[0-9a-f]{30}$/);
    expect(await invitations.valid(inv.token, A)).toEqual(inv);
    advance(DAY);
    expect(await invitations.valid(inv.token, A)).toBeUndefined();
    expect(await invitations.openOf("")).toEqual([]);
  });

  it("one use: of claims racing for a token exactly one wins; a released one can be claimed again; a spent one is gone", async () => {
    const { invitations } = world();
    const inv = await invitations.create({ kind: "account", domain: A, creator: "", ttlMs: DAY });
    const results = await Promise.all([1, 2, 3, 4, 5].map(() => invitations.claim(inv.token)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await invitations.valid(inv.token, A)).toBeUndefined(); // being used
    await invitations.release(inv.token);
    expect(await invitations.valid(inv.token, A)).toEqual(inv);
    expect(await invitations.claim(inv.token)).toEqual(inv);
    await invitations.spend(inv);
    expect(await invitations.valid(inv.token, A)).toBeUndefined();
    expect(await invitations.claim(inv.token)).toBeUndefined();
  });

  it("a claim does not look at the expiry again (XEP-0445 §4), a revoked invitation cannot be claimed", async () => {
    const { invitations, advance } = world();
    const a = await invitations.create({ kind: "account", domain: A, creator: "", ttlMs: 1000 });
    advance(2000);
    expect(await invitations.claim(a.token)).toEqual(a);
    const b = await invitations.create({ kind: "account", domain: A, creator: "", ttlMs: DAY });
    expect(await invitations.revoke(b.token)).toBe(true);
    expect(await invitations.revoke(b.token)).toBe(false);
    expect(await invitations.claim(b.token)).toBeUndefined();
    expect(await invitations.valid(b.token, A)).toBeUndefined();
  });

  it("a contact invitation goes with its inviter's account", async () => {
    const { invitations, accounts } = world();
    await accounts.create("romeo", "pw");
    const inv = await invitations.create({ kind: "contact", domain: A, creator: "romeo@example.com", inviter: "romeo", ttlMs: DAY });
    expect(await invitations.valid(inv.token, A)).toEqual(inv);
    await accounts.delete("romeo");
    expect(await invitations.valid(inv.token, A)).toBeUndefined();
    await accounts.create("romeo", "pw");
    expect(await invitations.valid(inv.token, A)).toBeUndefined();
  });

  it("a creator revokes only its own", async () => {
    const { invitations } = world();
    const inv = await invitations.create({ kind: "contact", domain: A, creator: "romeo@example.com", inviter: "romeo", ttlMs: DAY });
    expect(await invitations.revoke(inv.token, "tybalt@example.com")).toBe(false);
    expect(await invitations.revoke(inv.token, "romeo@example.com")).toBe(true);
  });

  it("a username stays reserved while its invitation is open, for everyone else; an account's name cannot be reserved", async () => {
    const { invitations, accounts, advance } = world();
    await accounts.create("romeo", "pw");
    expect(await conditionOf(invitations.create({ kind: "account", domain: A, creator: "", username: "romeo", ttlMs: DAY }))).toBe("conflict");
    const inv = await invitations.create({ kind: "account", domain: A, creator: "", username: "juliet", ttlMs: DAY });
    expect(await invitations.reserved("juliet", A)).toBe(true);
    expect(await invitations.reserved("juliet", A, inv.token)).toBe(false);
    expect(await conditionOf(invitations.create({ kind: "account", domain: A, creator: "", username: "juliet", ttlMs: DAY }))).toBe("conflict");
    advance(DAY);
    expect(await invitations.reserved("juliet", A)).toBe(false);
    const again = await invitations.create({ kind: "account", domain: A, creator: "", username: "juliet", ttlMs: DAY });
    await invitations.spend(again);
    expect(await invitations.reserved("juliet", A)).toBe(false);
  });

  it("a quota counts the creator's open invitations: used, revoked and expired ones free their place", async () => {
    const { invitations, advance } = world();
    const make = () => invitations.create({ kind: "contact", domain: A, creator: "romeo@example.com", inviter: "romeo", ttlMs: DAY, quota: 2 });
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
    expect(await invitations.valid(b.token, A)).toBeUndefined();
  });

  it("tokens that cannot be ours are not looked up", async () => {
    const { invitations } = world();
    expect(await invitations.valid("", A)).toBeUndefined();
    expect(await invitations.valid("a".repeat(65), A)).toBeUndefined();
  });
});

describe("Invitations of two hosted domains", () => {
  it("an invitation is good at its own domain only: at the other it is as unknown", async () => {
    const { invitations } = world();
    const b = await invitations.create({ kind: "account", domain: B, creator: "", ttlMs: DAY });
    expect(b.domain).toBe(B);
    expect(await invitations.valid(b.token, B)).toEqual(b);
    expect(await invitations.valid(b.token, A)).toBeUndefined();
    const a = await invitations.create({ kind: "account", domain: A, creator: "", ttlMs: DAY });
    expect(await invitations.valid(a.token, B)).toBeUndefined();
    // Looking at the wrong domain neither spends nor forgets it.
    expect(await invitations.valid(b.token, B)).toEqual(b);
    expect(await invitations.valid(a.token, A)).toEqual(a);
  });

  it("a domain that is not hosted gets no invitation (item-not-found)", async () => {
    const { invitations } = world();
    expect(await conditionOf(invitations.create({ kind: "account", domain: "c.example", creator: "", ttlMs: DAY }))).toBe("item-not-found");
  });

  it("a contact invitation goes with its inviter's account at its domain, not with the namesake's at the other", async () => {
    const { invitations, accounts, accountsB } = world();
    await accounts.create("romeo", "pw");
    const inv = await invitations.create({ kind: "contact", domain: B, creator: "romeo@b.example", inviter: "romeo", ttlMs: DAY });
    expect(await invitations.valid(inv.token, B)).toBeUndefined();
    await accountsB.create("romeo", "pw");
    const again = await invitations.create({ kind: "contact", domain: B, creator: "romeo@b.example", inviter: "romeo", ttlMs: DAY });
    expect(await invitations.valid(again.token, B)).toEqual(again);
    await accounts.delete("romeo");
    expect(await invitations.valid(again.token, B)).toEqual(again);
  });

  it("usernames are reserved per domain: a name held or taken at one is free at the other", async () => {
    const { invitations, accounts, accountsB } = world();
    const b = await invitations.create({ kind: "account", domain: B, creator: "", username: "juliet", ttlMs: DAY });
    expect(await invitations.reserved("juliet", B)).toBe(true);
    expect(await invitations.reserved("juliet", A)).toBe(false);
    expect(await conditionOf(invitations.create({ kind: "account", domain: B, creator: "", username: "juliet", ttlMs: DAY }))).toBe("conflict");
    const a = await invitations.create({ kind: "account", domain: A, creator: "", username: "juliet", ttlMs: DAY });
    expect(await invitations.reserved("juliet", A, a.token)).toBe(false);
    expect(await invitations.reserved("juliet", B, a.token)).toBe(true);
    await invitations.spend(b);
    expect(await invitations.reserved("juliet", B)).toBe(false);
    expect(await invitations.reserved("juliet", A)).toBe(true);
    // An account's name is taken at its own domain only.
    await accountsB.create("romeo", "pw");
    expect(await conditionOf(invitations.create({ kind: "account", domain: B, creator: "", username: "romeo", ttlMs: DAY }))).toBe("conflict");
    expect(await conditionOf(invitations.create({ kind: "account", domain: A, creator: "", username: "romeo", ttlMs: DAY }))).toBe("none");
    await accounts.create("tybalt", "pw");
    expect(await conditionOf(invitations.create({ kind: "account", domain: B, creator: "", username: "tybalt", ttlMs: DAY }))).toBe("none");
  });

  it("a record stored without a domain, and its reservation by username alone, are the configuration's domain's", async () => {
    const { invitations, stores, now } = world();
    const old = { token: "0123456789abcdef0123456789abcd", kind: "account" as const, creator: "", username: "paris", created: now(), expires: now() + DAY };
    await stores.invitations.set(old.token, old);
    await stores.byCreator.set("", old.token, old.expires);
    await stores.reserved.set("paris", old.token);
    expect(await invitations.valid(old.token, A)).toEqual({ ...old, domain: A });
    expect(await invitations.valid(old.token, B)).toBeUndefined();
    expect(await invitations.reserved("paris", A)).toBe(true);
    expect(await invitations.reserved("paris", A, old.token)).toBe(false);
    expect(await invitations.reserved("paris", B)).toBe(false);
    expect(await conditionOf(invitations.create({ kind: "account", domain: A, creator: "", username: "paris", ttlMs: DAY }))).toBe("conflict");
    expect(await conditionOf(invitations.create({ kind: "account", domain: B, creator: "", username: "paris", ttlMs: DAY }))).toBe("none");
    const claimed = await invitations.claim(old.token);
    expect(claimed).toEqual({ ...old, domain: A });
    await invitations.spend(claimed!);
    expect(await stores.reserved.get("paris")).toBeUndefined();
    expect(await invitations.reserved("paris", A)).toBe(false);
  });
});

describe("links (XEP-0401 §4, XEP-0445 §2)", () => {
  const inv = (over: Partial<Invitation>): Invitation => ({ token: "TOKEN", kind: "account", domain: A, creator: "", created: 0, expires: 0, ...over });

  it("an account invitation, with and without a username; a contact invitation with ibr=y", () => {
    expect(invitationUri(inv({}))).toBe("xmpp:example.com?register;preauth=TOKEN");
    expect(invitationUri(inv({ username: "juliet" }))).toBe("xmpp:juliet@example.com?register;preauth=TOKEN");
    expect(invitationUri(inv({ kind: "contact", inviter: "romeo" }))).toBe("xmpp:romeo@example.com?roster;preauth=TOKEN;ibr=y");
  });

  it("names the invitation's own domain", () => {
    expect(invitationUri(inv({ domain: B }))).toBe("xmpp:b.example?register;preauth=TOKEN");
    expect(invitationUri(inv({ domain: B, username: "juliet" }))).toBe("xmpp:juliet@b.example?register;preauth=TOKEN");
    expect(invitationUri(inv({ domain: B, kind: "contact", inviter: "romeo" }))).toBe("xmpp:romeo@b.example?roster;preauth=TOKEN;ibr=y");
  });

  it("percent-encodes what a URI's localpart may not hold (RFC 5122 §2.7)", () => {
    expect(invitationUri(inv({ username: "a;b=c?d#e" }))).toBe("xmpp:a%3Bb%3Dc%3Fd%23e@example.com?register;preauth=TOKEN");
    expect(invitationUri(inv({ username: "ζ'" }))).toBe("xmpp:%CE%B6%27@example.com?register;preauth=TOKEN");
  });

  it("the expiry as a XEP-0082 DateTime", () => {
    expect(dateTime(Date.UTC(2017, 10, 6, 2, 56, 15, 123))).toBe("2017-11-06T02:56:15Z");
  });
});
