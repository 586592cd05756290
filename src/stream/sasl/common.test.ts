import { describe, expect, it } from "vitest";
import { authzidAllowed, decodeBase64, decodeText } from "./common.ts";
import { decodeSaslPayload, encodeSaslPayload } from "./payload.ts";

describe("decodeBase64", () => {
  it("accepts canonical base64 only", () => {
    expect(decodeBase64("biws")?.toString()).toBe("n,,");
    expect(decodeBase64("")).toEqual(Buffer.alloc(0));
    for (const bad of ["biw", "bi ws", "b!ws", "QR==", "====", "biws\n"]) expect(decodeBase64(bad)).toBeUndefined();
  });
});

describe("decodeText", () => {
  it("refuses invalid UTF-8 and oversized data", () => {
    expect(decodeText(Buffer.from("ok"), 2)).toBe("ok");
    expect(decodeText(Buffer.from("ok!"), 2)).toBeUndefined();
    expect(decodeText(Buffer.from([0xc3, 0x28]), 10)).toBeUndefined();
  });
});

describe("authzidAllowed", () => {
  it("allows empty or the user's own bare JID", () => {
    expect(authzidAllowed("", "juliet", undefined)).toBe(true);
    expect(authzidAllowed("juliet@example.com", "juliet", "example.com")).toBe(true);
    expect(authzidAllowed("JULIET@Example.COM.", "Juliet", "example.com")).toBe(true);
    expect(authzidAllowed("romeo@example.com", "juliet", "example.com")).toBe(false);
    expect(authzidAllowed("juliet@example.org", "juliet", "example.com")).toBe(false);
    expect(authzidAllowed("juliet@example.com/res", "juliet", "example.com")).toBe(false);
    expect(authzidAllowed("example.com", "juliet", "example.com")).toBe(false);
    expect(authzidAllowed("juliet@example.com", "juliet", undefined)).toBe(false);
  });
});

describe("SASL element payloads", () => {
  it("tell absent, empty, data and invalid apart", () => {
    expect(decodeSaslPayload("")).toBe("absent");
    expect(decodeSaslPayload("=")).toEqual(Buffer.alloc(0));
    expect(decodeSaslPayload("biws")).toEqual(Buffer.from("n,,"));
    expect(decodeSaslPayload("bi ws")).toBe("invalid");
    expect(encodeSaslPayload(null)).toBe("");
    expect(encodeSaslPayload(Buffer.alloc(0))).toBe("=");
    expect(encodeSaslPayload(Buffer.from("n,,"))).toBe("biws");
  });
});
