// Property tests of the stream parser (RFC 6120 §11 restricted XML over XML 1.0 and Namespaces in
// XML 1.0): a stream cut into chunks anywhere, bytes or text, gives the elements the whole of it
// gives; whatever the input, the parser reports through error() alone, at most once, with one of
// its RFC 6120 conditions, and nothing after that; and its limits (depth, size, attributes, name
// length, what it holds while it waits) hold whatever arrives.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  HOSTILE_TOKENS, OPEN, chunked, cuts, depthOf, elementTree, mutate, mutation, ncName, stanza, walk, xmlText,
} from "../../test/fuzz/xml.ts";
import { runs, timeout } from "../../test/fuzz/runs.ts";
import { type Element, xml } from "./element.ts";
import { type ParserErrorCondition, type ParserLimits, StreamParser } from "./parser.ts";

const LIMITS: ParserLimits = { maxStanzaSize: 65536, maxDepth: 32, maxAttributes: 64, maxNameLength: 256 };
const CONDITIONS: readonly ParserErrorCondition[] = ["not-well-formed", "restricted-xml", "policy-violation", "unsupported-encoding"];

interface Run {
  parser: StreamParser;
  events: string[];
  stanzas: Element[];
  errors: [ParserErrorCondition, string][];
  /** An event reported after the error. */
  afterError: boolean;
}

function recorder(limits: ParserLimits = LIMITS, onStanza?: (r: Run, el: Element) => void): Run {
  const r: Run = { parser: undefined as unknown as StreamParser, events: [], stanzas: [], errors: [], afterError: false };
  const seen = () => {
    if (r.errors.length > 0) r.afterError = true;
  };
  r.parser = new StreamParser({
    streamStart(name, attrs) {
      seen();
      r.events.push(`start ${name} ${JSON.stringify(attrs)}`);
    },
    stanza(el) {
      seen();
      r.stanzas.push(el);
      r.events.push(`stanza ${el.toString()}`);
      onStanza?.(r, el);
    },
    streamEnd() {
      seen();
      r.events.push("end");
    },
    error(condition, text) {
      seen();
      r.errors.push([condition, text]);
      r.events.push(`error ${condition}`);
    },
  }, limits);
  return r;
}

function feed(chunks: readonly (Buffer | string)[], limits?: ParserLimits): Run {
  const r = recorder(limits);
  for (const c of chunks) r.parser.write(c);
  return r;
}

/** The parser's own state, to check what it holds. */
function held(p: StreamParser): number {
  const s = (p as unknown as { state: { buf: string; pos: number; partsLen: number; text: string } }).state;
  return s.buf.length - s.pos + s.partsLen;
}

/** A whole stream of these stanzas, with whitespace keepalives between them (RFC 6120 §4.6.1). */
const stream = fc.tuple(fc.array(stanza(), { minLength: 1, maxLength: 5 }), fc.array(fc.constantFrom("", " ", "\n", "\r\n\t"), { minLength: 6, maxLength: 6 }))
  .map(([els, gaps]) => ({ els, text: OPEN() + els.map((e, i) => gaps[i] + e.toString()).join("") + gaps[5] + "</stream:stream>" }));

