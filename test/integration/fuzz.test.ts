// Fuzzing over real sockets, TCP and WebSocket. Many short connections send what fast-check
// makes of a stream: headers and SASL exchanges mutated before login; after login and binding,
// stanzas with random namespaces and addresses, mutated bytes, huge attributes, deep nesting,
// broken UTF-8, stream headers and declarations at odd places, XEP-0198 elements with wild h
// values, iqs with two payloads or none. Each TCP connection ends with a ping and the client's
// closing tag, and is judged against the server's own parser run on the same bytes (the reference):
//   - the server answers: it closes the stream, or the input is still inside an element;
//   - what the reference refuses gets a stream error, with the same condition when it is one of
//     the parser's; no error is internal-server-error (RFC 6120 names a condition for all of this);
//   - before any stream error, every iq get/set the reference read has its answer (§8.2.3);
//   - nothing is logged at error level (no "stream handler failed", no "stanza handler failed").
// Then nothing pipelined behind <starttls/> is acted on over TLS; what the server acknowledged
// (XEP-0198 h) reaches its recipient whatever the sender sends next; WebSocket connections get the
// same cases as messages; and a well-behaved client logs in, sends a message another receives,
// and pings, promptly. Bounded for `npm test` (FUZZ_SCALE lengthens it under `./run fuzz`).
import { isUtf8 } from "node:buffer";
import { Writable } from "node:stream";
import fc from "fast-check";
import { WebSocket } from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ParserLimits } from "../../src/xml/parser.ts";
import { reference, served } from "../fuzz/reference.ts";
import { runs, timeout } from "../fuzz/runs.ts";
import { HOSTILE_TOKENS, NAMESPACES, attrValue, elementTree, mutate, mutation, ncName, stanza, xmlText } from "../fuzz/xml.ts";
import { moduleIq, moduleStanza } from "../fuzz/xmpp.ts";
import { FEATURES, OPEN, RawClient } from "../helpers/raw.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const LIMITS = { stanzaSize: 16_384, preAuthStanzaSize: 2048, maxDepth: 16, handshakeTimeout: 3 };
const POST: ParserLimits = { maxStanzaSize: LIMITS.stanzaSize, maxDepth: LIMITS.maxDepth, maxAttributes: 64, maxNameLength: 256 };
const PRE: ParserLimits = { ...POST, maxStanzaSize: LIMITS.preAuthStanzaSize };
const ACCOUNTS = 6;
const PASSWORD = "pw";
/** How long a connection may stay silent once all was sent, when the reference says the stream is over. */
const ANSWER_MS = 4000;
const PARSER_CONDITIONS = ["not-well-formed", "restricted-xml", "policy-violation", "unsupported-encoding"];

const log: string[] = [];
let t: TestServer;

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line !== "") log.push(line);
      done();
    },
  });
  const users: Record<string, string> = { alice: PASSWORD, bob: PASSWORD };
  for (let i = 0; i < ACCOUNTS; i++) users[`fuzz${i}`] = PASSWORD;
  t = await startServer({
    users,
    log: { level: "warn", destination: sink },
    config: {
      c2s: { host: "127.0.0.1", requireTls: false },
      // ws:// counts as secure, as behind a TLS-ending proxy: PLAIN logs in over it.
      http: { host: "127.0.0.1", tlsHost: "127.0.0.1", secureProxy: true },
      limits: { ...LIMITS, bytesPerSecond: 0, stanzasPerSecond: 0 },
      auth: { failuresPerMinute: 1_000_000, failuresPerAccount: 1_000_000 },
      sm: { resumeTimeout: 2 },
    },
  });
}, timeout(60_000));
afterAll(() => t?.stop());

// --- cases ---------------------------------------------------------------------------------------

type Phase = "open" | "authenticated" | "bound";

interface Case {
  phase: Phase;
  /** What the case is, for the report. */
  kind: string;
  bytes: Buffer;
  /** Stream management enabled (resumable or not) before the bytes. */
  sm?: "off" | "on" | "resume";
  /** A stanza error the case must get (an iq with this id), when the RFCs name one. */
  stanzaError?: { id: string; conditions: string[] };
  /** A stream error the case must get. */
  streamError?: string[];
}

const b = (s: string) => Buffer.from(s, "utf8");
const to = fc.constantFrom(undefined, "localhost", "fuzz0@localhost", "fuzz1@localhost/x", "nobody@localhost", "remote.example",
  "pubsub.localhost", "conference.localhost", "upload.localhost", "not a jid@@", "", "LOCALHOST.", "[::1]");

