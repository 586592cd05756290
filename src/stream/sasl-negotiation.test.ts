// The SASL negotiation of a stream (RFC 6120 §6) as a state machine over a fake transport: the
// mechanisms offered, each exchange's elements, abort, malformed payloads, the stream's caps on
// failures, and the login throttle (counted when an attempt starts, by address prefix and account).
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { xml, type Element } from "../xml/element.ts";
import { parseJid } from "../xml/jid.ts";
import { StreamError } from "../core/errors.ts";
import { createLogger } from "../core/log.ts";
import { serverSchema } from "../core/config.ts";
import { parseShape } from "../core/schema.ts";
import type { Transport } from "../transports/transport.ts";
import type { StreamContext } from "./context.ts";
import { LocalLoginThrottle, type LoginThrottle } from "./login-throttle.ts";
import { deriveCredentials, type Credentials } from "../core/credentials.ts";
import type { ChannelBinding } from "../transports/transport.ts";
import { SaslNegotiation } from "./sasl-negotiation.ts";

const SASL = "urn:ietf:params:xml:ns:xmpp-sasl";
const log = createLogger("silent");

let romeo: Credentials;
beforeAll(async () => {
  romeo = await deriveCredentials("s3cret");
});

interface Fixture {
  sasl: SaslNegotiation;
  out: string[];
  lookups: string[];
}

interface Options {
  address?: string;
  secure?: boolean;
  channelBinding?: ChannelBinding;
  mechanisms?: string[];
  throttle?: LoginThrottle;
  auth?: Record<string, unknown>;
}

function negotiation(o: Options = {}): Fixture {
  const out: string[] = [];
  const lookups: string[] = [];
  const config = parseShape(serverSchema, { auth: { ...o.auth, ...(o.mechanisms ? { mechanisms: o.mechanisms } : {}) } }, "", false);
  const ctx = {
    domain: parseJid("localhost"),
    config,
    log,
    loginThrottle: o.throttle ?? new LocalLoginThrottle({ perAddress: 100, perAccount: 100 }),
    credentials: async (username: string) => {
      lookups.push(username);
      return username.toLowerCase() === "romeo" ? romeo : undefined;
    },
  } as unknown as StreamContext;
  const transport = {
    remoteAddress: o.address ?? "192.0.2.1",
    secure: o.secure ?? true,
    channelBinding: () => o.channelBinding,
    write: (s: string) => void out.push(s),
  } as unknown as Transport;
  return { sasl: new SaslNegotiation(ctx, transport, "localhost", () => log), out, lookups };
}

const b64 = (s: string | Buffer) => Buffer.from(s).toString("base64");
const auth = (mechanism: string, payload?: string) => xml("auth", { xmlns: SASL, mechanism }, payload);
const plain = (user: string, pass: string, authzid = "") => auth("PLAIN", b64(`${authzid}\0${user}\0${pass}`));
const response = (payload: string) => xml("response", { xmlns: SASL }, payload);
const failureOf = (s: string | undefined) => /<failure xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><([a-z-]+)\/>/.exec(s ?? "")?.[1];

async function streamError(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof StreamError) return e.condition;
    throw e;
  }
  throw new Error("no stream error");
}

/** A SCRAM-SHA-256 client (RFC 5802 §3): client-first, then client-final from the challenge. */
function scram(user: string, password: string) {
  const nonce = randomBytes(18).toString("base64");
  const bare = `n=${user},r=${nonce}`;
  return {
    first: () => auth("SCRAM-SHA-256", b64(`n,,${bare}`)),
    final(challenge: Element | string): Element {
      const serverFirst = Buffer.from(/<challenge[^>]*>([^<]*)</.exec(challenge.toString())![1]!, "base64").toString();
      const a = Object.fromEntries(serverFirst.split(",").map((kv) => [kv[0], kv.slice(2)]));
      const salted = pbkdf2Sync(password, Buffer.from(a.s!, "base64"), Number(a.i), 32, "sha256");
      const clientKey = createHmac("sha256", salted).update("Client Key").digest();
      const withoutProof = `c=${b64("n,,")},r=${a.r}`;
      const sig = createHmac("sha256", createHash("sha256").update(clientKey).digest()).update(`${bare},${serverFirst},${withoutProof}`).digest();
      return response(b64(`${withoutProof},p=${Buffer.from(clientKey.map((b, i) => b ^ sig[i]!)).toString("base64")}`));
    },
  };
}

