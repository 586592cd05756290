// Fuzzing BOSH (XEP-0124, XEP-0206) over real sockets: HTTP requests with session creations of
// any attributes, mutated wrappers, request ids in and out of the window, wrong session ids,
// restarts, pauses and terminations, and payloads from the client fuzzing (fuzz.test.ts), in
// sessions logged in or not. Every request is answered within the wait it asked for (a long poll
// held no longer), with a status XEP-0124 names (200, or 400/403/404 for bad requests, §17),
// never a server error; nothing is internal-server-error and nothing is logged at error level;
// then a session logs in and pings.
import { Writable } from "node:stream";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runs, timeout } from "../fuzz/runs.ts";
import { moduleIq } from "../fuzz/xmpp.ts";
import { HOSTILE_TOKENS, mutate, mutation, stanza, type Mutation } from "../fuzz/xml.ts";
import { BoshClient, HTTPBIND, XBOSH, post } from "../helpers/bosh.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const log: string[] = [];
let logins = 0;
let t: TestServer;
let url: string;
beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line !== "") log.push(line);
      done();
    },
  });
  t = await startServer({
    users: { fuzz0: "pw", fuzz1: "pw", alice: "pw" },
    log: { level: "warn", destination: sink },
    config: {
      c2s: { host: "127.0.0.1", requireTls: false },
      // Plain HTTP counts as secure, as behind a TLS-ending proxy: PLAIN logs in over it.
      http: { host: "127.0.0.1", tlsHost: "127.0.0.1", secureProxy: true, bosh: { maxWait: 2, maxInactivity: 5, requestsPerSecond: 0, maxSessionsPerAddress: 1000 } },
      limits: { stanzaSize: 16_384, preAuthStanzaSize: 2048, maxDepth: 16, handshakeTimeout: 3, bytesPerSecond: 0, stanzasPerSecond: 0 },
    },
  });
  url = `http://127.0.0.1:${t.server.ports.http}/http-bind`;
}, timeout(60_000));
afterAll(() => t?.stop());

const b = (s: string) => Buffer.from(s, "utf8");
const attrValue = fc.constantFrom("0", "1", "2", "60", "-1", "99999999999", "abc", "", "1.6", "localhost", "elsewhere", "true", "false");
const creation = fc.tuple(
  fc.dictionary(fc.constantFrom("to", "wait", "hold", "rid", "ver", "xml:lang", "content", "route", "secure", "polling", "requests", "xmpp:version", "ack"), attrValue),
  fc.boolean(), fc.array(mutation, { maxLength: 3 }),
).map(([attrs, xbosh, m]) => {
  const a: Record<string, string> = { rid: "100", to: "localhost", wait: "1", hold: "1", ...attrs };
  if (!xbosh) delete a["xmpp:version"];
  const text = `<body xmlns='${HTTPBIND}'${xbosh ? ` xmlns:xmpp='${XBOSH}'` : ""}${Object.entries(a).map(([k, v]) => ` ${k}='${v}'`).join("")}/>`;
  return mutate(b(text), m);
});
const payload = fc.oneof(
  stanza({ depth: 3 }).map(String), moduleIq.map(String),
  fc.array(fc.constantFrom(...HOSTILE_TOKENS), { maxLength: 6 }).map((t) => Buffer.concat(t).toString("latin1")),
  fc.constantFrom("", `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from("\0fuzz0\0pw").toString("base64")}</auth>`,
    "<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>", "<stream:stream>", "</body>", "<body/>"),
);
/** A request within a session: its rid relative to the next one, its sid, extra attributes, payloads, mutations. */
const request = fc.record({
  rid: fc.oneof(fc.constant(0), fc.integer({ min: -3, max: 5 }), fc.constantFrom(1e6, -1e6)),
  sid: fc.constantFrom("same", "same", "same", "other", "none"),
  attrs: fc.dictionary(fc.constantFrom("xmpp:restart", "type", "pause", "ack", "wait", "hold", "to", "key", "newkey"),
    fc.constantFrom("true", "false", "terminate", "1", "0", "5", "-1", "x", "")),
  payloads: fc.array(payload, { maxLength: 3 }),
  mutations: fc.array(mutation, { maxLength: 2 }),
});

