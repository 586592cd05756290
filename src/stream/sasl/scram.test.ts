import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { deriveCredentials, preparePassword, scramCredential, type Credentials, type ScramHash } from "../../core/credentials.ts";
import type { ChannelBinding } from "../../transports/transport.ts";
import type { SaslContext, SaslMechanism, SaslStep } from "./mechanism.ts";
import { mechanismsFor } from "./offer.ts";
import { escapeSaslname } from "./scram-message.ts";
import { scramMechanism } from "./scram.ts";

// ---- A SCRAM client written from RFC 5802 §3, independent of the server's helpers ----

interface ClientOptions {
  hash: ScramHash;
  username: string;
  password: string;
  flag?: "n" | "y" | "p";
  cbType?: string;
  cbData?: Buffer;
  authzid?: string;
  nonce?: string;
}

const NODE_HASH = { "SHA-1": "sha1", "SHA-256": "sha256" } as const;

function scramClient(o: ClientOptions) {
  const algo = NODE_HASH[o.hash];
  const flag = o.flag === "p" ? `p=${o.cbType}` : (o.flag ?? "n");
  const gs2 = `${flag},${o.authzid === undefined ? "" : `a=${escapeSaslname(o.authzid)}`},`;
  const clientNonce = o.nonce ?? randomBytes(18).toString("base64");
  const bare = `n=${escapeSaslname(o.username)},r=${clientNonce}`;
  let expected = "";
  const hmac = (key: Buffer, data: string): Buffer => createHmac(algo, key).update(data).digest();
  return {
    first: (): Buffer => Buffer.from(gs2 + bare),
    final(challenge: Buffer): Buffer {
      const serverFirst = challenge.toString();
      const attrs = new Map(serverFirst.split(",").map((a) => [a[0], a.slice(2)] as const));
      const nonce = attrs.get("r") ?? "";
      expect(nonce.startsWith(clientNonce)).toBe(true);
      const size = o.hash === "SHA-1" ? 20 : 32;
      const salted = pbkdf2Sync(preparePassword(o.password) ?? "", Buffer.from(attrs.get("s") ?? "", "base64"), Number(attrs.get("i")), size, algo);
      const cbind = Buffer.concat([Buffer.from(gs2), o.cbData ?? Buffer.alloc(0)]).toString("base64");
      const withoutProof = `c=${cbind},r=${nonce}`;
      const authMessage = `${bare},${serverFirst},${withoutProof}`;
      const clientKey = hmac(salted, "Client Key");
      const signature = hmac(createHash(algo).update(clientKey).digest(), authMessage);
      const proof = Buffer.from(clientKey.map((b, i) => b ^ (signature[i] as number)));
      expected = `v=${hmac(hmac(salted, "Server Key"), authMessage).toString("base64")}`;
      return Buffer.from(`${withoutProof},p=${proof.toString("base64")}`);
    },
    verify: (data: Buffer | null): boolean => data?.toString() === expected,
  };
}

// ---- Fixtures ----

const CB: Record<string, Buffer> = {
  "tls-exporter": Buffer.from("exporter-keying-material-32-byte"),
  "tls-server-end-point": Buffer.from("certificate-hash"),
};
const binding: ChannelBinding = { types: () => Object.keys(CB), data: (t) => CB[t] };

function context(users: Record<string, Credentials>, extra: Partial<SaslContext> = {}): SaslContext {
  return { secure: true, channelBinding: undefined, domain: "example.com", lookup: async (u) => users[u.toLowerCase()], ...extra };
}

const ITER = 64; // keep random-password tests fast; the RFC vectors use 4096
const PASSWORD = "correct horse ☃ battery";
const users: Record<string, Credentials> = { juliet: await deriveCredentials(PASSWORD, { iterations: ITER }) };

function mech(hash: ScramHash, plus = false, plusOffered?: boolean): SaslMechanism {
  return scramMechanism(plusOffered === undefined ? { hash, plus } : { hash, plus, plusOffered });
}

/** Runs the whole exchange; returns the last step and whether the client accepted the server. */
async function run(m: SaslMechanism, ctx: SaslContext, o: ClientOptions): Promise<{ step: SaslStep; serverOk: boolean }> {
  const client = scramClient(o);
  const session = m.start(ctx);
  const first = await session.step(client.first());
  if (first.kind !== "challenge") return { step: first, serverOk: false };
  const step = await session.step(client.final(first.data));
  return { step, serverOk: step.kind === "success" && client.verify(step.data) };
}

function ok(username: string): object {
  return { kind: "success", username };
}