describe("mechanisms offered (RFC 6120 §6.3.3)", () => {
  const offered = (f: Fixture) => f.sasl.features()[0]!.getChildren("mechanism").map((m) => m.getText());

  it("over TLS: SCRAM strongest first, then PLAIN; without TLS no PLAIN", () => {
    expect(offered(negotiation())).toEqual(["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"]);
    expect(offered(negotiation({ secure: false }))).toEqual(["SCRAM-SHA-256", "SCRAM-SHA-1"]);
  });

  it("-PLUS and XEP-0440's channel-binding types with a channel binding; only the configured ones", () => {
    const cb: ChannelBinding = { types: () => ["tls-exporter"], data: () => Buffer.from("km") };
    const f = negotiation({ channelBinding: cb });
    expect(offered(f)).toEqual(["SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"]);
    expect(f.sasl.features()[1]!.toString()).toContain("<channel-binding type=\"tls-exporter\"/>");
    expect(offered(negotiation({ channelBinding: cb, mechanisms: ["SCRAM-SHA-256", "PLAIN"] }))).toEqual(["SCRAM-SHA-256", "PLAIN"]);
  });
});

describe("exchanges", () => {
  it("PLAIN with the right password succeeds with the account's JID", async () => {
    const f = negotiation();
    const account = await f.sasl.handle(plain("Romeo", "s3cret"));
    expect(account?.toString()).toBe("romeo@localhost");
    expect(f.out).toEqual([`<success xmlns="${SASL}"/>`]);
  });

  it("PLAIN without an initial response gets an empty challenge, then takes the message", async () => {
    const f = negotiation();
    expect(await f.sasl.handle(auth("PLAIN"))).toBeUndefined();
    expect(f.out.pop()).toBe(`<challenge xmlns="${SASL}">=</challenge>`);
    expect((await f.sasl.handle(response(b64("\0romeo\0s3cret"))))?.toString()).toBe("romeo@localhost");
  });

  it("SCRAM-SHA-256: challenge, then success with the server's signature", async () => {
    const f = negotiation();
    const c = scram("romeo", "s3cret");
    expect(await f.sasl.handle(c.first())).toBeUndefined();
    const challenge = f.out.pop()!;
    expect(challenge).toMatch(/^<challenge/);
    expect((await f.sasl.handle(c.final(challenge)))?.toString()).toBe("romeo@localhost");
    expect(Buffer.from(/>([^<]+)</.exec(f.out.pop()!)![1]!, "base64").toString()).toMatch(/^v=/);
  });

  it("a wrong password and an unknown user are both not-authorized", async () => {
    const f = negotiation();
    await f.sasl.handle(plain("romeo", "wrong"));
    await f.sasl.handle(plain("nobody", "wrong"));
    expect(f.out.map(failureOf)).toEqual(["not-authorized", "not-authorized"]);
  });

  it("an unknown or unoffered mechanism is invalid-mechanism", async () => {
    const f = negotiation({ secure: false });
    await f.sasl.handle(auth("DIGEST-MD5"));
    await f.sasl.handle(plain("romeo", "s3cret"));
    expect(f.out.map(failureOf)).toEqual(["invalid-mechanism", "invalid-mechanism"]);
    expect(f.lookups).toEqual([]);
  });

  it("<abort/> ends the exchange with aborted; a response after it has no exchange to go to", async () => {
    const f = negotiation();
    const c = scram("romeo", "s3cret");
    await f.sasl.handle(c.first());
    const challenge = f.out.pop()!;
    await f.sasl.handle(xml("abort", { xmlns: SASL }));
    expect(failureOf(f.out.pop())).toBe("aborted");
    expect(await streamError(f.sasl.handle(c.final(challenge)))).toBe("not-authorized");
  });

  it("a <response/> with no exchange in progress, or an unknown element, is a stream error", async () => {
    expect(await streamError(negotiation().sasl.handle(response("=")))).toBe("not-authorized");
    expect(await streamError(negotiation().sasl.handle(xml("success", { xmlns: SASL })))).toBe("unsupported-stanza-type");
  });
});

