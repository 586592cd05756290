import { describe, expect, it } from "vitest";
import { Buckets, kindSlot, kindSlotOfText, SAMPLE_EVERY, Telemetry } from "./telemetry.ts";

describe("telemetry", () => {
  it("a stanza's slot by element name and by its serialised text agree", () => {
    for (const [name, slot] of [["message", 0], ["presence", 1], ["iq", 2], ["stream:features", 3]] as const) {
      expect(kindSlot(name)).toBe(slot);
      expect(kindSlotOfText(`<${name} to='a@b'/>`)).toBe(slot);
    }
  });

  it("buckets count each observation once, in the first bound it does not exceed, and +Inf above them all", () => {
    const b = new Buckets([0.001, 0.01, 0.1]);
    for (const v of [0.0005, 0.001, 0.005, 0.05, 0.5, 3]) b.observe(v);
    expect([...b.counts]).toEqual([2, 1, 1, 2]);
    expect(b.count).toBe(6);
    expect(b.sum).toBeCloseTo(3.5565);
  });

  it("times one message in SAMPLE_EVERY, and none unless timing is on", () => {
    const t = new Telemetry();
    for (let i = 0; i < 4 * SAMPLE_EVERY; i++) expect(t.sampleStart()).toBe(0);
    t.timing = true;
    const readings = Array.from({ length: 4 * SAMPLE_EVERY }, () => t.sampleStart());
    expect(readings.filter((r) => r !== 0).length).toBe(4);
    for (const r of readings.filter((x) => x !== 0)) t.delivered(r);
    expect(t.delivery.count).toBe(4);
  });

  it("logins by mechanism: one counter pair per mechanism, made once", () => {
    const t = new Telemetry();
    t.authOf("PLAIN").success++;
    t.authOf("PLAIN").failure++;
    t.authOf("SCRAM-SHA-256").success++;
    expect(t.authOf("PLAIN")).toBe(t.authOf("PLAIN"));
    expect(Object.fromEntries(t.authCounts())).toEqual({ PLAIN: { success: 1, failure: 1 }, "SCRAM-SHA-256": { success: 1, failure: 0 } });
  });
});
