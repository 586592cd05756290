// Property tests of what a client sends SASL (RFC 6120 §6, RFC 4422): the base64 of the elements,
// SCRAM's client-first and client-final messages (RFC 5802 §7, RFC 5801 GS2 header), PLAIN's
// (RFC 4616) and HT's. Whatever arrives, the parsers return a record or a failure and never
// throw, and a mechanism answers with the RFC 6120 §6.5 condition the input deserves: never
// temporary-auth-failure, which a mechanism gives only when something it relies on failed.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { runs } from "../../../test/fuzz/runs.ts";
import { UnknownUsers, deriveCredentials, type Credentials } from "../../core/credentials.ts";
import type { ChannelBinding } from "../../transports/transport.ts";
import { decodeBase64 } from "./common.ts";
import { htMechanism } from "./ht.ts";
import type { SaslContext, SaslFailure, SaslStep } from "./mechanism.ts";
import { decodeSaslPayload, encodeSaslPayload } from "./payload.ts";
import { PLAIN, parsePlain } from "./plain.ts";
import { escapeSaslname, parseClientFinal, parseClientFirst, unescapeSaslname } from "./scram-message.ts";
import { scramMechanism } from "./scram.ts";

const CB: Record<string, Buffer> = { "tls-exporter": Buffer.alloc(32, 7), "tls-server-end-point": Buffer.alloc(32, 9) };
const binding: ChannelBinding = { types: () => Object.keys(CB), data: (t) => CB[t] };
const users: Record<string, Credentials> = { juliet: await deriveCredentials("secret", { iterations: 4096 }) };
const unknown = new UnknownUsers(Buffer.alloc(32, 1), 1);

function context(extra: Partial<SaslContext> = {}): SaslContext {
  return {
    secure: true, channelBinding: binding, domain: "example.com", unknown,
    lookup: async (u) => users[u.toLowerCase()],
    tokens: { verify: async () => undefined },
    ...extra,
  };
}

/** The conditions a malformed, refused or unbindable message may get; temporary-auth-failure is not among them. */
const PROTOCOL_FAILURES: readonly SaslFailure[] = ["malformed-request", "invalid-authzid", "not-authorized", "encryption-required", "incorrect-encoding"];

function refused(step: SaslStep): void {
  expect(step.kind).toBe("failure");
  if (step.kind === "failure") expect(PROTOCOL_FAILURES).toContain(step.condition);
}

/** Pieces of SCRAM messages, to build near-misses from. */
const SCRAM_PIECES = ["n", "y", "p", "p=tls-exporter", "p=tls-unique", "p=", "a=", "a=juliet@example.com", "a=romeo@example.com",
  "n=", "n=juliet", "n=ju=2Cliet", "n=ju=3D", "n=ju=", "n=\u0000", "r=", "r=abc", "r=a,b", "m=ext", "x=1", "c=", "c=biws",
  "c=eSws", "p=", "p=AAAA", "s=QSXCR+Q6sek8bf92", "i=4096", "=", ",", ",,", "\u0000", "é", "=2C", "=3D", "=2c"];
const scramish = fc.oneof(
  fc.string({ unit: "binary", maxLength: 80 }),
  fc.array(fc.constantFrom(...SCRAM_PIECES), { maxLength: 10 }).map((p) => p.join(",")),
  fc.array(fc.constantFrom(...SCRAM_PIECES, ""), { maxLength: 10 }).map((p) => p.join("")),
);

describe("SASL element payloads (RFC 6120 §6.4.2)", () => {
  it("decode only canonical base64: what decodes encodes back to the same text", () => {
    fc.assert(fc.property(fc.oneof(fc.string({ unit: fc.constantFrom(..."ABCabc019+/= \n-_"), maxLength: 24 }), fc.string({ maxLength: 24 }),
      fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString("base64"))), (text) => {
      const r = decodeSaslPayload(text);
      if (r === "absent") expect(text).toBe("");
      else if (r !== "invalid") expect(encodeSaslPayload(r)).toBe(text);
    }), runs(3000));
  });

  it("carry any bytes there and back", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
      const data = Buffer.from(b);
      expect(decodeSaslPayload(encodeSaslPayload(data))).toEqual(data);
      expect(decodeBase64(data.toString("base64"))).toEqual(data);
    }), runs(1000));
  });
});