/** An iq get/set to somewhere with one payload in a namespace, known or not. */
const oddIq = fc.tuple(ncName(6), fc.constantFrom("get", "set"), to, fc.constantFrom(...NAMESPACES, "urn:x:nothing"), elementTree({ depth: 3 }))
  .map(([id, type, where, ns, payload]) => {
    payload.attrs.xmlns = ns === "" ? "urn:x:empty" : ns;
    const toAttr = where === undefined ? "" : ` to='${where}'`;
    return b(`<iq type='${type}' id='${id}'${toAttr}>${payload.toString()}</iq>`);
  });

const bound: fc.Arbitrary<Case> = fc.oneof(
  { weight: 4, arbitrary: fc.array(moduleIq, { minLength: 1, maxLength: 4 }).map((els) => ({ phase: "bound" as const, kind: "iq to a module", bytes: b(els.join("")) })) },
  { weight: 2, arbitrary: fc.array(moduleStanza, { minLength: 1, maxLength: 4 }).map((els) => ({ phase: "bound" as const, kind: "message or presence to a module", bytes: b(els.join("")) })) },
  fc.tuple(moduleIq, fc.array(mutation, { minLength: 1, maxLength: 3 }))
    .map(([el, m]) => ({ phase: "bound" as const, kind: "mutated iq to a module", bytes: mutate(b(el.toString()), m) })),
  stanza({ depth: 4 }).map((s) => ({ phase: "bound" as const, kind: "random stanza", bytes: b(s.toString()) })),
  oddIq.map((bytes) => ({ phase: "bound" as const, kind: "iq to anywhere", bytes })),
  fc.tuple(stanza({ depth: 3 }), fc.array(mutation, { minLength: 1, maxLength: 4 }))
    .map(([s, m]) => ({ phase: "bound" as const, kind: "mutated stanza", bytes: mutate(b(s.toString()), m) })),
  fc.tuple(ncName(6), fc.constantFrom("get", "set"), fc.integer({ min: 0, max: 3 }).filter((n) => n !== 1), fc.constantFrom(...NAMESPACES.filter((n) => n !== "")))
    .map(([id, type, n, ns]) => ({
      phase: "bound" as const, kind: "iq with 0 or 2+ payloads", stanzaError: { id, conditions: ["bad-request"] },
      bytes: b(`<iq type='${type}' id='${id}'>${Array.from({ length: n }, (_, i) => `<q${i} xmlns='${ns}'/>`).join("")}</iq>`),
    })),
  fc.tuple(ncName(6), fc.constantFrom("", "bogus", "GET", "result ")).map(([id, type]) => ({
    phase: "bound" as const, kind: "iq of no type", stanzaError: { id, conditions: ["bad-request"] },
    bytes: b(`<iq type='${type}' id='${id}'><ping xmlns='urn:xmpp:ping'/></iq>`),
  })),
  fc.tuple(fc.integer({ min: LIMITS.stanzaSize - 300, max: LIMITS.stanzaSize + 4000 }), fc.constantFrom("message", "iq", "presence")).map(([n, name]) => {
    const bytes = b(`<${name} id='huge' x='${"a".repeat(n)}'/>`);
    return { phase: "bound" as const, kind: "huge attribute", bytes, streamError: bytes.length > LIMITS.stanzaSize ? ["policy-violation"] : undefined };
  }),
  fc.integer({ min: 1, max: 200 }).map((d) => ({
    phase: "bound" as const, kind: "deep nesting", streamError: d > LIMITS.maxDepth ? ["policy-violation"] : undefined,
    bytes: b(`<message to='fuzz0@localhost'>${"<x xmlns='urn:x'>".repeat(d - 1)}${"</x>".repeat(d - 1)}</message>`),
  })),
  fc.tuple(xmlText(10), fc.constantFrom(...HOSTILE_TOKENS.filter((t) => !isUtf8(t)))).map(([text, bad]) => ({
    phase: "bound" as const, kind: "broken UTF-8", streamError: ["unsupported-encoding"],
    bytes: Buffer.concat([b(`<message to='fuzz0@localhost'><body>${text.replace(/[<&>]/g, "")}`), bad, b("</body></message>")]),
  })),
  fc.tuple(fc.constantFrom(OPEN(), "<?xml version='1.0'?>", `${OPEN()}<stream:features/>`, "<stream:stream>", "</stream:stream>"), stanza({ depth: 2 }), fc.nat())
    .map(([restart, s, at]) => {
      const text = s.toString();
      const cut = at % (text.length + 1);
      return { phase: "bound" as const, kind: "restart at an odd place", bytes: b(text.slice(0, cut) + restart + text.slice(cut)) };
    }),
  fc.tuple(fc.constantFrom("on", "resume", "off") as fc.Arbitrary<"on" | "resume" | "off">, fc.array(fc.oneof(
    fc.constantFrom("-1", "0", "1", "4294967295", "4294967296", "99999999999999999999", "1e3", "0x10", "", " 0", "abc", "00"),
    fc.nat().map(String)).map((h) => `<a xmlns='urn:xmpp:sm:3' h='${h}'/>`), { minLength: 1, maxLength: 3 }),
  fc.constantFrom("", "<r xmlns='urn:xmpp:sm:3'/>", "<enable xmlns='urn:xmpp:sm:3'/>", "<resume xmlns='urn:xmpp:sm:3' previd='x' h='0'/>", "<bogus xmlns='urn:xmpp:sm:3'/>"))
    .map(([sm, acks, extra]) => ({ phase: "bound" as const, kind: "stream management", sm, bytes: b(extra + acks.join("")) })),
  fc.array(fc.constantFrom(...HOSTILE_TOKENS), { minLength: 1, maxLength: 12 }).map((tokens) => ({ phase: "bound" as const, kind: "tokens", bytes: Buffer.concat(tokens) })),
).chain((c: Case) => fc.constantFrom("off", "on", "resume").map((sm): Case => ({ ...c, sm: c.sm ?? (sm as Case["sm"]) })) as fc.Arbitrary<Case>);

