// XEP-0012 Last Activity over real sockets, with @xmpp/client: Romeo, subscribed to Juliet's
// presence, asks when she was last seen (0 while she is online; the time and her parting status
// after she leaves); Benvolio, not subscribed, is refused; and the server reports its uptime.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml } from "../../src/xml/element.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { connect, errorOf, given, type Im, presence } from "../helpers/im.ts";

const LAST = "jabber:iq:last";
const lastOf = (to: string) => xml("iq", { type: "get", to }, xml("query", { xmlns: LAST }));

let t: TestServer;
const login = (user: string, resource: string) => connect(t, user, resource, { timeoutMs: 3000 });
let romeo: Im;
let benvolio: Im;
beforeAll(async () => {
  t = await startServer({ users: { romeo: "pw", juliet: "pw", benvolio: "pw", tybalt: "pw" } });
  // Given: Juliet's presence goes to Romeo (her roster says "from").
  await given(t, "juliet", "romeo", "from");
  await given(t, "romeo", "juliet", "to");
  romeo = await login("romeo", "orchard");
  benvolio = await login("benvolio", "street");
});
afterAll(async () => {
  await Promise.all([romeo.stop(), benvolio.stop()]);
  await t.stop();
});

describe("last activity of an account (XEP-0012 §4)", () => {
  it("while Juliet is online, Romeo is told 0 seconds", async () => {
    const juliet = await login("juliet", "balcony");
    juliet.send(presence());
    await juliet.next((el) => el.name === "presence" && el.attrs.from === juliet.jid, "her own presence");
    const reply = await romeo.ask(lastOf("juliet@localhost"));
    expect(reply.attrs.type).toBe("result");
    expect(reply.attrs.from).toBe("juliet@localhost");
    expect(reply.getChild("query", LAST)?.attrs.seconds).toBe("0");

    // She leaves with a word; Romeo learns how long ago, and the word.
    juliet.send(presence({ type: "unavailable" }, xml("status", null, "Heading home")));
    await juliet.stop();
    const after = (await romeo.ask(lastOf("juliet@localhost"))).getChild("query", LAST)!;
    expect(Number(after.attrs.seconds)).toBeLessThan(5);
    expect(after.getText()).toBe("Heading home");
  });

  it("a clean logout without a status is recorded too, and Juliet may ask about herself", async () => {
    const juliet = await login("juliet", "phone");
    juliet.send(presence());
    await juliet.next((el) => el.name === "presence" && el.attrs.from === juliet.jid, "her own presence");
    await juliet.stop();
    // The server records the logout as the session closes; the answer follows it shortly.
    let q = (await romeo.ask(lastOf("juliet@localhost"))).getChild("query", LAST)!;
    for (let i = 0; i < 20 && q.getText() !== ""; i++) {
      await new Promise((r) => setTimeout(r, 25));
      q = (await romeo.ask(lastOf("juliet@localhost"))).getChild("query", LAST)!;
    }
    expect(q.attrs.seconds).toBe("0");
    expect(q.getText()).toBe("");
    const again = await login("juliet", "desk"); // connected, not available
    const own = await again.ask(lastOf("juliet@localhost"));
    expect(own.attrs.type).toBe("result");
    expect(own.getChild("query", LAST)?.attrs.seconds).toBe("0");
    await again.stop();
  });

  it("Benvolio, who has no subscription, is refused (forbidden)", async () => {
    const reply = await benvolio.ask(lastOf("juliet@localhost"));
    expect(reply.attrs.type).toBe("error");
    expect(errorOf(reply)).toBe("forbidden");
  });

  it("an account with nothing recorded answers item-not-found to itself, and a session that never went available records nothing", async () => {
    const tybalt = await login("tybalt", "street");
    expect(errorOf(await tybalt.ask(lastOf("tybalt@localhost")))).toBe("item-not-found");
    await tybalt.stop();
    // Its end was not a logout anyone saw: there is still nothing to tell.
    await new Promise((r) => setTimeout(r, 100));
    const again = await login("tybalt", "alley");
    expect(errorOf(await again.ask(lastOf("tybalt@localhost")))).toBe("item-not-found");
    await again.stop();
  });
});

describe("server uptime (XEP-0012 §5)", () => {
  it("the server answers with its uptime and lists the feature", async () => {
    const reply = await romeo.ask(lastOf("localhost"));
    expect(reply.attrs.type).toBe("result");
    expect(Number(reply.getChild("query", LAST)?.attrs.seconds)).toBeGreaterThanOrEqual(0);
    const info = await romeo.ask(xml("iq", { type: "get", to: "localhost" }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" })));
    expect(info.getChild("query")?.getChildren("feature").map((f) => f.attrs.var)).toContain(LAST);
  });
});
