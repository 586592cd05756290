// serialize() writes exactly what ltx's Element#toString writes, for every kind of content.
import { describe, expect, it } from "vitest";
import { Element } from "ltx";
import { FastElement, serialize } from "./serialize.ts";
import { StreamParser } from "./parser.ts";
import { xml } from "./element.ts";

function parsed(text: string): Element {
  let out: Element | undefined;
  const p = new StreamParser({ streamStart() {}, streamEnd() {}, error(c, t) { throw new Error(`${c}: ${t}`); }, stanza(el) { out = el; } },
    { maxStanzaSize: 1 << 16, maxDepth: 32, maxAttributes: 64, maxNameLength: 256 });
  p.write(`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>${text}`);
  return out!;
}

const ltxText = (el: Element) => Element.prototype.toString.call(el);

describe("serialize", () => {
  it("matches ltx on parsed stanzas", () => {
    for (const text of [
      "<message to='a@b/c' type='chat' id='1'><body>plain</body></message>",
      "<message id='q&apos;&quot;&lt;&gt;&amp;'><body>a &lt;b&gt; &amp; c ' \" 🌹 Café</body><x xmlns='urn:x'/></message>",
      "<presence/>",
      "<iq type='get' id='p'><query xmlns='jabber:iq:roster'><item jid='x@y' name='&lt;me&gt;'><group>g</group></item></query></iq>",
      "<message><body>text <b>bold</b> tail</body><stream:error/></message>",
    ]) {
      const el = parsed(text);
      expect(el).toBeInstanceOf(FastElement);
      expect(serialize(el)).toBe(ltxText(el));
      expect(el.toString()).toBe(ltxText(el));
    }
  });

  it("matches ltx on built elements: numbers, absent attributes, plain ltx children", () => {
    const el = xml("iq", { type: "result", id: 7, to: undefined }, xml("query", { xmlns: "urn:q" }, "1 < 2 & 3 > 0"));
    el.attrs.nulled = null as unknown as string;
    el.getChild("query")!.c("item", { n: "a\"b'c" }).t("x");
    el.children.push(undefined as unknown as string);
    expect(el).toBeInstanceOf(FastElement);
    expect(el.toString()).toBe(ltxText(el));
    expect(el.toString()).toBe(`<iq type="result" id="7"><query xmlns="urn:q">1 &lt; 2 &amp; 3 &gt; 0<item n="a&quot;b&apos;c">x</item></query></iq>`);
  });
});
