import { describe, expect, it } from "vitest";
import { xml } from "../../xml/element.ts";
import { parseJid } from "../../xml/jid.ts";
import { StanzaError } from "../../core/errors.ts";
import { checkRequester, matching, parseCredentials, parseServices } from "./parse.ts";
import { configuredServices, serviceElement, turnCredentials } from "./services.ts";

const condition = (fn: () => unknown) => {
  try {
    fn();
    return "ok";
  } catch (e) {
    return e instanceof StanzaError ? e.condition : String(e);
  }
};
const base = { host: "turn.example", stunPort: 3478, turnPort: 3478, turnsPort: 0, secret: "s3cr3t" };

describe("turnCredentials (TURN REST API, as coturn's use-auth-secret checks it)", () => {
  it("username is '<expiry>:<user>', password base64(HMAC-SHA1(secret, username))", () => {
    // Made with: printf %s '1796627366:romeo@localhost' | openssl dgst -sha1 -hmac s3cr3t -binary | base64
    const c = turnCredentials("s3cr3t", "romeo@localhost", 3600, (1796627366 - 3600) * 1000 + 999);
    expect(c).toEqual({ username: "1796627366:romeo@localhost", password: "wHpABw9TJPm0AFGys9k2809ZA8Q=", expires: 1796627366 });
  });
});

describe("configuredServices", () => {
  it("STUN and TURN on UDP and TCP, TURNS on TCP when its port is set", () => {
    const list = configuredServices({ ...base, turnsPort: 5349 }).map((s) => `${s.type}/${s.transport}/${s.port}`);
    expect(list).toEqual(["stun/udp/3478", "stun/tcp/3478", "turn/udp/3478", "turn/tcp/3478", "turns/tcp/5349"]);
  });
  it("nothing without a host; no TURN without a secret; a port of 0 announces nothing", () => {
    expect(configuredServices({ ...base, host: undefined })).toEqual([]);
    expect(configuredServices({ ...base, secret: undefined, turnsPort: 5349 }).map((s) => s.type)).toEqual(["stun", "stun"]);
    expect(configuredServices({ ...base, stunPort: 0 }).map((s) => s.type)).toEqual(["turn", "turn"]);
  });
});

describe("serviceElement", () => {
  it("credentials come with expires (XEP-0082 UTC) and restricted", () => {
    const [turn] = configuredServices({ ...base, stunPort: 0 });
    const el = serviceElement(turn!, { username: "u", password: "p", expires: 1796627366 });
    expect(el.attrs).toEqual({ type: "turn", host: "turn.example", port: "3478", transport: "udp", username: "u", password: "p", expires: "2026-12-07T07:09:26Z", restricted: "true" });
    expect(serviceElement(turn!).attrs).toEqual({ type: "turn", host: "turn.example", port: "3478", transport: "udp" });
  });
});

describe("requests", () => {
  const announced = configuredServices({ ...base, turnsPort: 5349 });
  it("<services type?/>", () => {
    expect(parseServices(xml("services", { type: "turn" }))).toEqual({ type: "turn" });
    expect(parseServices(xml("services"))).toEqual({ type: undefined });
  });
  it("<credentials/>: host and type required, port a number; matched without case on the host", () => {
    expect(condition(() => parseCredentials(xml("credentials")))).toBe("bad-request");
    expect(condition(() => parseCredentials(xml("credentials", null, xml("service", { type: "turn" }))))).toBe("bad-request");
    expect(condition(() => parseCredentials(xml("credentials", null, xml("service", { host: "h" }))))).toBe("bad-request");
    expect(condition(() => parseCredentials(xml("credentials", null, xml("service", { host: "h", type: "turn", port: "x" }))))).toBe("bad-request");
    const [any, tls] = parseCredentials(xml("credentials", null, xml("service", { host: "TURN.example", type: "turn" }), xml("service", { host: "turn.example", type: "turns", port: "5349" })));
    expect(matching(announced, any!).map((s) => s.transport)).toEqual(["udp", "tcp"]);
    expect(matching(announced, tls!)).toHaveLength(1);
    expect(matching(announced, { host: "turn.example", type: "turn", port: 1 })).toEqual([]);
  });
  it("only the server's accounts may ask; others are forbidden (§2)", () => {
    expect(condition(() => checkRequester(parseJid("romeo@localhost/orchard"), "localhost"))).toBe("ok");
    expect(condition(() => checkRequester(parseJid("romeo@elsewhere.example/orchard"), "localhost"))).toBe("forbidden");
    expect(condition(() => checkRequester(parseJid("localhost"), "localhost"))).toBe("forbidden");
    expect(condition(() => checkRequester(parseJid("conference.localhost"), "localhost"))).toBe("forbidden");
  });
});
