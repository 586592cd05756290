// The federation peers themselves (test/helpers/peers.ts): Prosody and ejabberd, each with its
// own domain, find each other through the test DNS server (SRV _xmpp-server._tcp, RFC 6120
// §3.2.1) and carry a chat message each way between a python3-slixmpp user on each, once with
// dialback (XEP-0220) and once with certificates of the test CA (XEP-0178). The DNS server's
// log shows each peer's SRV query for the other, and that it forwarded nothing. And each peer
// offers what federation tests use: MAM, offline storage, vCard, PEP with publish-options, MUC,
// and HTTP upload (XEP-0363) whose slot URLs are on loopback and work.
import { spawnSync } from "node:child_process";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startDns, type TestDns } from "../helpers/dns.ts";
import { missingPeers, startPeer, type Peer, type PeerAuth } from "../helpers/peers.ts";
import { makeTestCa, type TestCa } from "../helpers/test-ca.ts";
import { Conn } from "../bench/lib/conn.ts";
import { login, PYTHON, type Agent } from "./agent.ts";

function missingSlixmpp(): string | undefined {
  const r = spawnSync(PYTHON, ["-c", "import slixmpp"], { cwd: "/", encoding: "utf8" });
  return r.status === 0 ? undefined : "python3-slixmpp not importable (scripts/debian-deps.sh)";
}

// Skipped without root, Prosody, ejabberd, dnsmasq or slixmpp, except in CI, where that is a failure.
const missing = missingPeers() ?? missingSlixmpp();
if (missing && process.env.CI) throw new Error(`federation peers unavailable in CI: ${missing}`);
if (missing) console.warn(`federation peer tests skipped: ${missing}`);

const PASSWORD = "pw";
/** The var attributes of a disco#info result's features. */
const features = (xml: string): string[] => [...xml.matchAll(/<feature [^>]*var=["']([^"']+)["']/g)].map((m) => m[1]!);

