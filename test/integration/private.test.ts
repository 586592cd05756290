// XEP-0049 Private XML Storage over real sockets with @xmpp/client: Hamlet keeps his bookmarks
// and preferences on the server; only he can read or write them; bad requests get the XEP's errors.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { connect, errorOf, type Im } from "../helpers/im.ts";

const PRIVATE = "jabber:iq:private";
const query = (...children: Element[]) => xml("query", { xmlns: PRIVATE }, ...children);
const getPrivate = (q: Element, to?: string) => xml("iq", { type: "get", to }, q);
const setPrivate = (q: Element, to?: string) => xml("iq", { type: "set", to }, q);
const prefs = (nick?: string) => xml("exodus", { xmlns: "exodus:prefs" }, nick ? xml("defaultnick", null, nick) : undefined);
const bookmarks = (...rooms: string[]) => xml("storage", { xmlns: "storage:bookmarks" },
  rooms.map((jid) => xml("conference", { jid, autojoin: "true" }, xml("nick", null, "Hamlet"))));

let t: TestServer;
let hamlet: Im;
let macbeth: Im;
beforeAll(async () => {
  t = await startServer({
    users: { hamlet: "pw", macbeth: "pw" },
    config: { modules: { private: { maxItemSize: 1024, maxItems: 4 } } },
  });
  hamlet = await connect(t, "hamlet", "denmark");
  macbeth = await connect(t, "macbeth");
});
afterAll(async () => {
  await Promise.all([hamlet.stop(), macbeth.stop()]);
  await t.stop();
});

describe("storing and retrieving (XEP-0049 §2)", () => {
  it("nothing stored yet: Hamlet gets back the empty element he asked for", async () => {
    const reply = await hamlet.ask(getPrivate(query(prefs())));
    expect(reply.attrs.type).toBe("result");
    expect(reply.getChild("query", PRIVATE)?.toString()).toBe(query(prefs()).toString());
  });

  it("Hamlet stores his preferences, then reads them from another resource", async () => {
    expect((await hamlet.ask(setPrivate(query(prefs("Hamlet"))))).attrs.type).toBe("result");
    const phone = await connect(t, "hamlet", "phone");
    const reply = await phone.ask(getPrivate(query(prefs()), "hamlet@localhost"));
    expect(reply.getChild("query", PRIVATE)?.getChild("exodus", "exodus:prefs")?.getChildText("defaultnick")).toBe("Hamlet");
    await phone.stop();
  });

  it("bookmarks and preferences live side by side, each under its own namespace", async () => {
    await hamlet.ask(setPrivate(query(bookmarks("elsinore@conference.localhost", "players@conference.localhost"))));
    const reply = await hamlet.ask(getPrivate(query(bookmarks())));
    const rooms = reply.getChild("query")!.getChild("storage", "storage:bookmarks")!.getChildren("conference").map((c) => c.attrs.jid);
    expect(rooms).toEqual(["elsinore@conference.localhost", "players@conference.localhost"]);
    const p = await hamlet.ask(getPrivate(query(prefs())));
    expect(p.getChild("query")!.getChild("exodus")!.getChildText("defaultnick")).toBe("Hamlet");
  });

  it("a set replaces the whole element, not a part of it", async () => {
    await hamlet.ask(setPrivate(query(bookmarks("elsinore@conference.localhost"))));
    const reply = await hamlet.ask(getPrivate(query(bookmarks())));
    expect(reply.getChild("query")!.getChild("storage")!.getChildren("conference")).toHaveLength(1);
  });
});

describe("errors (XEP-0049 §3)", () => {
  it("Macbeth may not read or write Hamlet's data: forbidden", async () => {
    for (const iq of [getPrivate(query(prefs()), "hamlet@localhost"), setPrivate(query(prefs("Macbeth")), "hamlet@localhost")]) {
      const reply = await macbeth.ask(iq);
      expect(reply.attrs.type).toBe("error");
      expect(errorOf(reply)).toBe("forbidden");
    }
    const mine = await hamlet.ask(getPrivate(query(prefs())));
    expect(mine.getChild("query")!.getChild("exodus")!.getChildText("defaultnick")).toBe("Hamlet");
  });

  it("a query without a child element is not-acceptable", async () => {
    for (const iq of [getPrivate(query()), setPrivate(query())]) expect(errorOf(await hamlet.ask(iq))).toBe("not-acceptable");
  });

  it("reserved namespaces and elements without their own are not-acceptable", async () => {
    for (const el of [xml("vCard", { xmlns: "vcard-temp" }, xml("FN", null, "Hamlet")), xml("x", { xmlns: "jabber:client" }),
      xml("query", { xmlns: PRIVATE }), xml("prefs")]) {
      const reply = await hamlet.ask(setPrivate(query(el)));
      expect(errorOf(reply)).toBe("not-acceptable");
    }
  });

  it("an element over the size limit is not-acceptable", async () => {
    const reply = await hamlet.ask(setPrivate(query(xml("notes", { xmlns: "storage:rosternotes" }, "x".repeat(2000)))));
    expect(errorOf(reply)).toBe("not-acceptable");
  });

  it("past the number of elements an account may keep: not-acceptable, until one is emptied", async () => {
    // Two stored so far (prefs, bookmarks); the limit is four.
    const el = (n: number) => xml("data", { xmlns: `urn:example:${n}` }, "x");
    expect((await hamlet.ask(setPrivate(query(el(1), el(2))))).attrs.type).toBe("result");
    expect(errorOf(await hamlet.ask(setPrivate(query(el(3)))))).toBe("not-acceptable");
    expect((await hamlet.ask(setPrivate(query(xml("data", { xmlns: "urn:example:1" }))))).attrs.type).toBe("result");
    expect((await hamlet.ask(setPrivate(query(el(3))))).attrs.type).toBe("result");
  });

  it("Hamlet's stream is still fine after all that", async () => {
    const reply = await hamlet.ask(getPrivate(query(prefs())));
    expect(reply.attrs.type).toBe("result");
  });
});
