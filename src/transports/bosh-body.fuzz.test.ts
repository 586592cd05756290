// Property tests of BOSH's request bodies (XEP-0124 §6, XEP-0206): whatever bytes a client posts,
// parseBody returns the wrapper or why it is a bad request, never throws; each payload it gives
// stands alone (it parses again on its own, as the stream's parser will read it); a wrapper of
// well-formed stanzas gives them back; request ids are integers up to 2^53 - 1 or nothing.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { runs } from "../../test/fuzz/runs.ts";
import { HOSTILE_TOKENS, mutate, mutation, stanza } from "../../test/fuzz/xml.ts";
import { parseStored } from "../xml/stored.ts";
import { HTTPBIND, intAttr, parseBody, parseRid, xbosh } from "./bosh-body.ts";

const LIMITS = { maxStanzaSize: 4096, maxDepth: 8, maxAttributes: 64, maxNameLength: 256 };
const wrapper = (inner: string, attrs = " rid='7' sid='s'") =>
  `<body xmlns='${HTTPBIND}'${attrs} xmlns:xmpp='urn:xmpp:xbosh' xmpp:restart='true' xmlns:stream='http://etherx.jabber.org/streams'>${inner}</body>`;

const posted = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  fc.tuple(fc.array(stanza({ depth: 3 }), { maxLength: 4 }), fc.array(mutation, { minLength: 1, maxLength: 5 }))
    .map(([els, m]) => mutate(Buffer.from(wrapper(els.join(""))), m)),
  fc.array(fc.constantFrom(...HOSTILE_TOKENS), { maxLength: 20 }).map((t) => Buffer.concat([Buffer.from(wrapper("").slice(0, -7)), ...t])),
);

describe("BOSH request bodies (XEP-0124 §6)", () => {
  it("are read or refused with a reason, never thrown; every payload stands alone", () => {
    fc.assert(fc.property(posted, (bytes) => {
      const r = parseBody(bytes, LIMITS);
      if (typeof r === "string") return;
      for (const p of r.payloads) expect(parseStored(p), p).toBeDefined();
      if (r.rid !== undefined) expect(Number.isSafeInteger(r.rid) && r.rid >= 0).toBe(true);
      for (const name of ["wait", "hold", "pause"]) {
        const v = intAttr(r, name);
        expect(v === undefined || Number.isNaN(v) || (Number.isInteger(v) && v >= 0)).toBe(true);
      }
      xbosh(r, "restart");
    }), runs(3000));
  });

  it("give back the stanzas a well-formed wrapper carries", () => {
    fc.assert(fc.property(fc.array(stanza({ depth: 3 }), { maxLength: 5 }), (els) => {
      const r = parseBody(Buffer.from(wrapper(els.map(String).join(" "))), { ...LIMITS, maxStanzaSize: 1 << 20 });
      expect(typeof r).toBe("object");
      if (typeof r === "string") return;
      expect(r.payloads).toEqual(els.map(String));
      expect(r.rid).toBe(7);
      expect(xbosh(r, "restart")).toBe("true");
    }), runs(500));
  });

  it("take request ids of digits up to 2^53 - 1, and nothing else", () => {
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 20 }), fc.bigInt({ min: -10n, max: 2n ** 60n }).map(String)), (s) => {
      const rid = parseRid(s);
      if (rid === undefined) return;
      expect(/^[0-9]+$/.test(s)).toBe(true);
      expect(BigInt(s)).toBe(BigInt(rid));
      expect(rid <= Number.MAX_SAFE_INTEGER).toBe(true);
    }), runs(2000));
  });
});
