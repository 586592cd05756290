import { describe, expect, it } from "vitest";
import type { Element } from "./element.ts";
import { type ParserErrorCondition, type ParserLimits, StreamParser } from "./parser.ts";

const LIMITS: ParserLimits = { maxStanzaSize: 65536, maxDepth: 32, maxAttributes: 64, maxNameLength: 256 };

const OPEN = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' " +
  "to='capulet.lit' version='1.0'>";
const DECL = "<?xml version='1.0'?>";

/** A parser that records what it reports, as strings, for comparing whole runs. */
function recorder(limits: ParserLimits = LIMITS) {
  const events: string[] = [];
  const stanzas: Element[] = [];
  const parser = new StreamParser({
    streamStart(name, attrs) { events.push(`start ${name} ${JSON.stringify(attrs)}`); },
    stanza(el) { stanzas.push(el); events.push(`stanza ${el.toString()}`); },
    streamEnd() { events.push("end"); },
    error(condition, text) { events.push(`error ${condition}`); errors.push([condition, text]); },
  }, limits);
  const errors: [ParserErrorCondition, string][] = [];
  return { parser, events, stanzas, errors };
}

function parse(xml: string | Buffer, limits?: ParserLimits) {
  const r = recorder(limits);
  r.parser.write(xml);
  return r;
}

/** The single stanza of `<stream>` + body. */
function one(body: string): Element {
  const { stanzas, errors } = parse(OPEN + body);
  expect(errors).toEqual([]);
  expect(stanzas).toHaveLength(1);
  return stanzas[0]!;
}

function errorOf(xml: string | Buffer, limits?: ParserLimits): ParserErrorCondition | undefined {
  const { errors } = parse(xml, limits);
  expect(errors.length).toBeLessThanOrEqual(1);
  return errors[0]?.[0];
}

