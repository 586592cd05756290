import { describe, expect, it } from "vitest";
import { escapeSaslname, parseClientFinal, parseClientFirst, unescapeSaslname } from "./scram-message.ts";

describe("parseClientFirst", () => {
  it("reads the GS2 header and the bare message", () => {
    expect(parseClientFirst("p=tls-exporter,a=juliet@example.com,n=juliet,r=abc,x=1")).toEqual({
      gs2Header: "p=tls-exporter,a=juliet@example.com,", cbFlag: "p", cbName: "tls-exporter",
      authzid: "juliet@example.com", bare: "n=juliet,r=abc,x=1", username: "juliet", nonce: "abc",
    });
    expect(parseClientFirst("y,,n=a=3Db,r=x")).toMatchObject({ cbFlag: "y", cbName: undefined, authzid: undefined, username: "a=b" });
  });

  it.each(["", "n", "n,", "p=,,n=u,r=x", "p=a b,,n=u,r=x", "n,a=,n=u,r=x", "n,,r=x,n=u", "n,,n=u,r="])(
    "refuses %j", (message) => {
      expect(parseClientFirst(message)).toMatchObject({ error: "malformed-request" });
    });
});

describe("parseClientFinal", () => {
  it("splits off the proof", () => {
    expect(parseClientFinal("c=biws,r=abc,x=1,p=AAAA")).toEqual({
      withoutProof: "c=biws,r=abc,x=1", channelBinding: Buffer.from("n,,"), nonce: "abc", proof: Buffer.from([0, 0, 0]),
    });
  });

  it.each(["c=biws,r=abc", "c=biws,p=AAAA", "c=biws,r=abc,p=", "c=,r=abc,p=AAAA", "c=biws,r=abc,,p=AAAA", "c=biws,r=abc,p=AA=A"])(
    "refuses %j", (message) => {
      expect(parseClientFinal(message)).toMatchObject({ error: "malformed-request" });
    });
});

describe("saslname", () => {
  it("escapes and unescapes , and =", () => {
    expect(escapeSaslname("a,b=c")).toBe("a=2Cb=3Dc");
    expect(unescapeSaslname("a=2Cb=3Dc")).toBe("a,b=c");
    expect(unescapeSaslname("a=2cb")).toBeUndefined();
    expect(unescapeSaslname("")).toBeUndefined();
  });
});
