// Federation (RFC 6120 server-to-server) between this server, serving xmppd.test, and real
// Prosody 0.12 and ejabberd 23.01 peers (test/helpers/peers.ts) on loopback, in both ways of
// authenticating a stream: Server Dialback (XEP-0220) over TLS with self-signed certificates, and
// SASL EXTERNAL (XEP-0178) with certificates of a test CA that every server trusts. Each server
// finds the others through the test DNS server alone (_xmpp-server._tcp and, for ours,
// _xmpps-server._tcp of XEP-0368), which forwards nothing.
// Real clients on both sides (python3-slixmpp on the peers, python3-nbxmpp or slixmpp or
// @xmpp/client on ours) show what users see across servers: the subscription handshake and
// presence (RFC 6121), chat with receipts (XEP-0184) and markers (XEP-0333), offline delivery and
// the archive (XEP-0160, XEP-0313), rooms both ways (XEP-0045), OMEMO keys over PEP (XEP-0384,
// XEP-0163), vCards (XEP-0054) and an upload link (XEP-0363, XEP-0066). Then peers that must be
// refused (a certificate for another name, an expired one) and a peer that goes down and comes back.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import type { DnsRecords, TestDns } from "../helpers/dns.ts";
import { startDns } from "../helpers/dns.ts";
import { errorOf, Im, ROSTER } from "../helpers/im.ts";
import { missingPeers, startPeer, type Peer, type PeerAuth, type PeerKind } from "../helpers/peers.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { makeTestCa, type TestCa } from "../helpers/test-ca.ts";
import { login, missingPython, type Agent, type AgentEvent, type Library } from "./agent.ts";

// Skipped without root, Prosody, ejabberd, dnsmasq or the Python clients, except in CI.
const missing = missingPeers() ?? missingPython();
if (missing && process.env.CI) throw new Error(`federation peers unavailable in CI: ${missing}`);
if (missing) console.warn(`federation interop tests skipped: ${missing}`);

const DOMAIN = "xmppd.test";
const MUC = `conference.${DOMAIN}`;
/** Our service domains a peer may address, each with records and a certificate name. */
const OUR_SERVICES = ["conference", "pubsub", "upload", "proxy"];
const PASSWORD = "pw";
const KINDS: PeerKind[] = ["prosody", "ejabberd"];
/** Accounts on every peer, one per scenario. */
const REMOTE_USERS = ["romeo", "mercutio", "balthasar", "tybalt", "paris", "capulet", "gregory", "peter", "apothecary"];
/** Accounts here, one per scenario, suffixed with the peer kind: "juliet-prosody". */
const LOCAL_USERS = ["juliet", "nurse", "rosaline", "friar", "escalus", "benvolio", "montague", "sampson", "abram", "lawrence"];
const TEST_NAMES = /(^|\.)(xmppd|prosody|ejabberd|wrongname|expired)\.test$/;

const MUC_NS = "http://jabber.org/protocol/muc";
const MUC_USER = "http://jabber.org/protocol/muc#user";
const RECEIPTS = "urn:xmpp:receipts";
const MARKERS = "urn:xmpp:chat-markers:0";

/** Our records: SRV for both kinds of S2S port (direct TLS first) for the domain and its services, and the target's address. */
function ourRecords(t: TestServer): DnsRecords {
  const names = [DOMAIN, ...OUR_SERVICES.map((s) => `${s}.${DOMAIN}`)];
  return {
    a: { [DOMAIN]: "127.0.0.1" },
    srv: names.flatMap((n) => [
      { service: `_xmpps-server._tcp.${n}`, target: DOMAIN, port: t.server.ports.s2sDirectTls!, priority: 5, weight: 0 },
      { service: `_xmpp-server._tcp.${n}`, target: DOMAIN, port: t.server.ports.s2s!, priority: 10, weight: 0 },
    ]),
  };
}