for (const auth of ["dialback", "external"] as PeerAuth[]) {
  describe.skipIf(missing)(`Prosody and ejabberd federating by ${auth}`, () => {
    let dns: TestDns;
    let ca: TestCa | undefined;
    let prosody: Peer;
    let ejabberd: Peer;
    const agents: Agent[] = [];
    const started: Peer[] = []; // stopped after the tests, also when the other failed to start

    beforeAll(async () => {
      dns = await startDns();
      ca = auth === "external" ? makeTestCa() : undefined;
      const peers = await Promise.allSettled([
        startPeer("prosody", { domain: "prosody.test", dns, auth, ca }),
        startPeer("ejabberd", { domain: "ejabberd.test", dns, auth, ca }),
      ]);
      for (const p of peers) if (p.status === "fulfilled") started.push(p.value);
      for (const p of peers) if (p.status === "rejected") throw p.reason;
      [prosody, ejabberd] = started as [Peer, Peer];
      await Promise.all([prosody.register("alice", PASSWORD), ejabberd.register("bob", PASSWORD)]);
    }, 60_000);
    afterEach(() => {
      for (const a of agents.splice(0)) a.kill();
    });
    afterAll(async () => {
      await Promise.all(started.map((p) => p.stop()));
      await dns?.stop();
      ca?.remove();
    });

    const connect = async (peer: Peer, user: string): Promise<Agent> => {
      const { agent } = await login("slixmpp", { port: peer.c2sPort, jid: `${user}@${peer.domain}/test`, password: PASSWORD });
      agents.push(agent);
      agent.send({ cmd: "presence" });
      return agent;
    };
    const failure = (e: unknown): Error =>
      new Error(`${(e as Error).message}\n--- prosody\n${prosody.logs().slice(-4000)}\n--- ejabberd\n${ejabberd.logs().slice(-4000)}`);

    it("alice@prosody.test and bob@ejabberd.test exchange messages; each server asked the DNS server for the other's SRV", async () => {
      const [alice, bob] = await Promise.all([connect(prosody, "alice"), connect(ejabberd, "bob")]);
      try {
        alice.send({ cmd: "message", to: "bob@ejabberd.test", body: "Hello from Prosody", id: "a1" });
        expect(await bob.next("message", { id: "a1" }, 15_000)).toMatchObject({ from: "alice@prosody.test/test", body: "Hello from Prosody" });
        bob.send({ cmd: "message", to: "alice@prosody.test", body: "Hello from ejabberd", id: "b1" });
        expect(await alice.next("message", { id: "b1" }, 15_000)).toMatchObject({ from: "bob@ejabberd.test/test", body: "Hello from ejabberd" });
      } catch (e) {
        throw failure(e);
      }
      // ejabberd's log names the way each stream was authenticated, both directions.
      const method = auth === "dialback" ? "dialback" : "EXTERNAL";
      const log = ejabberd.logs();
      expect(log).toContain(`Accepted outbound s2s ${method} authentication ejabberd.test -> prosody.test`);
      expect(log).toContain(`Accepted inbound s2s ${method} authentication prosody.test -> ejabberd.test`);
      if (auth === "external") expect(log).not.toMatch(/Accepted \w+ s2s dialback/);

      const srv = dns.queries("SRV");
      expect(srv).toContain("_xmpp-server._tcp.ejabberd.test"); // Prosody's
      expect(srv).toContain("_xmpp-server._tcp.prosody.test"); // ejabberd's
      expect(dns.forwarded()).toEqual([]);
      // Every name asked is one of the two test domains: nothing the peers resolved went elsewhere.
      expect(dns.queries().filter((n) => !/(^|\.)(prosody|ejabberd)\.test$/.test(n))).toEqual([]);
    }, 40_000);

    it("each offers MAM, offline storage, vCard, PEP with publish-options, MUC and a working HTTP upload", async () => {
      for (const peer of [prosody, ejabberd]) {
        const user = peer === prosody ? "alice" : "bob";
        const target = { name: peer.kind, host: peer.host, port: peer.c2sPort, domain: peer.domain, mucDomain: peer.mucDomain };
        const c = await Conn.login(target, { user, password: PASSWORD, security: "starttls", resource: "disco" });
        try {
          let n = 0;
          const info = (to: string) => c.iq(`d${++n}`, `<iq type='get' id='d${n}' to='${to}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`, 5000);
          const server = await info(peer.domain);
          for (const f of ["msgoffline", "vcard-temp", "urn:xmpp:carbons:2"]) expect(features(server), peer.kind).toContain(f);
          const account = await info(`${user}@${peer.domain}`);
          expect(account, `${peer.kind}: PEP`).toMatch(/category=["']pubsub["'][^>]*type=["']pep["']|type=["']pep["'][^>]*category=["']pubsub["']/);
          // The archive is the account's (XEP-0313 §7), and so is the PEP service (XEP-0163).
          expect(features(account), peer.kind).toEqual(expect.arrayContaining(["urn:xmpp:mam:2", "http://jabber.org/protocol/pubsub#publish-options"]));
          expect(features(await info(peer.mucDomain))).toContain("http://jabber.org/protocol/muc");
          const slot = await c.iq("u1", `<iq type='get' id='u1' to='${peer.uploadDomain}'><request xmlns='urn:xmpp:http:upload:0' filename='hello.txt' size='5' content-type='text/plain'/></iq>`, 5000);
          const url = (kind: string) => /url=["']([^"']+)["']/.exec(new RegExp(`<${kind}[^>]*>`).exec(slot)?.[0] ?? "")?.[1]?.replace(/&amp;/g, "&");
          const [put, get] = [url("put"), url("get")];
          expect(put, `${peer.kind} slot: ${slot}`).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
          // The slot's headers (Prosody's is a bearer token) go with the PUT (XEP-0363 §5).
          const headers = Object.fromEntries([...slot.matchAll(/<header name=["']([^"']+)["']>([^<]*)<\/header>/g)].map((m) => [m[1]!, m[2]!]));
          expect((await fetch(put!, { method: "PUT", body: "hello", headers: { ...headers, "content-type": "text/plain" } })).status).toBeLessThan(300);
          expect(await (await fetch(get!)).text()).toBe("hello");
        } finally {
          c.close();
        }
      }
    });
  });
}
