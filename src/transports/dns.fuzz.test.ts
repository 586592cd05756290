// Property tests of the pure parts of server-to-server resolution: static routes ("host:port",
// "host:port tls") are read or refused, never thrown, with a port in range; and RFC 2782's order
// of SRV records is a permutation in ascending priority, whatever the weights and the random
// numbers, and ends.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { runs } from "../../test/fuzz/runs.ts";
import { orderSrv, parseS2SRoute } from "./dns.ts";

describe("static routes", () => {
  const routeish = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.tuple(fc.oneof(fc.domain(), fc.ipV4(), fc.ipV6().map((a) => `[${a}]`), fc.constantFrom("[::1", "a b", "ü.example", "", "[]", "xn--")),
      fc.oneof(fc.integer({ min: -1, max: 70000 }).map(String), fc.constantFrom("", "05269", "5269x", "1e3")),
      fc.constantFrom("", " tls", "  tls ", " TLS", " tlsx", "\ttls")).map(([h, p, t]) => `${h}:${p}${t}`),
  );

  it("are read with a port in 1..65535 and a host, or refused", () => {
    fc.assert(fc.property(routeish, (s) => {
      const r = parseS2SRoute(s);
      if (r === undefined) return;
      expect(r.port >= 1 && r.port <= 65535).toBe(true);
      expect(r.host).not.toBe("");
      expect(r.directTls).toBe(/\stls\s*$/.test(s));
    }), runs(3000));
  });
});

describe("SRV order (RFC 2782)", () => {
  it("is a permutation in ascending priority, whatever the weights and the random numbers", () => {
    const records = fc.array(fc.record({ priority: fc.integer({ min: 0, max: 3 }), weight: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 65535 })), id: fc.nat() }), { maxLength: 20 });
    const randoms = fc.array(fc.oneof(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.constantFrom(0, 0.9999999999999999)), { minLength: 1, maxLength: 30 });
    fc.assert(fc.property(records, randoms, (rs, numbers) => {
      let i = 0;
      const ordered = orderSrv(rs, () => numbers[i++ % numbers.length]!);
      expect([...ordered].sort((a, b) => a.id - b.id || a.priority - b.priority || a.weight - b.weight))
        .toEqual([...rs].sort((a, b) => a.id - b.id || a.priority - b.priority || a.weight - b.weight));
      for (let k = 1; k < ordered.length; k++) expect(ordered[k]!.priority).toBeGreaterThanOrEqual(ordered[k - 1]!.priority);
    }), runs(2000));
  });
});