async function startOurs(mode: PeerAuth, dns: TestDns, ca: TestCa | undefined): Promise<TestServer> {
  // Our certificate names no XmppAddr: ejabberd 23.01 cannot read one (see test/helpers/peers.ts).
  const cert = ca?.issue(DOMAIN, { subdomains: OUR_SERVICES, wildcard: true, xmppAddr: false });
  const users = Object.fromEntries(KINDS.flatMap((k) => LOCAL_USERS.map((u) => [`${u}-${k}`, PASSWORD])));
  return startServer({
    users,
    config: {
      domain: DOMAIN,
      ...(cert ? { tls: { cert: cert.fullchain, key: cert.key } } : {}),
      s2s: {
        enabled: true, host: "127.0.0.1", resolver: dns.address, connectTimeout: 5,
        requireValidCertificates: mode === "external", ...(ca ? { trustStore: ca.cert } : {}),
      },
    },
  });
}

const chat = (to: string, body: string, id: string, ...extra: Element[]) =>
  xml("message", { to, type: "chat", id }, xml("body", null, body), ...extra);
const bodyIs = (body: string) => (el: Element) => el.name === "message" && el.getChildText("body") === body;
const selfPresence = (room: string, nick: string) => (el: Element) =>
  el.name === "presence" && el.attrs.from === `${room}/${nick}` && (el.getChild("x", MUC_USER)?.getChildren("status").some((s) => s.attrs.code === "110") ?? false);
const rosterOf = async (c: Im) =>
  (await c.ask(xml("iq", { type: "get" }, xml("query", { xmlns: ROSTER })))).getChild("query", ROSTER)!.getChildren("item").map((i) => [i.attrs.jid, i.attrs.subscription]);
/** Waits for the peer's log to show `line` (it writes it as it reads what we sent). */
async function logged(peer: Peer, line: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!peer.logs().includes(line) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  expect(peer.logs()).toContain(line);
}
const itemIn = (jid: string, subscription: string) => (items: unknown) =>
  (items as { jid: string; subscription: string }[]).some((i) => i.jid === jid && i.subscription === subscription);

