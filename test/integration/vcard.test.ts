// XEP-0054 vcard-temp over real sockets with @xmpp/client: Juliet publishes her vCard, Romeo
// reads it from her bare JID; nobody else can change it; size limits; it survives a restart.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { connect, errorOf, type Im } from "../helpers/im.ts";

const VCARD = "vcard-temp";
const getVCard = (to?: string) => xml("iq", { type: "get", to }, xml("vCard", { xmlns: VCARD }));
const setVCard = (card: Element, to?: string) => xml("iq", { type: "set", to }, card);
const card = (fn: string, ...more: Element[]) => xml("vCard", { xmlns: VCARD }, xml("FN", null, fn), ...more);

let t: TestServer;
let juliet: Im;
let romeo: Im;
beforeAll(async () => {
  t = await startServer({ users: { juliet: "pw", romeo: "pw", nurse: "pw" }, config: { modules: { vcard: { maxSize: 4096 } } } });
  juliet = await connect(t, "juliet");
  romeo = await connect(t, "romeo");
});
afterAll(async () => {
  await Promise.all([juliet.stop(), romeo.stop()]);
  await t.stop();
});

describe("one's own vCard", () => {
  it("before Juliet sets one, she gets an empty <vCard/> (with and without 'to')", async () => {
    for (const to of [undefined, "juliet@localhost"]) {
      const reply = await juliet.ask(getVCard(to));
      expect(reply.attrs.type).toBe("result");
      expect(reply.getChild("vCard", VCARD)?.toString()).toBe(`<vCard xmlns="${VCARD}"/>`);
    }
  });

  it("Juliet publishes her vCard and reads it back as she wrote it", async () => {
    const mine = card("Juliet Capulet", xml("NICKNAME", null, "Jules & <the> \"balcony\" ✿"),
      xml("PHOTO", null, xml("TYPE", null, "image/png"), xml("BINVAL", null, "iVBORw0KGgo=")));
    expect((await juliet.ask(setVCard(mine))).attrs.type).toBe("result");
    for (const to of [undefined, "juliet@localhost"]) {
      const back = (await juliet.ask(getVCard(to))).getChild("vCard", VCARD)!;
      expect(back.toString()).toBe(mine.toString());
    }
  });
});

describe("another account's vCard", () => {
  it("Romeo asks Juliet's bare JID and the server answers for her", async () => {
    const reply = await romeo.ask(getVCard("juliet@localhost"));
    expect(reply.attrs).toMatchObject({ type: "result", from: "juliet@localhost", to: "romeo@localhost/r" });
    expect(reply.getChild("vCard", VCARD)?.getChildText("FN")).toBe("Juliet Capulet");
  });

  it("the Nurse has none: service-unavailable, the same answer as for an account that does not exist", async () => {
    for (const to of ["nurse@localhost", "nobody@localhost"]) {
      const reply = await romeo.ask(getVCard(to));
      expect(reply.attrs.type).toBe("error");
      expect(errorOf(reply)).toBe("service-unavailable");
    }
  });

  it("Romeo may not change Juliet's vCard: forbidden, and hers is unchanged", async () => {
    const reply = await romeo.ask(setVCard(card("Romeo was here"), "juliet@localhost"));
    expect(reply.attrs.type).toBe("error");
    expect(errorOf(reply)).toBe("forbidden");
    const still = await romeo.ask(getVCard("juliet@localhost"));
    expect(still.getChild("vCard", VCARD)?.getChildText("FN")).toBe("Juliet Capulet");
  });
});

describe("limits and edge cases", () => {
  it("a vCard over the configured size is not-acceptable; the stored one stays", async () => {
    const big = card("Juliet", xml("DESC", null, "x".repeat(5000)));
    const reply = await juliet.ask(setVCard(big));
    expect(reply.attrs.type).toBe("error");
    expect(errorOf(reply)).toBe("not-acceptable");
    expect((await juliet.ask(getVCard())).getChild("vCard", VCARD)?.getChildText("FN")).toBe("Juliet Capulet");
  });

  it("the server itself has no vCard: get is item-not-found, set is forbidden", async () => {
    expect(errorOf(await romeo.ask(getVCard("localhost")))).toBe("item-not-found");
    expect(errorOf(await romeo.ask(setVCard(card("The server"), "localhost")))).toBe("forbidden");
  });

  it("the Nurse publishes an empty vCard: she has none again", async () => {
    const nurse = await connect(t, "nurse");
    await nurse.ask(setVCard(card("Angelica")));
    expect((await romeo.ask(getVCard("nurse@localhost"))).attrs.type).toBe("result");
    expect((await nurse.ask(setVCard(xml("vCard", { xmlns: VCARD })))).attrs.type).toBe("result");
    expect(errorOf(await romeo.ask(getVCard("nurse@localhost")))).toBe("service-unavailable");
    await nurse.stop();
  });
});

describe("durability", () => {
  it("Juliet's vCard is still there after the server restarts on the same data", async () => {
    await Promise.all([juliet.stop(), romeo.stop()]);
    await t.stop(false);
    t = await startServer({ dataDir: t.dataDir, config: { modules: { vcard: { maxSize: 4096 } } } });
    juliet = await connect(t, "juliet");
    romeo = await connect(t, "romeo");
    expect((await romeo.ask(getVCard("juliet@localhost"))).getChild("vCard", VCARD)?.getChildText("FN")).toBe("Juliet Capulet");
  });
});
