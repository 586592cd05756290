// The server as a service over a real socket, with @xmpp/client: service discovery (XEP-0030),
// entity capabilities in the stream features (XEP-0115, the hash recomputed here independently),
// ping (XEP-0199), software version (XEP-0092), entity time (XEP-0202), and the errors for
// unknown nodes, unknown accounts and unknown namespaces.
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { connect, errorOf, type Im } from "../helpers/im.ts";

const iq = (type: "get" | "set", to: string | undefined, payload: Element) => xml("iq", { type, to }, payload);

// ---- XEP-0115 §5.1, written again here so the test does not trust the server's code -------------

function verificationString(info: Element): string {
  const ids = info.getChildren("identity").map((i) =>
    `${i.attrs.category}/${i.attrs.type}/${i.attrs["xml:lang"] ?? ""}/${i.attrs.name ?? ""}`);
  const features = info.getChildren("feature").map((f) => f.attrs.var!);
  const forms = info.getChildren("x", "jabber:x:data").map((form) => {
    const fields = form.getChildren("field");
    const type = fields.find((f) => f.attrs.var === "FORM_TYPE")!.getChildText("value")!;
    const rest = fields.filter((f) => f.attrs.var !== "FORM_TYPE")
      .map((f) => [f.attrs.var!, ...f.getChildren("value").map((v) => v.getText()).sort()].join("<"))
      .sort();
    return { type, text: [type, ...rest].join("<") + "<" };
  }).sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
  return [...ids.sort(), ...features.sort()].map((s) => s + "<").join("") + forms.map((f) => f.text).join("");
}

const sha1 = (s: string) => createHash("sha1").update(s, "utf8").digest("base64");

// ---- the transcript ---------------------------------------------------------------------------

let t: TestServer;
let juliet: Im;
beforeAll(async () => {
  t = await startServer({ users: { juliet: "balcony", romeo: "orchard" } });
  juliet = await connect(t, "juliet", "test", { password: "balcony" });
});
afterAll(async () => {
  await juliet.stop();
  await t.stop();
});

describe("service discovery of the server (XEP-0030)", () => {
  it("Juliet asks the server what it is: an IM server with ping, version, time and disco", async () => {
    const reply = await juliet.ask(iq("get", "localhost", xml("query", { xmlns: "http://jabber.org/protocol/disco#info" })));
    expect(reply.attrs).toMatchObject({ type: "result", from: "localhost", to: "juliet@localhost/test" });
    const info = reply.getChild("query", "http://jabber.org/protocol/disco#info")!;
    expect(info.getChildren("identity").map((i) => `${i.attrs.category}/${i.attrs.type}`)).toContain("server/im");
    const features = info.getChildren("feature").map((f) => f.attrs.var);
    for (const ns of ["urn:xmpp:ping", "jabber:iq:version", "urn:xmpp:time", "http://jabber.org/protocol/disco#info",
      "http://jabber.org/protocol/disco#items", "vcard-temp", "jabber:iq:private", "jabber:iq:register"]) {
      expect(features).toContain(ns);
    }
    expect(new Set(features).size).toBe(features.length);
  });

  it("the server's items: an answer, possibly empty", async () => {
    const reply = await juliet.ask(iq("get", "localhost", xml("query", { xmlns: "http://jabber.org/protocol/disco#items" })));
    expect(reply.attrs.type).toBe("result");
    expect(reply.getChild("query", "http://jabber.org/protocol/disco#items")).toBeDefined();
  });

  it("an unknown node is item-not-found, for info and for items", async () => {
    for (const ns of ["http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/disco#items"]) {
      const reply = await juliet.ask(iq("get", "localhost", xml("query", { xmlns: ns, node: "no-such-node" })));
      expect(reply.attrs.type).toBe("error");
      expect(errorOf(reply)).toBe("item-not-found");
    }
  });
});