for (const mode of ["dialback", "external"] as PeerAuth[]) {
  describe.skipIf(missing)(`xmppd.test federating with Prosody and ejabberd by ${mode}`, () => {
    let dns: TestDns;
    let ca: TestCa | undefined;
    let ours: TestServer;
    const peers = {} as Record<PeerKind, Peer>;
    const started: Peer[] = [];
    const agents: Agent[] = [];
    const ims: Im[] = [];

    beforeAll(async () => {
      dns = await startDns();
      ca = mode === "external" ? makeTestCa() : undefined;
      ours = await startOurs(mode, dns, ca);
      await dns.add(ourRecords(ours));
      const results = await Promise.allSettled(KINDS.map((kind) => startPeer(kind, { domain: `${kind}.test`, dns, auth: mode, ca })));
      for (const r of results) if (r.status === "fulfilled") started.push(r.value);
      for (const r of results) if (r.status === "rejected") throw r.reason;
      for (const p of started) peers[p.kind] = p;
      await Promise.all(started.flatMap((p) => REMOTE_USERS.map((u) => p.register(u, PASSWORD))));
    }, 120_000);
    afterEach(async () => {
      for (const a of agents.splice(0)) a.kill();
      await Promise.all(ims.splice(0).map((c) => c.stop().catch(() => {})));
    });
    afterAll(async () => {
      await Promise.all(started.map((p) => p.stop()));
      await ours?.stop();
      await dns?.stop();
      ca?.remove();
    });

    /** A client of ours: @xmpp/client through the Im helper. */
    const local = async (user: string, resource = "r"): Promise<Im> => {
      const c = await Im.login(ours.port, user, resource, { domain: DOMAIN, timeoutMs: 15_000 });
      ims.push(c);
      return c;
    };
    /** A Python client on a peer (or on ours, with port and domain of ours); initial presence sent. */
    const agent = async (library: Library, port: number, jid: string, flags: string[] = []): Promise<Agent> => {
      const { agent: a } = await login(library, { port, jid, password: PASSWORD, flags, timeoutS: 45 });
      agents.push(a);
      a.send({ cmd: "presence" });
      return a;
    };
    const remote = (kind: PeerKind, user: string, flags: string[] = []) => agent("slixmpp", peers[kind].c2sPort, `${user}@${kind}.test/peer`, flags);
    /** Adds the peers' logs to a failure. */
    const withLogs = async (kind: PeerKind, run: () => Promise<void>) => {
      try {
        await run();
      } catch (e) {
        const err = e as Error;
        err.message += `\n--- ${kind} log (end)\n${peers[kind].logs().slice(-6000)}`;
        throw err;
      }
    };

    for (const kind of KINDS) {
      const peerDomain = `${kind}.test`;
      const me = (user: string) => `${user}-${kind}`;

      describe(`with ${kind}`, () => {
        it("chat both ways with receipts and markers; each stream authenticated as the mode says", () => withLogs(kind, async () => {
          const nurse = await local(me("nurse"));
          nurse.send(xml("presence"));
          const mercutio = await remote(kind, "mercutio", ["--receipts"]);
          const nurseJid = `${me("nurse")}@${DOMAIN}`;
          // Ours to theirs: slixmpp answers the receipt request by itself; the reader marks it displayed.
          nurse.send(chat(`mercutio@${peerDomain}`, "Good morrow, gentlemen", "n1", xml("request", { xmlns: RECEIPTS }), xml("markable", { xmlns: MARKERS })));
          expect(await mercutio.next("message", { id: "n1" }, 20_000)).toMatchObject({ from: `${nurseJid}/r`, body: "Good morrow, gentlemen", receipt_request: true, markable: true });
          const receipt = await nurse.next((el) => el.getChild("received", RECEIPTS)?.attrs.id === "n1", "the receipt");
          expect(receipt.attrs.from).toBe(`mercutio@${peerDomain}/peer`);
          mercutio.send({ cmd: "marker", to: `${nurseJid}/r`, id: "n1", marker: "displayed" });
          expect((await nurse.next((el) => el.getChild("displayed", MARKERS)?.attrs.id === "n1", "the displayed marker")).attrs.from).toBe(`mercutio@${peerDomain}/peer`);
          // Theirs to ours, to the bare JID; our client answers both.
          mercutio.send({ cmd: "message", to: nurseJid, body: "God ye good den, fair gentlewoman", id: "m1", receipt: true, markable: true });
          const got = await nurse.next(bodyIs("God ye good den, fair gentlewoman"), "mercutio's message");
          expect(got.attrs).toMatchObject({ from: `mercutio@${peerDomain}/peer`, id: "m1" });
          expect(got.getChild("request", RECEIPTS)).toBeDefined();
          expect(got.getChild("markable", MARKERS)).toBeDefined();
          nurse.send(xml("message", { to: got.attrs.from!, id: "n2" }, xml("received", { xmlns: RECEIPTS, id: "m1" })));
          nurse.send(xml("message", { to: got.attrs.from!, type: "chat", id: "n3" }, xml("displayed", { xmlns: MARKERS, id: "m1" })));
          expect(await mercutio.next("receipt", { id: "m1" })).toMatchObject({ from: `${nurseJid}/r` });
          expect(await mercutio.next("marker", { id: "m1" })).toMatchObject({ from: `${nurseJid}/r`, marker: "displayed" });

          // Our stream to the peer, by our own route's state.
          const method = mode === "external" ? "SASL EXTERNAL" : "dialback";
          const route = ours.server.federation!.describe().find((r) => r.local === DOMAIN && r.remote === peerDomain);
          expect(route?.state).toMatch(new RegExp(`^ready \\(${method}`));
          // The peer's stream to us, by the peer's log.
          const peer = peers[kind];
          if (kind === "ejabberd") {
            const how = mode === "external" ? "EXTERNAL" : "dialback";
            await logged(peer, `Accepted outbound s2s ${how} authentication ${peerDomain} -> ${DOMAIN}`);
            await logged(peer, `Accepted inbound s2s ${how} authentication ${DOMAIN} -> ${peerDomain}`);
            if (mode === "external") expect(peer.logs()).not.toMatch(/Accepted \w+ s2s dialback/);
          } else {
            // Prosody found our _xmpps-server record and came over direct TLS (XEP-0368).
            await logged(peer, `Next target to try is 127.0.0.1:${ours.server.ports.s2sDirectTls}`);
            await logged(peer, `Outgoing s2s connection ${peerDomain}->${DOMAIN} complete`);
            if (mode === "external") {
              await logged(peer, `SASL EXTERNAL with ${DOMAIN} succeeded`);
              await logged(peer, `Accepting SASL EXTERNAL identity from ${DOMAIN}`);
            } else {
              // Prosody confirmed its own key when we asked (XEP-0220 §2.2).
              await logged(peer, "verified dialback key... it is valid");
              expect(peer.logs()).not.toContain(`SASL EXTERNAL with ${DOMAIN} succeeded`);
            }
          }
        }), 60_000);

        it("the subscription handshake ends in 'both' on both rosters; presence, then unavailable, each way", () => withLogs(kind, async () => {
          // Our side's client: Gajim's library for one peer, slixmpp for the other.
          const library: Library = kind === "prosody" ? "nbxmpp" : "slixmpp";
          const julietJid = `${me("juliet")}@${DOMAIN}`;
          const romeoJid = `romeo@${peerDomain}`;
          const juliet = await agent(library, ours.port, `${julietJid}/balcony`);
          const romeo = await remote(kind, "romeo");
          // A second session of juliet's, through @xmpp/client, sees romeo go at the end.
          const watcher = await local(me("juliet"), "watch");
          juliet.send({ cmd: "roster", ver: "" });
          await juliet.next("roster");
          romeo.send({ cmd: "roster", ver: "" });
          await romeo.next("roster");
          watcher.send(xml("presence"));

          juliet.send({ cmd: "subscribe", to: romeoJid });
          await romeo.next("presence", { type: "subscribe", from: julietJid }, 20_000);
          romeo.send({ cmd: "approve", to: julietJid });
          romeo.send({ cmd: "subscribe", to: julietJid });
          await juliet.next("presence", { type: "subscribed", from: romeoJid }, 20_000);
          await juliet.next("presence", { type: "subscribe", from: romeoJid }, 20_000);
          juliet.send({ cmd: "approve", to: romeoJid });
          await romeo.next("presence", { type: "subscribed", from: julietJid }, 20_000);
          // Each sees the other available.
          await juliet.next("presence", { from: `${romeoJid}/peer`, type: "available" }, 20_000);
          await romeo.next("presence", { from: `${julietJid}/balcony`, type: "available" }, 20_000);
          // Both rosters end in "both": pushed, and stored.
          await juliet.next("roster_push", { items: itemIn(romeoJid, "both") }, 20_000);
          await romeo.next("roster_push", { items: itemIn(julietJid, "both") }, 20_000);
          juliet.send({ cmd: "roster", ver: "" }); // the whole roster, whatever version slixmpp keeps
          expect(((await juliet.next("roster")).items as unknown[])).toContainEqual(expect.objectContaining({ jid: romeoJid, subscription: "both" }));
          romeo.send({ cmd: "roster", ver: "" });
          expect(((await romeo.next("roster")).items as unknown[])).toContainEqual(expect.objectContaining({ jid: julietJid, subscription: "both" }));
          expect(await rosterOf(watcher)).toContainEqual([romeoJid, "both"]);

          // Juliet's client goes: romeo sees it; then romeo goes: her other session sees it.
          expect(await juliet.quit()).toBe(0);
          await romeo.next("presence", { from: `${julietJid}/balcony`, type: "unavailable" }, 20_000);
          expect(await romeo.quit()).toBe(0);
          await watcher.next((el) => el.name === "presence" && el.attrs.from === `${romeoJid}/peer` && el.attrs.type === "unavailable", "romeo's unavailable");
        }), 60_000);

        it("a message to an offline local user is stored, delivered at login with its delay, and in our archive", () => withLogs(kind, async () => {
          const rosaline = `${me("rosaline")}@${DOMAIN}`;
          const friar = await local(me("friar"));
          friar.send(xml("presence"));
          const balthasar = await remote(kind, "balthasar");
          balthasar.send({ cmd: "message", to: rosaline, body: "Her body sleeps in Capel's monument", id: "b1" });
          // The peer sends to one domain in order on one stream: when the next message is here, so is the first.
          balthasar.send({ cmd: "message", to: `${me("friar")}@${DOMAIN}`, body: "I do remember well where I should be", id: "b2" });
          await friar.next(bodyIs("I do remember well where I should be"), "the message after", 20_000);
          const her = await local(me("rosaline"));
          her.send(xml("presence"));
          const stored = await her.next(bodyIs("Her body sleeps in Capel's monument"), "the offline message");
          expect(stored.attrs.from).toBe(`balthasar@${peerDomain}/peer`);
          expect(stored.getChild("delay", "urn:xmpp:delay")).toBeDefined();
          await ours.server.settled();
          const mam = await her.ask(xml("iq", { type: "set" }, xml("query", { xmlns: "urn:xmpp:mam:2", queryid: "q1" })));
          expect(mam.attrs.type).toBe("result");
          const archived = her.inbox.filter((el) => el.getChild("result", "urn:xmpp:mam:2")?.attrs.queryid === "q1")
            .map((el) => el.getChild("result", "urn:xmpp:mam:2")!.getChild("forwarded")!.getChild("message")!);
          expect(archived.map((m) => [m.attrs.from, m.attrs.to, m.getChildText("body")])).toContainEqual([`balthasar@${peerDomain}/peer`, rosaline, "Her body sleeps in Capel's monument"]);
        }), 60_000);

        it("a remote user joins a local members-only room: occupants, history, messages both ways", () => withLogs(kind, async () => {
          const room = `square-${kind}@${MUC}`;
          const escalus = await local(me("escalus"));
          escalus.send(xml("presence", { to: `${room}/Escalus` }, xml("x", { xmlns: MUC_NS })));
          await escalus.next(selfPresence(room, "Escalus"), "escalus in his room");
          const form = xml("x", { xmlns: "jabber:x:data", type: "submit" }, xml("field", { var: "muc#roomconfig_membersonly" }, xml("value", null, "1")));
          expect((await escalus.ask(xml("iq", { type: "set", to: room }, xml("query", { xmlns: `${MUC_NS}#owner` }, form)))).attrs.type).toBe("result");
          escalus.send(xml("message", { to: room, type: "groupchat", id: "e1" }, xml("body", null, "Rebellious subjects, enemies to peace")));
          await escalus.next(bodyIs("Rebellious subjects, enemies to peace"), "its reflection");
          // Not a member yet: refused (XEP-0045 §7.2.7).
          const tybalt = await remote(kind, "tybalt");
          tybalt.send({ cmd: "muc_join", room, nick: "Tybalt" });
          expect(await tybalt.next("presence", { from: `${room}/Tybalt`, type: "error" }, 20_000)).toMatchObject({ error: "registration-required" });
          const member = xml("item", { jid: `tybalt@${peerDomain}`, affiliation: "member" });
          expect((await escalus.ask(xml("iq", { type: "set", to: room }, xml("query", { xmlns: `${MUC_NS}#admin` }, member)))).attrs.type).toBe("result");
          tybalt.send({ cmd: "muc_join", room, nick: "Tybalt" });
          expect(await tybalt.next("muc_joined", {}, 20_000)).toMatchObject({
            nick: "Tybalt", occupants: ["Escalus", "Tybalt"], history: ["Rebellious subjects, enemies to peace"],
          });
          await escalus.next((el) => el.name === "presence" && el.attrs.from === `${room}/Tybalt` && el.attrs.type === undefined, "tybalt's arrival");
          tybalt.send({ cmd: "muc_say", room, body: "Peace? I hate the word", id: "t1" });
          expect((await escalus.next(bodyIs("Peace? I hate the word"), "tybalt's message")).attrs.from).toBe(`${room}/Tybalt`);
          escalus.send(xml("message", { to: room, type: "groupchat", id: "e2" }, xml("body", null, "Throw your mistempered weapons to the ground")));
          expect(await tybalt.next("groupchat", { body: "Throw your mistempered weapons to the ground" })).toMatchObject({ from: `${room}/Escalus`, delayed: false });
        }), 60_000);

        it("a local user joins a room on the peer: occupants, history, messages both ways", () => withLogs(kind, async () => {
          const room = `orchard@conference.${peerDomain}`;
          const paris = await remote(kind, "paris");
          paris.send({ cmd: "muc_create", room, nick: "Paris" });
          await paris.next("muc_created");
          paris.send({ cmd: "muc_say", room, body: "Sweet flower, with flowers thy bridal bed I strew", id: "p1" });
          await paris.next("groupchat", { id: "p1" });

          const benvolio = await local(me("benvolio"));
          benvolio.send(xml("presence", { to: `${room}/Benvolio` }, xml("x", { xmlns: MUC_NS })));
          await benvolio.next((el) => el.name === "presence" && el.attrs.from === `${room}/Paris`, "paris in the occupant list", 20_000);
          await benvolio.next(selfPresence(room, "Benvolio"), "benvolio's own presence");
          const history = await benvolio.next(bodyIs("Sweet flower, with flowers thy bridal bed I strew"), "the history");
          expect(history.getChild("delay", "urn:xmpp:delay")).toBeDefined();
          await paris.next("presence", { from: `${room}/Benvolio` });
          benvolio.send(xml("message", { to: room, type: "groupchat", id: "v1" }, xml("body", null, "Here comes the furious Tybalt back again")));
          expect(await paris.next("groupchat", { body: "Here comes the furious Tybalt back again" })).toMatchObject({ from: `${room}/Benvolio` });
          paris.send({ cmd: "muc_say", room, body: "Vile Montague!", id: "p2" });
          expect((await benvolio.next(bodyIs("Vile Montague!"), "paris's message")).attrs.from).toBe(`${room}/Paris`);
        }), 60_000);

        it("OMEMO device lists and bundles published open are fetched across servers, both ways (nbxmpp here, slixmpp there)", () => withLogs(kind, async () => {
          const montague = `${me("montague")}@${DOMAIN}`;
          const ourDevice = 2222;
          const theirDevice = 1111;
          const capulet = await remote(kind, "capulet");
          const mine = await agent("nbxmpp", ours.port, `${montague}/gajim`);
          for (const [a, device] of [[capulet, theirDevice], [mine, ourDevice]] as const) {
            a.send({ cmd: "omemo_publish", device });
            await a.next("published", { what: "devicelist" });
            await a.next("published", { what: "bundle" });
          }
          mine.send({ cmd: "omemo_fetch", jid: `capulet@${peerDomain}` });
          expect(await mine.next("bundle", {}, 20_000)).toMatchObject({ devices: [theirDevice], ik: 33, spk: 33, signature: 64, prekeys: 100 });
          capulet.send({ cmd: "omemo_fetch", jid: montague });
          expect(await capulet.next("bundle", {}, 20_000)).toMatchObject({ devices: [ourDevice], ik: 33, spk: 33, signature: 64, prekeys: 100 });
        }), 60_000);

        it("vCards across servers, both ways", () => withLogs(kind, async () => {
          const gregory = await remote(kind, "gregory");
          gregory.send({ cmd: "vcard_set", fn: "Gregory of the house of Capulet", nickname: "greg" });
          await gregory.next("vcard_set");
          const sampson = await local(me("sampson"));
          const card = await sampson.ask(xml("iq", { type: "get", to: `gregory@${peerDomain}` }, xml("vCard", { xmlns: "vcard-temp" })));
          expect(card.getChild("vCard", "vcard-temp")?.getChildText("FN"), card.toString()).toBe("Gregory of the house of Capulet");
          expect((await sampson.ask(xml("iq", { type: "set" }, xml("vCard", { xmlns: "vcard-temp" }, xml("FN", null, "Sampson of the house of Capulet"), xml("NICKNAME", null, "sam"))))).attrs.type).toBe("result");
          gregory.send({ cmd: "vcard_get", jid: `${me("sampson")}@${DOMAIN}` });
          expect(await gregory.next("vcard", {}, 20_000)).toMatchObject({ fn: "Sampson of the house of Capulet", nickname: "sam" });
        }), 60_000);

        it("an HTTP upload link from the peer's service, sent across and fetched", () => withLogs(kind, async () => {
          const peter = await remote(kind, "peter");
          const abram = await local(me("abram"));
          abram.send(xml("presence"));
          const text = `a letter from ${kind}: the feast is tonight`;
          peter.send({ cmd: "upload", service: `upload.${peerDomain}`, filename: "letter.txt", data: text });
          const { status, get } = await peter.next("uploaded") as AgentEvent & { status: number; get: string };
          expect(status).toBeLessThan(300);
          peter.send({ cmd: "message", to: `${me("abram")}@${DOMAIN}`, body: get, id: "u1", oob: get });
          const got = await abram.next(bodyIs(get), "the link");
          expect(got.getChild("x", "jabber:x:oob")?.getChildText("url")).toBe(get);
          expect(await (await fetch(get)).text()).toBe(text);
        }), 60_000);
      });
    }

    if (mode === "external") {
      describe("Prosody peers with a certificate we must refuse", () => {
        const bad: Peer[] = [];
        beforeAll(async () => {
          const results = await Promise.allSettled([
            startPeer("prosody", { domain: "wrongname.test", dns, auth: "external", ca, cert: ca!.issue("wrongname.test", { names: ["elsewhere.test"], xmppAddr: false }) }),
            startPeer("prosody", { domain: "expired.test", dns, auth: "external", ca, cert: ca!.issue("expired.test", { subdomains: ["conference", "upload"], validity: "expired", xmppAddr: false }) }),
          ]);
          for (const r of results) if (r.status === "fulfilled") bad.push(r.value);
          for (const r of results) if (r.status === "rejected") throw r.reason;
          await Promise.all(bad.map((p) => p.register("tybalt", PASSWORD)));
        }, 60_000);
        afterAll(async () => {
          await Promise.all(bad.map((p) => p.stop()));
        });

        for (const [domain, what] of [["wrongname.test", "for another name"], ["expired.test", "that has expired"]] as const) {
          it(`a certificate ${what}: what goes to it bounces, what comes from it is not delivered`, async () => {
            const peer = bad.find((p) => p.domain === domain)!;
            const abram = await local("abram-prosody", `bad-${domain}`);
            abram.send(xml("presence"));
            abram.send(chat(`tybalt@${domain}`, "Do you bite your thumb at us, sir?", `x-${domain}`));
            const bounced = await abram.next((el) => el.attrs.id === `x-${domain}` && el.attrs.type === "error", "the bounce", 20_000);
            expect(errorOf(bounced)).toMatch(/^remote-server-(not-found|timeout)$/);
            // We ended our stream to it for its certificate, as its log shows, and none became ready.
            const why = domain === "expired.test" ? "expired" : "name mismatch";
            await logged(peer, `Session closed by remote with error: policy-violation (${domain}'s certificate is not valid for it (${why}))`);
            expect(ours.server.federation!.describe().filter((r) => r.remote === domain && r.state.startsWith("ready"))).toEqual([]);
            // The other way: the peer cannot authenticate to us (no EXTERNAL for its certificate, and
            // it has no dialback), so its user's message comes back to it and never reaches ours.
            const tybalt = await agent("slixmpp", peer.c2sPort, `tybalt@${domain}/peer`);
            tybalt.send({ cmd: "message", to: `abram-prosody@${DOMAIN}`, body: "I do bite my thumb, sir", id: `y-${domain}` });
            const back = await tybalt.next("message_error", { id: `y-${domain}` }, 20_000);
            expect(back.condition).toMatch(/^remote-server-(not-found|timeout)$/);
            await logged(peer, "No SASL EXTERNAL offer and Dialback doesn't seem to be enabled, giving up");
            await abram.nothing(bodyIs("I do bite my thumb, sir"), 300);
          }, 60_000);
        }
      });
    }

    it("Prosody going down mid-conversation: our sender gets errors, nothing vanishes, the next message after it is back reconnects", () => withLogs("prosody", async () => {
      const peer = peers.prosody;
      const lawrence = await local("lawrence-prosody");
      lawrence.send(xml("presence"));
      const apothecary = await remote("prosody", "apothecary");
      const to = "apothecary@prosody.test";
      lawrence.send(chat(to, "Come hither, man", "d0"));
      await apothecary.next("message", { id: "d0" }, 20_000);
      // A burst, and the peer stops while it is on its way.
      const burst = Array.from({ length: 5 }, (_, i) => `d${i + 1}`);
      for (const id of burst) lawrence.send(chat(to, `Let me have a dram of poison (${id})`, id));
      await peer.down();
      // While it is down, what is sent bounces to the sender.
      lawrence.send(chat(to, "Such mortal drugs I have", "d6"));
      const error = await lawrence.next((el) => el.attrs.id === "d6" && el.attrs.type === "error", "the bounce", 20_000);
      expect(errorOf(error)).toMatch(/^remote-server-(not-found|timeout)$/);
      // Back up: the next message opens a new stream and arrives.
      await peer.up();
      const again = await remote("prosody", "apothecary");
      lawrence.send(chat(to, "There is thy gold", "d7"));
      await again.next("message", { id: "d7" }, 20_000);
      // Nothing of the burst vanished: each reached apothecary before the peer stopped, or the peer
      // confirmed it, kept it and delivered it at his next login, or it came back to lawrence as an error.
      const fate = (id: string) => {
        if (lawrence.inbox.some((el) => el.attrs.id === id && el.attrs.type === "error")) return "bounced";
        if (apothecary.events.some((e) => e.event === "message" && e.id === id)) return "delivered";
        if (again.events.some((e) => e.event === "message" && e.id === id && e.delayed)) return "delivered at login";
        return undefined;
      };
      const deadline = Date.now() + 10_000;
      while (burst.some((id) => !fate(id)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(burst.filter((id) => !fate(id))).toEqual([]);
    }), 90_000);

    it("every server asked the test DNS server alone, and only for the test domains", () => {
      expect(dns.forwarded()).toEqual([]);
      expect(dns.queries().filter((n) => !TEST_NAMES.test(n))).toEqual([]);
      const srv = dns.queries("SRV");
      // Ours for the peers' records (direct TLS first), and theirs for ours: Prosody asks for the
      // direct TLS one too (XEP-0368), ejabberd for the STARTTLS one only.
      for (const peer of ["prosody.test", "ejabberd.test"]) expect(srv).toEqual(expect.arrayContaining([`_xmpps-server._tcp.${peer}`, `_xmpp-server._tcp.${peer}`]));
      expect(srv).toEqual(expect.arrayContaining([`_xmpps-server._tcp.${DOMAIN}`, `_xmpp-server._tcp.${DOMAIN}`, `_xmpps-server._tcp.${MUC}`]));
      expect(dns.queries("A")).toContain(DOMAIN);
    });
  });
}
