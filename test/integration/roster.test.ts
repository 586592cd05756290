// RFC 6121 §2 and XEP-0237 over real sockets, with @xmpp/client: roster get, set and remove with
// pushes to every interested resource, the errors of a bad roster set, roster versioning, the
// subscriptions a removal ends, the roster limit, and a roster that outlives a server restart.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { RawClient } from "../helpers/raw.ts";
import { accounts, connect, errorOf, given, type Im, isPush, pushedItem, ROSTER } from "../helpers/im.ts";

let t: TestServer;
const login = (user: string, resource: string) => connect(t, user, resource, { timeoutMs: 3000 });
const rosterGet = (ver?: string) => xml("iq", { type: "get" }, xml("query", { xmlns: ROSTER, ver }));
const rosterSet = (item: Record<string, string>, ...groups: string[]) =>
  xml("iq", { type: "set" }, xml("query", { xmlns: ROSTER }, xml("item", item, groups.map((g) => xml("group", null, g)))));
const items = (q: Element) => q.getChildren("item")
  .map((i): Record<string, unknown> => ({ ...i.attrs, groups: i.getChildren("group").map((g) => g.getText()) }));
async function expectOk(c: Im, iq: Element): Promise<Element> {
  const reply = await c.ask(iq);
  expect(reply.attrs.type, reply.toString()).toBe("result");
  return reply;
}

beforeAll(async () => {
  t = await startServer({ config: { modules: { roster: { maxItems: 3, maxNameLength: 30 } } } });
});
afterAll(() => t.stop());

describe("stream features (RFC 6121 §2.6.1, §3.4.1)", () => {
  it("after authentication the server offers roster versioning and pre-approval", async () => {
    const [romeo] = await accounts(t, "romeo");
    const { c, sasl, features } = await RawClient.authenticated(t.port, romeo!, "pw");
    expect(sasl).toMatch(/^<success/);
    expect(features).toMatch(/<ver xmlns="urn:xmpp:features:rosterver"\/>/);
    expect(features).toMatch(/<sub xmlns="urn:xmpp:features:pre-approval"\/>/);
    c.close();
  });
});