describe("StreamParser: valid streams", () => {
  it("parses a stream with an XML declaration, stanzas, keepalives and the close tag", () => {
    const { events, stanzas, errors } = parse(`${DECL}\n${OPEN}  \n` +
      "<message to='juliet@capulet.lit' type='chat' id='m1'><body>Hi</body></message> \n\t " +
      "<presence/><iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq></stream:stream>\n");
    expect(errors).toEqual([]);
    expect(events[0]).toBe("start stream:stream " + JSON.stringify({
      xmlns: "jabber:client", "xmlns:stream": "http://etherx.jabber.org/streams", to: "capulet.lit", version: "1.0",
    }));
    expect(stanzas.map((s) => s.toString())).toEqual([
      "<message to=\"juliet@capulet.lit\" type=\"chat\" id=\"m1\"><body>Hi</body></message>",
      "<presence/>",
      "<iq type=\"get\" id=\"p1\"><ping xmlns=\"urn:xmpp:ping\"/></iq>",
    ]);
    expect(events.at(-1)).toBe("end");
    for (const s of stanzas) expect(s.parent).toBeNull();
    const body = stanzas[0]!.getChild("body")!;
    expect(body.parent).toBe(stanzas[0]);
    expect(stanzas[2]!.getChild("ping", "urn:xmpp:ping")).toBeDefined();
  });

  it("accepts a stream without a declaration, and double-quoted declarations with UTF-8 in any case", () => {
    expect(errorOf(OPEN + "<presence/>")).toBeUndefined();
    expect(errorOf(`<?xml version="1.0" encoding="UTF-8"?>${OPEN}`)).toBeUndefined();
    expect(errorOf(`<?xml version='1.0' encoding='utf-8' standalone='yes' ?>${OPEN}`)).toBeUndefined();
    expect(errorOf(`  ${DECL}${OPEN}`)).toBeUndefined(); // whitespace keepalives may race a restart
  });

  it("reports a self-closing root as start and end", () => {
    expect(parse("<stream:stream xmlns:stream='http://etherx.jabber.org/streams'/>").events)
      .toEqual(["start stream:stream {\"xmlns:stream\":\"http://etherx.jabber.org/streams\"}", "end"]);
  });

  it("drops an xmlns equal to the stream's default namespace and keeps any other", () => {
    expect(one("<message xmlns='jabber:client' to='a'/>").attrs).toEqual({ to: "a" });
    expect(one("<iq xmlns='jabber:server' type='get'/>").attrs).toEqual({ xmlns: "jabber:server", type: "get" });
    const child = one("<message xmlns='jabber:client'><body xmlns='jabber:client'>x</body></message>").getChild("body")!;
    expect(child.attrs).toEqual({ xmlns: "jabber:client" }); // children keep their declarations
  });

  it("declares on the stanza the prefixes only the root binds", () => {
    const err = one("<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>");
    expect(err.name).toBe("stream:error");
    expect(err.attrs).toEqual({ "xmlns:stream": "http://etherx.jabber.org/streams" });
    expect(err.getNS()).toBe("http://etherx.jabber.org/streams");

    const { stanzas } = parse("<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' " +
      "xmlns:db='jabber:server:dialback'><db:result from='a' to='b'>key</db:result>" +
      "<message><x db:type='valid'/></message></stream:stream>");
    expect(stanzas[0]!.toString()).toBe("<db:result from=\"a\" to=\"b\" xmlns:db=\"jabber:server:dialback\">key</db:result>");
    expect(stanzas[1]!.attrs).toEqual({ "xmlns:db": "jabber:server:dialback" });
    expect(stanzas[1]!.getChild("x")!.attrs).toEqual({ "db:type": "valid" });
  });

  it("keeps prefixes declared inside the stanza where they are written", () => {
    const el = one("<message><p:event xmlns:p='http://jabber.org/protocol/pubsub#event'><p:items node='n'/>" +
      "</p:event><x xml:lang='en'/></message>");
    expect(el.attrs).toEqual({});
    const ev = el.getChild("event")!;
    expect(ev.name).toBe("p:event");
    expect(ev.attrs).toEqual({ "xmlns:p": "http://jabber.org/protocol/pubsub#event" });
    expect(ev.getChildren("items")[0]!.getNS()).toBe("http://jabber.org/protocol/pubsub#event");
    expect(el.getChild("x")!.attrs["xml:lang"]).toBe("en");
  });

  it("tracks default namespaces and prefixes per element scope", () => {
    const el = one("<iq type='result'><query xmlns='jabber:iq:roster'><item jid='a@b'><group>g</group></item></query>" +
      "<a xmlns:x='urn:x'><x:b><x:c xmlns:x='urn:y'/></x:b></a></iq>");
    const item = el.getChild("query")!.getChild("item")!;
    expect(item.getNS()).toBe("jabber:iq:roster");
    expect(item.getChild("group")!.getText()).toBe("g");
    const b = el.getChild("a")!.getChild("b")!;
    expect(b.getNS()).toBe("urn:x");
    expect(b.getChild("c")!.getNS()).toBe("urn:y");
    expect(errorOf(OPEN + "<a xmlns:x='urn:x'><x:b/></a><x:c/>")).toBe("not-well-formed"); // scope ended
  });

  it("turns CDATA into text, joined with the text around it", () => {
    const body = one("<message><body>a &amp; <![CDATA[<b>&amp;]]]]><![CDATA[>]]> c</body></message>").getChild("body")!;
    expect(body.children).toEqual(["a & <b>&amp;]]> c"]);
  });

  it("expands the predefined entities and character references in text and attributes", () => {
    const el = one("<message id='&lt;&gt;&amp;&quot;&apos;&#65;&#x42;&#x1F600;'>" +
      "<body>&lt;&gt;&amp;&quot;&apos;&#65;&#x42;&#x1f600;&#0065;</body></message>");
    expect(el.attrs.id).toBe("<>&\"'AB😀");
    expect(el.getChildText("body")).toBe("<>&\"'AB😀A");
  });

  it("normalises whitespace in attribute values and line ends in text", () => {
    const el = one("<message a='x\ty\nz\r\nw\rv' b='&#10;&#9;'><body>l1\r\nl2\rl3\n</body></message>");
    expect(el.attrs.a).toBe("x y z w v");
    expect(el.attrs.b).toBe("\n\t");
    expect(el.getChildText("body")).toBe("l1\nl2\nl3\n");
  });

  it("accepts '>' in text and attribute values, both quote styles, and spaces around '='", () => {
    const el = one("<message a = \"it's > 1\" b\n=\n'say \"hi\"' ><body>a > b</body ></message >");
    expect(el.attrs).toEqual({ a: "it's > 1", b: "say \"hi\"" });
    expect(el.getChildText("body")).toBe("a > b");
  });

  it("accepts non-ASCII names and text, and keeps whitespace inside stanzas", () => {
    const el = one("<message><données xmlns='urn:x' clé='v'>  été 𝄞 </données></message>");
    const d = el.getChild("données")!;
    expect(d.attrs["clé"]).toBe("v");
    expect(d.children).toEqual(["  été 𝄞 "]);
  });

  it("stores an attribute named __proto__ as an ordinary attribute", () => {
    const el = one("<message __proto__='x' constructor='y'/>");
    expect(Object.hasOwn(el.attrs, "__proto__")).toBe(true);
    expect(el.attrs.constructor).toBe("y");
  });
});

