// Property tests of the DER reader (X.690) behind a peer certificate's names (RFC 5280 §4.1,
// §4.2.1.6; RFC 6120 §13.7.1.4): any bytes, and any mutation of a real certificate, give
// elements that lie inside their parent and the buffer, or none; never an exception, and the walk
// ends (each element moves past the one before it).
import { X509Certificate } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runs } from "../../test/fuzz/runs.ts";
import { mutate, mutation } from "../../test/fuzz/xml.ts";
import { TestPki } from "../../test/helpers/pki.ts";
import { children, element, hex, type Element } from "./der.ts";
import { certificateNames, matchesDomain } from "./peer-certificate.ts";

let pki: TestPki;
let real: Buffer;
beforeAll(() => {
  pki = new TestPki();
  const issued = pki.issue({ cn: "Example Server", san: ["DNS:a.example.org", "DNS:*.example.org",
    "otherName:1.3.6.1.5.5.7.8.7;IA5:_xmpp-server.example.org", "otherName:1.3.6.1.5.5.7.8.5;UTF8:bücher.example"] });
  real = Buffer.from(new X509Certificate(issued.cert).raw);
});
afterAll(() => pki.remove());

/** Walks every element under `e`, checking each lies within its parent; how many there were. */
function walk(der: Buffer, e: Element | undefined, depth = 0): number {
  if (e === undefined || depth > 64) return 0;
  expect(0 <= e.start && e.start <= e.end && e.end <= der.length).toBe(true);
  let n = 1;
  let last = e.start;
  for (const c of children(der, e)) {
    expect(c.start >= last && c.end <= e.end).toBe(true);
    last = c.end;
    hex(der, c);
    n += walk(der, c, depth + 1);
  }
  return n;
}

/** A certificate as peer-certificate.ts reads it: only its DER. */
const asCertificate = (raw: Buffer) => ({ raw }) as X509Certificate;

/** DER-like bytes: tag, length (short or long form, sometimes lying), contents, nested. */
const tlv: fc.Arbitrary<Buffer> = fc.letrec<{ node: Buffer }>((tie) => ({
  node: fc.tuple(fc.constantFrom(0x30, 0x31, 0x06, 0x04, 0x0c, 0x16, 0x1e, 0x82, 0xa0, 0xa3, 0x1f, 0xff, 0x00),
    fc.oneof({ maxDepth: 6, depthIdentifier: "der" }, fc.uint8Array({ maxLength: 12 }).map((a) => Buffer.from(a)), fc.array(tie("node"), { maxLength: 4 }).map((a) => Buffer.concat(a))),
    fc.constantFrom("short", "long1", "long2", "long4", "long5", "indefinite", "lie"))
    .map(([tag, body, form]) => {
      const n = body.length;
      const len = form === "short" && n < 128 ? [n] : form === "long1" ? [0x81, n & 0xff] : form === "long2" ? [0x82, n >> 8, n & 0xff]
        : form === "long4" ? [0x84, 0, 0, n >> 8, n & 0xff] : form === "long5" ? [0x85, 0, 0, 0, 0, n] : form === "indefinite" ? [0x80]
        : [0x84, 0xff, 0xff, 0xff, 0xff];
      return Buffer.concat([Buffer.from([tag, ...len]), body]);
    }),
})).node;

describe("the DER reader", () => {
  it("reads any bytes into elements within their parents, or none, and ends", () => {
    fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)), tlv), fc.nat(300), (der, offset) => {
      walk(der, element(der, 0));
      walk(der, element(der, offset));
      const names = certificateNames(asCertificate(der));
      expect(names).toEqual({ dns: [], srv: [], xmppAddr: [], cn: [] });
    }), runs(3000));
  });

  it("reads a real certificate's names", () => {
    expect(certificateNames(asCertificate(real))).toEqual({
      dns: ["a.example.org", "*.example.org"], srv: ["_xmpp-server.example.org"], xmppAddr: ["bücher.example"], cn: ["Example Server"],
    });
  });

  it("reads any mutation of a real certificate without an exception, and matches names as before or not at all", () => {
    fc.assert(fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.constantFrom("a.example.org", "b.example.org", "example.org", "bücher.example", "*.example.org"),
      (m, domain) => {
        const der = mutate(real, m);
        walk(der, element(der, 0));
        const names = certificateNames(asCertificate(der));
        for (const list of Object.values(names)) for (const s of list) expect(typeof s).toBe("string");
        matchesDomain(asCertificate(der), domain);
      }), runs(3000));
  });
});
