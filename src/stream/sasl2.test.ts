// The parts of SASL2 (XEP-0388) and Bind 2 (XEP-0386) that are pure functions: reading an
// <authenticate/> with its inline requests, the payload encoding, the resource a Bind 2 request
// gets and the inline features advertised. The exchanges themselves run over sockets in
// test/integration/sasl2.test.ts.
import { describe, expect, it } from "vitest";
import { parse } from "ltx";
import type { Element } from "../xml/element.ts";
import { parseJid, type JID } from "../xml/jid.ts";
import type { Session } from "../core/session.ts";
import { MAX_RESOURCES } from "./bind.ts";
import { bind2Feature, bind2Jid, enableInline } from "./bind2.ts";
import { decodeSasl2Payload, parseAuthenticate } from "./sasl2.ts";

const el = (text: string) => parse(text) as Element;
const AUTH = "urn:xmpp:sasl:2";

describe("parseAuthenticate", () => {
  it("reads the XEPs' example: mechanism, initial response, user-agent, bind, resume, fast, request-token", () => {
    const r = parseAuthenticate(el(`<authenticate xmlns='${AUTH}' mechanism='HT-SHA-256-ENDP'>
      <initial-response>
        SSBzaG91bGQgbWFrZSB0aGlzIGEgY29tcGV0aXRpb24=
      </initial-response>
      <user-agent id='d4565fa7-4d72-4749-b3d3-740edbf87770'><software>AwesomeXMPP</software><device>Kiva's Phone</device></user-agent>
      <bind xmlns='urn:xmpp:bind:0'><tag>AwesomeXMPP</tag></bind>
      <resume xmlns='urn:xmpp:sm:3' previd='some-long-sm-id' h='3'/>
      <fast xmlns='urn:xmpp:fast:0' count='123' invalidate='true'/>
      <request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-ENDP'/>
    </authenticate>`));
    expect(typeof r).toBe("object");
    if (typeof r === "string") return;
    expect(r.mechanism).toBe("HT-SHA-256-ENDP");
    expect(r.initial).toEqual(Buffer.from("I should make this a competition"));
    expect(r.userAgent).toBe("d4565fa7-4d72-4749-b3d3-740edbf87770");
    expect(r.bind?.getChildText("tag")).toBe("AwesomeXMPP");
    expect(r.resume?.attrs.previd).toBe("some-long-sm-id");
    expect(r.fast).toEqual({ count: 123, invalidate: true });
    expect(r.requestToken).toBe("HT-SHA-256-ENDP");
  });

  it("no <initial-response/> is none; an empty one is empty data; bad base64 is invalid", () => {
    const of = (inner: string) => parseAuthenticate(el(`<authenticate xmlns='${AUTH}' mechanism='PLAIN'>${inner}</authenticate>`));
    expect(of("")).toMatchObject({ initial: null, userAgent: undefined, bind: undefined, fast: undefined });
    expect(of("<initial-response/>")).toMatchObject({ initial: Buffer.alloc(0) });
    expect(of("<initial-response>a!b=</initial-response>")).toMatchObject({ initial: "invalid" });
  });

  it("refuses a missing mechanism and a FAST count that is no positive integer; ignores an absurd user-agent id", () => {
    expect(parseAuthenticate(el(`<authenticate xmlns='${AUTH}'/>`))).toBeTypeOf("string");
    for (const count of ["-1", "x", "2147483648", ""]) {
      expect(parseAuthenticate(el(`<authenticate xmlns='${AUTH}' mechanism='M'><fast xmlns='urn:xmpp:fast:0' count='${count}'/></authenticate>`))).toBeTypeOf("string");
    }
    expect(parseAuthenticate(el(`<authenticate xmlns='${AUTH}' mechanism='M'><user-agent id='${"a".repeat(129)}'/></authenticate>`)))
      .toMatchObject({ userAgent: undefined });
  });

  it("base64 with whitespace inside (as in the XEP's examples) decodes", () => {
    expect(decodeSasl2Payload("\n  SGVs\n  bG8=\n")).toEqual(Buffer.from("Hello"));
  });
});