describe("StreamParser: well-formed streams", () => {
  it("gives back the elements it was given, serialised alike", () => {
    fc.assert(fc.property(stream, ({ els, text }) => {
      const r = feed([text]);
      expect(r.errors).toEqual([]);
      expect(r.stanzas.map(String)).toEqual(els.map(String));
      expect(r.events.at(-1)).toBe("end");
      for (const s of r.stanzas) expect(s.parent).toBeNull();
    }), runs(300));
  });

  it("gives the same events however the bytes are cut, UTF-8 characters included", () => {
    fc.assert(fc.property(stream.chain(({ els, text }) => {
      const bytes = Buffer.from(text, "utf8");
      return fc.tuple(fc.constant(els), fc.constant(bytes), cuts(bytes.length));
    }), ([els, bytes, at]) => {
      const whole = feed([bytes]);
      const cut = feed(chunked(bytes, at));
      expect(cut.events).toEqual(whole.events);
      expect(cut.stanzas.map(String)).toEqual(els.map(String));
    }), runs(300));
  });

  it("gives the same events however the text is cut, surrogate pairs included", () => {
    fc.assert(fc.property(stream.chain(({ text }) => fc.tuple(fc.constant(text), cuts(text.length))), ([text, at]) => {
      expect(feed(chunked(text, at)).events).toEqual(feed([text]).events);
    }), runs(300));
  });

  it("reads a stream fed one byte at a time", () => {
    fc.assert(fc.property(stream, ({ text }) => {
      const bytes = Buffer.from(text, "utf8");
      const r = recorder();
      for (let i = 0; i < bytes.length; i++) r.parser.write(bytes.subarray(i, i + 1));
      expect(r.events).toEqual(feed([text]).events);
    }), runs(50));
  });

  it("reads nothing of a chunk after a handler restarts the stream (RFC 6120 §4.3.3)", () => {
    fc.assert(fc.property(stream, fc.nat(), ({ els, text }, k) => {
      const at = k % els.length;
      const r = recorder(LIMITS, (run, el) => {
        if (run.stanzas.length === at + 1) {
          run.events.push("reset");
          run.parser.reset();
        }
        void el;
      });
      r.parser.write(text);
      expect(r.stanzas.map(String)).toEqual(els.slice(0, at + 1).map(String));
      expect(r.events.at(-1)).toBe("reset");
      // The next stream is read afresh.
      r.parser.write(OPEN() + "<presence/>");
      expect(r.errors).toEqual([]);
      expect(r.stanzas.at(-1)?.toString()).toBe("<presence/>");
    }), runs(200));
  });
});

/** Inputs a peer may send: noise, noise after a header, and well-formed streams mutated. */
const hostile = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.concat([Buffer.from(OPEN()), Buffer.from(a)])),
  fc.array(fc.constantFrom(...HOSTILE_TOKENS), { maxLength: 40 }).map((t) => Buffer.concat([Buffer.from(OPEN()), ...t])),
  fc.tuple(stream, fc.array(mutation, { minLength: 1, maxLength: 6 })).map(([s, m]) => mutate(Buffer.from(s.text, "utf8"), m)),
  fc.string({ unit: "binary", maxLength: 200 }).map((s) => OPEN() + "<message><body>" + s),
);

/** Small limits, so that random input meets them. */
const smallLimits = fc.record({
  maxStanzaSize: fc.integer({ min: 64, max: 4096 }),
  maxDepth: fc.integer({ min: 1, max: 8 }),
  maxAttributes: fc.integer({ min: 1, max: 8 }),
  maxNameLength: fc.integer({ min: 1, max: 32 }),
});

describe("StreamParser: any input", () => {
  it("never throws; reports at most one error, with an RFC 6120 condition, and nothing after it", () => {
    fc.assert(fc.property(hostile.chain((b) => fc.tuple(fc.constant(b), cuts(b.length))), ([bytes, at]) => {
      const r = recorder();
      for (const c of chunked(bytes, at)) r.parser.write(c);
      expect(r.errors.length).toBeLessThanOrEqual(1);
      for (const [c] of r.errors) expect(CONDITIONS).toContain(c);
      expect(r.afterError).toBe(false);
    }), runs(3000));
  }, timeout(60_000));

  it("keeps its limits on every element it reports, and holds no more than a stanza's worth while it waits", () => {
    fc.assert(fc.property(hostile.chain((b) => fc.tuple(fc.constant(b), cuts(b.length), smallLimits)), ([bytes, at, limits]) => {
      const r = recorder(limits);
      let chunk = 0;
      for (const c of chunked(bytes, at)) {
        r.parser.write(c);
        chunk = Math.max(chunk, c.length);
        if (r.errors.length === 0) expect(held(r.parser)).toBeLessThanOrEqual(limits.maxStanzaSize + chunk);
      }
      for (const s of r.stanzas) {
        expect(depthOf(s)).toBeLessThanOrEqual(limits.maxDepth);
        let chars = 0;
        for (const e of walk(s)) {
          expect(Object.keys(e.attrs).length).toBeLessThanOrEqual(limits.maxAttributes + 2); // + prefixes declared for it
          expect(e.name.length).toBeLessThanOrEqual(limits.maxNameLength);
          for (const [k, v] of Object.entries(e.attrs)) {
            if (!k.startsWith("xmlns:")) expect(k.length).toBeLessThanOrEqual(limits.maxNameLength);
            chars += k.length + v.length;
          }
          for (const c of e.children) if (typeof c === "string") chars += c.length;
          chars += e.name.length;
        }
        // References and line ends only shrink what was read: what a stanza holds came from at most maxStanzaSize.
        expect(chars).toBeLessThanOrEqual(limits.maxStanzaSize);
      }
    }), runs(2000));
  }, timeout(60_000));
});

