import { describe, expect, it } from "vitest";
import { xml, type Element } from "../xml/element.ts";
import { parseJid } from "../xml/jid.ts";
import { NS } from "../xml/ns.ts";
import { StanzaError } from "../core/errors.ts";
import { IqTable } from "../core/iq.ts";
import { createLogger } from "../core/log.ts";
import { DiscoRegistry } from "../core/disco.ts";
import { ModuleContext, ServiceRegistry, type ModuleHost } from "../core/module.ts";
import { MemoryStorage } from "../storage/memory.ts";
import privateStorage, { parsePrivateQuery } from "./private.ts";

const query = (...children: Element[]) => xml("query", { xmlns: NS.private }, ...children);
const bookmarks = (...confs: string[]) => xml("storage", { xmlns: "storage:bookmarks" }, confs.map((jid) => xml("conference", { jid })));
const prefs = (nick?: string) => xml("exodus", { xmlns: "exodus:prefs" }, nick ? xml("defaultnick", null, nick) : undefined);

async function load(maxItemSize = 1024, maxItems = 3) {
  const iq = new IqTable();
  const server = { domain: parseJid("example.com"), router: { iq }, disco: new DiscoRegistry(), storage: new MemoryStorage(), services: new ServiceRegistry() } as unknown as ModuleHost;
  await privateStorage.setup(new ModuleContext("private", { maxItemSize, maxItems }, server, createLogger("silent")));
  return async (type: "get" | "set", from: string, to: string, payload: Element) => {
    const stanza = xml("iq", { type, id: "1" }, payload);
    const r = await iq.find("account", payload)![type]!({ stanza, payload, type, from: parseJid(from), to: parseJid(to), origin: undefined });
    return r ?? undefined;
  };
}

function condition(r: unknown): string | undefined {
  return r instanceof StanzaError ? r.condition : undefined;
}

async function rejects(p: Promise<unknown>, cond: string): Promise<void> {
  await expect(p).rejects.toSatisfy((e) => e instanceof StanzaError && e.condition === cond);
}

describe("parsePrivateQuery", () => {
  it("keys each child by namespace and name (Clark notation)", () => {
    const items = parsePrivateQuery(query(bookmarks(), prefs()), 10);
    expect(Array.isArray(items) && items.map((i) => i.key)).toEqual(["{storage:bookmarks}storage", "{exodus:prefs}exodus"]);
  });

  it("needs at least one child (not-acceptable)", () => {
    expect(condition(parsePrivateQuery(query(), 10))).toBe("not-acceptable");
  });

  it("refuses children without their own namespace or in reserved ones", () => {
    expect(condition(parsePrivateQuery(query(xml("storage")), 10))).toBe("not-acceptable");
    for (const ns of [NS.client, NS.server, NS.private, NS.vcard]) {
      expect(condition(parsePrivateQuery(query(xml("x", { xmlns: ns })), 10))).toBe("not-acceptable");
    }
    expect(condition(parsePrivateQuery(query(xml("p:x", { "xmlns:p": "urn:p" })), 10))).toBe("not-acceptable");
  });

  it("bounds the number of children", () => {
    expect(condition(parsePrivateQuery(query(prefs(), bookmarks()), 1))).toBe("not-acceptable");
  });
});

describe("jabber:iq:private handlers", () => {
  it("returns the requested empty element when nothing is stored", async () => {
    const call = await load();
    const r = await call("get", "hamlet@example.com/denmark", "hamlet@example.com", query(prefs()));
    expect(r?.toString()).toBe(query(prefs()).toString());
  });

  it("stores and returns an element, several per request", async () => {
    const call = await load();
    await call("set", "hamlet@example.com/denmark", "hamlet@example.com", query(prefs("Hamlet"), bookmarks("elsinore@conference.example.com")));
    const r = (await call("get", "hamlet@example.com/denmark", "hamlet@example.com", query(prefs(), bookmarks()))) as Element;
    expect(r.getChild("exodus", "exodus:prefs")?.getChildText("defaultnick")).toBe("Hamlet");
    expect(r.getChild("storage", "storage:bookmarks")?.getChild("conference")?.attrs.jid).toBe("elsinore@conference.example.com");
  });

  it("keeps accounts apart and forbids access to another account", async () => {
    const call = await load();
    await call("set", "hamlet@example.com/d", "hamlet@example.com", query(prefs("Hamlet")));
    await rejects(call("get", "macbeth@example.com/x", "hamlet@example.com", query(prefs())), "forbidden");
    await rejects(call("set", "macbeth@example.com/x", "hamlet@example.com", query(prefs("Macbeth"))), "forbidden");
    const mine = (await call("get", "macbeth@example.com/x", "macbeth@example.com", query(prefs()))) as Element;
    expect(mine.getChild("exodus")?.getChildText("defaultnick")).toBeNull();
  });

  it("refuses an element over the size limit, writing nothing", async () => {
    const call = await load(256);
    await rejects(call("set", "hamlet@example.com/d", "hamlet@example.com", query(prefs("small"), prefs("x".repeat(300)))), "not-acceptable");
    const r = (await call("get", "hamlet@example.com/d", "hamlet@example.com", query(prefs()))) as Element;
    expect(r.getChild("exodus")?.children).toEqual([]);
  });

  it("bounds the keys per account; storing an empty element frees its key", async () => {
    const call = await load(1024, 2);
    const a = (n: string) => xml("a", { xmlns: `urn:${n}` }, "x");
    await call("set", "hamlet@example.com/d", "hamlet@example.com", query(a("1"), a("2")));
    await rejects(call("set", "hamlet@example.com/d", "hamlet@example.com", query(a("3"))), "not-acceptable");
    await call("set", "hamlet@example.com/d", "hamlet@example.com", query(a("2")));
    await call("set", "hamlet@example.com/d", "hamlet@example.com", query(xml("a", { xmlns: "urn:1" })));
    await call("set", "hamlet@example.com/d", "hamlet@example.com", query(a("3")));
    const r = (await call("get", "hamlet@example.com/d", "hamlet@example.com", query(xml("a", { xmlns: "urn:1" })))) as Element;
    expect(r.getChild("a")?.getText()).toBe("");
  });
});
