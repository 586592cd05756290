// Routing (RFC 6120 §10, RFC 6121 §8) over real sockets: one-to-one chat, bare-JID delivery by
// priority, iq request/response pairing between clients, and the errors for unknown, offline
// and remote addresses.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "../helpers/server.ts";
import { RawClient } from "../helpers/raw.ts";

let t: TestServer;
beforeAll(async () => {
  t = await startServer({ users: { romeo: "pw", juliet: "pw", nurse: "pw" } });
});
afterAll(() => t.stop());

const login = (user: string, resource: string) => RawClient.login(t.port, user, "pw", resource);
const stanza = (name: string, id: string) => new RegExp(`<${name}[^>]*id="${id}"[^>]*(/>|>[\\s\\S]*?</${name}>)`);

describe("one-to-one chat", () => {
  it("Romeo's message to Juliet's full JID arrives, stamped with his full JID", async () => {
    const juliet = await login("juliet", "balcony");
    const romeo = await login("romeo", "garden");
    romeo.send("<message to='juliet@localhost/balcony' type='chat' id='c1'><body>Good morrow</body></message>");
    const got = await juliet.expect(stanza("message", "c1"));
    expect(got).toContain('from="romeo@localhost/garden"');
    expect(got).toContain('to="juliet@localhost/balcony"');
    expect(got).toContain("<body>Good morrow</body>");
    juliet.send("<message to='romeo@localhost/garden' type='chat' id='c2'><body>Good morrow, Romeo</body></message>");
    expect(await romeo.expect(stanza("message", "c2"))).toContain('from="juliet@localhost/balcony"');
    juliet.close();
    romeo.close();
  });

  it("a message to a bare JID goes to the available resource of highest priority only", async () => {
    const phone = await login("juliet", "phone");
    const desk = await login("juliet", "desk");
    phone.send("<presence><priority>1</priority></presence>");
    desk.send("<presence><priority>10</priority></presence>");
    // Each sees the other's presence: both are now available.
    await phone.expect(/<presence[^>]*from="juliet@localhost\/desk"/);
    const romeo = await login("romeo", "r");
    romeo.send("<message to='juliet@localhost' type='chat' id='b1'><body>to the bare JID</body></message>");
    expect(await desk.expect(stanza("message", "b1"))).toContain("to the bare JID");
    phone.send("<iq type='get' id='sync' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    await phone.expect(/id="sync"/);
    expect(phone.buffer).not.toContain('id="b1"');
    // A headline goes to every available resource.
    romeo.send("<message to='juliet@localhost' type='headline' id='h1'><body>news</body></message>");
    await desk.expect(stanza("message", "h1"));
    await phone.expect(stanza("message", "h1"));
    for (const c of [phone, desk, romeo]) c.close();
  });

  it("a resource with negative priority gets no bare-JID messages: they wait offline until it raises its priority", async () => {
    const shy = await login("nurse", "shy");
    shy.send("<presence><priority>-1</priority></presence>");
    const romeo = await login("romeo", "r2");
    romeo.send("<message to='nurse@localhost' type='chat' id='n1'><body>hello</body></message>");
    romeo.send("<iq type='get' id='sync-n1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    await romeo.expect(/id="sync-n1"/);
    expect(romeo.buffer).not.toContain('id="n1"'); // stored (XEP-0160), not bounced
    expect(shy.buffer).not.toContain('id="n1"');
    shy.send("<presence><priority>0</priority></presence>");
    expect(await shy.expect(stanza("message", "n1"))).toContain("<body>hello</body>");
    shy.close();
    romeo.close();
  });
});

describe("iq between clients", () => {
  it("Juliet's answer to Romeo's iq comes back to him", async () => {
    const juliet = await login("juliet", "j");
    const romeo = await login("romeo", "r");
    romeo.send("<iq type='get' id='q1' to='juliet@localhost/j'><query xmlns='jabber:iq:version'/></iq>");
    const req = await juliet.expect(stanza("iq", "q1"));
    expect(req).toContain('from="romeo@localhost/r"');
    juliet.send("<iq type='result' id='q1' to='romeo@localhost/r'><query xmlns='jabber:iq:version'><name>x</name></query></iq>");
    const res = await romeo.expect(stanza("iq", "q1"));
    expect(res).toContain('type="result"');
    expect(res).toContain('from="juliet@localhost/j"');
    juliet.close();
    romeo.close();
  });

  it("an iq to an offline full JID is service-unavailable", async () => {
    const romeo = await login("romeo", "r");
    romeo.send("<iq type='get' id='q2' to='juliet@localhost/gone'><query xmlns='jabber:iq:version'/></iq>");
    const err = await romeo.expect(stanza("iq", "q2"));
    expect(err).toMatch(/type="error"[\s\S]*<error type="cancel"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"\/>/);
    expect(err).toContain('from="juliet@localhost/gone"');
    romeo.close();
  });

  it("an iq to an unknown account is service-unavailable", async () => {
    const romeo = await login("romeo", "r");
    romeo.send("<iq type='get' id='q3' to='tybalt@localhost'><query xmlns='jabber:iq:version'/></iq>");
    expect(await romeo.expect(stanza("iq", "q3"))).toContain("<service-unavailable");
    romeo.close();
  });

  it("an iq without an id, or with two payloads, is bad-request", async () => {
    const romeo = await login("romeo", "r");
    romeo.send("<iq type='get' id='q4' to='localhost'><ping xmlns='urn:xmpp:ping'/><ping xmlns='urn:xmpp:ping'/></iq>");
    expect(await romeo.expect(stanza("iq", "q4"))).toContain("<bad-request");
    romeo.close();
  });

  it("an iq with an unknown payload to the server is service-unavailable", async () => {
    const romeo = await login("romeo", "r");
    romeo.send("<iq type='get' id='q5' to='localhost'><query xmlns='urn:example:nothing'/></iq>");
    expect(await romeo.expect(stanza("iq", "q5"))).toContain("<service-unavailable");
    romeo.close();
  });
});

describe("addresses that go nowhere", () => {
  it("a message to an unknown account bounces with service-unavailable", async () => {
    const romeo = await login("romeo", "r");
    romeo.send("<message to='tybalt@localhost' type='chat' id='u1'><body>?</body></message>");
    expect(await romeo.expect(stanza("message", "u1"))).toContain("<service-unavailable");
    romeo.close();
  });

  it("a stanza to another domain is remote-server-not-found (no federation yet)", async () => {
    const romeo = await login("romeo", "r");
    romeo.send("<message to='someone@elsewhere.example' type='chat' id='f1'><body>?</body></message>");
    expect(await romeo.expect(stanza("message", "f1"))).toContain("<remote-server-not-found");
    romeo.close();
  });

  it("a malformed 'to' is jid-malformed", async () => {
    const romeo = await login("romeo", "r");
    romeo.send("<message to='a@b@c' type='chat' id='m1'><body>?</body></message>");
    expect(await romeo.expect(stanza("message", "m1"))).toContain("<jid-malformed");
    romeo.close();
  });

  it("an error is never answered with an error", async () => {
    const romeo = await login("romeo", "r");
    romeo.send("<message to='tybalt@localhost' type='error' id='e1'><error type='cancel'><gone xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>");
    romeo.send("<iq type='get' id='after' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    await romeo.expect(/id="after"/);
    expect(romeo.buffer + "").not.toContain('id="e1"');
    romeo.close();
  });
});
