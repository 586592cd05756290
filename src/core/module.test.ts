import { describe, expect, it, vi } from "vitest";
import { xml } from "../xml/element.ts";
import { parseJid } from "../xml/jid.ts";
import { MemoryStorage } from "../storage/memory.ts";
import { HttpRoutes } from "../transports/http.ts";
import { DiscoRegistry } from "./disco.ts";
import { Events } from "./events.ts";
import { IqTable } from "./iq.ts";
import { createLogger, type Logger } from "./log.ts";
import { ModuleContext, orderModules, ServiceRegistry, serviceKey, type ModuleHost } from "./module.ts";
import type { Component } from "./router.ts";
import type { PreAuthRequestHandler, StreamElementHandler } from "./stream-handlers.ts";

describe("module order", () => {
  it("puts dependencies first and keeps the list order otherwise", () => {
    const order = orderModules([
      { name: "presence", depends: ["roster"] }, { name: "disco" }, { name: "roster" }, { name: "last", depends: ["roster", "presence"] },
    ]).map((m) => m.name);
    expect(order).toEqual(["roster", "presence", "disco", "last"]);
  });

  it("names a missing dependency and a cycle", () => {
    expect(() => orderModules([{ name: "a", depends: ["b"] }])).toThrow("module a needs module b, which is not loaded");
    expect(() => orderModules([{ name: "a", depends: ["b"] }, { name: "b", depends: ["a"] }])).toThrow("cycle: a -> b -> a");
  });
});

describe("services", () => {
  it("are typed, provided once, and named when missing", () => {
    const reg = new ServiceRegistry();
    const key = serviceKey<{ n: number }>("counter");
    expect(() => reg.use(key, "user")).toThrow(/module user uses service counter, which no loaded module provides/);
    const undo = reg.provide(key, { n: 1 }, "provider");
    expect(reg.use(key, "user").n).toBe(1);
    expect(() => reg.provide(key, { n: 2 }, "other")).toThrow(/provided twice/);
    undo();
    expect(() => reg.use(key, "user")).toThrow();
  });
});

/** A host of real registries; the router's part is its iq table and a component map. */
function host() {
  const components = new Map<string, Component>();
  const router = {
    iq: new IqTable(),
    addComponent: (domain: string, c: Component) => {
      components.set(domain, c);
      return () => components.delete(domain);
    },
  };
  const h = {
    domain: parseJid("example.com"), router, events: new Events(), disco: new DiscoRegistry(), services: new ServiceRegistry(),
    preAuthIq: new Map<string, PreAuthRequestHandler>(), streamElements: new Map<string, StreamElementHandler>(), http: new HttpRoutes(),
    storage: new MemoryStorage(),
  };
  return { ...h, components, ctx: (name = "m") => new ModuleContext(name, {}, h as unknown as ModuleHost, createLogger("silent")) };
}

const component: Component = { receive: async () => {} };
/** A XEP-0128 extension form of this FORM_TYPE. */
const form = (type?: string) => xml("x", { xmlns: "jabber:x:data", type: "result" },
  type === undefined ? undefined : xml("field", { var: "FORM_TYPE", type: "hidden" }, xml("value", null, type)));
const query = (ns: string) => xml("query", { xmlns: ns });

