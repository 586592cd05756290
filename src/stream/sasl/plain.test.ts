import { describe, expect, it } from "vitest";
import { deriveCredentials, type Credentials } from "../../core/credentials.ts";
import type { SaslContext } from "./mechanism.ts";
import { PLAIN, parsePlain } from "./plain.ts";

const users: Record<string, Credentials> = { juliet: await deriveCredentials("r0meo!", { iterations: 64 }) };

function context(extra: Partial<SaslContext> = {}): SaslContext {
  return { secure: true, channelBinding: undefined, domain: "example.com", lookup: async (u) => users[u], ...extra };
}

const msg = (authzid: string, authcid: string, password: string) => Buffer.from(`${authzid}\0${authcid}\0${password}`);

describe("PLAIN", () => {
  it("is available only under TLS", () => {
    expect(PLAIN.available(context())).toBe(true);
    expect(PLAIN.available(context({ secure: false }))).toBe(false);
  });

  it("accepts the right password", async () => {
    expect(await PLAIN.start(context()).step(msg("", "juliet", "r0meo!")))
      .toEqual({ kind: "success", data: null, username: "juliet" });
  });

  it("accepts an authzid that is the user's own bare JID", async () => {
    expect(await PLAIN.start(context()).step(msg("juliet@example.com", "juliet", "r0meo!")))
      .toMatchObject({ kind: "success", username: "juliet" });
  });

  it("refuses another authzid with invalid-authzid", async () => {
    expect(await PLAIN.start(context()).step(msg("romeo@example.com", "juliet", "r0meo!")))
      .toEqual({ kind: "failure", condition: "invalid-authzid" });
  });

  it("refuses a wrong password and an unknown user alike", async () => {
    const wrong = await PLAIN.start(context()).step(msg("", "juliet", "nope"));
    const unknown = await PLAIN.start(context()).step(msg("", "nobody", "r0meo!"));
    expect(wrong).toEqual({ kind: "failure", condition: "not-authorized", verdict: "credentials" });
    expect(unknown).toEqual(wrong);
  });

  it("sends an empty challenge without an initial response, then takes the message", async () => {
    const session = PLAIN.start(context());
    expect(await session.step(null)).toEqual({ kind: "challenge", data: Buffer.alloc(0) });
    expect(await session.step(msg("", "juliet", "r0meo!"))).toMatchObject({ kind: "success" });
    expect(await session.step(msg("", "juliet", "r0meo!"))).toMatchObject({ kind: "failure" });
  });

  it("refuses to run without TLS", async () => {
    expect(await PLAIN.start(context({ secure: false })).step(msg("", "juliet", "r0meo!")))
      .toEqual({ kind: "failure", condition: "encryption-required" });
  });

  it.each([
    ["garbage", Buffer.from("garbage")],
    ["one NUL", Buffer.from("\0juliet")],
    ["three NULs", Buffer.from("\0juliet\0pw\0")],
    ["empty authcid", Buffer.from("\0\0pw")],
    ["empty password", Buffer.from("\0juliet\0")],
    ["invalid UTF-8", Buffer.from([0, 0x6a, 0, 0xc3])],
    ["field over 255 bytes", msg("", "j".repeat(256), "pw")],
  ])("malformed: %s", async (_, data) => {
    expect(await PLAIN.start(context()).step(data)).toEqual({ kind: "failure", condition: "malformed-request" });
  });

  it("a lookup that throws gives temporary-auth-failure", async () => {
    const ctx = context({ lookup: async () => { throw new Error("db down"); } });
    expect(await PLAIN.start(ctx).step(msg("", "juliet", "x"))).toEqual({ kind: "failure", condition: "temporary-auth-failure" });
  });

  it("parses multi-byte fields", () => {
    expect(parsePlain(msg("", "jüliet", "päss wörd"))).toEqual({ authzid: "", authcid: "jüliet", password: "päss wörd" });
  });
});
