// Streams (RFC 6120 §4, §5, §11): headers, features, STARTTLS, stream errors, restricted XML and
// limits. Each bad input gets the exact error element, and only the offending stream suffers.
import type { TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "../helpers/server.ts";
import { FEATURES, OPEN, RawClient } from "../helpers/raw.ts";

let t: TestServer;
beforeAll(async () => {
  t = await startServer({ users: { romeo: "pw", juliet: "pw" } });
});
afterAll(() => t.stop());

/** Sends a header, then `input`; expects the stream error `condition` and the close. */
async function streamErrorFor(input: string, condition: string, header = OPEN()): Promise<RawClient> {
  const c = await RawClient.connect(t.port);
  c.send(header + input);
  await c.expect(new RegExp(`<stream:error><${condition} xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']`));
  await c.expect("</stream:stream>");
  await c.closedByServer();
  return c;
}

describe("stream header and features", () => {
  it("answers a header with its own and offers required STARTTLS, no SASL, before TLS", async () => {
    const c = await RawClient.connect(t.port);
    c.send(OPEN());
    const header = await c.expect(/<stream:stream [^>]*>/);
    expect(header).toMatch(/from=["']localhost["']/);
    expect(header).toMatch(/version=["']1\.0["']/);
    expect(header).toMatch(/id=["'][^"']{16,}["']/);
    const features = await c.expect(/<stream:features>[\s\S]*?<\/stream:features>/);
    expect(features).toContain("<starttls xmlns=\"urn:ietf:params:xml:ns:xmpp-tls\"><required/></starttls>");
    expect(features).not.toContain("mechanisms");
    c.close();
  });

  it("offers SCRAM mechanisms, PLAIN and channel-binding types after STARTTLS", async () => {
    const { c, features } = await RawClient.stream(t.port);
    for (const m of ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"]) expect(features).toContain(`<mechanism>${m}</mechanism>`);
    expect(features).toMatch(/<sasl-channel-binding xmlns="urn:xmpp:sasl-cb:0"><channel-binding type="tls-exporter"\/>/);
    expect(features).not.toContain("starttls");
    c.close();
  });

  it("refuses SASL before TLS when TLS is required", async () => {
    const { c } = await RawClient.stream(t.port, false);
    c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AHJvbWVvAHB3</auth>");
    await c.expect("<failure xmlns=\"urn:ietf:params:xml:ns:xmpp-sasl\"><encryption-required/></failure>");
    c.close();
  });

  it("closes cleanly when the client closes", async () => {
    const { c } = await RawClient.stream(t.port, false);
    c.send("</stream:stream>");
    await c.expect("</stream:stream>");
    await c.closedByServer();
  });
});

describe("stream errors for a bad header", () => {
  it("host-unknown for a domain we do not serve", () =>
    streamErrorFor("", "host-unknown", OPEN("elsewhere.example")));
  it("invalid-namespace for a wrong stream namespace", () =>
    streamErrorFor("", "invalid-namespace", "<stream:stream xmlns='jabber:client' xmlns:stream='urn:wrong' to='localhost' version='1.0'>"));
  it("invalid-namespace for a wrong content namespace", () =>
    streamErrorFor("", "invalid-namespace", "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>"));
  it("unsupported-version for version 2.0", () =>
    streamErrorFor("", "unsupported-version", "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='2.0'>"));
  it("not-well-formed for an unbound stream prefix", () =>
    streamErrorFor("", "not-well-formed", "<stream:stream xmlns='jabber:client' to='localhost' version='1.0'>"));
  it("unsupported-encoding for a declared non-UTF-8 encoding", () =>
    streamErrorFor("", "unsupported-encoding", "<?xml version='1.0' encoding='ISO-8859-1'?>" + OPEN().replace("<?xml version='1.0'?>", "")));
});

describe("what is pipelined behind a restart is not read on the new stream", () => {
  const INJECTED = "<iq type='get' id='inj' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq></stream:stream>";

  it("behind <starttls/>, in the clear: discarded once TLS is on (RFC 6120 §5.4.3.3)", async () => {
    const c = await RawClient.connect(t.port);
    c.send(OPEN());
    await c.expect(FEATURES);
    await c.startTls({}, INJECTED);
    c.send(OPEN() + "<iq type='get' id='probe' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    const seen = await c.expect(/[\s\S]*<iq[^>]*id="probe"[^>]*>/);
    expect(seen).toContain("<mechanisms");
    expect(seen + c.closed).not.toMatch(/inj|stream:error|true/);
    c.close();
  });

  it("behind a SASL exchange that succeeds: discarded with the old stream (RFC 6120 §6.4.6)", async () => {
    const { c } = await RawClient.stream(t.port);
    c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from("\0romeo\0pw").toString("base64")}</auth>${INJECTED}`);
    await c.expect("<success");
    c.send(OPEN());
    await c.expect(FEATURES);
    c.send("<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq><iq type='get' id='probe' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    const seen = await c.expect(/[\s\S]*<iq[^>]*id="probe"[^>]*>/);
    expect(seen + c.closed).not.toMatch(/inj|stream:error|true/);
    c.close();
  });
});

describe("restricted XML (RFC 6120 §11) and well-formedness", () => {
  it("restricted-xml for a comment", () => streamErrorFor("<!-- hi -->", "restricted-xml"));
  it("restricted-xml for a processing instruction", () => streamErrorFor("<?php echo 1 ?>", "restricted-xml"));
  it("restricted-xml for a DOCTYPE", () =>
    streamErrorFor("", "restricted-xml", "<!DOCTYPE foo [<!ENTITY x 'y'>]>" + OPEN()));
  it("restricted-xml for an entity declaration inside the stream", () => streamErrorFor("<!ENTITY x 'y'>", "restricted-xml"));
  it("not-well-formed for a mismatched end tag", () => streamErrorFor("<message><body></message>", "not-well-formed"));
  it("not-well-formed for an undefined entity", () => streamErrorFor("<message><body>&bogus;</body></message>", "not-well-formed"));
  it("not-well-formed for an unbound prefix in a stanza", () => streamErrorFor("<message><x:y/></message>", "not-well-formed"));
  it("unsupported-encoding for invalid UTF-8 (RFC 6120 §4.9.3.22)", async () => {
    const c = await RawClient.connect(t.port);
    c.send(OPEN());
    c.socket.write(Buffer.from([0x3c, 0x61, 0xff, 0xfe, 0x3e]));
    await c.expect("<stream:error><unsupported-encoding");
    await c.closedByServer();
  });
  it("a stanza over the pre-authentication limit (8 KiB) is a policy-violation", () =>
    streamErrorFor(`<iq type='get' id='x'><query xmlns='jabber:iq:register'>${"a".repeat(9000)}</query></iq>`, "policy-violation"));
  it("not-authorized for a stanza before authentication", () =>
    streamErrorFor("<message to='juliet@localhost'><body>hi</body></message>", "not-authorized"));
});

describe("after authentication", () => {
  it("a stanza over the 256 KiB limit is a policy-violation; other streams go on", async () => {
    const bystander = await RawClient.login(t.port, "juliet", "pw", "b");
    const c = await RawClient.login(t.port, "romeo", "pw");
    c.send(`<message to='juliet@localhost/b'><body>${"a".repeat(270_000)}</body></message>`);
    await c.expect("<stream:error><policy-violation");
    await c.closedByServer();
    bystander.send("<iq type='get' id='still' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    await bystander.expect(/<iq [^>]*id="still"/);
    bystander.close();
  });

  it("a stanza under the limit passes (the limit is larger after login)", async () => {
    const j = await RawClient.login(t.port, "juliet", "pw", "big");
    const c = await RawClient.login(t.port, "romeo", "pw");
    const body = "b".repeat(100_000);
    c.send(`<message to='juliet@localhost/big' type='chat'><body>${body}</body></message>`);
    const got = await j.expect(/<message[\s\S]*?<\/message>/);
    expect(got).toContain(body);
    j.close();
    c.close();
  });

  it("invalid-from for a 'from' naming someone else", async () => {
    const c = await RawClient.login(t.port, "romeo", "pw");
    c.send("<message from='juliet@localhost' to='romeo@localhost'><body>forged</body></message>");
    await c.expect("<stream:error><invalid-from");
    await c.closedByServer();
  });

  it("unsupported-stanza-type for an unknown top-level element", async () => {
    const c = await RawClient.login(t.port, "romeo", "pw");
    c.send("<foo/>");
    await c.expect("<stream:error><unsupported-stanza-type");
    await c.closedByServer();
  });

  it("keeps extension payloads intact, namespaces and prefixes included", async () => {
    const j = await RawClient.login(t.port, "juliet", "pw", "ext");
    const c = await RawClient.login(t.port, "romeo", "pw");
    c.send("<message to='juliet@localhost/ext' id='m1'><body>a &amp; b &lt; c</body>" +
      "<x:thing xmlns:x='urn:example:x' x:attr='1'><x:inner>t</x:inner></x:thing><plain xmlns='urn:example:p'/></message>");
    const got = await j.expect(/<message[\s\S]*?<\/message>/);
    expect(got).toContain("<body>a &amp; b &lt; c</body>");
    expect(got).toMatch(/<x:thing xmlns:x="urn:example:x" x:attr="1"><x:inner>t<\/x:inner><\/x:thing>/);
    expect(got).toContain("<plain xmlns=\"urn:example:p\"/>");
    expect(got).toContain("from=\"romeo@localhost/raw\"");
    j.close();
    c.close();
  });

  it("a resource bound twice replaces the older session with <conflict/>", async () => {
    const a = await RawClient.login(t.port, "romeo", "pw", "same");
    const b = await RawClient.login(t.port, "romeo", "pw", "same");
    await a.expect("<stream:error><conflict");
    await a.closedByServer();
    b.send("<iq type='get' id='alive' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    await b.expect(/id="alive"/);
    b.close();
  });

  it("the server chooses a resource when none is asked for", async () => {
    const { c, sasl, features } = await RawClient.authenticated(t.port, "romeo", "pw");
    expect(sasl).toMatch(/^<success/);
    expect(features).toContain("<bind xmlns=\"urn:ietf:params:xml:ns:xmpp-bind\"/>");
    expect(features).toContain("<session xmlns=\"urn:ietf:params:xml:ns:xmpp-session\"><optional/></session>");
    c.send("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>");
    const bound = await c.expect(/<iq[\s\S]*?<\/iq>/);
    expect(bound).toMatch(/<jid>romeo@localhost\/[^<]{4,}<\/jid>/);
    c.send("<iq type='set' id='s'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>");
    await c.expect(/<iq type="result" id="s"/);
    c.close();
  });

  it("a bad resource is refused with bad-request", async () => {
    const { c } = await RawClient.authenticated(t.port, "romeo", "pw");
    c.send("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>bad\u2028x</resource></bind></iq>");
    await c.expect(/<iq type="error" id="b"[\s\S]*<bad-request/);
    c.close();
  });
});

describe("elements are matched by namespace, not by prefix (Namespaces in XML 1.0)", () => {
  it("<stream:message xmlns:stream='jabber:client'> is a message; Juliet gets it as one", async () => {
    const j = await RawClient.login(t.port, "juliet", "pw", "ns");
    const c = await RawClient.login(t.port, "romeo", "pw");
    c.send("<stream:message xmlns:stream='jabber:client' to='juliet@localhost/ns' type='chat' id='p1'><body>by namespace</body>" +
      "<stream:thread>t1</stream:thread></stream:message>");
    const got = await j.expect(/<message[\s\S]*?<\/message>/);
    expect(got).toMatch(/^<message [^>]*id="p1"/);
    expect(got).toContain("<body>by namespace</body>");
    expect(got).toContain("<stream:thread>t1</stream:thread>");
    // A prefixed iq and an SM element are what their namespaces make them.
    c.send("<c:iq xmlns:c='jabber:client' type='get' id='ping1' to='localhost'><ping xmlns='urn:xmpp:ping'/></c:iq>");
    await c.expect(/<iq [^>]*id="ping1"[^>]*type="result"|<iq [^>]*type="result"[^>]*id="ping1"/);
    c.send("<sm:enable xmlns:sm='urn:xmpp:sm:3'/>");
    await c.expect("<enabled xmlns=\"urn:xmpp:sm:3\"");
    j.close();
    c.close();
  });

  it("a SASL <auth/> with a prefix is an auth", async () => {
    const { c } = await RawClient.stream(t.port);
    c.send(`<s:auth xmlns:s='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from("\0romeo\0pw").toString("base64")}</s:auth>`);
    await c.expect("<success xmlns=\"urn:ietf:params:xml:ns:xmpp-sasl\"/>");
    c.close();
  });

  it("a message in another namespace is no stanza, whatever its prefix", async () => {
    for (const el of ["<message xmlns='urn:example:not-im' to='juliet@localhost'><body>x</body></message>",
      "<x:message xmlns:x='urn:example:not-im' to='juliet@localhost'><body>x</body></x:message>",
      "<stream:message to='juliet@localhost'><body>x</body></stream:message>"]) {
      const c = await RawClient.login(t.port, "romeo", "pw");
      c.send(el);
      await c.expect("<stream:error><unsupported-stanza-type");
      await c.closedByServer();
    }
  });
});

describe("the client's closing tag (RFC 6120 §4.4)", () => {
  it("is answered with the server's own and the close; what follows it is ignored, not a stream error", async () => {
    const c = await RawClient.login(t.port, "romeo", "pw", "closing");
    c.send("</stream:stream><message to='juliet@localhost'><body>late</body></message>trailing text");
    expect(await c.expect(/[\s\S]*<\/stream:stream>/)).toBe("</stream:stream>");
    await c.closedByServer();
  });

  it("markup sent a moment later is ignored too", async () => {
    const c = await RawClient.login(t.port, "romeo", "pw", "closing2");
    c.send("</stream:stream>");
    c.send("<presence/>");
    expect(await c.expect(/[\s\S]*<\/stream:stream>/)).toBe("</stream:stream>");
    await c.closedByServer();
  });
});

describe("shutdown", () => {
  it("closes every stream with <system-shutdown/>", async () => {
    const s = await startServer({ users: { romeo: "pw" } });
    const a = await RawClient.login(s.port, "romeo", "pw");
    const { c: b } = await RawClient.stream(s.port, false);
    await s.stop();
    await a.expect("<stream:error><system-shutdown");
    await b.expect("<stream:error><system-shutdown");
    await a.closedByServer();
  });
});

describe("TLS renegotiation is refused (a handshake per request costs the server, RFC 5746 or not)", () => {
  /** A TLS 1.2 connection (1.3 has no renegotiation) asks for a new handshake: the answer or the close. */
  async function renegotiate(c: RawClient): Promise<string> {
    const tls = c.socket as TLSSocket;
    const asked = new Promise<string>((resolve) => {
      const ok = tls.renegotiate({ rejectUnauthorized: false }, (err) => resolve(err ? `refused: ${err.message}` : "renegotiated"));
      if (!ok) resolve("refused at once");
    });
    const closed = c.closedByServer(5000).then(() => "closed");
    return Promise.race([asked, closed]);
  }

  it("on the direct TLS port (XEP-0368)", async () => {
    const c = await RawClient.connect(t.tlsPort, true, undefined, { maxVersion: "TLSv1.2" });
    c.send(OPEN());
    await c.expect("</stream:features>");
    expect(await renegotiate(c)).not.toBe("renegotiated");
    await c.closedByServer();
  });

  it("after STARTTLS", async () => {
    const c = await RawClient.connect(t.port);
    c.send(OPEN());
    await c.expect("</stream:features>");
    await c.startTls({ maxVersion: "TLSv1.2" });
    c.send(OPEN());
    await c.expect("</stream:features>");
    expect(await renegotiate(c)).not.toBe("renegotiated");
    await c.closedByServer();
  });
  it("on the HTTPS listener (wss://)", async () => {
    const c = await RawClient.connect(t.server.ports.https!, true, undefined, { maxVersion: "TLSv1.2" });
    expect(await renegotiate(c)).not.toBe("renegotiated");
    await c.closedByServer();
  });
});