describe("StreamParser: restricted XML (RFC 6120 §11)", () => {
  it.each([
    ["a comment in a stanza", `${OPEN}<message><!-- hi --></message>`],
    ["a comment between stanzas", `${OPEN}<!-- hi -->`],
    ["a comment before the root", `${DECL}<!-- hi -->${OPEN}`],
    ["a DOCTYPE", `${DECL}<!DOCTYPE stream:stream>${OPEN}`],
    ["an internal subset", `<!DOCTYPE s [<!ENTITY x 'y'>]>${OPEN}`],
    ["an ENTITY declaration in a stanza", `${OPEN}<message><!ENTITY x 'y'></message>`],
    ["a processing instruction in a stanza", `${OPEN}<message><?php echo 1 ?></message>`],
    ["a processing instruction between stanzas", `${OPEN}<?foo?>`],
    ["a stylesheet before the root", `<?xml-stylesheet href='a'?>${OPEN}`],
    ["an XML declaration after the root", `${OPEN}<?xml version='1.0'?>`],
    ["a second XML declaration", `${DECL}${DECL}${OPEN}`],
  ])("rejects %s with restricted-xml", (_, xml) => {
    expect(errorOf(xml)).toBe("restricted-xml");
  });

  it("rejects a non-UTF-8 encoding declaration with unsupported-encoding", () => {
    expect(errorOf(`<?xml version='1.0' encoding='ISO-8859-1'?>${OPEN}`)).toBe("unsupported-encoding");
    expect(errorOf(`<?xml version='1.0' encoding="UTF-16"?>${OPEN}`)).toBe("unsupported-encoding");
  });
});

