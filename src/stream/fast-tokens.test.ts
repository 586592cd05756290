import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { deriveCredentials } from "../core/credentials.ts";
import { MemoryStorage } from "../storage/memory.ts";
import { FastTokens, credentialsTag, type ClientTokens } from "./fast-tokens.ts";

const DAY = 86_400_000;
const creds = await deriveCredentials("pw", { iterations: 4096 });
const other = await deriveCredentials("pw", { iterations: 4096 });
const NONE = "HT-SHA-256-NONE";
const UA = "d4565fa7-4d72-4749-b3d3-740edbf87770";

function fixture() {
  const clock = { now: 1_000_000 };
  const storage = new MemoryStorage();
  const store = storage.map<ClientTokens>("fast");
  return { clock, store, tokens: new FastTokens(store, 14 * DAY, () => clock.now) };
}

/** What the HT mechanism does with a stored key: is it the key of this token? */
const proves = (token: string) => (key: Buffer) => key.equals(createHash("sha256").update(token).digest());

describe("FAST tokens in storage", () => {
  it("stores SHA-256 of the token (the HMAC key), never the token; keyed by the account and a hash of the user-agent id", async () => {
    const { tokens, store } = fixture();
    const { token, expires } = await tokens.issue("juliet@localhost", UA, NONE, creds);
    expect(Buffer.byteLength(token)).toBeGreaterThan(64);
    expect(expires).toBe(1_000_000 + 14 * DAY);
    const all = await store.getAll("juliet@localhost");
    expect([...all.keys()]).toEqual([createHash("sha256").update(UA).digest("base64url")]);
    const text = JSON.stringify([...all.values()]);
    expect(text).not.toContain(token);
    expect(text).not.toContain(UA);
  });

  it("a new token waits in `next`; its first use makes it `current` and drops the older one", async () => {
    const { tokens } = fixture();
    const a = await tokens.issue("juliet@localhost", UA, NONE, creds);
    expect(await tokens.verify("juliet@localhost", UA, NONE, proves(a.token), creds, undefined)).toMatchObject({ expires: a.expires });
    const b = await tokens.issue("juliet@localhost", UA, NONE, creds);
    // Until b is used, a goes on working (the client may never have received b).
    expect(await tokens.verify("juliet@localhost", UA, NONE, proves(a.token), creds, undefined)).toBeTypeOf("object");
    expect(await tokens.verify("juliet@localhost", UA, NONE, proves(b.token), creds, undefined)).toBeTypeOf("object");
    expect(await tokens.verify("juliet@localhost", UA, NONE, proves(a.token), creds, undefined)).toBeUndefined();
  });

  it("a token made and never used is replaced by the next one made", async () => {
    const { tokens } = fixture();
    const a = await tokens.issue("juliet@localhost", UA, NONE, creds);
    const b = await tokens.issue("juliet@localhost", UA, NONE, creds);
    expect(await tokens.verify("juliet@localhost", UA, NONE, proves(a.token), creds, undefined)).toBeUndefined();
    expect(await tokens.verify("juliet@localhost", UA, NONE, proves(b.token), creds, undefined)).toBeTypeOf("object");
  });

  it("is bound to its mechanism, its client and its account", async () => {
    const { tokens } = fixture();
    const a = await tokens.issue("juliet@localhost", UA, "HT-SHA-256-EXPR", creds);
    expect(await tokens.verify("juliet@localhost", UA, NONE, proves(a.token), creds, undefined)).toBeUndefined();
    expect(await tokens.verify("juliet@localhost", "another", "HT-SHA-256-EXPR", proves(a.token), creds, undefined)).toBeUndefined();
    expect(await tokens.verify("romeo@localhost", UA, "HT-SHA-256-EXPR", proves(a.token), creds, undefined)).toBeUndefined();
    expect(await tokens.verify("juliet@localhost", UA, "HT-SHA-256-EXPR", proves(a.token), undefined, undefined)).toBeUndefined();
  });

  it("expires: then 'expired' once, and gone", async () => {
    const { tokens, clock, store } = fixture();
    const a = await tokens.issue("juliet@localhost", UA, NONE, creds);
    clock.now += 14 * DAY;
    expect(await tokens.verify("juliet@localhost", UA, NONE, proves(a.token), creds, undefined)).toBe("expired");
    expect((await store.getAll("juliet@localhost")).size).toBe(0);
    expect(await tokens.verify("juliet@localhost", UA, NONE, proves(a.token), creds, undefined)).toBeUndefined();
  });

  it("other credentials (a password changed since) make it 'expired'", async () => {
    const { tokens } = fixture();
    expect(credentialsTag(creds)).not.toBe(credentialsTag(other));
    const a = await tokens.issue("juliet@localhost", UA, NONE, creds);
    expect(await tokens.verify("juliet@localhost", UA, NONE, proves(a.token), other, undefined)).toBe("expired");
  });

  it("the count must grow: a replayed or older count fails without using the token up", async () => {
    const { tokens } = fixture();
    const a = await tokens.issue("juliet@localhost", UA, NONE, creds);
    const v = (count: number | undefined) => tokens.verify("juliet@localhost", UA, NONE, proves(a.token), creds, count);
    expect(await v(3)).toBeTypeOf("object");
    expect(await v(3)).toBeUndefined();
    expect(await v(2)).toBeUndefined();
    expect(await v(undefined)).toBeTypeOf("object");
    expect(await v(4)).toBeTypeOf("object");
  });

  it("is due for rotation in the second half of its life", () => {
    const { tokens, clock } = fixture();
    expect(tokens.dueForRotation(clock.now + 8 * DAY)).toBe(false);
    expect(tokens.dueForRotation(clock.now + 6 * DAY)).toBe(true);
  });

  it("revoke forgets the client's tokens", async () => {
    const { tokens } = fixture();
    const a = await tokens.issue("juliet@localhost", UA, NONE, creds);
    await tokens.revoke("juliet@localhost", UA);
    expect(await tokens.verify("juliet@localhost", UA, NONE, proves(a.token), creds, undefined)).toBeUndefined();
  });
});
