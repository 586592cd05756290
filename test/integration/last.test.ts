// XEP-0012 Last Activity over real sockets, with @xmpp/client: Romeo, subscribed to Juliet's
// presence, asks when she was last seen (0 while she is online; the time and her parting status
// after she leaves); Benvolio, not subscribed, is refused; and the server reports its uptime.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-ignore -- @xmpp/client ships no type declarations
import * as xmppClient from "@xmpp/client";
import { xml, type Element } from "../../src/xml/element.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

interface Xmpp {
  start(): Promise<unknown>;
  stop(): Promise<unknown>;
  send(el: Element): Promise<void>;
  on(event: string, fn: (el: Element) => void): void;
  reconnect: { stop(): void };
}
const connect = (xmppClient as unknown as { client(o: object): Xmpp }).client;
let ids = 0;

/** A logged-in client that keeps what it receives, for a test to take in order. */
class Im {
  readonly inbox: Element[] = [];
  readonly jid: string;
  private readonly x: Xmpp;
  private wake: (() => void) | undefined;
  private constructor(x: Xmpp, jid: string) {
    this.x = x;
    this.jid = jid;
    x.on("stanza", (el) => {
      this.inbox.push(el);
      this.wake?.();
    });
  }
  static async login(port: number, user: string, resource: string): Promise<Im> {
    const x = connect({ service: `xmpp://127.0.0.1:${port}`, domain: "localhost", username: user, password: "pw", resource });
    x.reconnect.stop();
    x.on("error", () => {});
    await x.start();
    return new Im(x, `${user}@localhost/${resource}`);
  }
  send(el: Element): void {
    void this.x.send(el);
  }
  /** The first stanza received (or to come) that matches; it is taken out of the inbox. */
  async next(match: (el: Element) => boolean, what = "a stanza", ms = 3000): Promise<Element> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.inbox.findIndex(match);
      if (i >= 0) return this.inbox.splice(i, 1)[0]!;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.jid}: no ${what}; got ${this.inbox.map(String).join("\n")}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
  }
  /** Asserts that nothing matching arrives for a while (the server works in order, so little is enough). */
  async nothing(match: (el: Element) => boolean, ms = 250): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
    expect(this.inbox.filter(match).map(String)).toEqual([]);
  }
  async iq(el: Element): Promise<Element> {
    const id = (el.attrs.id = `q${++ids}`);
    this.send(el);
    return this.next((s) => s.name === "iq" && s.attrs.id === id && (s.attrs.type === "result" || s.attrs.type === "error"), `reply ${id}`);
  }
  stop(): Promise<unknown> {
    return this.x.stop();
  }
}

// What the clients send and receive.
const presence = (attrs: Record<string, string> = {}, ...children: Element[]) => xml("presence", attrs, ...children);
const errorOf = (el: Element) => el.getChild("error")?.getChildElements()[0]?.name;

const LAST = "jabber:iq:last";
const lastOf = (to: string) => xml("iq", { type: "get", to }, xml("query", { xmlns: LAST }));

let t: TestServer;
let romeo: Im;
let benvolio: Im;
beforeAll(async () => {
  t = await startServer({ users: { romeo: "pw", juliet: "pw", benvolio: "pw", tybalt: "pw" } });
  // Given: Juliet's presence goes to Romeo (her roster says "from").
  await t.server.storage.map("roster").set("juliet@localhost", "romeo@localhost", { jid: "romeo@localhost", groups: [], subscription: "from" });
  await t.server.storage.map("roster").set("romeo@localhost", "juliet@localhost", { jid: "juliet@localhost", groups: [], subscription: "to" });
  romeo = await Im.login(t.port, "romeo", "orchard");
  benvolio = await Im.login(t.port, "benvolio", "street");
});
afterAll(async () => {
  await Promise.all([romeo.stop(), benvolio.stop()]);
  await t.stop();
});

describe("last activity of an account (XEP-0012 §4)", () => {
  it("while Juliet is online, Romeo is told 0 seconds", async () => {
    const juliet = await Im.login(t.port, "juliet", "balcony");
    juliet.send(presence());
    await juliet.next((el) => el.name === "presence" && el.attrs.from === juliet.jid, "her own presence");
    const reply = await romeo.iq(lastOf("juliet@localhost"));
    expect(reply.attrs.type).toBe("result");
    expect(reply.attrs.from).toBe("juliet@localhost");
    expect(reply.getChild("query", LAST)?.attrs.seconds).toBe("0");

    // She leaves with a word; Romeo learns how long ago, and the word.
    juliet.send(presence({ type: "unavailable" }, xml("status", null, "Heading home")));
    await juliet.stop();
    const after = (await romeo.iq(lastOf("juliet@localhost"))).getChild("query", LAST)!;
    expect(Number(after.attrs.seconds)).toBeLessThan(5);
    expect(after.getText()).toBe("Heading home");
  });

  it("a clean logout without a status is recorded too, and Juliet may ask about herself", async () => {
    const juliet = await Im.login(t.port, "juliet", "phone");
    juliet.send(presence());
    await juliet.next((el) => el.name === "presence" && el.attrs.from === juliet.jid, "her own presence");
    await juliet.stop();
    // The server records the logout as the session closes; the answer follows it shortly.
    let q = (await romeo.iq(lastOf("juliet@localhost"))).getChild("query", LAST)!;
    for (let i = 0; i < 20 && q.getText() !== ""; i++) {
      await new Promise((r) => setTimeout(r, 25));
      q = (await romeo.iq(lastOf("juliet@localhost"))).getChild("query", LAST)!;
    }
    expect(q.attrs.seconds).toBe("0");
    expect(q.getText()).toBe("");
    const again = await Im.login(t.port, "juliet", "desk"); // connected, not available
    const own = await again.iq(lastOf("juliet@localhost"));
    expect(own.attrs.type).toBe("result");
    expect(own.getChild("query", LAST)?.attrs.seconds).toBe("0");
    await again.stop();
  });

  it("Benvolio, who has no subscription, is refused (forbidden)", async () => {
    const reply = await benvolio.iq(lastOf("juliet@localhost"));
    expect(reply.attrs.type).toBe("error");
    expect(errorOf(reply)).toBe("forbidden");
  });

  it("an account with nothing recorded answers item-not-found to itself", async () => {
    const tybalt = await Im.login(t.port, "tybalt", "street");
    expect(errorOf(await tybalt.iq(lastOf("tybalt@localhost")))).toBe("item-not-found");
    await tybalt.stop();
  });
});

describe("server uptime (XEP-0012 §5)", () => {
  it("the server answers with its uptime and lists the feature", async () => {
    const reply = await romeo.iq(lastOf("localhost"));
    expect(reply.attrs.type).toBe("result");
    expect(Number(reply.getChild("query", LAST)?.attrs.seconds)).toBeGreaterThanOrEqual(0);
    const info = await romeo.iq(xml("iq", { type: "get", to: "localhost" }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" })));
    expect(info.getChild("query")?.getChildren("feature").map((f) => f.attrs.var)).toContain(LAST);
  });
});