/** A directory of `n` sessions of juliet (resources r0..), for the resource limit. */
function sessions(n: number) {
  return {
    of: () => Array.from({ length: n }, () => ({})),
    hasResource: (_: JID, resource: string) => /^r\d+$/.test(resource) && Number(resource.slice(1)) < n,
  } as never;
}
const juliet = parseJid("juliet@localhost");
const bindEl = (tag?: string) => el(`<bind xmlns='urn:xmpp:bind:0'>${tag === undefined ? "" : `<tag>${tag}</tag>`}</bind>`);

describe("the Bind 2 resource", () => {
  it("is '[tag]/[12 characters]', the same for the same account, installation and tag, another for another installation", () => {
    const ctx = { sessions: sessions(0) };
    const a = bind2Jid(ctx, juliet, bindEl("AwesomeXMPP"), "ua-1")!;
    expect(a.resource).toMatch(/^AwesomeXMPP\/[A-Za-z0-9_-]{12}$/);
    expect(bind2Jid(ctx, juliet, bindEl("AwesomeXMPP"), "ua-1")!.resource).toBe(a.resource);
    expect(bind2Jid(ctx, juliet, bindEl("AwesomeXMPP"), "ua-2")!.resource).not.toBe(a.resource);
    expect(bind2Jid(ctx, parseJid("romeo@localhost"), bindEl("AwesomeXMPP"), "ua-1")!.resource.split("/")[1]).not.toBe(a.resource.split("/")[1]);
    // The user-agent id is not in it.
    expect(a.resource).not.toContain("ua-1");
  });

  it("without a user-agent id is random; a tag that cannot be in a resource is left out", () => {
    const ctx = { sessions: sessions(0) };
    expect(bind2Jid(ctx, juliet, bindEl(), undefined)!.resource).not.toBe(bind2Jid(ctx, juliet, bindEl(), undefined)!.resource);
    expect(bind2Jid(ctx, juliet, bindEl("\u0007bell"), "ua")!.resource).toMatch(/^[A-Za-z0-9_-]{12}$/);
    expect(bind2Jid(ctx, juliet, bindEl("x".repeat(200)), "ua")!.resource).toMatch(/^x{64}\//);
  });

  it("is refused past the account's resources, unless it replaces one", () => {
    expect(bind2Jid({ sessions: sessions(MAX_RESOURCES) }, juliet, bindEl("t"), "ua")).toBeUndefined();
    expect(bind2Jid({ sessions: sessions(MAX_RESOURCES - 1) }, juliet, bindEl("t"), "ua")).toBeDefined();
  });
});

describe("Bind 2's inline features", () => {
  it("are advertised: XEP-0198's and the modules'", () => {
    const inlineBind = new Map([["urn:xmpp:carbons:2", () => {}], ["urn:xmpp:csi:0", () => {}]]);
    expect(bind2Feature({ inlineBind }).toString()).toBe('<bind xmlns="urn:xmpp:bind:0"><inline><feature var="urn:xmpp:sm:3"/>' +
      '<feature var="urn:xmpp:carbons:2"/><feature var="urn:xmpp:csi:0"/></inline></bind>');
  });

  it("run for the elements a request names, prefixed or not; a failing one is logged and the others run", () => {
    const ran: string[] = [];
    const errors: unknown[] = [];
    const inlineBind = new Map<string, (s: Session, e: Element) => void>([
      ["urn:xmpp:carbons:2", (_s, e) => void ran.push(`carbons ${e.getName()}`)],
      ["urn:x:broken", () => { throw new Error("broken"); }],
      ["urn:xmpp:csi:0", (_s, e) => void ran.push(`csi ${e.getName()}`)],
    ]);
    const session = { log: { error: (o: unknown) => void errors.push(o) } } as unknown as Session;
    enableInline({ inlineBind }, session, el(`<bind xmlns='urn:xmpp:bind:0'><tag>t</tag><c:enable xmlns:c='urn:xmpp:carbons:2'/>` +
      `<x xmlns='urn:x:broken'/><enable xmlns='urn:xmpp:sm:3'/><inactive xmlns='urn:xmpp:csi:0'/><other xmlns='urn:x:unknown'/></bind>`));
    expect(ran).toEqual(["carbons enable", "csi inactive"]);
    expect(errors).toHaveLength(1);
  });
});