describe("malformed payloads", () => {
  it("bad base64 is incorrect-encoding, in <auth/> and in <response/>", async () => {
    const f = negotiation();
    await f.sasl.handle(auth("PLAIN", "!!!"));
    expect(failureOf(f.out.pop())).toBe("incorrect-encoding");
    await f.sasl.handle(scram("romeo", "x").first());
    f.out.pop();
    await f.sasl.handle(response("not base64!"));
    expect(failureOf(f.out.pop())).toBe("incorrect-encoding");
  });

  it("a PLAIN message of the wrong shape and a SCRAM client-first without a nonce are malformed-request", async () => {
    const f = negotiation();
    await f.sasl.handle(auth("PLAIN", b64("romeo-s3cret")));
    await f.sasl.handle(auth("SCRAM-SHA-256", b64("n,,n=romeo")));
    expect(f.out.map(failureOf)).toEqual(["malformed-request", "malformed-request"]);
  });

  it("a SCRAM client-final with another nonce is malformed-request", async () => {
    const f = negotiation();
    const c = scram("romeo", "s3cret");
    await f.sasl.handle(c.first());
    const forged = c.final(f.out.pop()!.replace(/>([^<]*)</, (_, t: string) => `>${b64(Buffer.from(t, "base64").toString().replace(/r=([^,]*)/, "r=$1x"))}<`));
    await f.sasl.handle(forged);
    expect(failureOf(f.out.pop())).toBe("malformed-request");
  });

  it("an authzid of someone else is invalid-authzid", async () => {
    const f = negotiation();
    await f.sasl.handle(plain("romeo", "s3cret", "juliet@localhost"));
    expect(failureOf(f.out.pop())).toBe("invalid-authzid");
  });
});

describe("the stream's caps (RFC 6120 §6.4.5)", () => {
  it("the fifth wrong password ends the stream with policy-violation", async () => {
    const f = negotiation();
    for (let i = 0; i < 4; i++) await f.sasl.handle(plain("romeo", `bad${i}`));
    expect(await streamError(f.sasl.handle(plain("romeo", "bad4")))).toBe("policy-violation");
  });

  it("ten failures of any kind end it too: unknown mechanisms, bad encodings, aborts, malformed messages", async () => {
    const f = negotiation();
    const bad = [auth("NOPE"), auth("PLAIN", "!!!"), xml("abort", { xmlns: SASL }), auth("PLAIN", b64("x"))];
    for (let i = 0; i < 9; i++) await f.sasl.handle(bad[i % bad.length]!);
    expect(f.out.map(failureOf)).toHaveLength(9);
    expect(await streamError(f.sasl.handle(auth("NOPE")))).toBe("policy-violation");
  });
});

