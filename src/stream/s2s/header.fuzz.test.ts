// Property tests of stream headers (RFC 6120 §4.7, §4.9.3) and of Server Dialback's pieces
// (XEP-0220, XEP-0185): any header is accepted or refused with the stream error §4.9.3 names for
// it; a domain read from a peer is normalised or nothing; a dialback key is valid only for the
// values it was made for; and the dialback elements we write read back, through our own parser,
// with the values they were given, whatever characters those hold.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { runs } from "../../../test/fuzz/runs.ts";
import { attrValue, xmlText } from "../../../test/fuzz/xml.ts";
import { StreamError } from "../../core/errors.ts";
import type { Element } from "../../xml/element.ts";
import { normalizeDomain } from "../../xml/jid.ts";
import { StreamParser } from "../../xml/parser.ts";
import { checkHeader } from "../header.ts";
import { dialbackElement, dialbackKey, validKey } from "./dialback.ts";
import { checkServerHeader, domainOf, serverHeader } from "./header.ts";

const STREAMS = "http://etherx.jabber.org/streams";

const headerName = fc.constantFrom("stream:stream", "stream", "s:stream", "stream:features", "x:stream", "stream:stream:x", "");
const headerAttrs = fc.dictionary(
  fc.constantFrom("xmlns", "xmlns:stream", "xmlns:s", "xmlns:db", "to", "from", "version", "id", "xml:lang"),
  fc.oneof(fc.constantFrom("jabber:server", "jabber:client", STREAMS, "jabber:server:dialback", "1.0", "1.1", "2.0", "1", "1.", "0.9", "01.0",
    "example.org", "EXAMPLE.ORG.", "localhost", "a@b", "a/b", "", "ü.example", "xn--mnchen-3ya.de", "[::1]"), attrValue(8)),
);

/** Calls f: "ok", or the condition of the StreamError it threw; anything else thrown fails. */
function verdict(f: () => void): string {
  try {
    f();
    return "ok";
  } catch (e) {
    if (e instanceof StreamError) return e.condition;
    throw e;
  }
}

/** The elements a parser reads from a stream header and `body`. */
function parsed(header: string, body: string): { start?: Record<string, string>; stanzas: Element[]; errors: string[] } {
  const out: { start?: Record<string, string>; stanzas: Element[]; errors: string[] } = { stanzas: [], errors: [] };
  new StreamParser({
    streamStart: (_n, attrs) => { out.start = attrs; },
    stanza: (el) => { out.stanzas.push(el); },
    streamEnd: () => {},
    error: (c) => { out.errors.push(c); },
  }, { maxStanzaSize: 65536, maxDepth: 8, maxAttributes: 64, maxNameLength: 256 }).write(header + body);
  return out;
}

describe("stream headers (RFC 6120 §4.7)", () => {
  it("are accepted or refused with the condition §4.9.3 names, client and server alike", () => {
    fc.assert(fc.property(headerName, headerAttrs, (name, attrs) => {
      const server = verdict(() => checkServerHeader(name, attrs));
      expect(["ok", "bad-namespace-prefix", "invalid-namespace", "unsupported-version"]).toContain(server);
      if (server === "ok") expect(attrs.xmlns).toBe("jabber:server");
      const client = verdict(() => checkHeader(name, attrs, (d) => d === "localhost"));
      expect(["ok", "bad-namespace-prefix", "invalid-namespace", "unsupported-version", "host-unknown"]).toContain(client);
      if (client === "ok") expect(attrs.xmlns).toBe("jabber:client");
    }), runs(3000));
  });

  it("take a domain from a peer as a normalised domain or not at all", () => {
    fc.assert(fc.property(fc.oneof(fc.domain(), fc.string({ maxLength: 20 }), fc.constantFrom("a@b", "b/c", "EXAMPLE.ORG.", "ü.example", "[::1]", "1.2.3.4", ".", "..")), (s) => {
      const d = domainOf(s);
      if (d === undefined) return;
      expect(normalizeDomain(d)).toBe(d);
      expect(d.includes("@") || d.includes("/")).toBe(false);
    }), runs(3000));
  });

  it("we write read back with the values given", () => {
    fc.assert(fc.property(fc.domain(), fc.option(fc.domain(), { nil: undefined }), fc.base64String({ maxLength: 24 }), (from, to, id) => {
      const r = parsed(serverHeader({ from, to, id }), "");
      expect(r.errors).toEqual([]);
      expect(r.start).toMatchObject({ from, id, xmlns: "jabber:server", version: "1.0", ...(to === undefined ? {} : { to }) });
    }), runs(500));
  });
});

describe("Server Dialback (XEP-0220, XEP-0185)", () => {
  it("keys are valid for the values they were made for and for no others", () => {
    const text = fc.string({ maxLength: 12 });
    fc.assert(fc.property(text, text, text, text, fc.constantFrom("", " ", "\n"), (secret, receiving, originating, id, pad) => {
      const key = dialbackKey(secret, receiving, originating, id);
      expect(key).toMatch(/^[0-9a-f]{64}$/);
      expect(validKey(secret, receiving, originating, id, pad + key + pad)).toBe(true);
      expect(validKey(secret, receiving, originating, id + "x", key)).toBe(false);
      expect(validKey(secret + "x", receiving, originating, id, key)).toBe(false);
      expect(validKey(secret, receiving, originating, id, key.slice(1))).toBe(false);
    }), runs(1000));
  });

  it("any key text a peer sends is judged, never thrown", () => {
    fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 100 }), (key) => {
      expect(typeof validKey("s", "a.example", "b.example", "id", key)).toBe("boolean");
    }), runs(2000));
  });

  it("elements read back with the attributes and key given, whatever their characters", () => {
    fc.assert(fc.property(fc.constantFrom("result", "verify") as fc.Arbitrary<"result" | "verify">, attrValue(), attrValue(),
      fc.option(attrValue(), { nil: undefined }), fc.option(fc.constantFrom("valid", "invalid", "error"), { nil: undefined }),
      fc.option(xmlText(), { nil: undefined }), (name, from, to, id, type, key) => {
        const r = parsed(serverHeader({ from: "a.example" }), dialbackElement(name, { from, to, id, type }, key));
        expect(r.errors).toEqual([]);
        const el = r.stanzas[0]!;
        expect(el.name).toBe(`db:${name}`);
        expect(el.attrs).toMatchObject({ from, to, ...(id === undefined ? {} : { id }), ...(type === undefined ? {} : { type }) });
        expect(el.getText()).toBe(key ?? "");
      }), runs(2000));
  });
});