type Request = { rid: number; sid: string; attrs: Record<string, string>; payloads: string[]; mutations: Mutation[] };

interface Outcome { status: number; text: string; ms: number }

async function send(text: Buffer | string): Promise<Outcome> {
  const started = Date.now();
  const signal = AbortSignal.timeout(8000);
  try {
    const a = await post(url, typeof text === "string" ? text : text.toString("latin1"), { signal });
    return { status: a.status, text: a.text, ms: Date.now() - started };
  } catch (e) {
    return { status: -1, text: String(e), ms: Date.now() - started };
  }
}

function judge(what: string, o: Outcome, problems: string[]): void {
  if (o.status === -1) problems.push(`${what}: no answer in 8 s (${o.text})`);
  else if (![200, 400, 403, 404].includes(o.status)) problems.push(`${what}: HTTP ${o.status} ${o.text.slice(0, 200)}`);
  if (o.text.includes("internal-server-error")) problems.push(`${what}: internal-server-error`);
}

describe("fuzzing BOSH (XEP-0124, XEP-0206)", () => {
  it("answers every request in time with a status XEP-0124 names, and nothing is internal-server-error", async () => {
    const session = fc.tuple(creation, fc.boolean(), fc.array(request, { minLength: 1, maxLength: 5 }));
    const one = async ([create, login, requests]: [Buffer, boolean, Request[]]) => {
      const problems: string[] = [];
      let sid = "";
      let rid = 1000;
      if (login) {
        const c = await BoshClient.create(url, { wait: 1 });
        await c.login(`fuzz${++logins % 2}`, `r${logins}`);
        sid = c.sid;
        rid = c.rid;
      } else {
        const o = await send(create);
        judge("creation", o, problems);
        sid = /sid=['"]([^'"]+)['"]/.exec(o.text)?.[1] ?? "";
        rid = 101;
      }
      for (const r of requests) {
        const attrs: Record<string, string> = { rid: String(rid + r.rid), ...r.attrs };
        if (r.sid === "same" && sid) attrs.sid = sid;
        if (r.sid === "other") attrs.sid = "x".repeat(24);
        if (attrs["xmpp:restart"] !== undefined) attrs["xmlns:xmpp"] = XBOSH;
        const text = `<body xmlns='${HTTPBIND}'${Object.entries(attrs).map(([k, v]) => ` ${k}='${v}'`).join("")}>${r.payloads.join("")}</body>`;
        const o = await send(mutate(b(text), r.mutations));
        judge(`request ${text.slice(0, 300)}`, o, problems);
        if (r.rid >= 0 && r.rid < 3) rid += r.rid + 1;
        if (o.status !== 200) break;
      }
      return problems;
    };
    await fc.assert(fc.asyncProperty(fc.array(session, { minLength: 6, maxLength: 6 }), async (batch) => {
      const problems = (await Promise.all(batch.map(one))).flat();
      expect(problems, problems.join("\n")).toEqual([]);
    }), { ...runs(10), endOnFailure: true });
    expect(log.filter((l) => (JSON.parse(l) as { level: number }).level >= 50)).toEqual([]);
  }, timeout(300_000));

  it("still serves a session that logs in and pings", async () => {
    const c = await BoshClient.create(url, { wait: 1 });
    await c.login("alice", "home");
    const answer = await c.send("<iq xmlns='jabber:client' type='get' id='p' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    const pong = answer.getChildElements().find((e) => e.attrs.id === "p") ?? (await c.next((e) => e.attrs.id === "p", "the ping's answer"));
    expect(pong.attrs.type).toBe("result");
    await c.terminate();
  }, timeout(30_000));
});
