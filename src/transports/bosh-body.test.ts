import { describe, expect, it } from "vitest";
import { HTTPBIND, parseBody, parseRid, responseBody, terminateBody, xbosh, type RequestBody } from "./bosh-body.ts";

const LIMITS = { maxStanzaSize: 4096, maxDepth: 4, maxAttributes: 64, maxNameLength: 256 };
const read = (text: string) => parseBody(Buffer.from(text), LIMITS);

describe("parseBody (XEP-0124 §6)", () => {
  it("reads the wrapper's attributes and each payload standing alone, prefixes the wrapper bound declared on it", () => {
    const body = read(`<?xml version='1.0'?><body xmlns='${HTTPBIND}' rid='42' sid='s' xmlns:stream='http://etherx.jabber.org/streams'>` +
      `<iq xmlns='jabber:client' type='get' id='a'/> <stream:x/><message><body>1 &lt; 2</body></message></body>`) as RequestBody;
    expect(body.rid).toBe(42);
    expect(body.attrs.sid).toBe("s");
    expect(body.payloads).toEqual([
      `<iq xmlns="jabber:client" type="get" id="a"/>`,
      `<stream:x xmlns:stream="http://etherx.jabber.org/streams"/>`,
      // In the wrapper's namespace it goes to the stream as the stream's own (XEP-0206 §2 note).
      `<message><body>1 &lt; 2</body></message>`,
    ]);
  });

  it("finds XEP-0206's attributes under whatever prefix the client bound to urn:xmpp:xbosh", () => {
    const body = read(`<body xmlns='${HTTPBIND}' rid='1' xmlns:x='urn:xmpp:xbosh' x:restart='true' xmpp:restart='false' xmlns:xmpp='urn:example'/>`) as RequestBody;
    expect(xbosh(body, "restart")).toBe("true");
    expect(xbosh(read(`<body xmlns='${HTTPBIND}' rid='1'/>`) as RequestBody, "restart")).toBeUndefined();
  });

  it("refuses what is not a whole body in the httpbind namespace, restricted XML and payloads beyond the limits", () => {
    expect(read("")).toBe("not a whole <body/>");
    expect(read(`<body xmlns='${HTTPBIND}' rid='1'><iq>`)).toBe("not a whole <body/>");
    expect(read(`<body xmlns='urn:example' rid='1'/>`)).toMatch(/root must be/);
    expect(read(`<wrapper xmlns='${HTTPBIND}' rid='1'/>`)).toMatch(/root must be/);
    expect(read(`<body xmlns='${HTTPBIND}'><!-- comment --></body>`)).toMatch(/^restricted-xml/);
    expect(read(`<body xmlns='${HTTPBIND}'><a><b><c><d><e/></d></c></b></a></body>`)).toMatch(/^policy-violation/);
  });

  it("takes request ids up to 2^53 - 1 written as digits", () => {
    expect(parseRid("9007199254740991")).toBe(Number.MAX_SAFE_INTEGER);
    for (const bad of ["9007199254740992", "-1", "1e3", " 1", "", undefined]) expect(parseRid(bad), bad).toBeUndefined();
  });
});

describe("our <body/>", () => {
  it("is empty, or wraps what is given; a terminate names its condition", () => {
    expect(responseBody("", "")).toBe(`<body xmlns='${HTTPBIND}'/>`);
    expect(responseBody(" a='1'", "<x/>")).toBe(`<body xmlns='${HTTPBIND}' a='1'><x/></body>`);
    expect(terminateBody()).toBe(`<body xmlns='${HTTPBIND}' type='terminate'/>`);
    expect(terminateBody("item-not-found")).toBe(`<body xmlns='${HTTPBIND}' type='terminate' condition='item-not-found'/>`);
  });
});