describe("StreamParser: limits, exactly", () => {
  /** One stanza, its serialisation, and a parse of it under `limits` (the header under the default ones). */
  const one = (el: Element, limits: Partial<ParserLimits>) => {
    const r = recorder();
    r.parser.write(OPEN());
    r.parser.setLimits({ ...LIMITS, ...limits });
    r.parser.write(el.toString());
    return r.errors[0]?.[0] ?? (r.stanzas.length === 1 ? "ok" : "incomplete");
  };

  it("takes a stanza of exactly maxStanzaSize characters and refuses one more (policy-violation)", () => {
    fc.assert(fc.property(stanza(), (el) => {
      const n = el.toString().length;
      expect(one(el, { maxStanzaSize: n })).toBe("ok");
      expect(one(el, { maxStanzaSize: n - 1 })).toBe("policy-violation");
    }), runs(300));
  });

  it("takes nesting of exactly maxDepth and refuses one more", () => {
    fc.assert(fc.property(stanza({ depth: 6 }), (el) => {
      const d = depthOf(el);
      expect(one(el, { maxDepth: d })).toBe("ok");
      if (d > 1) expect(one(el, { maxDepth: d - 1 })).toBe("policy-violation");
    }), runs(300));
  });

  it("takes exactly maxAttributes attributes and refuses one more", () => {
    fc.assert(fc.property(fc.uniqueArray(ncName(6), { minLength: 1, maxLength: 20 }), (names) => {
      const attrs = Object.fromEntries(names.filter((n) => !n.startsWith("xml")).map((n) => [n, "v"]));
      const count = Object.keys(attrs).length;
      const el = xml("message", null, xml("x", attrs));
      expect(one(el, { maxAttributes: Math.max(count, 1) })).toBe("ok");
      if (count > 0) expect(one(el, { maxAttributes: count - 1 })).toBe("policy-violation");
    }), runs(300));
  });

  it("takes names of exactly maxNameLength and refuses one more, in elements and attributes", () => {
    fc.assert(fc.property(ncName(64), fc.boolean(), (name, asAttribute) => {
      fc.pre(!name.startsWith("xml"));
      const el = asAttribute ? xml("message", { [name]: "v" }) : xml("message", null, xml(name));
      expect(one(el, { maxNameLength: Math.max(name.length, 7) })).toBe("ok");
      if (name.length > 7) expect(one(el, { maxNameLength: name.length - 1 })).toBe("policy-violation");
    }), runs(300));
  });

  it("refuses an unclosed deep nest once it passes maxDepth, whatever its chunks", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 64 }), (depth, chunk) => {
      const text = OPEN() + "<message>" + "<a>".repeat(depth);
      const r = feed(chunked(text, Array.from({ length: Math.floor(text.length / chunk) }, (_, i) => (i + 1) * chunk)), { ...LIMITS, maxDepth: 8 });
      expect(r.errors.map((e) => e[0])).toEqual(depth + 1 > 8 ? ["policy-violation"] : []);
    }), runs(200));
  });

  it("refuses a long text or attribute value once the stanza passes maxStanzaSize, without waiting for its end", () => {
    fc.assert(fc.property(xmlText(20), fc.integer({ min: 1, max: 64 }), fc.boolean(), (piece, times, inAttr) => {
      fc.pre(piece.length > 0);
      const start = inAttr ? "<message id='" : "<message><body>";
      const filler = (inAttr ? piece.replace(/['<&\n\t]/g, "x") : piece.replace(/[<&>]/g, "x")).repeat(times * 16);
      const r = feed([OPEN(), start, filler], { ...LIMITS, maxStanzaSize: 256 });
      expect(r.errors.map((e) => e[0])).toEqual(start.length + filler.length > 256 ? ["policy-violation"] : []);
    }), runs(300));
  });
});

describe("StreamParser: what RFC 6120 §11 names", () => {
  const inStanza = (s: string) => feed([OPEN(), `<message><body>${s}</body></message>`]).errors[0]?.[0];

  it("closes on any comment, processing instruction or DTD with restricted-xml, wherever it is", () => {
    fc.assert(fc.property(fc.constantFrom("<!-- c -->", "<?pi x?>", "<!DOCTYPE d>", "<!ENTITY e 'x'>", "<!ELEMENT e ANY>"),
      fc.constantFrom("prolog", "between", "inside"), (markup, where) => {
        const text = where === "prolog" ? markup + OPEN() : where === "between" ? OPEN() + markup : OPEN() + `<message>${markup}</message>`;
        expect(feed([text]).errors.map((e) => e[0])).toEqual(["restricted-xml"]);
      }), runs(100));
  });

  it("refuses characters XML does not allow (§2.2), as text or as references", () => {
    fc.assert(fc.property(fc.oneof(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0xb, max: 0xc }), fc.integer({ min: 0xe, max: 0x1f }),
      fc.constantFrom(0xfffe, 0xffff, 0xd800, 0xdfff)), fc.boolean(), (cp, asReference) => {
      const s = asReference ? `&#x${cp.toString(16)};` : String.fromCharCode(cp);
      expect(inStanza(s)).toBe("not-well-formed");
    }), runs(100));
  });

  it("refuses bytes that are not UTF-8 with unsupported-encoding (§4.9.3.22), however they are cut", () => {
    const bad = fc.constantFrom(...[[0xff], [0xfe], [0xc0, 0x80], [0xc1, 0xbf], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf], [0xf4, 0x90, 0x80, 0x80],
      [0xf5, 0x80, 0x80, 0x80], [0xe2, 0x82, 0x41], [0x80], [0xf0, 0x9f, 0x98, 0x41]].map((b) => Buffer.from(b)));
    fc.assert(fc.property(xmlText(), bad, xmlText(), fc.constantFrom("text", "attribute", "name"), (before, b, after, where) => {
      const [open, close] = where === "text" ? ["<message><body>", "</body></message>"] : where === "attribute" ? ["<message id='", "'/>"] : ["<message><x", "/></message>"];
      const clean = (s: string) => (where === "text" ? s.replace(/[<&>]/g, "") : s.replace(/[^a-z]/g, ""));
      const bytes = Buffer.concat([Buffer.from(OPEN() + open + clean(before)), b, Buffer.from(clean(after) + close)]);
      const whole = feed([bytes]);
      expect(whole.errors.map((e) => e[0])).toEqual(["unsupported-encoding"]);
      for (let cut = 1; cut < bytes.length; cut += 7) {
        expect(feed([bytes.subarray(0, cut), bytes.subarray(cut)]).errors.map((e) => e[0])).toEqual(["unsupported-encoding"]);
      }
    }), runs(300));
  });

  it("refuses an encoding other than UTF-8 in the declaration with unsupported-encoding", () => {
    fc.assert(fc.property(fc.constantFrom("ISO-8859-1", "UTF-16", "us-ascii", "Shift_JIS", "UTF-7"), (enc) => {
      expect(feed([`<?xml version='1.0' encoding='${enc}'?>` + OPEN()]).errors.map((e) => e[0])).toEqual(["unsupported-encoding"]);
    }), runs(20));
  });
});
