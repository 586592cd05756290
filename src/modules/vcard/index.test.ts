import { describe, expect, it } from "vitest";
import { xml, type Element } from "../../xml/element.ts";
import { parseJid } from "../../xml/jid.ts";
import { NS } from "../../xml/ns.ts";
import { StanzaError } from "../../core/errors.ts";
import { IqTable } from "../../core/iq.ts";
import { createLogger } from "../../core/log.ts";
import { DiscoRegistry } from "../../core/disco.ts";
import { ModuleContext, ServiceRegistry, type ModuleHost } from "../../core/module.ts";
import { MemoryStorage } from "../../storage/memory.ts";
import vcard, { isEmptyElement, VCARDS } from "./index.ts";
import { parseStored, serializeDetached } from "../../xml/stored.ts";

async function load(maxSize = 1024) {
  const iq = new IqTable();
  const disco = new DiscoRegistry();
  const server = { domain: parseJid("example.com"), router: { iq }, disco, storage: new MemoryStorage(), services: new ServiceRegistry() } as unknown as ModuleHost;
  const ctx = new ModuleContext("vcard", { maxSize }, server, createLogger("silent"));
  await vcard.setup(ctx);
  const call = async (type: "get" | "set", from: string, to: string, payload: Element) => {
    const target = parseJid(to).local ? "account" : "host";
    const stanza = xml("iq", { type, id: "1" }, payload);
    const handler = iq.find(target, payload)![type]!;
    return handler({ stanza, payload, type, from: parseJid(from), to: parseJid(to), origin: undefined });
  };
  return { call, disco, ctx, iq, server };
}

const card = (fn: string) => xml("vCard", { xmlns: NS.vcard }, xml("FN", null, fn));
const empty = () => xml("vCard", { xmlns: NS.vcard });

async function rejects(p: Promise<unknown>, condition: string): Promise<void> {
  await expect(p).rejects.toSatisfy((e) => e instanceof StanzaError && e.condition === condition);
}

describe("stored XML helpers", () => {
  it("round-trips an element through its serialised form", () => {
    const el = card("Juliet Capulet & co");
    const back = parseStored(serializeDetached(el))!;
    expect(back.toString()).toBe(el.toString());
  });

  it("declares prefixes bound on ancestors on the stored copy", () => {
    const iq = xml("iq", { "xmlns:g": "urn:example:geo" }, xml("vCard", { xmlns: NS.vcard }, xml("g:where", null, "Verona")));
    const stored = serializeDetached(iq.getChild("vCard")!);
    expect(stored).toContain(`xmlns:g="urn:example:geo"`);
    expect(parseStored(stored)?.getChild("where")?.getText()).toBe("Verona");
  });

  it("answers undefined for unreadable text instead of throwing", () => {
    expect(parseStored("<vCard")).toBeUndefined();
    expect(parseStored("")).toBeUndefined();
  });

  it("knows an empty element", () => {
    expect(isEmptyElement(empty())).toBe(true);
    expect(isEmptyElement(xml("vCard", { xmlns: NS.vcard }, "  \n "))).toBe(true);
    expect(isEmptyElement(card("x"))).toBe(false);
  });
});

describe("vcard-temp handlers", () => {
  it("advertises vcard-temp on the server and on accounts", async () => {
    const { disco } = await load();
    expect(disco.hostFeatures.has(NS.vcard)).toBe(true);
    expect(disco.accountFeatures.has(NS.vcard)).toBe(true);
  });

  it("gives the owner an empty vCard before one is set, then the stored one", async () => {
    const { call } = await load();
    expect((await call("get", "juliet@example.com/balcony", "juliet@example.com", empty()))?.toString()).toBe(empty().toString());
    await call("set", "juliet@example.com/balcony", "juliet@example.com", card("Juliet"));
    const got = (await call("get", "juliet@example.com/balcony", "juliet@example.com", empty())) as Element;
    expect(got.getChildText("FN")).toBe("Juliet");
  });

  it("shows a stored vCard to others, and service-unavailable when there is none", async () => {
    const { call } = await load();
    await rejects(call("get", "romeo@example.com/orchard", "juliet@example.com", empty()), "service-unavailable");
    await call("set", "juliet@example.com/balcony", "juliet@example.com", card("Juliet"));
    expect(((await call("get", "romeo@example.com/orchard", "juliet@example.com", empty())) as Element).getChildText("FN")).toBe("Juliet");
  });

  it("refuses to set another account's vCard", async () => {
    const { call } = await load();
    await rejects(call("set", "romeo@example.com/orchard", "juliet@example.com", card("Romeo was here")), "forbidden");
  });

  it("refuses a vCard over the size limit and keeps the old one", async () => {
    const { call } = await load(1024);
    await call("set", "juliet@example.com/b", "juliet@example.com", card("Juliet"));
    await rejects(call("set", "juliet@example.com/b", "juliet@example.com", card("x".repeat(2000))), "not-acceptable");
    expect(((await call("get", "juliet@example.com/b", "juliet@example.com", empty())) as Element).getChildText("FN")).toBe("Juliet");
  });

  it("deletes the vCard when an empty one is set", async () => {
    const { call } = await load();
    await call("set", "juliet@example.com/b", "juliet@example.com", card("Juliet"));
    await call("set", "juliet@example.com/b", "juliet@example.com", empty());
    await rejects(call("get", "romeo@example.com/o", "juliet@example.com", empty()), "service-unavailable");
  });

  it("has no server vCard: get is item-not-found, set is forbidden", async () => {
    const { call } = await load();
    await rejects(call("get", "juliet@example.com/b", "example.com", empty()), "item-not-found");
    await rejects(call("set", "juliet@example.com/b", "example.com", card("Server")), "forbidden");
  });

  it("offers vCards to other modules: what clients set is told to listeners, the server's own writes are not", async () => {
    const { call, server } = await load();
    const other = new ModuleContext("other", {}, server, createLogger("silent"));
    const api = other.use(VCARDS);
    const heard: string[] = [];
    api.onSet(async (owner, v) => void heard.push(`${owner.toString()}: ${v?.getChildText("FN") ?? "none"}`));
    await call("set", "juliet@example.com/balcony", "juliet@example.com", card("Juliet"));
    await call("set", "juliet@example.com/balcony", "juliet@example.com", empty());
    await api.set(parseJid("romeo@example.com"), card("Romeo"));
    expect(heard).toEqual(["juliet@example.com: Juliet", "juliet@example.com: none"]);
    expect((await api.get(parseJid("romeo@example.com")))?.getChildText("FN")).toBe("Romeo");
    expect(await api.get(parseJid("juliet@example.com"))).toBeUndefined();
    await rejects(api.set(parseJid("romeo@example.com"), card("x".repeat(2000))), "not-acceptable");
    await api.set(parseJid("romeo@example.com"), empty());
    expect(await api.get(parseJid("romeo@example.com"))).toBeUndefined();
    other.unload();
    await call("set", "juliet@example.com/balcony", "juliet@example.com", card("Juliet"));
    expect(heard).toHaveLength(2);
  });

  it("removes its handlers and features on unload", async () => {
    const { ctx, iq, disco } = await load();
    ctx.unload();
    expect(iq.find("account", empty())).toBeUndefined();
    expect(disco.hostFeatures.has(NS.vcard)).toBe(false);
  });
});