describe("managing the roster (RFC 6121 §2.2-§2.5)", () => {
  it("Juliet adds, renames and removes the Nurse; both interested resources get every push", async () => {
    const [juliet] = await accounts(t, "juliet");
    const balcony = await login(juliet!, "balcony");
    const chamber = await login(juliet!, "chamber");
    const phone = await login(juliet!, "phone"); // never asks for the roster: not interested
    for (const c of [balcony, chamber]) {
      const q = (await expectOk(c, rosterGet())).getChild("query", ROSTER)!;
      expect(items(q)).toEqual([]);
      expect(q.attrs.ver).toBeUndefined(); // no 'ver' asked, none given
    }

    await expectOk(balcony, rosterSet({ jid: "nurse@localhost", name: "Nurse" }, "Servants"));
    const added = { jid: "nurse@localhost", name: "Nurse", subscription: "none", groups: ["Servants"] };
    for (const c of [balcony, chamber]) {
      const push = await c.next(isPush("nurse@localhost"), "the push");
      expect(items(push.getChild("query", ROSTER)!)).toEqual([added]);
      expect(push.attrs.from).toBeUndefined();
    }

    await expectOk(chamber, rosterSet({ jid: "nurse@localhost", name: "Angelica" }, "Servants", "Family"));
    for (const c of [balcony, chamber]) {
      expect(items((await c.next(isPush("nurse@localhost"), "the push")).getChild("query", ROSTER)!))
        .toEqual([{ ...added, name: "Angelica", groups: ["Servants", "Family"] }]);
    }
    expect(items((await expectOk(balcony, rosterGet())).getChild("query", ROSTER)!))
      .toEqual([{ ...added, name: "Angelica", groups: ["Servants", "Family"] }]);

    await expectOk(balcony, rosterSet({ jid: "nurse@localhost", subscription: "remove" }));
    for (const c of [balcony, chamber]) {
      expect(await pushedItem(c, "nurse@localhost")).toEqual({ jid: "nurse@localhost", subscription: "remove" });
    }
    expect(items((await expectOk(chamber, rosterGet())).getChild("query", ROSTER)!)).toEqual([]);
    await phone.nothing((el) => el.name === "iq" && el.attrs.type === "set");
    // §2.5.3: removing what is not there.
    expect(errorOf(await balcony.ask(rosterSet({ jid: "nurse@localhost", subscription: "remove" })))).toBe("item-not-found");
    await Promise.all([balcony.stop(), chamber.stop(), phone.stop()]);
  });

  it("a subscription value other than 'remove' is ignored: the server owns the state (§2.1.2.5)", async () => {
    const [juliet] = await accounts(t, "juliet");
    const c = await login(juliet!, "balcony");
    await expectOk(c, rosterSet({ jid: "tybalt@localhost", subscription: "both" }));
    expect(items((await expectOk(c, rosterGet())).getChild("query", ROSTER)!)).toEqual([{ jid: "tybalt@localhost", subscription: "none", groups: [] }]);
    await c.stop();
  });

  it("each bad roster set gets the RFC's error, and only its sender is affected (§2.3.3)", async () => {
    const [juliet, romeo] = await accounts(t, "juliet", "romeo");
    const c = await login(juliet!, "balcony");
    const two = xml("iq", { type: "set" }, xml("query", { xmlns: ROSTER }, xml("item", { jid: "a@localhost" }), xml("item", { jid: "b@localhost" })));
    const cases: [Element, string][] = [
      [two, "bad-request"],
      [rosterSet({ name: "no jid" }), "bad-request"],
      [rosterSet({ jid: "a@localhost", subscription: "friends" }), "bad-request"],
      [rosterSet({ jid: "a@localhost" }, "Group", "Group"), "bad-request"],
      [rosterSet({ jid: "a@b@localhost" }), "jid-malformed"],
      [rosterSet({ jid: "a@localhost/phone" }), "jid-malformed"],
      [rosterSet({ jid: `${juliet}@localhost` }), "not-allowed"],
      [rosterSet({ jid: "a@localhost", name: "n".repeat(31) }), "not-acceptable"],
      [rosterSet({ jid: "a@localhost" }, ""), "not-acceptable"],
      [xml("iq", { type: "get", to: `${romeo}@localhost` }, xml("query", { xmlns: ROSTER })), "forbidden"],
      [xml("iq", { type: "set", to: `${romeo}@localhost` }, xml("query", { xmlns: ROSTER }, xml("item", { jid: "a@localhost" }))), "forbidden"],
    ];
    for (const [iq, condition] of cases) {
      const reply = await c.ask(iq);
      expect({ sent: iq.toString(), type: reply.attrs.type, condition: errorOf(reply) }).toEqual({ sent: iq.toString(), type: "error", condition });
    }
    expect(items((await expectOk(c, rosterGet())).getChild("query", ROSTER)!)).toEqual([]);
    await c.stop();
  });

  it("a full roster refuses one more item (resource-constraint), but updates still work", async () => {
    const [juliet] = await accounts(t, "juliet");
    const c = await login(juliet!, "balcony");
    for (const name of ["a", "b", "c"]) await expectOk(c, rosterSet({ jid: `${name}@localhost` }));
    expect(errorOf(await c.ask(rosterSet({ jid: "d@localhost" })))).toBe("resource-constraint");
    await expectOk(c, rosterSet({ jid: "a@localhost", name: "A" }));
    await c.stop();
  });
});

describe("roster versioning (XEP-0237, RFC 6121 §2.6)", () => {
  it("an up-to-date version gets an empty result; later changes come as pushes with their version", async () => {
    const [juliet] = await accounts(t, "juliet");
    const c = await login(juliet!, "balcony");
    const empty = (await expectOk(c, rosterGet(""))).getChild("query", ROSTER)!;
    expect(empty.attrs.ver).toBe("0");
    await expectOk(c, rosterSet({ jid: "nurse@localhost" }));
    const ver = (await c.next(isPush("nurse@localhost"), "the push")).getChild("query", ROSTER)!.attrs.ver!;
    expect(ver).not.toBe("0");

    // The client cached the pushed version: nothing to send.
    const current = await expectOk(c, rosterGet(ver));
    expect(current.getChildElements()).toEqual([]);
    // An old or unknown version gets the whole roster and the current version.
    for (const stale of ["0", "bogus"]) {
      const q = (await expectOk(c, rosterGet(stale))).getChild("query", ROSTER)!;
      expect(q.attrs.ver).toBe(ver);
      expect(items(q).map((i) => i.jid)).toEqual(["nurse@localhost"]);
    }
    // Setting the same item again changes nothing a client can see: no new version.
    await expectOk(c, rosterSet({ jid: "nurse@localhost" }));
    expect((await expectOk(c, rosterGet(ver))).getChildElements()).toEqual([]);
    // The next change counts on from there.
    await expectOk(c, rosterSet({ jid: "nurse@localhost", name: "Nurse" }));
    expect((await c.next(isPush("nurse@localhost"), "the push")).getChild("query", ROSTER)!.attrs.ver).toBe(String(Number(ver) + 1));
    await c.stop();
  });
});