describe("StreamParser: well-formedness", () => {
  it.each([
    ["a malformed XML declaration", `<?xml encoding='UTF-8'?>${OPEN}`],
    ["an undefined entity", `${OPEN}<message><body>&nbsp;</body></message>`],
    ["an undefined entity in an attribute", `${OPEN}<message id='&foo;'/>`],
    ["a bare '&'", `${OPEN}<message><body>a & b</body></message>`],
    ["an unterminated reference", `${OPEN}<message><body>&amp</body></message>`],
    ["a reference to NUL", `${OPEN}<message><body>&#0;</body></message>`],
    ["a reference to a surrogate", `${OPEN}<message><body>&#xD800;</body></message>`],
    ["a reference beyond U+10FFFF", `${OPEN}<message><body>&#x110000;</body></message>`],
    ["an uppercase X in a hex reference", `${OPEN}<message><body>&#X41;</body></message>`],
    ["'<' in an attribute value", `${OPEN}<message id='a<b'/>`],
    ["a mismatched end tag", `${OPEN}<message><body>x</bdoy></message>`],
    ["an end tag longer than the open one", `${OPEN}<message><body>x</bodyx></message>`],
    ["a mismatched stream end", `${OPEN}</stream:streamx>`],
    ["a duplicate attribute", `${OPEN}<message id='1' id='2'/>`],
    ["a duplicate xmlns", `${OPEN}<message xmlns='jabber:client' xmlns='jabber:client'/>`],
    ["a duplicate expanded attribute name", `${OPEN}<message xmlns:a='urn:x' xmlns:b='urn:x' a:v='1' b:v='2'/>`],
    ["an unquoted attribute", `${OPEN}<message id=1/>`],
    ["an attribute without '='", `${OPEN}<message id/>`],
    ["attributes without whitespace between them", `${OPEN}<message a='1'b='2'/>`],
    ["a '/' not followed by '>'", `${OPEN}<message / >`],
    ["a C0 control in text", `${OPEN}<message><body>a\u0001b</body></message>`],
    ["a C0 control in an attribute", `${OPEN}<message id='a\u001fb'/>`],
    ["U+FFFE in text", `${OPEN}<message><body>\ufffe</body></message>`],
    ["U+FFFF in an attribute", `${OPEN}<message id='\uffff'/>`],
    ["a lone high surrogate", `${OPEN}<message><body>\ud800x</body></message>`],
    ["a lone low surrogate", `${OPEN}<message><body>\udc00</body></message>`],
    ["a control character in CDATA", `${OPEN}<message><body><![CDATA[\u0000]]></body></message>`],
    ["a name starting with a digit", `${OPEN}<1message/>`],
    ["a name starting with '-'", `${OPEN}<message -a='1'/>`],
    ["a name ending with ':'", `${OPEN}<message:/>`],
    ["a name starting with ':'", `${OPEN}<:message/>`],
    ["a name with two colons", `${OPEN}<a:b:c/>`],
    ["an invalid character in a tag", `${OPEN}<message\u00a0id='1'/>`],
    ["']]>' in text", `${OPEN}<message><body>a]]>b</body></message>`],
    ["text directly under the root", `${OPEN}hello<message/>`],
    ["text before the root", `hello${OPEN}`],
    ["CDATA directly under the root", `${OPEN}<![CDATA[ ]]>`],
    ["an end tag before the root", "</stream:stream>"],
    ["an unbound element prefix", `${OPEN}<foo:bar/>`],
    ["an unbound attribute prefix", `${OPEN}<message foo:bar='1'/>`],
    ["the xmlns prefix on an element", `${OPEN}<xmlns:a xmlns:a='urn:x'/>`],
    ["an undeclared prefix binding", `${OPEN}<message xmlns:a=''/>`],
    ["a rebound xml prefix", `${OPEN}<message xmlns:xml='urn:x'/>`],
    ["a declared xmlns prefix", `${OPEN}<message xmlns:xmlns='urn:x'/>`],
    ["a prefix bound to the XML namespace", `${OPEN}<message xmlns:x='http://www.w3.org/XML/1998/namespace'/>`],
    ["an unbound root prefix", "<stream:stream xmlns='jabber:client'>"],
  ])("rejects %s with not-well-formed", (_, xml) => {
    expect(errorOf(xml)).toBe("not-well-formed");
  });

  it("allows whitespace after the root closes", () => {
    expect(parse(`${OPEN}</stream:stream> \r\n`).events.at(-1)).toBe("end");
  });

  it.each([
    ["an element", `${OPEN}</stream:stream><message/>`],
    ["text", `${OPEN}</stream:stream>x`],
    ["markup that is not well-formed", `${OPEN}</stream:stream><<!-- &bogus; </a>`],
  ])("ignores %s after the root closes (RFC 6120 §4.4), in the same chunk or later ones", (_, xml) => {
    const r = parse(xml);
    r.parser.write("<presence/>more");
    r.parser.write(Buffer.from([0xff, 0xfe, 0x80]));
    expect(r.errors).toEqual([]);
    expect(r.events.at(-1)).toBe("end");
    expect(r.stanzas).toEqual([]);
  });

  it("allows the xml prefix unbound and its own binding", () => {
    expect(one("<message xml:lang='en' xmlns:xml='http://www.w3.org/XML/1998/namespace'/>").attrs)
      .toEqual({ "xml:lang": "en", "xmlns:xml": "http://www.w3.org/XML/1998/namespace" });
  });

  it("rejects invalid UTF-8, and overlong and surrogate encodings, with unsupported-encoding (RFC 6120 §4.9.3.22)", () => {
    const bad = [Buffer.from([0xff]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xe2, 0x28, 0xa1])];
    for (const b of bad) {
      const r = recorder();
      r.parser.write(Buffer.from(OPEN + "<message><body>"));
      r.parser.write(b);
      expect(r.errors.map((e) => e[0])).toEqual(["unsupported-encoding"]);
    }
  });

  it("reports only the first error and ignores all later input", () => {
    const r = recorder();
    r.parser.write(OPEN + "<message><!-- x --></message>");
    r.parser.write("<presence/></bad>");
    expect(r.events.slice(1)).toEqual(["error restricted-xml"]);
  });
});

