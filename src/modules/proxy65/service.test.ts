// The proxy's XMPP side without sockets: the activation request's parser, the stream hash of
// §6.3.2 against the XEP's example, and who may use the proxy (§4: forbidden for the others) —
// a user of another server cannot reach it over a client connection to this one, so it is
// shown here with the addresses the router would hand the service.
import { describe, expect, it } from "vitest";
import { condition } from "../../../test/helpers/errors.ts";
import { createLogger } from "../../core/log.ts";
import { StanzaError } from "../../core/errors.ts";
import { xml, type Element } from "../../xml/element.ts";
import { parseJid } from "../../xml/jid.ts";
import { BYTESTREAMS, ProxyService, parseActivation, type Access } from "./service.ts";
import { StreamTable, streamHash } from "./streams.ts";

const query = (attrs: Record<string, string>, ...children: Element[]) => xml("query", { xmlns: BYTESTREAMS, ...attrs }, ...children);

describe("parseActivation", () => {
  it("reads the SID and the target's JID, normalised", () => {
    const a = parseActivation(query({ sid: "vxf9n471bn46" }, xml("activate", null, " Target@Example.org/bar ")));
    expect(a.sid).toBe("vxf9n471bn46");
    expect(a.target.toString()).toBe("target@example.org/bar");
  });

  it.each([
    ["no sid", query({}, xml("activate", null, "target@example.org/bar")), "bad-request"],
    ["an empty sid", query({ sid: "" }, xml("activate", null, "target@example.org/bar")), "bad-request"],
    ["no <activate/>", query({ sid: "s" }), "bad-request"],
    ["an empty <activate/>", query({ sid: "s" }, xml("activate")), "jid-malformed"],
    ["not a JID", query({ sid: "s" }, xml("activate", null, "a@b@c")), "jid-malformed"],
  ])("refuses %s", (_what, q, expected) => {
    expect(condition(() => parseActivation(q))).toBe(expected);
  });
});

describe("streamHash", () => {
  it("is SHA-1 of SID + Requester JID + Target JID in hex (§6.3.2), the JIDs normalised", () => {
    // sha1 of "vxf9n471bn46requester@example.com/footarget@example.org/bar" (Python's hashlib).
    const expected = "98b8d688d0f5d895fd41c5e7309a2e9e33ba32ff";
    expect(streamHash("vxf9n471bn46", parseJid("requester@example.com/foo"), parseJid("target@example.org/bar"))).toBe(expected);
    expect(streamHash("vxf9n471bn46", parseJid("Requester@EXAMPLE.com/foo"), parseJid("target@Example.org/bar"))).toBe(expected);
    expect(streamHash("vxf9n471bn46", parseJid("requester@example.com/Foo"), parseJid("target@example.org/bar"))).not.toBe(expected);
  });
});

describe("who may use the proxy", () => {
  const streams = new StreamTable({
    maxPending: 1, maxPendingPerAddress: 1, activationTimeoutMs: 1000, maxStreams: 1, maxStreamsPerAccount: 1,
    maxStreamBytes: 0, idleTimeoutMs: 1000, streamRate: 0, accountRate: 0, processRate: 0,
  }, createLogger("silent"));
  const PROXY = parseJid("proxy.example.com");

  /** What the service answers `from`'s request for its address, or the condition it throws. */
  async function ask(access: Access, from: string, payload = query({})): Promise<Element | string> {
    const sent: Element[] = [];
    const service = new ProxyService({ jid: PROXY, name: "Proxy", host: "203.0.113.10", port: 7777, access, domain: "example.com" }, async (s) => void sent.push(s), streams);
    try {
      await service.receive(xml("iq", { type: "get", id: "q", from, to: PROXY.toString() }, payload), parseJid(from), PROXY);
    } catch (e) {
      return (e as StanzaError).condition;
    }
    return sent[0]!;
  }

  it("gives its address to an account of the server (§4)", async () => {
    const reply = (await ask("local", "requester@example.com/foo")) as Element;
    expect(reply.attrs).toMatchObject({ type: "result", from: "proxy.example.com", to: "requester@example.com/foo" });
    expect(reply.getChild("query", BYTESTREAMS)!.getChild("streamhost")!.attrs).toEqual({ jid: "proxy.example.com", host: "203.0.113.10", port: "7777" });
  });

  it("is forbidden to other servers' users, and to the server's domains themselves, unless access is anyone", async () => {
    expect(await ask("local", "eve@elsewhere.example/x")).toBe("forbidden");
    expect(await ask("local", "example.com")).toBe("forbidden");
    expect(await ask("local", "conference.example.com")).toBe("forbidden");
    expect(await ask("anyone", "eve@elsewhere.example/x")).not.toBeTypeOf("string");
  });

  it("refuses an activation from another server's user before looking for the stream", async () => {
    const sent: Element[] = [];
    const service = new ProxyService({ jid: PROXY, name: "Proxy", host: "h", port: 1, access: "local", domain: "example.com" }, async (s) => void sent.push(s), streams);
    const set = xml("iq", { type: "set", id: "a", to: PROXY.toString() }, query({ sid: "s" }, xml("activate", null, "target@example.com/bar")));
    await expect(service.receive(set, parseJid("eve@elsewhere.example/x"), PROXY)).rejects.toMatchObject({ condition: "forbidden" });
    await expect(service.receive(set, parseJid("requester@example.com/foo"), PROXY)).rejects.toMatchObject({ condition: "item-not-found" });
    expect(sent).toEqual([]);
  });

  it("has the identity proxy/bytestreams and the feature (§4)", async () => {
    const reply = (await ask("local", "eve@elsewhere.example/x", xml("query", { xmlns: "http://jabber.org/protocol/disco#info" }))) as Element;
    const info = reply.getChild("query")!;
    expect(info.getChild("identity")!.attrs).toEqual({ category: "proxy", type: "bytestreams", name: "Proxy" });
    expect(info.getChildren("feature").map((f) => f.attrs.var)).toContain(BYTESTREAMS);
  });
});