describe("SCRAM messages (RFC 5802 §7)", () => {
  it("parse or fail with malformed-request, never throw", () => {
    fc.assert(fc.property(scramish, (s) => {
      for (const r of [parseClientFirst(s), parseClientFinal(s)]) {
        if ("error" in r) expect(r.error).toBe("malformed-request");
      }
    }), runs(5000));
  });

  it("read back a well-formed client-first message", () => {
    const name = fc.string({ unit: fc.constantFrom(..."abz019=,éж😀 @./"), minLength: 1, maxLength: 12 });
    const nonce = fc.string({ unit: fc.constantFrom(..."abcXYZ019+/=!~-"), minLength: 1, maxLength: 24 });
    fc.assert(fc.property(fc.constantFrom("n", "y", "p=tls-exporter"), fc.option(name, { nil: undefined }), name, nonce,
      fc.array(fc.constantFrom("x=1", "e=é", "q=a=b"), { maxLength: 2 }), (flag, authzid, user, r, ext) => {
        const gs2 = `${flag},${authzid === undefined ? "" : `a=${escapeSaslname(authzid)}`},`;
        const bare = [`n=${escapeSaslname(user)}`, `r=${r}`, ...ext].join(",");
        const m = parseClientFirst(gs2 + bare);
        expect(m).toEqual({
          gs2Header: gs2, cbFlag: flag[0], cbName: flag.startsWith("p=") ? "tls-exporter" : undefined, authzid, bare, username: user, nonce: r,
        });
        expect(unescapeSaslname(escapeSaslname(user))).toBe(user);
      }), runs(1000));
  });

  it("SCRAM refuses any client-first message with a protocol condition", async () => {
    await fc.assert(fc.asyncProperty(scramish, fc.constantFrom("SHA-1", "SHA-256") as fc.Arbitrary<"SHA-1" | "SHA-256">, fc.boolean(),
      async (s, hash, plus) => {
        const step = await scramMechanism({ hash, plus }).start(context()).step(Buffer.from(s, "utf8"));
        if (step.kind !== "challenge") refused(step);
      }), runs(3000));
  });

  it("SCRAM refuses any client-final message after a good client-first, with a protocol condition", async () => {
    await fc.assert(fc.asyncProperty(scramish, fc.constantFrom("juliet", "nobody"), fc.boolean(), async (s, user, asBytes) => {
      const session = scramMechanism({ hash: "SHA-256", plus: false }).start(context({ channelBinding: undefined }));
      const first = await session.step(Buffer.from(`n,,n=${user},r=clientnonce`));
      expect(first.kind).toBe("challenge");
      const nonce = first.kind === "challenge" ? /r=([^,]*)/.exec(first.data.toString())![1] : "";
      // Half the cases carry the right nonce and channel binding, so that the proof is what is judged.
      const final = asBytes ? Buffer.from(s, "utf8") : Buffer.from(`c=biws,r=${nonce},${s}`, "utf8");
      refused(await session.step(final));
      // The exchange is over: anything more is malformed.
      refused(await session.step(Buffer.from("c=biws")));
    }), runs(2000));
  });

  it("SCRAM refuses arbitrary bytes, UTF-8 or not, at either step", async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 5000 }), fc.uint8Array({ maxLength: 300 }), async (a, b) => {
      const session = scramMechanism({ hash: "SHA-1", plus: false }).start(context());
      const first = await session.step(Buffer.from(a));
      if (first.kind === "challenge") refused(await session.step(Buffer.from(b)));
      else refused(first);
    }), runs(2000));
  });
});

describe("PLAIN and HT", () => {
  const plainish = fc.oneof(
    fc.uint8Array({ maxLength: 800 }).map((b) => Buffer.from(b)),
    fc.array(fc.oneof(fc.constantFrom("\0", "juliet", "juliet@example.com", "romeo@example.com", "secret", "", "é"), fc.string({ maxLength: 300 })),
      { maxLength: 5 }).map((p) => Buffer.from(p.join(""), "utf8")),
  );

  it("parsePlain takes only authzid NUL authcid NUL password, each at most 255 bytes", () => {
    fc.assert(fc.property(plainish, (b) => {
      const m = parsePlain(b);
      if (m === undefined) return;
      expect(Buffer.from(`${m.authzid}\0${m.authcid}\0${m.password}`, "utf8")).toEqual(b);
      for (const f of [m.authzid, m.authcid, m.password]) expect(Buffer.byteLength(f)).toBeLessThanOrEqual(255);
    }), runs(3000));
  });

  it("PLAIN refuses what is not a right password with a protocol condition", async () => {
    await fc.assert(fc.asyncProperty(plainish, async (b) => {
      fc.pre(!b.toString("utf8").endsWith("\0secret"));
      refused(await PLAIN.start(context()).step(b));
    }), runs(300));
  });

  it("HT refuses any initiator message but a token's proof", async () => {
    await fc.assert(fc.asyncProperty(plainish, fc.constantFrom("NONE", "EXPR", "ENDP", "UNIQ") as fc.Arbitrary<"NONE" | "EXPR" | "ENDP" | "UNIQ">,
      async (b, suffix) => {
        refused(await htMechanism(suffix).start(context()).step(b));
      }), runs(2000));
  });
});
