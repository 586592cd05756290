import { describe, expect, it } from "vitest";
import { StreamManagement, parseH } from "./sm.ts";

describe("stream management counters", () => {
  it("acknowledges in order and refuses an h beyond what was sent", () => {
    const sm = new StreamManagement(true, undefined);
    for (const s of ["a", "b", "c"]) sm.push(s);
    expect(sm.sent).toBe(3);
    expect(sm.ack(1)).toBe(true);
    expect(sm.pending()).toEqual(["b", "c"]);
    expect(sm.ack(4)).toBe(false);
    expect(sm.pending()).toEqual(["b", "c"]);
    expect(sm.ack(3)).toBe(true);
    expect(sm.unacked).toBe(0);
    expect(sm.ack(3)).toBe(true);
  });

  it("wraps h at 2^32", () => {
    const sm = new StreamManagement(false, undefined);
    // Bring the count to 2^32 - 2 as a long-lived stream would.
    (sm as unknown as { acked: number }).acked = 2 ** 32 - 2;
    for (const s of ["x", "y", "z", "w"]) sm.push(s);
    expect(sm.sent).toBe(2);
    expect(sm.ack(2 ** 32 - 1)).toBe(true);
    expect(sm.pending()).toEqual(["y", "z", "w"]);
    expect(sm.ack(1)).toBe(true);
    expect(sm.pending()).toEqual(["w"]);
    for (let i = 0; i < 3; i++) sm.countHandled();
    sm.handled = 2 ** 32 - 1;
    sm.countHandled();
    expect(sm.handled).toBe(0);
  });

  it("knows the size of what is unacknowledged, as stanzas are sent, acknowledged, drained or restored", () => {
    const sm = new StreamManagement(true, undefined);
    for (const s of ["aaaa", "bb", "c"]) sm.push(s);
    expect(sm.size).toBe(7);
    sm.ack(1);
    expect(sm.size).toBe(3);
    expect(sm.ack(9)).toBe(false);
    expect(sm.size).toBe(3);
    const moved = StreamManagement.restore({ jid: "a@b/c", token: "t", clientMax: undefined, handled: 0, acked: 1, pending: sm.pending(),
      keys: {}, presence: null, priority: 0, interested: false });
    expect(moved.size).toBe(3);
    sm.drain();
    expect(sm.size).toBe(0);
  });

  it("keeps a long queue compact", () => {
    const sm = new StreamManagement(false, undefined);
    for (let i = 0; i < 5000; i++) sm.push(String(i));
    expect(sm.ack(4000)).toBe(true);
    expect(sm.pending()).toHaveLength(1000);
    expect(sm.pending()[0]).toBe("4000");
    expect(sm.drain()).toHaveLength(1000);
    expect(sm.unacked).toBe(0);
  });

  it("reads h strictly", () => {
    expect(parseH("0")).toBe(0);
    expect(parseH("4294967295")).toBe(4294967295);
    expect(parseH("4294967296")).toBeUndefined();
    expect(parseH("-1")).toBeUndefined();
    expect(parseH("1e3")).toBeUndefined();
    expect(parseH(undefined)).toBeUndefined();
  });

  it("makes a fresh token only for resumable sessions", () => {
    expect(new StreamManagement(false, undefined).token).toBeUndefined();
    const a = new StreamManagement(true, undefined).token;
    expect(a).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(new StreamManagement(true, undefined).token).not.toBe(a);
  });
});