describe("the login throttle", () => {
  /** A throttle that records what it is asked. */
  function recording(inner: LoginThrottle = new LocalLoginThrottle({ perAddress: 100, perAccount: 100 })) {
    const calls: string[] = [];
    const t: LoginThrottle = {
      begin: (a) => (calls.push(`begin ${a}`), inner.begin(a)),
      release: (a) => (calls.push(`release ${a}`), inner.release(a)),
      account: (a) => (calls.push(`account ${a}`), inner.account(a)),
      releaseAccount: (a) => (calls.push(`releaseAccount ${a}`), inner.releaseAccount(a)),
    };
    return { t, calls };
  }

  it("counts an attempt at <auth/>, before the password is checked: a second exchange from the address finds no room", async () => {
    const t = new LocalLoginThrottle({ perAddress: 1, perAccount: 100 });
    const a = negotiation({ throttle: t });
    const b = negotiation({ throttle: t });
    await a.sasl.handle(scram("romeo", "s3cret").first());
    expect(a.out.pop()).toMatch(/^<challenge/);
    await b.sasl.handle(scram("romeo", "s3cret").first());
    expect(failureOf(b.out.pop())).toBe("temporary-auth-failure");
    expect(b.lookups).toEqual([]);
  });

  it("a success, a protocol error and an abort give the attempt back; a wrong password keeps it", async () => {
    const { t, calls } = recording();
    const f = negotiation({ throttle: t });
    await f.sasl.handle(plain("romeo", "s3cret"));
    expect(calls).toEqual(["begin 192.0.2.1", "account romeo@localhost", "release 192.0.2.1", "releaseAccount romeo@localhost"]);
    calls.length = 0;
    await f.sasl.handle(auth("PLAIN", b64("no-nuls")));
    expect(calls).toEqual(["begin 192.0.2.1", "release 192.0.2.1"]);
    calls.length = 0;
    await f.sasl.handle(scram("romeo", "x").first());
    await f.sasl.handle(xml("abort", { xmlns: SASL }));
    expect(calls).toEqual(["begin 192.0.2.1", "account romeo@localhost", "release 192.0.2.1", "releaseAccount romeo@localhost"]);
    calls.length = 0;
    await f.sasl.handle(plain("romeo", "wrong"));
    expect(calls).toEqual(["begin 192.0.2.1", "account romeo@localhost"]);
  });

  it("addresses of one IPv6 /64 share a count; another /64 has its own; the prefix is configurable", async () => {
    const t = new LocalLoginThrottle({ perAddress: 1, perAccount: 100 });
    await negotiation({ throttle: t, address: "2001:db8:0:1::a" }).sasl.handle(plain("romeo", "wrong"));
    const same = negotiation({ throttle: t, address: "2001:db8:0:1:ffff::b" });
    await same.sasl.handle(plain("romeo", "s3cret"));
    expect(failureOf(same.out.pop())).toBe("temporary-auth-failure");
    const other = negotiation({ throttle: t, address: "2001:db8:0:2::a" });
    expect((await other.sasl.handle(plain("romeo", "s3cret")))?.toString()).toBe("romeo@localhost");
    // With a /48, the two /64s are one.
    const wide = new LocalLoginThrottle({ perAddress: 1, perAccount: 100 });
    await negotiation({ throttle: wide, address: "2001:db8:0:1::a", auth: { ipv6Prefix: 48 } }).sasl.handle(plain("romeo", "wrong"));
    const neighbour = negotiation({ throttle: wide, address: "2001:db8:0:2::a", auth: { ipv6Prefix: 48 } });
    await neighbour.sasl.handle(plain("romeo", "s3cret"));
    expect(failureOf(neighbour.out.pop())).toBe("temporary-auth-failure");
  });

  it("an account's attempt waits its turn before its password is looked up", async () => {
    const { t, calls } = recording({
      begin: () => true, release: () => {}, releaseAccount: () => {},
      account: () => new Promise((r) => setTimeout(() => r(50), 10)),
    });
    const f = negotiation({ throttle: t });
    const started = Date.now();
    expect((await f.sasl.handle(plain("romeo", "s3cret")))?.toString()).toBe("romeo@localhost");
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
    expect(calls.indexOf("account romeo@localhost")).toBeGreaterThanOrEqual(0);
  });

  it("an account whose turn is too far away is temporary-auth-failure, its address attempt given back", async () => {
    const { t, calls } = recording({ begin: () => true, release: () => {}, releaseAccount: () => {}, account: () => undefined });
    const f = negotiation({ throttle: t });
    await f.sasl.handle(plain("romeo", "s3cret"));
    expect(failureOf(f.out.pop())).toBe("temporary-auth-failure");
    expect(f.lookups).toEqual([]);
    expect(calls).toEqual(["begin 192.0.2.1", "account romeo@localhost", "release 192.0.2.1"]);
  });

  it("a Redis-like throttle that answers later is waited for", async () => {
    const f = negotiation({ throttle: { begin: async () => false, release: () => {}, account: () => 0, releaseAccount: () => {} } });
    await f.sasl.handle(plain("romeo", "s3cret"));
    expect(failureOf(f.out.pop())).toBe("temporary-auth-failure");
  });
});
