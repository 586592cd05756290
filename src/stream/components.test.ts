// The registry of external components (XEP-0114): who holds a domain, the conflict policy, the
// server's disco#items, and the bounce while a domain's component is away.
import { describe, expect, it } from "vitest";
import { xml, type Element } from "../xml/element.ts";
import { parseJid } from "../xml/jid.ts";
import type { DiscoItem } from "../core/disco.ts";
import { StanzaError, type StreamError } from "../core/errors.ts";
import type { Component } from "../core/router.ts";
import { ExternalComponents, type ComponentLink, type OnConflict } from "./components.ts";

const SHAPING = { bytesPerSecond: 0, burstBytes: 1024, stanzasPerSecond: 0, stanzaBurst: 1 };

class FakeLink implements ComponentLink {
  readonly got: Element[] = [];
  closedWith: string | undefined;
  deliver(stanza: Element): boolean {
    if (this.closedWith !== undefined) return false;
    this.got.push(stanza);
    return true;
  }
  close(error?: StreamError): void {
    this.closedWith = error?.condition ?? "closed";
  }
}

function registry(onConflict: OnConflict = "refuse") {
  const routes = new Map<string, Component>();
  const items: DiscoItem[] = [];
  const router = {
    serves: (d: string) => d === "localhost" || routes.has(d),
    addComponent: (d: string, c: Component) => {
      routes.set(d, c);
      return () => routes.delete(d);
    },
  };
  const components = new ExternalComponents([{ domain: "gw.localhost", secret: "0123456789abcdef" }], onConflict, SHAPING, router, { items });
  components.start();
  const send = (stanza: Element) => routes.get("gw.localhost")!.receive(stanza, parseJid("romeo@localhost/r"), parseJid("gw.localhost"), undefined, undefined);
  return { components, routes, items, send };
}

const message = () => xml("message", { to: "juliet@gw.localhost", from: "romeo@localhost/r", id: "m" }, xml("body", {}, "hi"));

describe("ExternalComponents", () => {
  it("takes the configured domains in the router at start, and gives them back at stop", () => {
    const { components, routes } = registry();
    expect([...routes.keys()]).toEqual(["gw.localhost"]);
    expect(components.secret("gw.localhost")).toBe("0123456789abcdef");
    expect(components.secret("other.localhost")).toBeUndefined();
    components.stop();
    expect(routes.size).toBe(0);
  });

  it("refuses to take a domain something else serves", () => {
    const routes = new Map<string, Component>([["gw.localhost", { receive: async () => {} }]]);
    const c = new ExternalComponents([{ domain: "gw.localhost", secret: "0123456789abcdef" }], "refuse", SHAPING,
      { serves: (d) => routes.has(d), addComponent: () => () => {} }, { items: [] });
    expect(() => c.start()).toThrow("components: gw.localhost is served already");
  });

  it("while none is connected, stanzas bounce with service-unavailable (wait); errors and iq results are dropped", async () => {
    const { send } = registry();
    const refused = await send(message()).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(StanzaError);
    expect((refused as StanzaError).condition).toBe("service-unavailable");
    expect((refused as StanzaError).type).toBe("wait");
    await expect(send(xml("iq", { type: "result", id: "r" }))).resolves.toBeUndefined();
    await expect(send(xml("message", { type: "error", id: "e" }))).resolves.toBeUndefined();
  });

  it("a connected component gets the stanzas and is in disco#items until it is released", async () => {
    const { components, items, send } = registry();
    const link = new FakeLink();
    components.attach("gw.localhost", link);
    expect(items).toEqual([{ jid: "gw.localhost" }]);
    expect(components.connected()).toEqual(["gw.localhost"]);
    await send(message());
    expect(link.got).toHaveLength(1);
    components.release("gw.localhost", link);
    expect(items).toEqual([]);
    await expect(send(message())).rejects.toThrow("service-unavailable");
  });

  it("refuse: a second stream for the domain gets conflict, the first keeps it", () => {
    const { components } = registry("refuse");
    const first = new FakeLink();
    components.attach("gw.localhost", first);
    expect(() => components.attach("gw.localhost", new FakeLink())).toThrow("conflict");
    expect(first.closedWith).toBeUndefined();
  });

  it("replace: the first stream is closed with conflict and the second takes the domain; the first's release changes nothing", async () => {
    const { components, items, send } = registry("replace");
    const first = new FakeLink();
    const second = new FakeLink();
    components.attach("gw.localhost", first);
    components.attach("gw.localhost", second);
    expect(first.closedWith).toBe("conflict");
    components.release("gw.localhost", first);
    expect(items).toEqual([{ jid: "gw.localhost" }]);
    await send(message());
    expect(second.got).toHaveLength(1);
    expect(first.got).toHaveLength(0);
  });

  it("a stream that can no longer write makes the stanza bounce", async () => {
    const { components, send } = registry();
    const link = new FakeLink();
    components.attach("gw.localhost", link);
    link.closedWith = "resource-constraint";
    await expect(send(message())).rejects.toThrow("service-unavailable");
  });
});