const SASL = "urn:ietf:params:xml:ns:xmpp-sasl";
const saslPayload = fc.oneof(
  fc.constantFrom("", "=", "====", "not base64!", "AA", "biws", Buffer.from("n,,n=fuzz0,r=abc").toString("base64"),
    Buffer.from("\0fuzz0\0wrong").toString("base64"), Buffer.from("p=tls-exporter,,n=fuzz0,r=x").toString("base64")),
  fc.uint8Array({ maxLength: 120 }).map((a) => Buffer.from(a).toString("base64")),
  fc.string({ unit: "binary", maxLength: 40 }).map((s) => Buffer.from(s).toString("base64")),
);
const saslElement = fc.oneof(
  fc.tuple(fc.constantFrom("SCRAM-SHA-256", "SCRAM-SHA-1", "SCRAM-SHA-256-PLUS", "PLAIN", "EXTERNAL", "DIGEST-MD5", "", "HT-SHA-256-NONE"), saslPayload)
    .map(([m, p]) => `<auth xmlns='${SASL}' mechanism='${m}'>${p}</auth>`),
  saslPayload.map((p) => `<response xmlns='${SASL}'>${p}</response>`),
  fc.constantFrom(`<abort xmlns='${SASL}'/>`, `<auth xmlns='${SASL}'/>`, `<success xmlns='${SASL}'/>`, `<challenge xmlns='${SASL}'/>`,
    `<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>\u0016\u0003\u0001garbage`, "<iq type='get' id='r'><query xmlns='jabber:iq:register'/></iq>",
    "<message to='fuzz0@localhost'><body>early</body></message>", `<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'/>`),
);

const open: fc.Arbitrary<Case> = fc.oneof(
  fc.tuple(fc.array(mutation, { maxLength: 4 }), fc.array(saslElement, { maxLength: 3 }))
    .map(([m, els]) => ({ phase: "open" as const, kind: "mutated header", bytes: mutate(b(OPEN() + els.join("")), m) })),
  fc.array(saslElement, { minLength: 1, maxLength: 4 }).map((els) => ({ phase: "open" as const, kind: "SASL", bytes: b(OPEN() + els.join("")) })),
  fc.uint8Array({ maxLength: 200 }).map((a) => ({ phase: "open" as const, kind: "noise", bytes: Buffer.from(a) })),
  fc.integer({ min: 1, max: 3 * LIMITS.preAuthStanzaSize }).map((n) => ({
    phase: "open" as const, kind: "large pre-auth stanza", streamError: n > LIMITS.preAuthStanzaSize - 60 ? ["policy-violation"] : undefined,
    bytes: b(OPEN() + `<auth xmlns='${SASL}' mechanism='PLAIN'>${"A".repeat(n - (n % 4))}</auth>`),
  })),
);

