// Fuzzing a server's federation listener over real sockets (RFC 6120 §4-§9 on a server-to-server
// stream, XEP-0220 dialback, XEP-0288 bidi). a.test is fuzzed; b.test, a second server, is the
// authoritative server a.test asks about b.test's dialback keys. Many short connections, each a
// peer: mutated stream headers; dialback requests and verifications with any addresses and keys;
// and, once dialback has proven b.test (with bidi, so answers come back on the same stream),
// stanzas from b.test mutated like a client's. Judged as the client fuzzing is (fuzz.test.ts):
// the server answers, what the reference parser refuses gets its stream error, every dialback
// verification read before a stream error is answered, nothing is internal-server-error and
// nothing is logged at error level. (a.test answers b.test's stanzas on its own stream to b.test,
// which it opened to verify the key, so those answers are not seen here.) Only loopback: static
// routes and a resolver on a closed loopback port stand in for DNS.
import { connect, type Socket } from "node:net";
import { Writable } from "node:stream";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml } from "../../src/xml/element.ts";
import type { ParserLimits } from "../../src/xml/parser.ts";
import { dialbackKey } from "../../src/stream/s2s/dialback.ts";
import { reference, served } from "../fuzz/reference.ts";
import { runs, timeout } from "../fuzz/runs.ts";
import { HOSTILE_TOKENS, mutate, mutation, stanza } from "../fuzz/xml.ts";
import { FEATURES, OPEN, RawClient } from "../helpers/raw.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const LIMITS = { stanzaSize: 16_384, preAuthStanzaSize: 2048, maxDepth: 16, handshakeTimeout: 3 };
const POST: ParserLimits = { maxStanzaSize: LIMITS.stanzaSize, maxDepth: LIMITS.maxDepth, maxAttributes: 64, maxNameLength: 256 };
const PRE: ParserLimits = { ...POST, maxStanzaSize: LIMITS.preAuthStanzaSize };
const SECRET_B = "the dialback secret of b.test, known to the test";
const PARSER_CONDITIONS = ["not-well-formed", "restricted-xml", "policy-violation", "unsupported-encoding"];

const log: string[] = [];
let a: TestServer;
let b: TestServer;

function s2s(domain: string, secret?: string) {
  return {
    domain,
    s2s: {
      enabled: true, host: "127.0.0.1", requireTls: false, routes: {}, connectTimeout: 3,
      // Nothing answers DNS there: a domain without a route is not found, at once and locally.
      resolver: "127.0.0.1:9", ...(secret ? { dialbackSecret: secret } : {}),
    },
    limits: { ...LIMITS, bytesPerSecond: 0, stanzasPerSecond: 0 },
  };
}

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line !== "") log.push(line);
      done();
    },
  });
  a = await startServer({ config: s2s("a.test"), users: { alice: "pw" }, log: { level: "warn", destination: sink } });
  b = await startServer({ config: s2s("b.test", SECRET_B), users: { bob: "pw" } });
  a.server.config.s2s.routes["b.test"] = `127.0.0.1:${b.server.ports.s2s}`;
  // A domain that routes to a closed port: its verification fails at once.
  a.server.config.s2s.routes["closed.test"] = "127.0.0.1:1";
  b.server.config.s2s.routes["a.test"] = `127.0.0.1:${a.server.ports.s2s}`;
}, timeout(60_000));
afterAll(async () => {
  await a?.stop();
  await b?.stop();
});

const header = (from: string | undefined, to = "a.test") =>
  `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback'` +
  `${from === undefined ? "" : ` from='${from}'`} to='${to}' version='1.0'>`;

/** A peer's connection: everything it received, and whether it was closed. */
class Peer {
  text = "";
  closed = false;
  readonly socket: Socket;
  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => { this.text += d; });
    socket.on("close", () => { this.closed = true; });
    socket.on("error", () => {});
  }
  static async open(): Promise<Peer> {
    const socket = connect(a.server.ports.s2s!, "127.0.0.1");
    await new Promise((r, j) => { socket.once("connect", r); socket.once("error", j); });
    return new Peer(socket);
  }
  async until(done: () => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!done() && !this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return done();
  }
}

