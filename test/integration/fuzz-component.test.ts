// Fuzzing the external component listener (XEP-0114) over real sockets. Components connect with
// mutated headers, handshakes right and wrong, stanzas before the handshake, and, once it is
// proven, stanzas from their domain (and from others) mutated like a client's, ending with a ping
// to the server and the closing tag. Judged as the client fuzzing is (fuzz.test.ts): the server
// answers, what the reference parser refuses gets its stream error, every iq get/set from the
// component's domain read before a stream error is answered (RFC 6120 §8.2.3), nothing is
// internal-server-error and nothing is logged at error level; then each domain can still connect.
import { createHash } from "node:crypto";
import { Writable } from "node:stream";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ParserLimits } from "../../src/xml/parser.ts";
import { reference, served } from "../fuzz/reference.ts";
import { runs, timeout } from "../fuzz/runs.ts";
import { moduleIq } from "../fuzz/xmpp.ts";
import { HOSTILE_TOKENS, mutate, mutation, stanza } from "../fuzz/xml.ts";
import { RawClient } from "../helpers/raw.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const DOMAINS = Array.from({ length: 6 }, (_, i) => `gw${i}.localhost`);
const SECRET = "component-secret-0123456789";
const LIMITS = { stanzaSize: 16_384, preAuthStanzaSize: 2048, maxDepth: 16 };
const POST: ParserLimits = { maxStanzaSize: LIMITS.stanzaSize, maxDepth: LIMITS.maxDepth, maxAttributes: 64, maxNameLength: 256 };
const PRE: ParserLimits = { ...POST, maxStanzaSize: LIMITS.preAuthStanzaSize };
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
  t = await startServer({
    users: { alice: "pw" },
    log: { level: "warn", destination: sink },
    config: {
      components: DOMAINS.map((domain) => ({ domain, secret: SECRET })),
      component: { handshakeTimeout: 2, bytesPerSecond: 0, stanzasPerSecond: 0 },
      limits: { ...LIMITS, bytesPerSecond: 0, stanzasPerSecond: 0 },
    },
  });
}, timeout(60_000));
afterAll(() => t?.stop());

const header = (to: string) =>
  `<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='${to}'>`;
const digest = (id: string) => createHash("sha1").update(id + SECRET).digest("hex");

type Phase = "open" | "proven";
interface Case { phase: Phase; kind: string; bytes: (id: string) => Buffer }

const b = (s: string) => Buffer.from(s, "utf8");
const handshakes = fc.oneof(
  fc.constantFrom("right", "upper", "spaced", "empty", "wrong", "twice", "attr", "child").map((how) => (id: string) => {
    const d = digest(id);
    const text = { right: d, upper: d.toUpperCase(), spaced: ` ${d}\n`, empty: "", wrong: "0".repeat(40), twice: d, attr: d, child: d }[how];
    if (how === "attr") return b(`<handshake x='1'>${text}</handshake>`);
    if (how === "child") return b(`<handshake><x/>${text}</handshake>`);
    return b(`<handshake>${text}</handshake>${how === "twice" ? `<handshake>${text}</handshake>` : ""}`);
  }),
);

const cases: fc.Arbitrary<Case> = fc.oneof(
  fc.tuple(fc.constantFrom(...DOMAINS, "localhost", "nowhere.localhost", "", "GW0.LOCALHOST", "gw0.localhost."), fc.array(mutation, { maxLength: 3 }), handshakes)
    .map(([to, m, hs]) => ({ phase: "open" as const, kind: "header and handshake", bytes: (id: string) => Buffer.concat([mutate(b(header(to)), m), hs(id)]) })),
  fc.tuple(stanza({ depth: 2 }), handshakes).map(([s, hs]) => ({
    phase: "open" as const, kind: "stanza before the handshake", bytes: (id: string) => Buffer.concat([b(header(DOMAINS[0]!)), b(s.toString()), hs(id)]),
  })),
  { weight: 3, arbitrary: fc.tuple(fc.oneof(stanza({ depth: 3 }), moduleIq), fc.constantFrom("user@D", "D", "D/r", "alice@localhost", "localhost", "other.localhost", "", undefined),
    fc.constantFrom("alice@localhost", "alice@localhost/r", "localhost", "nobody@localhost", "D", "conference.localhost", "x@elsewhere.example", undefined),
    fc.array(mutation, { maxLength: 2 }))
    .map(([s, from, to, m]) => ({
      phase: "proven" as const, kind: "stanza from the component",
      bytes: (domain: string) => {
        if (from === undefined) delete s.attrs.from;
        else s.attrs.from = from.replace("D", domain);
        if (to === undefined) delete s.attrs.to;
        else s.attrs.to = to.replace("D", domain);
        return mutate(b(s.toString()), m);
      },
    })) },
  fc.array(fc.constantFrom(...HOSTILE_TOKENS), { minLength: 1, maxLength: 8 }).map((tk) => ({ phase: "proven" as const, kind: "tokens", bytes: () => Buffer.concat(tk) })),
);