describe("StreamParser: limits", () => {
  const small = (over: Partial<ParserLimits>): ParserLimits => ({ ...LIMITS, ...over });
  const stanza = "<message to='a'><body>0123456789</body></message>"; // 48 code units
  /** A parser past the stream header, with `limits` in force from the first stanza. */
  const opened = (limits: ParserLimits) => {
    const r = recorder();
    r.parser.write(OPEN);
    r.parser.setLimits(limits);
    return r;
  };
  const errorAfterHeader = (limits: ParserLimits, body: string) => {
    const r = opened(limits);
    r.parser.write(body);
    return r.errors[0]?.[0];
  };

  it("accepts a stanza of exactly maxStanzaSize and refuses one unit more", () => {
    const r = opened(small({ maxStanzaSize: stanza.length }));
    r.parser.write(stanza + stanza);
    expect(r.errors).toEqual([]);
    expect(r.stanzas).toHaveLength(2);
    expect(errorAfterHeader(small({ maxStanzaSize: stanza.length - 1 }), stanza)).toBe("policy-violation");
  });

  it("counts a stanza across chunks and stops before the rest of it arrives", () => {
    const r = opened(small({ maxStanzaSize: 100 }));
    r.parser.write("<message><body>");
    r.parser.write("x".repeat(80));
    expect(r.errors).toEqual([]);
    r.parser.write("x".repeat(10));
    expect(r.errors.map((e) => e[0])).toEqual(["policy-violation"]);
  });

  it("bounds a tag that never ends, even fed a byte at a time", () => {
    const r = opened(small({ maxStanzaSize: 1000 }));
    r.parser.write("<message id='");
    for (let i = 0; i < 2000 && r.errors.length === 0; i++) r.parser.write("x");
    expect(r.errors.map((e) => e[0])).toEqual(["policy-violation"]);
  });

  it("bounds the stream header by maxStanzaSize", () => {
    expect(errorOf(`<stream:stream a='${"x".repeat(2000)}'>`, small({ maxStanzaSize: 1000 }))).toBe("policy-violation");
    const r = recorder(small({ maxStanzaSize: 1000 }));
    r.parser.write(DECL + "<stream:stream");
    for (let i = 0; i < 100 && r.errors.length === 0; i++) r.parser.write(" ".repeat(100));
    expect(r.errors.map((e) => e[0])).toEqual(["policy-violation"]);
  });

  it("does not count whitespace keepalives between stanzas", () => {
    const r = opened(small({ maxStanzaSize: 60 }));
    for (let i = 0; i < 100; i++) r.parser.write(" \n");
    r.parser.write(stanza);
    expect(r.errors).toEqual([]);
    expect(r.stanzas).toHaveLength(1);
  });

  it("limits nesting depth below the root", () => {
    const nest = (n: number) => "<a>".repeat(n) + "</a>".repeat(n);
    expect(errorOf(OPEN + nest(4), small({ maxDepth: 4 }))).toBeUndefined();
    expect(errorOf(OPEN + nest(5), small({ maxDepth: 4 }))).toBe("policy-violation");
  });

  it("limits attributes per element, namespace declarations included", () => {
    const attrs = (n: number) => Array.from({ length: n }, (_, i) => ` a${i}='v'`).join("");
    const lim = small({ maxAttributes: 3 });
    expect(errorAfterHeader(lim, `<message${attrs(3)}><x${attrs(3)}/></message>`)).toBeUndefined();
    expect(errorAfterHeader(lim, `<message${attrs(4)}/>`)).toBe("policy-violation");
    expect(errorAfterHeader(lim, `<message><x xmlns='a'${attrs(3)}/></message>`)).toBe("policy-violation");
  });

  it("limits element and attribute name length", () => {
    const lim = small({ maxNameLength: 8 });
    expect(errorAfterHeader(lim, "<abcdefgh abcdefgh='1'/>")).toBeUndefined();
    expect(errorAfterHeader(lim, "<abcdefghi/>")).toBe("policy-violation");
    expect(errorAfterHeader(lim, "<a abcdefghi='1'/>")).toBe("policy-violation");
    expect(errorAfterHeader(lim, "<a><b:cdefghi xmlns:b='u'/></a>")).toBe("policy-violation");
  });

  it("applies the limits in force when the stream header starts to the header", () => {
    expect(errorOf(OPEN, small({ maxAttributes: 3 }))).toBe("policy-violation");
    expect(errorOf(OPEN, small({ maxNameLength: 8 }))).toBe("policy-violation");
  });

  it("applies setLimits from the next top-level element", () => {
    const r = opened(small({ maxStanzaSize: 60 }));
    r.parser.write("<message><body>");
    r.parser.setLimits(small({ maxStanzaSize: 1000 }));
    r.parser.write("x".repeat(100)); // the stanza in progress keeps the old limit
    expect(r.errors.map((e) => e[0])).toEqual(["policy-violation"]);

    const s = opened(small({ maxStanzaSize: 60 }));
    s.parser.write(stanza);
    s.parser.setLimits(small({ maxStanzaSize: 1000 }));
    s.parser.write(`<message><body>${"x".repeat(100)}</body></message>`);
    expect(s.errors).toEqual([]);
    expect(s.stanzas).toHaveLength(2);
  });
});