describe("removing a contact ends the subscriptions (RFC 6121 §2.5.2)", () => {
  it("Romeo removes Juliet: she gets unsubscribe, unsubscribed and his unavailable presence", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    await given(t, romeo!, juliet!, "both");
    await given(t, juliet!, romeo!, "both");
    const j = await login(juliet!, "balcony");
    await expectOk(j, rosterGet());
    j.send(xml("presence"));
    const r = await login(romeo!, "orchard");
    await expectOk(r, rosterGet());
    r.send(xml("presence"));
    await j.next((el) => el.name === "presence" && el.attrs.from === r.jid && !el.attrs.type, "Romeo available");

    await expectOk(r, rosterSet({ jid: `${juliet}@localhost`, subscription: "remove" }));
    expect(await pushedItem(r, `${juliet}@localhost`)).toEqual({ jid: `${juliet}@localhost`, subscription: "remove" });
    await j.next((el) => el.name === "presence" && el.attrs.type === "unsubscribe" && el.attrs.from === `${romeo}@localhost`, "unsubscribe");
    await j.next((el) => el.name === "presence" && el.attrs.type === "unsubscribed" && el.attrs.from === `${romeo}@localhost`, "unsubscribed");
    await j.next((el) => el.name === "presence" && el.attrs.type === "unavailable" && el.attrs.from === r.jid, "Romeo unavailable");
    // Juliet's roster follows each stanza: "both" loses "from", then "to".
    expect(await pushedItem(j, `${romeo}@localhost`)).toEqual({ jid: `${romeo}@localhost`, subscription: "to" });
    expect(await pushedItem(j, `${romeo}@localhost`)).toEqual({ jid: `${romeo}@localhost`, subscription: "none" });
    await Promise.all([r.stop(), j.stop()]);
  });
});

describe("persistence", () => {
  it("the roster and its version survive a restart", async () => {
    const [juliet] = await accounts(t, "juliet");
    const c = await login(juliet!, "balcony");
    await expectOk(c, rosterSet({ jid: "nurse@localhost", name: "Nurse" }, "Servants"));
    const ver = (await expectOk(c, rosterGet(""))).getChild("query", ROSTER)!.attrs.ver;
    await c.stop();

    await t.stop(false);
    t = await startServer({ dataDir: t.dataDir, config: { modules: { roster: { maxItems: 3, maxNameLength: 30 } } } });
    const again = await login(juliet!, "balcony");
    expect((await expectOk(again, rosterGet(ver))).getChildElements()).toEqual([]);
    expect(items((await expectOk(again, rosterGet())).getChild("query", ROSTER)!))
      .toEqual([{ jid: "nurse@localhost", name: "Nurse", subscription: "none", groups: ["Servants"] }]);
    await again.stop();
  });
});

describe("roster pushes come from the account only (RFC 6121 §2.1.6)", () => {
  it("a roster push from another user to Juliet's full JID is refused and never reaches her", async () => {
    const [juliet, romeo] = await accounts(t, "juliet", "romeo");
    const j = await login(juliet!, "balcony");
    await expectOk(j, rosterGet()); // an interested resource (§2.1.6), the one pushes are for
    const r = await login(romeo!, "orchard");
    const push = xml("iq", { type: "set", to: `${juliet}@localhost/balcony`, id: "forged-push" },
      xml("query", { xmlns: ROSTER }, xml("item", { jid: `${romeo}@localhost`, subscription: "both", name: "her only love" })));
    const reply = await r.ask(push);
    expect(reply.attrs.type).toBe("error");
    expect(errorOf(reply)).toBe("service-unavailable");
    await j.nothing((el) => el.attrs.id === "forged-push", 300);
    // Her own server's pushes still reach her.
    await expectOk(j, rosterSet({ jid: `${romeo}@localhost` }));
    await pushedItem(j, `${romeo}@localhost`);
    await Promise.all([j.stop(), r.stop()]);
  });
});