const authenticated: fc.Arbitrary<Case> = fc.oneof(
  fc.tuple(ncName(6), fc.oneof(attrValue(30), fc.constantFrom("", " ", "a".repeat(1100), "é".repeat(600), "\u0000", "x/y@z", "😀")))
    .map(([id, r]) => ({ phase: "authenticated" as const, kind: "bind", bytes: b(`<iq type='set' id='${id}'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${r.replace(/[<&]/g, "")}</resource></bind></iq>`) })),
  fc.tuple(fc.string({ maxLength: 30 }), fc.constantFrom("0", "-1", "4294967296", "x", "")).map(([previd, h]) => ({
    phase: "authenticated" as const, kind: "resume", bytes: b(`<resume xmlns='urn:xmpp:sm:3' previd='${previd.replace(/['<&]/g, "")}' h='${h}'/>`),
  })),
  oddIq.map((bytes) => ({ phase: "authenticated" as const, kind: "iq before bind", bytes })),
  fc.tuple(stanza({ depth: 2 }), fc.array(mutation, { maxLength: 3 })).map(([s, m]) => ({ phase: "authenticated" as const, kind: "stanza before bind", bytes: mutate(b(s.toString()), m) })),
);

// --- running a case --------------------------------------------------------------------------------

let serial = 0;