/** A stream exercising every construct, with multi-byte characters split at every byte. */
const RICH = `\ufeff<?xml version='1.0' encoding='UTF-8'?>\r\n${OPEN.replace("version", "xml:lang='fr' version")}` +
  "<message to='juliet@capulet.lit/balcony' type=\"chat\" id='m&amp;1' xmlns='jabber:client'>" +
  "<body>Café &lt;crème&gt; — 🌹 &#x1F600;&#233;\r\nfin]]&gt;]</body>" +
  "<html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'>" +
  "<p style='font-weight:bold\tx'>Ça <![CDATA[<va> & 💐]]>bien</p></body></html>" +
  "<x:data xmlns:x='urn:x' x:a='1' xml:lang='en'/><stream:tag b='é'/></message>\n \t" +
  "<presence><show>away</show><status>日本語のテキスト</status><c xmlns='http://jabber.org/protocol/caps' " +
  "hash='sha-1' node='n' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/></presence>  " +
  "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>" +
  "<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq></stream:stream>";

describe("StreamParser: chunking", () => {
  const whole = parse(Buffer.from(RICH));

  it("parses the reference stream", () => {
    expect(whole.errors).toEqual([]);
    expect(whole.stanzas).toHaveLength(4);
    expect(whole.events.at(-1)).toBe("end");
    const msg = whole.stanzas[0]!;
    expect(msg.attrs).toEqual({ to: "juliet@capulet.lit/balcony", type: "chat", id: "m&1", "xmlns:stream": "http://etherx.jabber.org/streams" });
    expect(msg.getChildText("body")).toBe("Café <crème> — 🌹 😀é\nfin]]>]");
    expect(msg.getChild("html")!.getChild("body")!.getChild("p")!.children).toEqual(["Ça <va> & 💐bien"]);
    expect(msg.getChild("html")!.getChild("body")!.getChild("p")!.attrs.style).toBe("font-weight:bold x");
  });

  it("gives identical results for a Buffer split at every byte", () => {
    const bytes = Buffer.from(RICH);
    for (let i = 1; i < bytes.length; i++) {
      const r = recorder();
      r.parser.write(bytes.subarray(0, i));
      r.parser.write(bytes.subarray(i));
      expect(r.events, `split at byte ${i}`).toEqual(whole.events);
    }
  });

  it("gives identical results for a string split at every code unit, and three-way splits", () => {
    for (let i = 1; i < RICH.length; i++) {
      const r = recorder();
      r.parser.write(RICH.slice(0, i));
      r.parser.write(RICH.slice(i));
      expect(r.events, `split at ${i}`).toEqual(whole.events);
    }
    const bytes = Buffer.from(RICH);
    for (let i = 1; i < bytes.length; i += 7) {
      for (let j = i + 1; j < bytes.length; j += 13) {
        const r = recorder();
        r.parser.write(bytes.subarray(0, i));
        r.parser.write(bytes.subarray(i, j));
        r.parser.write(bytes.subarray(j));
        expect(r.events, `split at ${i}, ${j}`).toEqual(whole.events);
      }
    }
  });

  it("gives identical results fed one byte at a time", () => {
    const r = recorder();
    for (const b of Buffer.from(RICH)) r.parser.write(Buffer.from([b]));
    expect(r.events).toEqual(whole.events);
  });

  it("reports the same error wherever the input is split", () => {
    for (const [bad, condition] of [
      ["<message><body>a]]>b</body></message>", "not-well-formed"],
      ["<message><body>&#xD800;</body></message>", "not-well-formed"],
      ["<message><!-- é --></message>", "restricted-xml"],
      ["<message id='a\r\u0001'/>", "not-well-formed"],
      ["<message><body>🌹\ud800</body></message>", "not-well-formed"],
    ] as const) {
      const xml = OPEN + bad;
      for (let i = 1; i < xml.length; i++) {
        const r = recorder();
        r.parser.write(xml.slice(0, i));
        r.parser.write(xml.slice(i));
        expect(r.errors.map((e) => e[0]), `${bad} split at ${i}`).toEqual([condition]);
      }
    }
  });

  it("stays linear when a large stanza trickles in a character at a time", () => {
    const value = "v".repeat(200_000);
    const r = recorder({ ...LIMITS, maxStanzaSize: 1 << 20 });
    r.parser.write(OPEN);
    const xml = `<message id='${value}'><body>${value}</body><![CDATA[${value}]]></message>`;
    const t0 = performance.now();
    for (let i = 0; i < xml.length; i++) r.parser.write(xml[i]!);
    expect(r.errors).toEqual([]);
    expect(r.stanzas[0]!.attrs.id).toHaveLength(200_000);
    expect(r.stanzas[0]!.children[1]).toHaveLength(200_000);
    expect(performance.now() - t0).toBeLessThan(5000);
  });
});