async function run(k: Case, domain: string): Promise<string | undefined> {
  const c = await RawClient.connect(t.server.ports.component!);
  let bytes: Buffer;
  let pre: Buffer[] = [];
  if (k.phase === "proven") {
    c.send(header(domain));
    const id = /id='([^']+)'/.exec(await c.expect(/<stream:stream[^>]*>/))?.[1] ?? "";
    c.send(`<handshake>${digest(id)}</handshake>`);
    await c.expect("<handshake/>");
    c.buffer = "";
    bytes = k.bytes(domain);
    pre = [b(header(domain)), b(`<handshake>${digest(id)}</handshake>`)];
  } else {
    // The stream id is known only once the server answers the header: a handshake made for it
    // follows the header the case sends, when that header is read at all.
    const head = k.bytes("");
    const cut = head.indexOf("<handshake");
    c.socket.write(cut < 0 ? head : head.subarray(0, cut));
    const answer = await c.expect(/<stream:stream[^>]*>/, 2000).catch(() => "");
    const id = /id='([^']+)'/.exec(answer)?.[1] ?? "";
    bytes = cut < 0 ? Buffer.alloc(0) : k.bytes(id).subarray(cut);
    pre = [head.subarray(0, cut < 0 ? head.length : cut)];
  }
  const probe = `<iq type='get' id='probe' from='${domain}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`;
  const close = "</stream:stream>";
  c.socket.write(bytes);
  c.send(probe + close);
  const ref = reference(k.phase === "open" ? PRE : POST, ...pre, bytes, probe, close);
  const joined = reference(k.phase === "open" ? PRE : POST, Buffer.concat([...pre, bytes, b(probe + close)]));
  const over = ref.ended || ref.error !== undefined;
  const mustClose = k.phase === "open" || over;
  const answered = await new Promise<boolean>((resolve) => {
    const end = Date.now() + (k.phase === "open" ? 4000 : over ? 4000 : 1500);
    const tick = () => {
      if (/<\/stream:stream>\s*$/.test(c.buffer) || c.closed) resolve(true);
      else if (Date.now() > end) resolve(false);
      else setTimeout(tick, 20);
    };
    tick();
  });
  const text = c.buffer;
  c.close();
  const streamError = /<stream:error><([a-z-]+)/.exec(text)?.[1];
  const problems: string[] = [];
  if (!answered && mustClose) problems.push("no answer: the stream was neither closed nor answered");
  if (text.includes("internal-server-error")) problems.push("internal-server-error");
  if (ref.error !== undefined && streamError === undefined && !c.closed) problems.push(`the reference refused the input (${ref.error}) but no stream error came`);
  if (ref.error !== undefined && streamError !== undefined && PARSER_CONDITIONS.includes(streamError) && streamError !== ref.error && streamError !== joined.error) {
    problems.push(`stream error ${streamError}, the reference says ${ref.error}`);
  }
  if (k.phase === "proven" && streamError === undefined) {
    const out = served(text, "jabber:component:accept").elements;
    for (const s of ref.stanzas) {
      if (s.name !== "iq" || (s.attrs.type !== "get" && s.attrs.type !== "set") || !s.attrs.id) continue;
      const from = s.attrs.from ?? "";
      if (from !== domain && !from.endsWith(`@${domain}`) && !from.startsWith(`${domain}/`)) continue;
      if (!out.some((o) => o.name === "iq" && o.attrs.id === s.attrs.id)) problems.push(`iq ${s.attrs.id} got no answer`);
    }
  }
  if (problems.length === 0) return undefined;
  return `${k.kind} (${k.phase}, ${domain}): ${problems.join("; ")}\n  sent: ${JSON.stringify(bytes.toString("latin1").slice(0, 500))}\n  got: ${JSON.stringify(text.slice(0, 800))}`;
}

describe("fuzzing the component listener (XEP-0114)", () => {
  it("every bad component is answered with the error the specifications name, and hurts nobody else", async () => {
    await fc.assert(fc.asyncProperty(fc.array(cases, { minLength: DOMAINS.length, maxLength: DOMAINS.length }), async (ks) => {
      const failures = (await Promise.all(ks.map((k, i) => run(k, DOMAINS[i]!)))).filter((f) => f !== undefined);
      // Each domain is free again before the next round (one connection per domain).
      const until = Date.now() + 5000;
      while (t.server.components.connected().length > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      expect(failures, failures.join("\n")).toEqual([]);
    }), { ...runs(15), endOnFailure: true });
    expect(log.filter((l) => (JSON.parse(l) as { level: number }).level >= 50)).toEqual([]);
  }, timeout(300_000));

  it("still takes every configured component", async () => {
    for (const domain of DOMAINS) {
      const c = await RawClient.connect(t.server.ports.component!);
      c.send(header(domain));
      const id = /id='([^']+)'/.exec(await c.expect(/<stream:stream[^>]*>/))?.[1] ?? "";
      c.send(`<handshake>${digest(id)}</handshake>`);
      await c.expect("<handshake/>");
      c.close();
    }
  }, timeout(30_000));
});