/** A client on plain TCP (the server allows it on loopback) through SCRAM to `phase`. */
async function reach(phase: Phase, account: string, resource = `r${++serial}`, tries = 2): Promise<RawClient> {
  const c = await RawClient.connect(t.port);
  if (phase === "open") return c;
  c.send(OPEN());
  await c.expect(FEATURES);
  const sasl = await c.scram(account, PASSWORD);
  if (!sasl.startsWith("<success")) {
    // A case may have changed the password or removed the account (XEP-0077 §3.2, §3.3), as its
    // owner may: the account is made again as it was.
    if (await t.server.accounts.exists(account)) await t.server.accounts.setPassword(account, PASSWORD);
    else await t.server.accounts.create(account, PASSWORD);
    c.close();
    if (tries <= 1) throw new Error(`login failed: ${sasl}`);
    return reach(phase, account, resource, tries - 1);
  }
  c.send(OPEN());
  await c.expect(FEATURES);
  if (phase === "authenticated") return c;
  c.send(`<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`);
  await c.expect(/<iq[^>]*id=["']bind["'][\s\S]*?<\/iq>/);
  return c;
}

async function waitFor(c: RawClient, done: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!done() && !c.closed && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  return done() || c.closed;
}

/** Per kind of case: how many ran, and how their streams ended. */
const tally = new Map<string, Map<string, number>>();

function count(kind: string, outcome: string): void {
  const m = tally.get(kind) ?? new Map<string, number>();
  tally.set(kind, m);
  m.set(outcome, (m.get(outcome) ?? 0) + 1);
}

/** Runs one case; returns what went wrong, or undefined. */
async function run(k: Case, account: string): Promise<string | undefined> {
  const c = await reach(k.phase, account);
  if (k.sm === "on" || k.sm === "resume") {
    c.send(`<enable xmlns='urn:xmpp:sm:3'${k.sm === "resume" ? " resume='true'" : ""}/>`);
    await c.expect(/<enabled[^>]*>/);
  }
  c.buffer = "";
  const probe = `<iq type='get' id='probe'><ping xmlns='urn:xmpp:ping'/></iq>`;
  const close = "</stream:stream>";
  c.socket.write(k.bytes);
  c.send(probe + close);
  const ref = k.phase === "open" ? reference(PRE, k.bytes, probe, close) : reference(POST, OPEN(), k.bytes, probe, close);
  // The parser decodes a chunk whole before it reads it, so which error comes first may depend on
  // how the bytes arrive: as written, or joined in one read.
  const joined = Buffer.concat([k.bytes, b(probe + close)]);
  const alike = k.phase === "open" ? reference(PRE, joined) : reference(POST, OPEN(), joined);
  const over = ref.ended || ref.error !== undefined;
  // Before binding the handshake timeout ends every stream; after it, only one the reference
  // saw end (or refused) must close: one still inside an element waits for the rest of it.
  const mustClose = k.phase !== "bound" || over;
  const answered = await waitFor(c, () => /<\/stream:stream>\s*$/.test(c.buffer),
    k.phase !== "bound" ? LIMITS.handshakeTimeout * 1000 + 2000 : over ? ANSWER_MS : 1500);
  const text = c.buffer;
  c.close();
  const streamError = /<stream:error><([a-z-]+)/.exec(text)?.[1];
  const problems: string[] = [];
  count(k.kind, streamError ?? (answered ? (c.closed ? "closed" : "ended") : "waiting"));
  if (!answered && mustClose) problems.push("no answer: the stream was neither closed nor answered");
  // After <proceed/> the bytes are TLS's, which the garbage that follows fails: the connection just ends.
  if (text.includes("<proceed")) return problems.length === 0 ? undefined : report(k, problems, text);
  if (text.includes("internal-server-error")) problems.push("internal-server-error");
  if (text.includes("temporary-auth-failure")) problems.push("temporary-auth-failure with the login throttle lifted");
  if (ref.error !== undefined && streamError === undefined) problems.push(`the reference refused the input (${ref.error}) but no stream error came`);
  if (ref.error !== undefined && streamError !== undefined && PARSER_CONDITIONS.includes(streamError) && streamError !== ref.error && streamError !== alike.error) {
    problems.push(`stream error ${streamError}, the reference says ${ref.error}`);
  }
  if (k.streamError && !k.streamError.includes(streamError ?? "")) problems.push(`expected stream error ${k.streamError.join("|")}, got ${streamError ?? "none"}`);
  if (k.phase !== "open" && streamError === undefined) {
    const out = served(text).elements;
    const ids = new Set(out.filter((e) => e.name === "iq").map((e) => e.attrs.id));
    for (const e of out) {
      if (e.name !== "iq" || (e.attrs.type !== "result" && e.attrs.type !== "error")) continue;
      const condition = e.getChild("error")?.children.find((x) => typeof x !== "string" && x.attrs.xmlns === "urn:ietf:params:xml:ns:xmpp-stanzas");
      count("iq answers", e.attrs.type === "result" ? "result" : typeof condition === "object" ? condition.name : "error without a condition");
    }
    for (const s of ref.stanzas) {
      if (s.name !== "iq" || (s.attrs.type !== "get" && s.attrs.type !== "set") || !s.attrs.id) continue;
      if (!ids.has(s.attrs.id)) problems.push(`iq ${s.attrs.id} got no answer (RFC 6120 §8.2.3)`);
    }
    if (k.stanzaError) {
      const reply = out.find((e) => e.name === "iq" && e.attrs.id === k.stanzaError!.id && e.attrs.type === "error");
      const condition = reply?.getChild("error")?.children.find((e) => typeof e !== "string" && e.attrs.xmlns === "urn:ietf:params:xml:ns:xmpp-stanzas");
      if (!condition || typeof condition === "string" || !k.stanzaError.conditions.includes(condition.name)) {
        problems.push(`expected stanza error ${k.stanzaError.conditions.join("|")} for ${k.stanzaError.id}`);
      }
    }
  }
  return problems.length === 0 ? undefined : report(k, problems, text);
}

function report(k: Case, problems: string[], text: string): string {
  return `${k.kind} (${k.phase}, sm ${k.sm ?? "off"}): ${problems.join("; ")}\n  sent: ${JSON.stringify(k.bytes.toString("latin1").slice(0, 600))}\n  got: ${JSON.stringify(text.slice(0, 800))}`;
}

const cases = fc.oneof({ weight: 6, arbitrary: bound }, { weight: 2, arbitrary: open }, { weight: 2, arbitrary: authenticated });

describe("fuzzing over sockets", () => {
  it("every bad connection is answered with the error RFC 6120 names, and hurts nobody else", async () => {
    let batch = 0;
    const started = Date.now();
    await fc.assert(fc.asyncProperty(fc.array(cases, { minLength: 8, maxLength: 8 }), async (ks) => {
      batch++;
      const failures = (await Promise.all(ks.map((k, i) => run(k, `fuzz${(batch * 8 + i) % ACCOUNTS}`)))).filter((f) => f !== undefined);
      expect(failures, failures.join("\n")).toEqual([]);
    }), { ...runs(50), endOnFailure: true });
    const lines = [...tally].map(([kind, m]) => `  ${kind}: ${[...m].map(([o, n]) => `${o} ${n}`).join(", ")}`);
    if (process.env.FUZZ_SCALE !== undefined) console.log(`${batch * 8} connections in ${Date.now() - started} ms\n${lines.join("\n")}`);
    const errors = log.filter((l) => { const level = (JSON.parse(l) as { level: number }).level; return level >= 50; });
    expect(errors, errors.join("\n")).toEqual([]);
  }, timeout(300_000));

  it("acts on nothing sent after <starttls/> in the clear once TLS is on (RFC 6120 §5.4.3.3)", async () => {
    const injected = fc.array(fc.oneof(
      fc.constantFrom(`<auth xmlns='${SASL}' mechanism='PLAIN'>${Buffer.from("\0fuzz0\0pw").toString("base64")}</auth>`,
        "<iq type='get' id='inj' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>", OPEN(), "</stream:stream>", "<stream:features/>"),
      stanza({ depth: 2 }).map(String), saslElement), { minLength: 1, maxLength: 4 }).map((a) => a.join(""));
    await fc.assert(fc.asyncProperty(injected, async (text) => {
      const c = await RawClient.connect(t.port);
      c.send(OPEN());
      await c.expect(FEATURES);
      const starttls = `<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>${text}`;
      c.send(starttls);
      await waitFor(c, () => c.buffer.includes("<proceed"), 5000);
      if (!c.buffer.includes("<proceed")) {
        // Malformed XML behind <starttls/> fails the stream in the clear, before TLS, with its condition.
        const ref = reference(PRE, OPEN(), starttls);
        expect(ref.error).toBeDefined();
        expect(c.buffer).toContain(`<stream:error><${ref.error} `);
        return;
      }
      await c.expect("<proceed");
      const clear = c.buffer;
      const plain = c.socket;
      plain.removeAllListeners("data");
      plain.removeAllListeners("close");
      const { connect } = await import("node:tls");
      const secure = connect({ socket: plain, rejectUnauthorized: false, servername: "localhost" });
      let received = clear;
      secure.setEncoding("utf8");
      secure.on("data", (d: string) => { received += d; });
      secure.on("error", () => {});
      await new Promise<void>((r, j) => { secure.once("secureConnect", () => r()); secure.once("error", j); });
      secure.write(OPEN() + "<iq type='get' id='probe' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
      const until = Date.now() + 5000;
      while (!/id=["']probe["']/.test(received) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      secure.destroy();
      expect(received).toMatch(/id=["']probe["']/);
      expect(received).toContain("<mechanisms");
      expect(received).not.toMatch(/<success|id=["']inj["']|<stream:error/);
    }), { ...runs(20), endOnFailure: true });
  }, timeout(120_000));

  it("over WebSocket (RFC 7395) too: every connection is answered, nothing is internal-server-error", async () => {
    const FRAMING = "urn:ietf:params:xml:ns:xmpp-framing";
    const open = `<open xmlns='${FRAMING}' to='localhost' version='1.0'/>`;
    const plain = `<auth xmlns='${SASL}' mechanism='PLAIN'>${Buffer.from("\0fuzz0\0pw").toString("base64")}</auth>`;
    const message = fc.oneof(
      fc.constantFrom(open, `<open xmlns='${FRAMING}' to='elsewhere' version='1.0'/>`, `<open xmlns='jabber:client' to='localhost' version='1.0'/>`,
        `<close xmlns='${FRAMING}'/>`, OPEN(), "</stream:stream>", "<presence/><presence/>", "text", "", " ",
        `<open xmlns='${FRAMING}' to='localhost' version='1.0'${" a='b'".repeat(1)}${Array.from({ length: 700 }, (_, i) => ` x${i}='y'`).join("")}/>`),
      bound.map((k) => k.bytes.toString("utf8")),
      fc.tuple(bound, fc.nat()).map(([k, at]) => k.bytes.toString("utf8").slice(0, at % (k.bytes.length + 1))),
    );
    const one = async ([login, frames]: [boolean, [string, boolean][]]): Promise<void> => {
      const ws = new WebSocket(`ws://127.0.0.1:${t.server.ports.http}/xmpp-websocket`, ["xmpp"]);
      const got: string[] = [];
      let closed = false;
      ws.on("message", (d: Buffer) => got.push(d.toString("utf8")));
      ws.on("close", () => { closed = true; });
      ws.on("error", () => {});
      await new Promise((r, j) => { ws.once("open", r); ws.once("error", j); });
      const until = async (f: () => boolean, ms: number) => {
        const end = Date.now() + ms;
        while (!f() && !closed && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
        return f();
      };
      if (login) {
        ws.send(open);
        await until(() => got.some((m) => m.includes("<mechanisms")), 3000);
        ws.send(plain);
        if (!(await until(() => got.some((m) => m.startsWith("<success")), 3000))) throw new Error(`login failed: ${got.join("")}`);
        ws.send(open);
        await until(() => got.some((m) => m.includes("bind")), 3000);
        ws.send("<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>");
        await until(() => got.some((m) => m.includes("id=\"bind\"")), 3000);
      }
      for (const [text, binary] of frames) ws.send(binary && text.length % 7 === 0 ? Buffer.from(text) : text, { binary: binary && text.length % 7 === 0 });
      ws.send("<iq type='get' id='probe' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
      ws.send(`<close xmlns='${FRAMING}'/>`);
      // Before binding the handshake timeout ends every stream; after it, one inside an element may wait.
      const answered = await until(() => got.some((m) => m.startsWith("<close") || m.includes("id=\"probe\"")), login ? 5000 : LIMITS.handshakeTimeout * 1000 + 2000);
      ws.terminate();
      const all = got.join("\n");
      expect(all).not.toContain("internal-server-error");
      if (!login) expect(answered || closed, `no answer to ${JSON.stringify(frames)}: ${all}`).toBe(true);
    };
    const connection = fc.tuple(fc.boolean(), fc.array(fc.tuple(message, fc.boolean()), { minLength: 1, maxLength: 6 }));
    await fc.assert(fc.asyncProperty(fc.array(connection, { minLength: 8, maxLength: 8 }), async (batch) => {
      await Promise.all(batch.map(one));
    }), { ...runs(6), endOnFailure: true });
    expect(log.filter((l) => (JSON.parse(l) as { level: number }).level >= 50)).toEqual([]);
  }, timeout(120_000));

  it("loses nothing it acknowledged (XEP-0198 h), whatever the sender sends next", async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 5 }), bound, async (n, bad) => {
      const marker = `acked${++serial}`;
      const sender = await reach("bound", `fuzz${serial % ACCOUNTS}`);
      sender.send("<enable xmlns='urn:xmpp:sm:3'/>");
      await sender.expect(/<enabled[^>]*>/);
      sender.send(Array.from({ length: n }, (_, i) => `<message to='bob@localhost' type='chat' id='${marker}-${i}'><body>${marker}-${i}</body></message>`).join("") +
        "<r xmlns='urn:xmpp:sm:3'/>");
      const h = Number(/h=["'](\d+)["']/.exec(await sender.expect(/<a xmlns=["']urn:xmpp:sm:3["'][^>]*>/))![1]);
      expect(h).toBe(n);
      sender.socket.write(bad.bytes);
      sender.send("</stream:stream>");
      await waitFor(sender, () => /<\/stream:stream>\s*$/.test(sender.buffer), 1500);
      sender.close();
      const bob = await reach("bound", "bob");
      bob.send("<presence/>");
      const all = Array.from({ length: n }, (_, i) => `${marker}-${i}<`);
      await waitFor(bob, () => all.every((m) => bob.buffer.includes(m)), 5000);
      const missing = all.filter((m) => !bob.buffer.includes(m));
      bob.close();
      expect(missing, `after ${bad.kind}: ${JSON.stringify(bad.bytes.toString("latin1").slice(0, 200))}`).toEqual([]);
    }), { ...runs(12), endOnFailure: true });
  }, timeout(120_000));

  it("still serves a well-behaved client promptly: login, a message, a ping", async () => {
    const started = Date.now();
    const alice = await reach("bound", "alice", "home");
    const bob = await reach("bound", "bob", "home");
    alice.send("<message to='bob@localhost/home' type='chat' id='m1'><body>still there?</body></message>");
    await bob.expect("still there?", 5000);
    alice.send("<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    await alice.expect(/<iq[^>]*id="p1"[^>]*type="result"|<iq[^>]*type="result"[^>]*id="p1"/, 5000);
    expect(Date.now() - started).toBeLessThan(10_000);
    alice.close();
    bob.close();
    expect(log.filter((l) => (JSON.parse(l) as { level: number }).level >= 50)).toEqual([]);
  }, timeout(30_000));
});