describe("StreamParser: reset and handlers", () => {
  it("expects a new declaration and root after reset()", () => {
    const r = recorder();
    r.parser.write(`${DECL}${OPEN}<message><body>half`);
    r.parser.reset();
    r.parser.write(`${DECL}${OPEN}<presence/>`);
    expect(r.errors).toEqual([]);
    expect(r.events.filter((e) => e.startsWith("start"))).toHaveLength(2);
    expect(r.stanzas.map(String)).toEqual(["<presence/>"]);
  });

  it("discards a partial UTF-8 character and a partial tag on reset()", () => {
    const r = recorder();
    r.parser.write(Buffer.concat([Buffer.from(OPEN + "<message id='"), Buffer.from([0xf0, 0x9f])]));
    r.parser.reset();
    r.parser.write(Buffer.from(OPEN + "<presence/>"));
    expect(r.errors).toEqual([]);
    expect(r.stanzas.map(String)).toEqual(["<presence/>"]);
  });

  it("recovers from an error after reset()", () => {
    const r = recorder();
    r.parser.write(OPEN + "<!-- x -->");
    r.parser.reset();
    r.parser.write(OPEN + "<presence/>");
    expect(r.errors.map((e) => e[0])).toEqual(["restricted-xml"]);
    expect(r.stanzas).toHaveLength(1);
  });

  it("drops the rest of a chunk when a handler resets (no injection across STARTTLS)", () => {
    const seen: string[] = [];
    const parser: StreamParser = new StreamParser({
      streamStart: (name) => seen.push(`start ${name}`),
      stanza: (el) => {
        seen.push(el.name);
        if (el.name === "starttls") parser.reset();
      },
      streamEnd: () => seen.push("end"),
      error: (c) => seen.push(`error ${c}`),
    }, LIMITS);
    parser.write(`${OPEN}<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><iq type='set' id='evil'/>`);
    parser.write(`${OPEN}<iq type='get' id='ok'/>`);
    expect(seen).toEqual(["start stream:stream", "starttls", "start stream:stream", "iq"]);
  });

  it("accepts input written from inside a handler", () => {
    const names: string[] = [];
    const parser: StreamParser = new StreamParser({
      streamStart: () => parser.write("<presence/>"),
      stanza: (el) => {
        names.push(el.name);
        if (el.name === "message") parser.write("<iq/>"); // goes after the rest of this chunk
      },
      streamEnd: () => names.push("end"),
      error: (c) => names.push(c),
    }, LIMITS);
    parser.write(OPEN);
    parser.write("<message/><presence/>");
    expect(names).toEqual(["presence", "message", "presence", "iq"]);
  });

  it("neither repeats nor loses stanzas when a handler throws", () => {
    const names: string[] = [];
    let throws = true;
    const parser = new StreamParser({
      streamStart: () => {},
      stanza: (el) => {
        names.push(el.attrs.id!);
        if (throws) {
          throws = false;
          throw new Error("boom");
        }
      },
      streamEnd: () => {},
      error: (c) => names.push(c),
    }, LIMITS);
    expect(() => parser.write(OPEN + "<iq id='1'/><iq id='2'/>")).toThrow("boom");
    parser.write("<iq id='3'/>");
    expect(names).toEqual(["1", "2", "3"]);
  });
});
