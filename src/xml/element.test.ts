import { describe, expect, it } from "vitest";
import { StreamParser } from "./parser.ts";
import { unprefixTopLevel, type Element } from "./element.ts";

const OPEN = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>";

/** The top-level element `xml` as the parser hands it over, then unprefixed. */
function top(xml: string): Element {
  let el: Element | undefined;
  new StreamParser({ streamStart() {}, stanza: (e) => (el = e), streamEnd() {}, error: (c, t) => { throw new Error(`${c}: ${t}`); } },
    { maxStanzaSize: 65536, maxDepth: 32, maxAttributes: 64, maxNameLength: 256 }).write(OPEN + xml);
  unprefixTopLevel(el!, "jabber:client");
  return el!;
}

describe("unprefixTopLevel", () => {
  it("names a prefixed stanza of the stream's namespace as the parser leaves stanzas", () => {
    const el = top("<stream:message xmlns:stream='jabber:client' to='a@b'><body>hi</body></stream:message>");
    expect(el.name).toBe("message");
    expect(el.attrs.xmlns).toBeUndefined();
    expect(el.getChild("body")!.attrs.xmlns).toBeUndefined();
  });

  it("names an element of another namespace by its local name and that namespace", () => {
    const r = top("<sm:r xmlns:sm='urn:xmpp:sm:3'/>");
    expect([r.name, r.attrs.xmlns]).toEqual(["r", "urn:xmpp:sm:3"]);
    // The root's own stream: prefix: an element of the streams namespace, not a stanza.
    const m = top("<stream:message><body>x</body></stream:message>");
    expect([m.name, m.attrs.xmlns]).toEqual(["message", "http://etherx.jabber.org/streams"]);
    expect(m.getChild("body")!.getNS()).toBe("jabber:client");
  });

  it("keeps its unprefixed children in the namespace they were in", () => {
    const el = top("<x:message xmlns:x='jabber:client' xmlns='urn:other'><body>x</body><y:z xmlns:y='urn:y'/><w xmlns='urn:w'/></x:message>");
    expect([el.name, el.attrs.xmlns]).toEqual(["message", undefined]);
    expect(el.getChild("body")!.getNS()).toBe("urn:other");
    expect(el.getChildren("z")[0]!.getNS()).toBe("urn:y");
    expect(el.getChild("w")!.getNS()).toBe("urn:w");
  });

  it("leaves unprefixed elements alone", () => {
    const el = top("<message xmlns='urn:x'><body/></message>");
    expect([el.name, el.attrs.xmlns, el.getChild("body")!.attrs.xmlns]).toEqual(["message", "urn:x", undefined]);
  });
});
