// XEP-0049 Private XML Storage over real sockets with @xmpp/client: Hamlet keeps his bookmarks
// and preferences on the server; only he can read or write them; bad requests get the XEP's errors.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { client } from "@xmpp/client";
import { xml, type Element } from "../../src/xml/element.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

interface Xmpp {
  start(): Promise<unknown>;
  stop(): Promise<unknown>;
  send(el: Element): Promise<void>;
  on(event: string, fn: (el: Element) => void): void;
  removeListener(event: string, fn: (el: Element) => void): void;
  reconnect: { stop(): void };
}
/** test/types/xmpp-client.d.ts covers less than these tests use (element events, reconnect). */
const connect = client as unknown as (o: object) => Xmpp;

async function login(port: number, username: string, resource = "r"): Promise<Xmpp> {
  const x = connect({ service: `xmpp://127.0.0.1:${port}`, domain: "localhost", username, password: "pw", resource });
  x.reconnect.stop();
  x.on("error", () => {});
  await x.start();
  return x;
}

let nextId = 0;
/** Sends an iq and resolves with the reply stanza, result or error. */
function ask(x: Xmpp, iq: Element, timeoutMs = 5000): Promise<Element> {
  const id = (iq.attrs.id ??= `pv${++nextId}`);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no reply to ${iq.toString()}`)), timeoutMs);
    const on = (st: Element) => {
      if (st.name !== "iq" || st.attrs.id !== id || (st.attrs.type !== "result" && st.attrs.type !== "error")) return;
      clearTimeout(timer);
      x.removeListener("stanza", on);
      resolve(st);
    };
    x.on("stanza", on);
    void x.send(iq);
  });
}

const errorOf = (reply: Element) => reply.getChild("error")?.getChildElements()[0]?.name;
const PRIVATE = "jabber:iq:private";
const query = (...children: Element[]) => xml("query", { xmlns: PRIVATE }, ...children);
const getPrivate = (q: Element, to?: string) => xml("iq", { type: "get", to }, q);
const setPrivate = (q: Element, to?: string) => xml("iq", { type: "set", to }, q);
const prefs = (nick?: string) => xml("exodus", { xmlns: "exodus:prefs" }, nick ? xml("defaultnick", null, nick) : undefined);
const bookmarks = (...rooms: string[]) => xml("storage", { xmlns: "storage:bookmarks" },
  rooms.map((jid) => xml("conference", { jid, autojoin: "true" }, xml("nick", null, "Hamlet"))));

let t: TestServer;
let hamlet: Xmpp;
let macbeth: Xmpp;
beforeAll(async () => {
  t = await startServer({
    users: { hamlet: "pw", macbeth: "pw" },
    config: { modules: { private: { maxItemSize: 1024, maxItems: 4 } } },
  });
  hamlet = await login(t.port, "hamlet", "denmark");
  macbeth = await login(t.port, "macbeth");
});
afterAll(async () => {
  await Promise.all([hamlet.stop(), macbeth.stop()]);
  await t.stop();
});

describe("storing and retrieving (XEP-0049 §2)", () => {
  it("nothing stored yet: Hamlet gets back the empty element he asked for", async () => {
    const reply = await ask(hamlet, getPrivate(query(prefs())));
    expect(reply.attrs.type).toBe("result");
    expect(reply.getChild("query", PRIVATE)?.toString()).toBe(query(prefs()).toString());
  });

  it("Hamlet stores his preferences, then reads them from another resource", async () => {
    expect((await ask(hamlet, setPrivate(query(prefs("Hamlet"))))).attrs.type).toBe("result");
    const phone = await login(t.port, "hamlet", "phone");
    const reply = await ask(phone, getPrivate(query(prefs()), "hamlet@localhost"));
    expect(reply.getChild("query", PRIVATE)?.getChild("exodus", "exodus:prefs")?.getChildText("defaultnick")).toBe("Hamlet");
    await phone.stop();
  });

  it("bookmarks and preferences live side by side, each under its own namespace", async () => {
    await ask(hamlet, setPrivate(query(bookmarks("elsinore@conference.localhost", "players@conference.localhost"))));
    const reply = await ask(hamlet, getPrivate(query(bookmarks())));
    const rooms = reply.getChild("query")!.getChild("storage", "storage:bookmarks")!.getChildren("conference").map((c) => c.attrs.jid);
    expect(rooms).toEqual(["elsinore@conference.localhost", "players@conference.localhost"]);
    const p = await ask(hamlet, getPrivate(query(prefs())));
    expect(p.getChild("query")!.getChild("exodus")!.getChildText("defaultnick")).toBe("Hamlet");
  });

  it("a set replaces the whole element, not a part of it", async () => {
    await ask(hamlet, setPrivate(query(bookmarks("elsinore@conference.localhost"))));
    const reply = await ask(hamlet, getPrivate(query(bookmarks())));
    expect(reply.getChild("query")!.getChild("storage")!.getChildren("conference")).toHaveLength(1);
  });
});

describe("errors (XEP-0049 §3)", () => {
  it("Macbeth may not read or write Hamlet's data: forbidden", async () => {
    for (const iq of [getPrivate(query(prefs()), "hamlet@localhost"), setPrivate(query(prefs("Macbeth")), "hamlet@localhost")]) {
      const reply = await ask(macbeth, iq);
      expect(reply.attrs.type).toBe("error");
      expect(errorOf(reply)).toBe("forbidden");
    }
    const mine = await ask(hamlet, getPrivate(query(prefs())));
    expect(mine.getChild("query")!.getChild("exodus")!.getChildText("defaultnick")).toBe("Hamlet");
  });

  it("a query without a child element is not-acceptable", async () => {
    for (const iq of [getPrivate(query()), setPrivate(query())]) expect(errorOf(await ask(hamlet, iq))).toBe("not-acceptable");
  });

  it("reserved namespaces and elements without their own are not-acceptable", async () => {
    for (const el of [xml("vCard", { xmlns: "vcard-temp" }, xml("FN", null, "Hamlet")), xml("x", { xmlns: "jabber:client" }),
      xml("query", { xmlns: PRIVATE }), xml("prefs")]) {
      const reply = await ask(hamlet, setPrivate(query(el)));
      expect(errorOf(reply)).toBe("not-acceptable");
    }
  });

  it("an element over the size limit is not-acceptable", async () => {
    const reply = await ask(hamlet, setPrivate(query(xml("notes", { xmlns: "storage:rosternotes" }, "x".repeat(2000)))));
    expect(errorOf(reply)).toBe("not-acceptable");
  });

  it("past the number of elements an account may keep: not-acceptable, until one is emptied", async () => {
    // Two stored so far (prefs, bookmarks); the limit is four.
    const el = (n: number) => xml("data", { xmlns: `urn:example:${n}` }, "x");
    expect((await ask(hamlet, setPrivate(query(el(1), el(2))))).attrs.type).toBe("result");
    expect(errorOf(await ask(hamlet, setPrivate(query(el(3)))))).toBe("not-acceptable");
    expect((await ask(hamlet, setPrivate(query(xml("data", { xmlns: "urn:example:1" }))))).attrs.type).toBe("result");
    expect((await ask(hamlet, setPrivate(query(el(3))))).attrs.type).toBe("result");
  });

  it("Hamlet's stream is still fine after all that", async () => {
    const reply = await ask(hamlet, getPrivate(query(prefs())));
    expect(reply.attrs.type).toBe("result");
  });
});
