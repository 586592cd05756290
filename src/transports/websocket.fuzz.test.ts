// Property tests of the WebSocket framing (RFC 7395 §3.3): whatever the server writes, cut into
// writes anywhere, becomes the same messages, each one whole element that parses on its own with
// its namespaces declared on it (§3.3.3), between <open/> and <close/>.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { runs } from "../../test/fuzz/runs.ts";
import { chunked, cuts, elementTree, stanza } from "../../test/fuzz/xml.ts";
import { xml } from "../xml/element.ts";
import { parseStored } from "../xml/stored.ts";
import { FRAMING, toFrames } from "./websocket.ts";

const HEADER = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='i' from='localhost' version='1.0' xml:lang='en'>";

/** What a server writes: stanzas, stream-level elements written with the stream: prefix, others in their own namespace. */
const output = fc.array(fc.oneof(
  stanza({ depth: 3 }).map(String),
  elementTree({ depth: 3 }).map((el) => {
    el.attrs.xmlns ??= "urn:xmpp:sm:3";
    return el.toString();
  }),
  fc.constantFrom(
    xml("stream:features", null, xml("bind", { xmlns: "urn:ietf:params:xml:ns:xmpp-bind" })).toString(),
    "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
    "<a xmlns='urn:xmpp:sm:3' h='7'/>",
  ),
), { maxLength: 6 });

function frames(writes: string[]): string[] {
  let rest = "";
  const out: string[] = [];
  for (const w of writes) {
    const r = toFrames(rest + w);
    out.push(...r.frames);
    rest = r.rest;
  }
  expect(rest).toBe("");
  return out;
}

describe("WebSocket framing of the server's output (RFC 7395 §3.3)", () => {
  it("gives one standalone element per message, however the output was cut into writes", () => {
    fc.assert(fc.property(output.chain((els) => {
      const text = HEADER + els.join("") + "</stream:stream>";
      return fc.tuple(fc.constant(els), fc.constant(text), cuts(text.length));
    }), ([els, text, at]) => {
      const whole = frames([text]);
      expect(frames(chunked(text, at))).toEqual(whole);
      expect(whole[0]).toMatch(new RegExp(`^<open xmlns='${FRAMING}'`));
      expect(whole.at(-1)).toBe(`<close xmlns='${FRAMING}'/>`);
      const messages = whole.slice(1, -1);
      expect(messages).toHaveLength(els.length);
      messages.forEach((m, i) => {
        const el = parseStored(m);
        expect(el, m).toBeDefined();
        // Namespaces declared on the element itself: the stream's, or its own.
        expect(el!.attrs.xmlns ?? el!.attrs["xmlns:stream"]).toBeDefined();
        const original = parseStored(els[i]!.replace(/^<(stream:[\w-]+)/, "<$1 xmlns:stream='http://etherx.jabber.org/streams'")
          .replace(/^<(message|presence|iq)(?=[\s/>])(?![^>]*\sxmlns=)/, "<$1 xmlns='jabber:client'"));
        expect(el!.toString()).toBe(original!.toString());
      });
    }), runs(1000));
  });
});
