import { createHash, createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { ChannelBinding } from "../../transports/transport.ts";
import { htHmac, htMechanism } from "./ht.ts";
import type { SaslContext, TokenVerifier } from "./mechanism.ts";

const TOKEN = "t".repeat(88);
const EXPORTER = Buffer.from("exporter-keying-material-32-byte");
const binding: ChannelBinding = { types: () => ["tls-exporter"], data: (t) => (t === "tls-exporter" ? EXPORTER : undefined) };

/** A verifier holding one token (by its key, SHA-256 of it) for one user and mechanism. */
function holding(mechanism: string, verdict?: "expired"): TokenVerifier & { asked: string[] } {
  const key = createHash("sha256").update(TOKEN).digest();
  const asked: string[] = [];
  return {
    asked,
    verify: async (username, mech, proves) => {
      asked.push(`${username} ${mech}`);
      if (username !== "juliet" || mech !== mechanism || !proves(key)) return undefined;
      return verdict ?? key;
    },
  };
}

const context = (tokens: TokenVerifier, extra: Partial<SaslContext> = {}): SaslContext =>
  ({ secure: true, channelBinding: binding, lookup: async () => undefined, tokens, ...extra });

const initiator = (user: string, cb = Buffer.alloc(0), token = TOKEN) =>
  Buffer.concat([Buffer.from(`${user}\0`), createHmac("sha256", token).update("Initiator").update(cb).digest()]);

describe("HT-SHA-256 (draft-schmaus-kitten-sasl-ht)", () => {
  it("an HMAC keyed with a token longer than the block equals one keyed with its SHA-256 (RFC 2104 §2), which is what is stored", () => {
    expect(htHmac(TOKEN, "Initiator", EXPORTER)).toEqual(htHmac(createHash("sha256").update(TOKEN).digest(), "Initiator", EXPORTER));
  });

  it("NONE: the initiator message proves the token; success carries HMAC(token, 'Responder')", async () => {
    const step = await htMechanism("NONE").start(context(holding("HT-SHA-256-NONE"))).step(initiator("juliet"));
    expect(step).toEqual({ kind: "success", username: "juliet", data: createHmac("sha256", TOKEN).update("Responder").digest() });
  });

  it("EXPR: the proof covers the tls-exporter data; one made without it fails", async () => {
    const v = holding("HT-SHA-256-EXPR");
    const ok = await htMechanism("EXPR").start(context(v)).step(initiator("juliet", EXPORTER));
    expect(ok).toMatchObject({ kind: "success", data: createHmac("sha256", TOKEN).update("Responder").update(EXPORTER).digest() });
    const unbound = await htMechanism("EXPR").start(context(v)).step(initiator("juliet"));
    expect(unbound).toEqual({ kind: "failure", condition: "not-authorized", verdict: "credentials" });
  });

  it("a wrong token or user is not-authorized (credentials); a token no longer trusted is credentials-expired", async () => {
    const m = htMechanism("NONE");
    expect(await m.start(context(holding("HT-SHA-256-NONE"))).step(initiator("juliet", undefined, "x".repeat(88))))
      .toMatchObject({ kind: "failure", condition: "not-authorized", verdict: "credentials" });
    expect(await m.start(context(holding("HT-SHA-256-NONE"))).step(initiator("romeo")))
      .toMatchObject({ kind: "failure", condition: "not-authorized" });
    expect(await m.start(context(holding("HT-SHA-256-NONE", "expired"))).step(initiator("juliet")))
      .toMatchObject({ kind: "failure", condition: "credentials-expired", verdict: "credentials" });
  });

  it.each([
    ["no initial response", null],
    ["no NUL", Buffer.from("juliet")],
    ["an empty authcid", Buffer.concat([Buffer.from("\0"), Buffer.alloc(32)])],
    ["a short HMAC", Buffer.concat([Buffer.from("juliet\0"), Buffer.alloc(31)])],
    ["an authcid over 255 bytes", Buffer.concat([Buffer.from(`${"j".repeat(256)}\0`), Buffer.alloc(32)])],
  ])("malformed: %s (the verifier is not asked)", async (_, data) => {
    const v = holding("HT-SHA-256-NONE");
    expect(await htMechanism("NONE").start(context(v)).step(data)).toMatchObject({ kind: "failure", condition: "malformed-request" });
    expect(v.asked).toEqual([]);
  });

  it("is offered only over TLS, and -EXPR only with the channel's binding; one exchange only", async () => {
    expect(htMechanism("NONE").available(context(holding("x"), { secure: false }))).toBe(false);
    expect(htMechanism("EXPR").available(context(holding("x"), { channelBinding: undefined }))).toBe(false);
    expect(htMechanism("ENDP").available(context(holding("x")))).toBe(false);
    expect(htMechanism("EXPR").available(context(holding("x")))).toBe(true);
    const s = htMechanism("NONE").start(context(holding("HT-SHA-256-NONE")));
    await s.step(initiator("juliet"));
    expect(await s.step(initiator("juliet"))).toMatchObject({ kind: "failure", condition: "malformed-request" });
  });

  it("a verifier that throws (storage down) is temporary-auth-failure", async () => {
    const tokens: TokenVerifier = { verify: async () => { throw new Error("down"); } };
    expect(await htMechanism("NONE").start(context(tokens)).step(initiator("juliet"))).toMatchObject({ kind: "failure", condition: "temporary-auth-failure" });
  });
});