describe("entity capabilities in the stream features (XEP-0115 §6.3)", () => {
  it("the <c/> after authentication carries the SHA-1 of the disco#info Juliet receives", async () => {
    const c = juliet.features.flatMap((f) => f.getChildren("c", "http://jabber.org/protocol/caps"))[0];
    expect(c?.attrs).toMatchObject({ hash: "sha-1" });
    const reply = await juliet.ask(iq("get", "localhost", xml("query", { xmlns: "http://jabber.org/protocol/disco#info" })));
    const info = reply.getChild("query")!;
    expect(c!.attrs.ver).toBe(sha1(verificationString(info)));
  });

  it("the node#ver of the caps answers with the same features", async () => {
    const c = juliet.features.flatMap((f) => f.getChildren("c", "http://jabber.org/protocol/caps"))[0]!;
    const node = `${c.attrs.node}#${c.attrs.ver}`;
    const reply = await juliet.ask(iq("get", "localhost", xml("query", { xmlns: "http://jabber.org/protocol/disco#info", node })));
    expect(reply.attrs.type).toBe("result");
    const info = reply.getChild("query")!;
    expect(info.attrs.node).toBe(node);
    expect(sha1(verificationString(info))).toBe(c.attrs.ver);
  });
});

describe("ping, version and time of the server", () => {
  it("a ping to the server is an empty result (XEP-0199 §4.2)", async () => {
    const reply = await juliet.ask(iq("get", "localhost", xml("ping", { xmlns: "urn:xmpp:ping" })));
    expect(reply.attrs.type).toBe("result");
    expect(reply.getChildElements()).toEqual([]);
  });

  it("the server tells its software name and version (XEP-0092)", async () => {
    const reply = await juliet.ask(iq("get", "localhost", xml("query", { xmlns: "jabber:iq:version" })));
    const q = reply.getChild("query", "jabber:iq:version")!;
    expect(q.getChildText("name")).toBeTruthy();
    expect(q.getChildText("version")).toBeTruthy();
  });

  it("the server tells its time in UTC (XEP-0202)", async () => {
    const reply = await juliet.ask(iq("get", "localhost", xml("time", { xmlns: "urn:xmpp:time" })));
    const time = reply.getChild("time", "urn:xmpp:time")!;
    expect(time.getChildText("tzo")).toMatch(/^[+-]\d\d:\d\d$|^Z$/);
    const utc = Date.parse(time.getChildText("utc")!);
    expect(Math.abs(utc - Date.now())).toBeLessThan(60_000);
  });

  it("an iq in a namespace the server does not know is service-unavailable", async () => {
    const reply = await juliet.ask(iq("get", "localhost", xml("query", { xmlns: "urn:example:nothing-here" })));
    expect(reply.attrs.type).toBe("error");
    expect(errorOf(reply)).toBe("service-unavailable");
    expect(reply.getChild("query", "urn:example:nothing-here")).toBeDefined();
  });
});

describe("service discovery of accounts", () => {
  it("Juliet asks about Romeo's bare JID: a registered account, answered by the server", async () => {
    const reply = await juliet.ask(iq("get", "romeo@localhost", xml("query", { xmlns: "http://jabber.org/protocol/disco#info" })));
    expect(reply.attrs).toMatchObject({ type: "result", from: "romeo@localhost" });
    const info = reply.getChild("query")!;
    expect(info.getChildren("identity").map((i) => `${i.attrs.category}/${i.attrs.type}`)).toContain("account/registered");
    expect(info.getChildren("feature").map((f) => f.attrs.var)).toContain("vcard-temp");
  });

  it("and about an account that does not exist: service-unavailable", async () => {
    const reply = await juliet.ask(iq("get", "nobody@localhost", xml("query", { xmlns: "http://jabber.org/protocol/disco#info" })));
    expect(reply.attrs.type).toBe("error");
    expect(errorOf(reply)).toBe("service-unavailable");
  });
});
