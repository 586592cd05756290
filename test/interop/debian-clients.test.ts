// Real clients from Debian against the server: python3-slixmpp (1.8) and python3-nbxmpp (4.2,
// Gajim's library), each a child process driven over stdin (agent.ts). What they prove: RFC 6120
// STARTTLS, SASL (SCRAM with and without channel binding, RFC 5802 / RFC 5929 / RFC 9266) and
// resource binding as these libraries do them; XEP-0368 direct TLS; RFC 6121 roster, the
// subscription handshake and presence; one-to-one chat between the two libraries.
// Needs Debian's /usr/bin/python3 with both packages (scripts/debian-deps.sh); skipped without
// them, except in CI where their absence is a failure.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "../helpers/server.ts";
import { Agent, login, missingPython, type AgentOptions, type Library } from "./agent.ts";

const missing = missingPython();
if (missing && process.env.CI) throw new Error(`interop clients unavailable in CI: ${missing}`);

const SCRAM = ["SCRAM-SHA-1", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"];
const TIMEOUT = 30_000;

let t: TestServer;
const running: Agent[] = [];

beforeAll(async () => {
  if (missing) return;
  t = await startServer({
    // The default login throttle (10 wrong passwords per address per minute) stays on: slixmpp's
    // channel-binding negotiation (below) must not count against it.
    users: { romeo: "pw", juliet: "pw", nurse: "pw", benvolio: "pw" },
  });
});
afterAll(() => t?.stop());
afterEach(() => {
  for (const a of running.splice(0)) a.kill();
});

async function connect(library: Library, jid: string, opts: Partial<AgentOptions> = {}) {
  const r = await login(library, { port: t.port, jid, password: "pw", ...opts });
  running.push(r.agent);
  return r;
}

type Item = { jid: string; subscription: string; ask: string | null };

/** Fetches the agent's whole roster (ver "", RFC 6121 §2.6.2) and returns its one item for `jid`. */
async function rosterItem(agent: Agent, jid: string): Promise<Item> {
  agent.send({ cmd: "roster", ver: "" });
  const items = (await agent.next("roster")).items as Item[];
  const found = items.filter((i) => i.jid === jid);
  expect(found, `one roster item for ${jid}\n${agent.report()}`).toHaveLength(1);
  return found[0]!;
}

/** Matches a roster push carrying `jid` with this subscription state. */
const push = (jid: string, subscription: string, ask: string | null = null) =>
  ({ items: (v: unknown) => (v as Item[]).some((i) => i.jid === jid && i.subscription === subscription && (i.ask ?? null) === ask) });

describe.skipIf(missing)("slixmpp: stream, TLS and SASL", () => {
  it("logs in over STARTTLS (TLS 1.3) and binds the resource it asked for", { timeout: TIMEOUT }, async () => {
    const { agent, session } = await connect("slixmpp", "romeo@localhost/garden");
    expect(session).toMatchObject({ jid: "romeo@localhost/garden", tls: "TLSv1.3", direct_tls: false });
    expect(session.offered).toEqual(expect.arrayContaining(SCRAM));
    expect(await agent.quit()).toBe(0);
  });

  // slixmpp 1.8 knows one channel binding, tls-unique, which TLS 1.3 does not have (RFC 9266),
  // and does not read XEP-0440. With its defaults it tries SCRAM-SHA-256-PLUS over tls-unique,
  // which is refused as unavailable, then plain SCRAM with the gs2 flag "y" ("I could bind but
  // think you can't"). RFC 5802 §6 makes "y" a downgrade when the server offers binding; here the
  // server itself has just said it cannot bind the client's way on this stream, so "y" is the
  // truth and is accepted: the login is SCRAM-SHA-256, not PLAIN.
  it("with its defaults on TLS 1.3, falls back from SCRAM-*-PLUS over tls-unique to SCRAM-SHA-256, not PLAIN", { timeout: TIMEOUT }, async () => {
    const { agent, session } = await connect("slixmpp", "romeo@localhost/defaults");
    const failures = agent.events.filter((e) => e.event === "auth_failure");
    expect(failures.length).toBeGreaterThanOrEqual(1);
    expect(failures.every((f) => String(f.mechanism).endsWith("-PLUS"))).toBe(true);
    expect(failures[0]).toMatchObject({ condition: "not-authorized", text: expect.stringContaining("tls-unique") });
    expect(session.mechanism).toBe("SCRAM-SHA-256");
    expect(await agent.quit()).toBe(0);
  });

  it("does not use up the login throttle: many default logins in a row all succeed", { timeout: 3 * TIMEOUT }, async () => {
    for (let i = 0; i < 4; i++) {
      const { agent, session } = await connect("slixmpp", `romeo@localhost/again${i}`);
      expect(session.mechanism).toBe("SCRAM-SHA-256");
      expect(await agent.quit()).toBe(0);
    }
  });

  it("binds SCRAM-SHA-256-PLUS to tls-unique when TLS is capped at 1.2", { timeout: TIMEOUT }, async () => {
    const { agent, session } = await connect("slixmpp", "romeo@localhost/tls12", { flags: ["--tls12"] });
    expect(session).toMatchObject({ jid: "romeo@localhost/tls12", tls: "TLSv1.2", mechanism: "SCRAM-SHA-256-PLUS" });
    expect(agent.events.filter((e) => e.event === "auth_failure")).toEqual([]);
    expect(await agent.quit()).toBe(0);
  });

  for (const mechanism of ["SCRAM-SHA-256", "SCRAM-SHA-1"]) {
    it(`logs in with ${mechanism} when it offers no channel binding (gs2 flag "n")`, { timeout: TIMEOUT }, async () => {
      const { agent, session } = await connect("slixmpp", "romeo@localhost/nocb", { flags: ["--no-channel-binding", "--mechanism", mechanism] });
      expect(session).toMatchObject({ mechanism, tls: "TLSv1.3" });
      expect(agent.events.filter((e) => e.event === "auth_failure")).toEqual([]);
      expect(await agent.quit()).toBe(0);
    });
  }

  it("is refused with a wrong password and gets no session", { timeout: TIMEOUT }, async () => {
    const agent = new Agent("slixmpp", { port: t.port, jid: "romeo@localhost/wrong", password: "not-pw", flags: ["--no-channel-binding", "--mechanism", "SCRAM-SHA-256"] });
    running.push(agent);
    expect(await agent.next("auth_failure")).toMatchObject({ mechanism: "SCRAM-SHA-256", condition: "not-authorized" });
    // With its one allowed mechanism spent, slixmpp gives up and disconnects.
    await agent.next("disconnected");
    expect(agent.events.some((e) => e.event === "session")).toBe(false);
  });

  it("logs in over direct TLS (XEP-0368) on the direct TLS port", { timeout: TIMEOUT }, async () => {
    const { agent, session } = await connect("slixmpp", "romeo@localhost/direct", { port: t.tlsPort, directTls: true, flags: ["--no-channel-binding", "--mechanism", "SCRAM-SHA-256"] });
    expect(session).toMatchObject({ jid: "romeo@localhost/direct", direct_tls: true, tls: "TLSv1.3", mechanism: "SCRAM-SHA-256" });
    expect(await agent.quit()).toBe(0);
  });
});

describe.skipIf(missing)("nbxmpp: stream, TLS and SASL", () => {
  it("logs in over STARTTLS with SCRAM-SHA-256 (nbxmpp never uses -PLUS) and binds its resource", { timeout: TIMEOUT }, async () => {
    const { agent, session } = await connect("nbxmpp", "nurse@localhost/gajim");
    expect(session).toMatchObject({ jid: "nurse@localhost/gajim", mechanism: "SCRAM-SHA-256", direct_tls: false, tls: "tls-1-3" });
    expect(session.offered).toEqual(expect.arrayContaining(SCRAM));
    expect(await agent.quit()).toBe(0);
  });

  it("logs in over direct TLS (XEP-0368)", { timeout: TIMEOUT }, async () => {
    const { agent, session } = await connect("nbxmpp", "nurse@localhost/direct", { port: t.tlsPort, directTls: true });
    expect(session).toMatchObject({ jid: "nurse@localhost/direct", mechanism: "SCRAM-SHA-256", direct_tls: true });
    expect(await agent.quit()).toBe(0);
  });
});

describe.skipIf(missing)("chat between real clients", () => {
  it("slixmpp Romeo and slixmpp Juliet exchange chat messages, each stamped with the sender's full JID", { timeout: TIMEOUT }, async () => {
    const { agent: juliet } = await connect("slixmpp", "juliet@localhost/balcony");
    const { agent: romeo } = await connect("slixmpp", "romeo@localhost/garden");
    romeo.send({ cmd: "message", to: "juliet@localhost/balcony", body: "But soft, what light through yonder window breaks?", id: "m1" });
    expect(await juliet.next("message", { id: "m1" })).toMatchObject({
      from: "romeo@localhost/garden", to: "juliet@localhost/balcony", type: "chat", body: "But soft, what light through yonder window breaks?",
    });
    juliet.send({ cmd: "message", to: "romeo@localhost/garden", body: "Wherefore art thou Romeo?", id: "m2" });
    expect(await romeo.next("message", { id: "m2" })).toMatchObject({
      from: "juliet@localhost/balcony", to: "romeo@localhost/garden", type: "chat", body: "Wherefore art thou Romeo?",
    });
    expect(await romeo.quit()).toBe(0);
    expect(await juliet.quit()).toBe(0);
  });

  it("nbxmpp (the Nurse) and slixmpp (Benvolio) exchange chat messages both ways", { timeout: TIMEOUT }, async () => {
    const { agent: nurse } = await connect("nbxmpp", "nurse@localhost/gajim");
    const { agent: benvolio } = await connect("slixmpp", "benvolio@localhost/square");
    nurse.send({ cmd: "presence" });
    benvolio.send({ cmd: "message", to: "nurse@localhost/gajim", body: "Good morrow, fair gentlewoman", id: "n1" });
    expect(await nurse.next("message", { id: "n1" })).toMatchObject({
      from: "benvolio@localhost/square", to: "nurse@localhost/gajim", type: "chat", body: "Good morrow, fair gentlewoman",
    });
    nurse.send({ cmd: "message", to: "benvolio@localhost/square", body: "God ye good den, fair gentleman", id: "n2" });
    expect(await benvolio.next("message", { id: "n2" })).toMatchObject({
      from: "nurse@localhost/gajim", to: "benvolio@localhost/square", type: "chat", body: "God ye good den, fair gentleman",
    });
    expect(await nurse.quit()).toBe(0);
    expect(await benvolio.quit()).toBe(0);
  });
});

// RFC 6121 §3: the subscription handshake as two slixmpp clients do it, with the roster pushes
// (§2.1.6) and presence (§4) the server owes each side along the way.
describe.skipIf(missing)("roster and presence (slixmpp Romeo, slixmpp Juliet)", () => {
  it("a full subscription handshake ends with subscription 'both' on each side and each sees the other online", { timeout: TIMEOUT }, async () => {
    const { agent: romeo } = await connect("slixmpp", "romeo@localhost/garden");
    const { agent: juliet } = await connect("slixmpp", "juliet@localhost/balcony");

    // Each fetches an empty roster and goes online.
    romeo.send({ cmd: "roster" });
    expect((await romeo.next("roster")).items).toEqual([]);
    juliet.send({ cmd: "roster" });
    expect((await juliet.next("roster")).items).toEqual([]);
    romeo.send({ cmd: "presence", status: "in the orchard" });
    juliet.send({ cmd: "presence", status: "on the balcony" });

    // Romeo asks to see Juliet's presence: his roster gets her, pending out; she gets the request.
    romeo.send({ cmd: "subscribe", to: "juliet@localhost" });
    await romeo.next("roster_push", push("juliet@localhost", "none", "subscribe"));
    expect(await juliet.next("presence", { type: "subscribe" })).toMatchObject({ from: "romeo@localhost" });
    // Romeo went online before he asked, and Juliet is not subscribed to him: his presence was
    // not broadcast to her (RFC 6121 §4.2.2), or it would have come before his request.
    expect(juliet.events.filter((e) => e.event === "presence" && e.from === "romeo@localhost/garden")).toEqual([]);

    // Juliet approves: her roster has Romeo as "from"; he gets "subscribed", "to", and her presence.
    juliet.send({ cmd: "approve", to: "romeo@localhost" });
    await juliet.next("roster_push", push("romeo@localhost", "from"));
    expect(await romeo.next("presence", { type: "subscribed" })).toMatchObject({ from: "juliet@localhost" });
    await romeo.next("roster_push", push("juliet@localhost", "to"));
    expect(await romeo.next("presence", { from: "juliet@localhost/balcony", type: "available" })).toMatchObject({ status: "on the balcony" });

    // Juliet asks back; Romeo approves; both end at "both" and she sees him online.
    juliet.send({ cmd: "subscribe", to: "romeo@localhost" });
    await juliet.next("roster_push", push("romeo@localhost", "from", "subscribe"));
    expect(await romeo.next("presence", { type: "subscribe" })).toMatchObject({ from: "juliet@localhost" });
    romeo.send({ cmd: "approve", to: "juliet@localhost" });
    await romeo.next("roster_push", push("juliet@localhost", "both"));
    expect(await juliet.next("presence", { type: "subscribed" })).toMatchObject({ from: "romeo@localhost" });
    await juliet.next("roster_push", push("romeo@localhost", "both"));
    expect(await juliet.next("presence", { from: "romeo@localhost/garden", type: "available" })).toMatchObject({ status: "in the orchard" });

    // slixmpp asks with the version of its last push: nothing changed since (RFC 6121 §2.6.3).
    romeo.send({ cmd: "roster" });
    expect(await romeo.next("roster")).toMatchObject({ ver_sent: expect.any(String), unchanged: true });
    // The stored rosters agree with the pushes.
    expect(await rosterItem(romeo, "juliet@localhost")).toMatchObject({ subscription: "both", ask: null });
    expect(await rosterItem(juliet, "romeo@localhost")).toMatchObject({ subscription: "both", ask: null });

    // Chat over the new subscription, addressed to the bare JID.
    romeo.send({ cmd: "message", to: "juliet@localhost", body: "It is my lady, O, it is my love!", id: "r1" });
    expect(await juliet.next("message", { id: "r1" })).toMatchObject({ from: "romeo@localhost/garden", body: "It is my lady, O, it is my love!" });
    juliet.send({ cmd: "message", to: "romeo@localhost", body: "Romeo, Romeo!", id: "r2" });
    expect(await romeo.next("message", { id: "r2" })).toMatchObject({ from: "juliet@localhost/balcony", body: "Romeo, Romeo!" });

    // Romeo leaves: Juliet sees him go. He comes back on another resource: the server probes
    // Juliet's presence for him (§4.3) and broadcasts his to her (§4.2.2).
    expect(await romeo.quit()).toBe(0);
    await juliet.next("presence", { from: "romeo@localhost/garden", type: "unavailable" });
    const { agent: romeo2 } = await connect("slixmpp", "romeo@localhost/orchard");
    romeo2.send({ cmd: "presence", status: "back again" });
    expect(await romeo2.next("presence", { from: "juliet@localhost/balcony", type: "available" })).toMatchObject({ status: "on the balcony" });
    expect(await juliet.next("presence", { from: "romeo@localhost/orchard", type: "available" })).toMatchObject({ status: "back again" });
    expect(await romeo2.quit()).toBe(0);
    expect(await juliet.quit()).toBe(0);
  });
});

describe.skipIf(missing)("roster and presence with nbxmpp (the Nurse) and slixmpp (Benvolio)", () => {
  it("nbxmpp and slixmpp subscribe to each other; nbxmpp parses the pushes and each sees the other's presence", { timeout: TIMEOUT }, async () => {
    const { agent: nurse } = await connect("nbxmpp", "nurse@localhost/gajim");
    const { agent: benvolio } = await connect("slixmpp", "benvolio@localhost/square");
    // Both ask for their rosters first: only resources that did get roster pushes (RFC 6121 §2.1.6).
    nurse.send({ cmd: "roster" });
    expect(await nurse.next("roster")).toMatchObject({ items: [] });
    benvolio.send({ cmd: "roster" });
    expect(await benvolio.next("roster")).toMatchObject({ items: [] });
    nurse.send({ cmd: "presence", status: "on an errand" });
    // Her own presence comes back to her (RFC 6121 §4.2.2).
    await nurse.next("presence", { from: "nurse@localhost/gajim", type: "available" });
    benvolio.send({ cmd: "presence", status: "keeping the peace" });

    // The Nurse (nbxmpp) subscribes; Benvolio (slixmpp) approves.
    nurse.send({ cmd: "subscribe", to: "benvolio@localhost" });
    await nurse.next("roster_push", push("benvolio@localhost", "none", "subscribe"));
    expect(await benvolio.next("presence", { type: "subscribe" })).toMatchObject({ from: "nurse@localhost" });
    benvolio.send({ cmd: "approve", to: "nurse@localhost" });
    await benvolio.next("roster_push", push("nurse@localhost", "from"));
    await nurse.next("roster_push", push("benvolio@localhost", "to"));
    expect(await nurse.next("presence", { type: "subscribed" })).toMatchObject({ from: "benvolio@localhost" });
    expect(await nurse.next("presence", { from: "benvolio@localhost/square", type: "available" })).toMatchObject({ status: "keeping the peace" });

    // Benvolio subscribes back; the Nurse approves with nbxmpp's subscribed().
    benvolio.send({ cmd: "subscribe", to: "nurse@localhost" });
    await benvolio.next("roster_push", push("nurse@localhost", "from", "subscribe"));
    expect(await nurse.next("presence", { type: "subscribe" })).toMatchObject({ from: "benvolio@localhost" });
    nurse.send({ cmd: "approve", to: "benvolio@localhost" });
    await nurse.next("roster_push", push("benvolio@localhost", "both"));
    await benvolio.next("roster_push", push("nurse@localhost", "both"));
    expect(await benvolio.next("presence", { from: "nurse@localhost/gajim", type: "available" })).toMatchObject({ status: "on an errand" });

    expect(await rosterItem(nurse, "benvolio@localhost")).toMatchObject({ subscription: "both", ask: null });
    expect(await rosterItem(benvolio, "nurse@localhost")).toMatchObject({ subscription: "both", ask: null });
    expect(await nurse.quit()).toBe(0);
    await benvolio.next("presence", { from: "nurse@localhost/gajim", type: "unavailable" });
    expect(await benvolio.quit()).toBe(0);
  });
});