describe("module context", () => {
  it("undoes every kind of registration on unload", async () => {
    vi.useFakeTimers();
    try {
      const h = host();
      const ctx = h.ctx();
      const ticks: number[] = [];
      const heard: string[] = [];
      ctx.feature("urn:x:host");
      ctx.accountFeature("urn:x:account");
      ctx.identity({ category: "server", type: "im" });
      ctx.accountIdentity({ category: "pubsub", type: "pep" });
      ctx.item({ jid: "rooms.example.com" });
      ctx.hostNode("urn:x:node", { info: () => ({ identities: [], features: [] }), items: () => [] });
      ctx.discoExtension(form("urn:x:info"));
      ctx.iq("host", "urn:x:iq", "query", { get: () => undefined });
      ctx.iq("account", "urn:x:iq", "query", { get: () => undefined });
      ctx.handle("message/host", () => void heard.push("handle"));
      ctx.fold("stream/features", (v) => (heard.push("fold"), v));
      ctx.on("account/deleted", () => void heard.push("on"));
      ctx.component("rooms.example.com", component);
      ctx.preAuthIq("jabber:iq:register", async () => {});
      ctx.streamElement("urn:xmpp:csi:0", () => {});
      ctx.httpRoute("/upload/", () => {});
      ctx.every(1000, () => ticks.push(Date.now()));
      ctx.provide(serviceKey<number>("answer"), 42);
      let tornDown = false;
      ctx.onUnload(() => (tornDown = true));

      const fire = async () => {
        const stanza = xml("message");
        await h.events.handle("message/host", { stanza, from: h.domain, to: h.domain, origin: undefined });
        await h.events.fold("stream/features", { account: h.domain, features: [] });
        await h.events.notify("account/deleted", { jid: h.domain }, () => {});
      };
      await fire();
      vi.advanceTimersByTime(1000);
      expect(heard).toEqual(["handle", "fold", "on"]);
      expect(ticks).toHaveLength(1);
      expect(h.disco.hostFeatures.has("urn:x:host") && h.disco.accountFeatures.has("urn:x:account")).toBe(true);
      expect([h.disco.identities.length, h.disco.accountIdentities.length, h.disco.items.length, h.disco.hostNodes.size, h.disco.extensions.length]).toEqual([1, 1, 1, 1, 1]);
      expect(h.router.iq.find("host", query("urn:x:iq")) && h.router.iq.find("account", query("urn:x:iq"))).toBeDefined();
      expect([h.components.size, h.preAuthIq.size, h.streamElements.size]).toEqual([1, 1, 1]);
      expect(h.http.find("/upload/a/b")).toBeDefined();
      expect(h.services.find(serviceKey<number>("answer"))).toBe(42);

      ctx.unload();
      heard.length = 0;
      await fire();
      vi.advanceTimersByTime(5000);
      expect(heard).toEqual([]);
      expect(ticks).toHaveLength(1);
      expect([h.disco.hostFeatures.size, h.disco.accountFeatures.size]).toEqual([0, 0]);
      expect([h.disco.identities.length, h.disco.accountIdentities.length, h.disco.items.length, h.disco.hostNodes.size, h.disco.extensions.length]).toEqual([0, 0, 0, 0, 0]);
      expect(h.router.iq.find("host", query("urn:x:iq")) ?? h.router.iq.find("account", query("urn:x:iq"))).toBeUndefined();
      expect([h.components.size, h.preAuthIq.size, h.streamElements.size]).toEqual([0, 0, 0]);
      expect(h.http.find("/upload/a/b")).toBeUndefined();
      expect(h.services.find(serviceKey<number>("answer"))).toBeUndefined();
      expect(tornDown).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it("leaves other modules' registrations in place", () => {
    const h = host();
    const a = h.ctx("a");
    const b = h.ctx("b");
    a.feature("urn:x:shared");
    b.feature("urn:x:shared");
    b.preAuthIq("jabber:iq:register", async () => {});
    a.unload();
    expect(h.disco.hostFeatures.get("urn:x:shared")).toBe(1);
    expect(h.preAuthIq.has("jabber:iq:register")).toBe(true);
  });

  it("takes a host node back before unload, once", () => {
    const h = host();
    const ctx = h.ctx();
    const remove = ctx.hostNode("urn:x:node", { info: () => ({ identities: [], features: [] }), items: () => [] });
    remove();
    expect(h.disco.hostNodes.size).toBe(0);
    ctx.hostNode("urn:x:node", { info: () => ({ identities: [], features: [] }), items: () => [] });
    remove();
    expect(h.disco.hostNodes.size).toBe(1);
    ctx.unload();
    expect(h.disco.hostNodes.size).toBe(0);
  });

  it("refuses a namespace another module claimed first (pre-auth iq, stream elements, HTTP prefix)", () => {
    const h = host();
    h.ctx("a").preAuthIq("jabber:iq:register", async () => {});
    h.ctx("a").streamElement("urn:xmpp:csi:0", () => {});
    h.ctx("a").httpRoute("/upload/", () => {});
    const b = h.ctx("b");
    expect(() => b.preAuthIq("jabber:iq:register", async () => {})).toThrow("a pre-auth handler for jabber:iq:register is already registered");
    expect(() => b.streamElement("urn:xmpp:csi:0", () => {})).toThrow("stream elements of urn:xmpp:csi:0 are taken already");
    expect(() => b.httpRoute("/upload/", () => {})).toThrow("the HTTP prefix /upload/ is taken");
  });

  it("takes one disco extension form per FORM_TYPE (XEP-0115 §5.4), each bumping the caps revision", () => {
    const h = host();
    const before = h.disco.revision;
    h.ctx("a").discoExtension(form("urn:x:info"));
    expect(h.disco.revision).toBeGreaterThan(before);
    expect(() => h.ctx("b").discoExtension(form("urn:x:info"))).toThrow("disco extension urn:x:info is registered twice");
    expect(() => h.ctx("b").discoExtension(form())).toThrow("a disco extension form needs a hidden FORM_TYPE field");
    h.ctx("b").discoExtension(form("urn:x:other"));
    expect(h.disco.extensions).toHaveLength(2);
  });

  it("undoes what a module registered through another module's service when it unloads", () => {
    const h = host();
    const listeners = new Set<string>();
    const key = serviceKey<{ listen(name: string): void }>("listeners");
    h.ctx("provider").provideEach(key, (user) => ({
      listen: (name) => {
        listeners.add(`${user.name}:${name}`);
        user.own(() => listeners.delete(`${user.name}:${name}`));
      },
    }));
    const a = h.ctx("a");
    const b = h.ctx("b");
    a.use(key).listen("x");
    b.optional(key)?.listen("y");
    expect([...listeners]).toEqual(["a:x", "b:y"]);
    a.unload();
    expect([...listeners]).toEqual(["b:y"]);
    expect(() => h.services.use(key, "test")).toThrow("service listeners registers for its users: use it through a module context");
  });

  it("notifies, logging a failed listener under the hook's name", async () => {
    const h = host();
    const errors: string[] = [];
    const ctx = new ModuleContext("m", {}, h as unknown as ModuleHost, { error: (_o: unknown, msg: string) => errors.push(msg) } as unknown as Logger);
    ctx.on("account/deleted", () => {
      throw new Error("boom");
    });
    const { notify } = ctx;
    await notify("account/deleted", { jid: h.domain });
    expect(errors).toEqual(["account/deleted listener failed"]);
  });
});