/** A stream from b.test that dialback authenticated, with bidi: a.test's answers come back on it. */
async function authenticated(): Promise<Peer> {
  const p = await Peer.open();
  p.socket.write(header("b.test"));
  await p.until(() => p.text.includes("</stream:features>"), 5000);
  const id = /<stream:stream[^>]*\sid=["']([^"']+)["']/.exec(p.text)?.[1] ?? "";
  p.socket.write(`<bidi xmlns='urn:xmpp:bidi'/><db:result from='b.test' to='a.test'>${dialbackKey(SECRET_B, "a.test", "b.test", id)}</db:result>`);
  if (!(await p.until(() => /<db:result[^>]*type=["']valid["']/.test(p.text), 10_000))) throw new Error(`dialback failed: ${p.text}`);
  p.text = "";
  return p;
}

type Phase = "open" | "authenticated";
interface Case { phase: Phase; kind: string; bytes: Buffer }

const b8 = (s: string) => Buffer.from(s, "utf8");
const domains = fc.constantFrom("b.test", "a.test", "closed.test", "nowhere.test", "", "b.test.", "B.TEST", "x@b.test", "b.test/r", "[::1]", "ü.test", "a b");
const key = fc.oneof(fc.constantFrom("", "  ", "0".repeat(64), "f".repeat(64)), fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), maxLength: 70 }), fc.string({ maxLength: 20 }));
const dialback = fc.oneof(
  fc.tuple(domains, domains, key).map(([from, to, k]) => `<db:result from='${from}' to='${to}'>${k.replace(/[<&]/g, "")}</db:result>`),
  fc.tuple(domains, domains, fc.string({ maxLength: 24 }), key)
    .map(([from, to, id, k]) => `<db:verify from='${from}' to='${to}' id='${id.replace(/['<&]/g, "")}'>${k.replace(/[<&]/g, "")}</db:verify>`),
  fc.constantFrom("<db:result/>", "<db:verify/>", "<db:result from='b.test' to='a.test' type='valid'/>", "<bidi xmlns='urn:xmpp:bidi'/>",
    "<enable xmlns='urn:xmpp:sm:3'/>", "<r xmlns='urn:xmpp:sm:3'/>", "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>",
    "<message from='x@b.test' to='alice@a.test'><body>unauthenticated</body></message>", "<bogus xmlns='urn:x'/>"),
);

const cases: fc.Arbitrary<Case> = fc.oneof(
  fc.tuple(fc.option(domains, { nil: undefined }), domains, fc.array(mutation, { maxLength: 3 }))
    .map(([from, to, m]) => ({ phase: "open" as const, kind: "header", bytes: mutate(b8(header(from, to)), m) })),
  { weight: 3, arbitrary: fc.tuple(fc.array(dialback, { minLength: 1, maxLength: 20 }), fc.array(mutation, { maxLength: 2 }))
    .map(([els, m]) => ({ phase: "open" as const, kind: "dialback", bytes: Buffer.concat([b8(header("b.test")), mutate(b8(els.join("")), m)]) })) },
  { weight: 3, arbitrary: fc.tuple(stanza({ depth: 3 }), fc.constantFrom("x@b.test/r", "b.test", "x@c.test", "", "not a jid"),
    fc.constantFrom("a.test", "alice@a.test", "alice@a.test/r", "nobody@a.test", "conference.a.test", "pubsub.a.test", "b.test", "c.test", ""),
    fc.array(mutation, { maxLength: 3 }))
    .map(([s, from, to, m]) => {
      s.attrs.from = from;
      s.attrs.to = to;
      return { phase: "authenticated" as const, kind: "stanza from a peer", bytes: mutate(b8(s.toString()), m) };
    }) },
  fc.array(fc.constantFrom(...HOSTILE_TOKENS), { minLength: 1, maxLength: 10 })
    .map((t) => ({ phase: "authenticated" as const, kind: "tokens from a peer", bytes: Buffer.concat(t) })),
);

async function run(k: Case): Promise<string | undefined> {
  const p = k.phase === "open" ? await Peer.open() : await authenticated();
  const probe = "<iq type='get' id='probe' from='b.test' to='a.test'><ping xmlns='urn:xmpp:ping'/></iq>";
  const close = "</stream:stream>";
  p.socket.write(k.bytes);
  p.socket.write(k.phase === "authenticated" ? probe + close : close);
  const ref = k.phase === "open" ? reference(PRE, k.bytes, close) : reference(POST, header("b.test"), k.bytes, probe, close);
  const joined = k.phase === "open" ? reference(PRE, Buffer.concat([k.bytes, b8(close)])) : reference(POST, header("b.test"), Buffer.concat([k.bytes, b8(probe + close)]));
  const over = ref.ended || ref.error !== undefined;
  const mustClose = k.phase === "open" || over;
  const answered = await p.until(() => /<\/stream:stream>\s*$/.test(p.text), k.phase === "open" ? LIMITS.handshakeTimeout * 1000 + 3000 : over ? 5000 : 1500);
  // Dialback answers may still be on their way when the stream closes: they are asked of b.test.
  const text = p.text;
  p.socket.destroy();
  const streamError = /<stream:error><([a-z-]+)/.exec(text)?.[1];
  const problems: string[] = [];
  if (!answered && !p.closed && mustClose) problems.push("no answer: the stream was neither closed nor answered");
  if (text.includes("internal-server-error")) problems.push("internal-server-error");
  if (ref.error !== undefined && streamError === undefined) problems.push(`the reference refused the input (${ref.error}) but no stream error came`);
  if (ref.error !== undefined && streamError !== undefined && PARSER_CONDITIONS.includes(streamError) && streamError !== ref.error && streamError !== joined.error) {
    problems.push(`stream error ${streamError}, the reference says ${ref.error}`);
  }
  if (streamError === undefined) {
    const out = served(text, "jabber:server").elements;
    for (const el of ref.stanzas) {
      // XEP-0220 §2.2.2: a verification is answered at once, whatever it asks.
      if (el.name === "db:verify" && el.children.length > 0 && !out.some((o) => o.name === "db:verify")) problems.push("a <db:verify/> got no answer");
    }
  }
  if (problems.length === 0) return undefined;
  return `${k.kind} (${k.phase}): ${problems.join("; ")}\n  sent: ${JSON.stringify(k.bytes.toString("latin1").slice(0, 600))}\n  got: ${JSON.stringify(text.slice(0, 800))}`;
}

describe("fuzzing the federation listener", () => {
  it("every bad peer is answered with the error RFC 6120 and XEP-0220 name, and hurts nobody else", async () => {
    await fc.assert(fc.asyncProperty(fc.array(cases, { minLength: 6, maxLength: 6 }), async (ks) => {
      const failures = (await Promise.all(ks.map(run))).filter((f) => f !== undefined);
      expect(failures, failures.join("\n")).toEqual([]);
    }), { ...runs(25), endOnFailure: true });
    const errors = log.filter((l) => (JSON.parse(l) as { level: number }).level >= 50);
    expect(errors, errors.join("\n")).toEqual([]);
  }, timeout(300_000));

  it("still federates: a peer that proves its domain is served, and alice gets its message", async () => {
    const alice = await RawClient.connect(a.port);
    alice.send(OPEN("a.test"));
    await alice.expect(FEATURES);
    await alice.startTls({ servername: "a.test" });
    alice.send(OPEN("a.test"));
    await alice.expect(FEATURES);
    expect(await alice.scram("alice", "pw")).toMatch(/^<success/);
    alice.send(OPEN("a.test"));
    await alice.expect(FEATURES);
    alice.send("<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>home</resource></bind></iq>");
    await alice.expect(/id=["']bind["']/);
    const p = await authenticated();
    p.socket.write(xml("message", { from: "bob@b.test/r", to: "alice@a.test/home", type: "chat", id: "m" }, xml("body", null, "hello from b")).toString());
    await alice.expect("hello from b", 5000);
    alice.close();
    p.socket.destroy();
    expect(log.filter((l) => (JSON.parse(l) as { level: number }).level >= 50)).toEqual([]);
  }, timeout(30_000));
});
