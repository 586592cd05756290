import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { converseSettings, cspSource, page, type PageInput } from "./page.ts";

const input: PageInput = {
  base: "/conversejs", domain: "example.org", websocketUrl: "wss://example.org:5281/xmpp-websocket", viewMode: "fullscreen",
  discoverConnectionMethods: false, lockedDomain: true, allowRegistration: false, extra: {},
};

describe("the web client's page", () => {
  it("starts Converse.js on this server's WebSocket and domain, the operator's settings last", () => {
    expect(converseSettings(input)).toEqual({
      websocket_url: "wss://example.org:5281/xmpp-websocket", discover_connection_methods: false, assets_path: "/conversejs/dist",
      view_mode: "fullscreen", allow_registration: false, registration_domain: "example.org", default_domain: "example.org",
      domain_placeholder: "example.org", locked_domain: "example.org",
    });
    expect(converseSettings({ ...input, lockedDomain: false, extra: { view_mode: "embedded" } })).toMatchObject({ view_mode: "embedded" });
    expect(converseSettings({ ...input, lockedDomain: false })).not.toHaveProperty("locked_domain");
  });

  it("allows its inline script by hash, and a setting cannot end the script element", () => {
    const p = page({ ...input, extra: { i18n: "</script><script>alert(1)</script>" } });
    const script = /<script type="module">(.*)<\/script>/.exec(p.html)![1]!;
    expect(script).not.toContain("</");
    expect(script).toContain("\\u003c/script>");
    const hash = createHash("sha256").update(script).digest("base64");
    expect(p.headers["content-security-policy"]).toContain(`script-src 'self' 'sha256-${hash}' 'wasm-unsafe-eval'`);
  });

  it("leaves out of the policy a WebSocket URL that would change it", () => {
    expect(cspSource("wss://example.org/xmpp-websocket")).toBe("wss://example.org/xmpp-websocket");
    for (const bad of ["wss://a; script-src *", "wss://a 'unsafe-inline'", "wss://a,b"]) expect(cspSource(bad)).toBe("");
  });
});
