import { describe, expect, it } from "vitest";
import { parseShape } from "../../core/schema.ts";
import { WEBCLIENT_OPTIONS } from "./index.ts";

const parse = (raw: Record<string, unknown>) => parseShape(WEBCLIENT_OPTIONS, raw, "modules.webclient.");

describe("the web client's options", () => {
  it("default to Converse.js at /conversejs, full screen, this domain's accounts", () => {
    expect(parse({})).toEqual({ enabled: true, path: "/conversejs", viewMode: "fullscreen", lockedDomain: true, discoverConnectionMethods: false, dist: undefined, settings: {} });
  });

  it("take a path of safe segments, none of them the server's own", () => {
    expect(parse({ path: "/chat/web-1.0" }).path).toBe("/chat/web-1.0");
    for (const path of ["conversejs", "/", "/conversejs/", "/a/../b", "/a/./b", "/a b", "/a%2fb", "/a<b", "/xmpp-websocket", "/.well-known", "/.well-known/x", 5]) {
      expect(() => parse({ path }), String(path)).toThrow(/^modules\.webclient\.path: /);
    }
  });

  it("take Converse.js settings as a map, or its JSON text from the environment", () => {
    expect(parse({ settings: { theme: "dracula" } }).settings).toEqual({ theme: "dracula" });
    expect(parse({ settings: '{"theme":"nordic"}' }).settings).toEqual({ theme: "nordic" });
    for (const settings of [[1], "x", null]) expect(() => parse({ settings })).toThrow(/^modules\.webclient\.settings: /);
  });
});