// ---- RFC test vectors ----

describe("RFC test vectors", () => {
  it("RFC 5802 §5: SCRAM-SHA-1", async () => {
    const creds = { "SHA-1": await scramCredential("SHA-1", "pencil", Buffer.from("QSXCR+Q6sek8bf92", "base64"), 4096) };
    const m = scramMechanism({ hash: "SHA-1", plus: false, serverNonce: () => "3rfcNHYJY1ZVvWVs7j" });
    const session = m.start(context({ user: creds }));
    const first = await session.step(Buffer.from("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"));
    expect(first).toEqual({ kind: "challenge", data: Buffer.from("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096") });
    const final = await session.step(Buffer.from("c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="));
    expect(final).toEqual({ kind: "success", data: Buffer.from("v=rmF9pqV8S7suAoZWja4dJRkFsKQ="), username: "user" });
  });

  it("RFC 7677 §3: SCRAM-SHA-256", async () => {
    const creds = { "SHA-256": await scramCredential("SHA-256", "pencil", Buffer.from("W22ZaJ0SNY7soEsUEjb6gQ==", "base64"), 4096) };
    const m = scramMechanism({ hash: "SHA-256", plus: false, serverNonce: () => "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0" });
    const session = m.start(context({ user: creds }));
    const first = await session.step(Buffer.from("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"));
    expect(first.kind === "challenge" && first.data.toString()).toBe(
      "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
    const final = await session.step(Buffer.from(
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="));
    expect(final).toEqual({ kind: "success", data: Buffer.from("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="), username: "user" });
  });
});

// ---- Full exchanges with the test client ----

describe.each(["SHA-1", "SHA-256"] as const)("SCRAM-%s", (hash) => {
  it("authenticates random passwords and proves the server", async () => {
    for (let i = 0; i < 5; i++) {
      const password = `${randomBytes(9).toString("base64")} é\u00a0✓${i}`;
      const ctx = context({ romeo: await deriveCredentials(password, { iterations: ITER }) });
      const { step, serverOk } = await run(mech(hash), ctx, { hash, username: "romeo", password });
      expect(step).toMatchObject(ok("romeo"));
      expect(serverOk).toBe(true);
    }
  });

  it("sends an empty challenge when there is no initial response", async () => {
    const client = scramClient({ hash, username: "juliet", password: PASSWORD });
    const session = mech(hash).start(context(users));
    expect(await session.step(null)).toEqual({ kind: "challenge", data: Buffer.alloc(0) });
    const first = await session.step(client.first());
    expect(first.kind).toBe("challenge");
    const final = await session.step(client.final((first as { data: Buffer }).data));
    expect(final).toMatchObject(ok("juliet"));
    expect(client.verify((final as { data: Buffer }).data)).toBe(true);
  });

  it("fails a wrong password with not-authorized", async () => {
    const { step } = await run(mech(hash), context(users), { hash, username: "juliet", password: "wrong" });
    expect(step).toEqual({ kind: "failure", condition: "not-authorized", verdict: "credentials" });
  });

  it("fails an unknown user exactly like a wrong password, with a stable salt", async () => {
    const { step } = await run(mech(hash), context(users), { hash, username: "nobody", password: "x" });
    expect(step).toEqual({ kind: "failure", condition: "not-authorized", verdict: "credentials" });
    const salt = async (username: string) => {
      const first = await mech(hash).start(context(users)).step(scramClient({ hash, username, password: "x", nonce: "abc" }).first());
      return /,s=([^,]+),i=4096$/.exec((first as { data: Buffer }).data.toString())?.[1];
    };
    const s1 = await salt("nobody");
    expect(s1).toBeDefined();
    expect(await salt("nobody")).toBe(s1);
    expect(await salt("someone-else")).not.toBe(s1);
  });

  it("undoes =2C and =3D in usernames", async () => {
    const name = "a,b=c";
    const ctx = context({ [name]: await deriveCredentials("pw", { iterations: ITER }) });
    const client = scramClient({ hash, username: name, password: "pw" });
    expect(client.first().toString()).toContain("n=a=2Cb=3Dc,");
    expect((await run(mech(hash), ctx, { hash, username: name, password: "pw" })).step).toMatchObject(ok(name));
  });

  it("accepts an authzid equal to the user's bare JID, refuses another", async () => {
    const base = { hash, username: "juliet", password: PASSWORD };
    expect((await run(mech(hash), context(users), { ...base, authzid: "Juliet@Example.com" })).step).toMatchObject(ok("juliet"));
    expect((await run(mech(hash), context(users), { ...base, authzid: "romeo@example.com" })).step)
      .toEqual({ kind: "failure", condition: "invalid-authzid" });
    expect((await run(mech(hash), context(users), { ...base, authzid: "juliet@example.com/balcony" })).step)
      .toMatchObject({ condition: "invalid-authzid" });
    expect((await run(mech(hash), context(users, { domain: undefined }), { ...base, authzid: "juliet@example.com" })).step)
      .toMatchObject({ condition: "invalid-authzid" });
  });

  it("fails when the stored credentials lack this hash", async () => {
    const other: ScramHash = hash === "SHA-1" ? "SHA-256" : "SHA-1";
    const only = { juliet: { [other]: users.juliet?.[other] } };
    expect((await run(mech(hash), context(only), { hash, username: "juliet", password: PASSWORD })).step)
      .toMatchObject({ condition: "not-authorized" });
  });
});

// ---- Channel binding ----

describe("channel binding (-PLUS)", () => {
  const ctx = context(users, { channelBinding: binding });
  const base = { username: "juliet", password: PASSWORD, flag: "p" } as const;

  it.each(["SHA-1", "SHA-256"] as const)("SCRAM-%s-PLUS binds with tls-exporter and tls-server-end-point", async (hash) => {
    for (const cbType of ["tls-exporter", "tls-server-end-point"]) {
      const { step, serverOk } = await run(mech(hash, true), ctx, { ...base, hash, cbType, cbData: CB[cbType] });
      expect(step).toMatchObject(ok("juliet"));
      expect(serverOk).toBe(true);
    }
  });

  it("fails when the client's binding data differs (a man in the middle)", async () => {
    const { step } = await run(mech("SHA-256", true), ctx, { ...base, hash: "SHA-256", cbType: "tls-exporter", cbData: Buffer.from("other") });
    expect(step).toMatchObject({ kind: "failure", condition: "not-authorized" });
  });

  it("fails when the client binds to a type the channel does not have", async () => {
    const { step } = await run(mech("SHA-256", true), ctx, { ...base, hash: "SHA-256", cbType: "tls-unique", cbData: Buffer.from("x") });
    expect(step).toMatchObject({ kind: "failure", condition: "not-authorized" });
  });

  it("-PLUS refuses n and y flags; plain SCRAM refuses p", async () => {
    for (const flag of ["n", "y"] as const) {
      const { step } = await run(mech("SHA-256", true), ctx, { hash: "SHA-256", username: "juliet", password: PASSWORD, flag });
      expect(step.kind).toBe("failure");
    }
    const { step } = await run(mech("SHA-256"), ctx, { ...base, hash: "SHA-256", cbType: "tls-exporter", cbData: CB["tls-exporter"] });
    expect(step).toMatchObject({ kind: "failure", condition: "malformed-request" });
  });

  it("-PLUS is unavailable without a channel binding", () => {
    expect(mech("SHA-256", true).available(context(users))).toBe(false);
    expect(mech("SHA-256", true).available(ctx)).toBe(true);
  });
});

describe("the y flag downgrade rule (RFC 5802 §6)", () => {
  const o = { hash: "SHA-256", username: "juliet", password: PASSWORD, flag: "y" } as const;
  const byName = (ctx: SaslContext, name: string, enabled?: string[]) =>
    mechanismsFor(ctx, enabled).find((m) => m.name === name) as SaslMechanism;

  it("fails y when -PLUS was offered", async () => {
    const ctx = context(users, { channelBinding: binding });
    expect((await run(byName(ctx, "SCRAM-SHA-256"), ctx, o)).step).toMatchObject({ kind: "failure", condition: "not-authorized" });
    expect((await run(mech("SHA-256"), ctx, o)).step).toMatchObject({ kind: "failure" });
  });

  it("accepts y once the client's binding type was refused on this stream (slixmpp on TLS 1.3)", async () => {
    const ctx = context(users, { channelBinding: binding });
    ctx.bindingTypeRefused = true;
    expect((await run(byName(ctx, "SCRAM-SHA-256"), ctx, o)).step).toMatchObject(ok("juliet"));
  });

  it("marks a refused binding type, and wrong credentials, with their verdicts", async () => {
    const ctx = context(users, { channelBinding: binding });
    const plus = byName(ctx, "SCRAM-SHA-256-PLUS").start(ctx);
    const first = `p=tls-unique,,n=juliet,r=abcdefghijklmnop`;
    expect(await plus.step(Buffer.from(first))).toMatchObject({ kind: "failure", verdict: "binding-unavailable" });
  });

  it("accepts y when no -PLUS was offered", async () => {
    const plainTcp = context(users);
    expect((await run(byName(plainTcp, "SCRAM-SHA-256"), plainTcp, o)).step).toMatchObject(ok("juliet"));
    const ctx = context(users, { channelBinding: binding });
    const m = byName(ctx, "SCRAM-SHA-256", ["SCRAM-SHA-256", "PLAIN"]);
    expect((await run(m, ctx, o)).step).toMatchObject(ok("juliet"));
  });
});

// ---- Malformed input never throws ----

describe("malformed messages", () => {
  const m = mech("SHA-256");
  async function afterFirst() {
    const session = m.start(context(users));
    const client = scramClient({ hash: "SHA-256", username: "juliet", password: PASSWORD });
    const first = await session.step(client.first());
    const nonce = /^r=([^,]+)/.exec((first as { data: Buffer }).data.toString())?.[1] as string;
    return { session, nonce, good: client.final((first as { data: Buffer }).data).toString() };
  }

  it.each([
    ["garbage", Buffer.from("garbage")],
    ["empty", Buffer.alloc(0)],
    ["invalid UTF-8", Buffer.from([0x6e, 0x2c, 0x2c, 0x6e, 0x3d, 0xff, 0x2c, 0x72, 0x3d, 0x61])],
    ["oversized", Buffer.from(`n,,n=user,r=${"a".repeat(5000)}`)],
    ["no username", Buffer.from("n,,r=abc")],
    ["no nonce", Buffer.from("n,,n=user")],
    ["empty username", Buffer.from("n,,n=,r=abc")],
    ["bad escape", Buffer.from("n,,n=us=er,r=abc")],
    ["bad flag", Buffer.from("x,,n=user,r=abc")],
    ["bad authzid", Buffer.from("n,b=x,n=user,r=abc")],
    ["nonce with space", Buffer.from("n,,n=user,r=a c")],
    ["mandatory extension", Buffer.from("n,,m=ext,n=user,r=abc")],
    ["NUL in username", Buffer.from("n,,n=us\0er,r=abc")],
  ])("client-first: %s", async (_, data) => {
    const step = await m.start(context(users)).step(data);
    expect(step).toMatchObject({ kind: "failure", condition: "malformed-request" });
  });

  it("ignores unknown optional extensions in client-first", async () => {
    const step = await m.start(context(users)).step(Buffer.from("n,,n=juliet,r=abc,x=yz"));
    expect(step.kind).toBe("challenge");
  });

  it.each([
    ["garbage", () => "garbage"],
    ["missing proof", (n: string) => `c=biws,r=${n}`],
    ["missing channel binding", (n: string) => `r=${n},p=AAAA`],
    ["wrong nonce", () => "c=biws,r=somethingelse,p=AAAA"],
    ["client nonce only", (n: string) => `c=biws,r=${n.slice(0, 10)},p=AAAA`],
    ["bad base64 proof", (n: string) => `c=biws,r=${n},p=!!!`],
    ["bad base64 binding", (n: string) => `c=b@ws,r=${n},p=AAAA`],
    ["short proof", (n: string) => `c=biws,r=${n},p=AAAA`],
    ["proof not last", (n: string) => `c=biws,r=${n},p=AAAA,x=1`],
  ])("client-final: %s", async (_, make) => {
    const { session, nonce } = await afterFirst();
    const step = await session.step(Buffer.from(make(nonce)));
    expect(step).toMatchObject({ kind: "failure", condition: "malformed-request" });
  });

  it("binding header differing from the one first sent fails (c=eSws is y,,)", async () => {
    const { session, good } = await afterFirst();
    expect(await session.step(Buffer.from(good.replace("c=biws", "c=eSws")))).toMatchObject({ condition: "not-authorized" });
  });

  it("a finished exchange accepts nothing more", async () => {
    const { session, good } = await afterFirst();
    expect((await session.step(Buffer.from(good))).kind).toBe("success");
    expect(await session.step(Buffer.from(good))).toMatchObject({ kind: "failure" });
  });

  it("a null response mid-exchange fails", async () => {
    const { session } = await afterFirst();
    expect(await session.step(null)).toMatchObject({ kind: "failure", condition: "malformed-request" });
  });

  it("a lookup that throws gives temporary-auth-failure", async () => {
    const ctx = context(users, { lookup: async () => { throw new Error("db down"); } });
    const step = await m.start(ctx).step(scramClient({ hash: "SHA-256", username: "juliet", password: "x" }).first());
    expect(step).toEqual({ kind: "failure", condition: "temporary-auth-failure" });
  });
});
