import { describe, expect, it } from "vitest";
import { versionIsCurrent } from "./iq.ts";

describe("versionIsCurrent (RFC 6121 §2.6.3)", () => {
  it.each<[string | undefined, number, boolean]>([
    ["7", 7, true],
    ["6", 7, false],
    ["8", 7, false],
    ["", 0, false], // an empty ver asks for the whole roster
    [undefined, 0, false], // no ver: the client does not version
    ["007", 7, false],
    ["garbage", 7, false],
  ])("ver=%s at version %d: %s", (ver, current, expected) => {
    expect(versionIsCurrent(ver, current)).toBe(expected);
  });
});
