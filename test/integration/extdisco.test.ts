// XEP-0215 External Service Discovery over real sockets, with a real coturn. Juliet asks her
// server for its STUN and TURN services and gets time-limited TURN credentials; coturn's own
// client (turnutils_uclient) then allocates a relay with them on the coturn that
// scripts/services/coturn.sh runs, over UDP, TCP and TLS. A credential past its expiry, or one
// made with another secret, is refused by coturn.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { connect, errorOf, type Im } from "../helpers/im.ts";
import { serviceUp, services } from "../helpers/services.ts";
import { allocate } from "../helpers/turn.ts";

const EXTDISCO = "urn:xmpp:extdisco:2";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const { coturn } = services;
const config = (extra: Record<string, unknown> = {}) => ({
  modules: { extdisco: { host: coturn.host, stunPort: coturn.port, turnPort: coturn.port, turnsPort: coturn.tlsPort, secret: coturn.secret, ...extra } },
});

const get = (payload: Element) => xml("iq", { type: "get", to: "localhost" }, payload);
/** The <service/> elements of a result, as their attributes. */
const listed = (reply: Element, name: "services" | "credentials") => {
  expect(reply.attrs.type, reply.toString()).toBe("result");
  return reply.getChild(name, EXTDISCO)!.getChildren("service").map((s) => s.attrs);
};
const features = async (c: Im) => (await c.ask(get(xml("query", { xmlns: "http://jabber.org/protocol/disco#info" }))))
  .getChild("query")!.getChildren("feature").map((f) => f.attrs.var);

let t: TestServer;
let juliet: Im;
let up = false;
beforeAll(async () => {
  up = await serviceUp("coturn");
  t = await startServer({ users: { juliet: "pw" }, config: config() });
  juliet = await connect(t, "juliet", "phone");
});
afterAll(async () => {
  await juliet.stop();
  await t.stop();
});

describe("XEP-0215 external service discovery", () => {
  it("the server announces urn:xmpp:extdisco:2 (§4); a server with no STUN/TURN host configured neither announces nor answers", async () => {
    expect(await features(juliet)).toContain(EXTDISCO);
    const bare = await startServer({ users: { romeo: "pw" } });
    const romeo = await connect(bare, "romeo", "orchard");
    expect(await features(romeo)).not.toContain(EXTDISCO);
    expect(errorOf(await romeo.ask(get(xml("services", { xmlns: EXTDISCO }))))).toBe("service-unavailable");
    await romeo.stop();
    await bare.stop();
  });

  it("Juliet asks for all services (§3.1): STUN and TURN on UDP and TCP, TURNS on TCP; TURN with credentials that expire in a day", async () => {
    const before = Math.floor(Date.now() / 1000);
    const list = listed(await juliet.ask(get(xml("services", { xmlns: EXTDISCO }))), "services");
    expect(list.map((s) => `${s.type} ${s.transport} ${s.host}:${s.port}`)).toEqual([
      `stun udp 127.0.0.1:${coturn.port}`, `stun tcp 127.0.0.1:${coturn.port}`,
      `turn udp 127.0.0.1:${coturn.port}`, `turn tcp 127.0.0.1:${coturn.port}`, `turns tcp 127.0.0.1:${coturn.tlsPort}`]);
    for (const stun of list.filter((s) => s.type === "stun")) expect(stun.username ?? stun.password ?? stun.expires).toBeUndefined();
    for (const turn of list.filter((s) => s.type !== "stun")) {
      const [expiry, user] = turn.username!.split(":");
      expect(user).toBe("juliet@localhost");
      expect(Number(expiry)).toBeGreaterThanOrEqual(before + 86_400);
      expect(Number(expiry)).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 86_400);
      expect(turn.expires).toBe(new Date(Number(expiry) * 1000).toISOString().replace(".000Z", "Z"));
      expect(turn.password).toMatch(/^[A-Za-z0-9+/]{27}=$/); // base64 of a 20-byte HMAC-SHA1
      expect(turn.restricted).toBe("true");
    }
  });

  it("a type filter (§3.2) gives only that type; an unknown type an empty list", async () => {
    const turn = await juliet.ask(get(xml("services", { xmlns: EXTDISCO, type: "turn" })));
    expect(turn.getChild("services", EXTDISCO)!.attrs.type).toBe("turn");
    expect(listed(turn, "services").map((s) => `${s.type} ${s.transport}`)).toEqual(["turn udp", "turn tcp"]);
    expect(listed(await juliet.ask(get(xml("services", { xmlns: EXTDISCO, type: "ftp" }))), "services")).toEqual([]);
  });

  it("credentials for a named service (§3.3); a request without host or type is bad-request, an unknown service item-not-found", async () => {
    const creds = listed(await juliet.ask(get(xml("credentials", { xmlns: EXTDISCO }, xml("service", { host: coturn.host, type: "turns" })))), "credentials");
    expect(creds).toHaveLength(1);
    expect(creds[0]).toMatchObject({ type: "turns", port: String(coturn.tlsPort), restricted: "true" });
    expect(creds[0]!.username).toMatch(/^\d+:juliet@localhost$/);
    const udp = listed(await juliet.ask(get(xml("credentials", { xmlns: EXTDISCO }, xml("service", { host: coturn.host, type: "turn", port: String(coturn.port) })))), "credentials");
    expect(udp.map((s) => s.transport)).toEqual(["udp", "tcp"]);
    expect(errorOf(await juliet.ask(get(xml("credentials", { xmlns: EXTDISCO }))))).toBe("bad-request");
    expect(errorOf(await juliet.ask(get(xml("credentials", { xmlns: EXTDISCO }, xml("service", { type: "turn" })))))).toBe("bad-request");
    expect(errorOf(await juliet.ask(get(xml("credentials", { xmlns: EXTDISCO }, xml("service", { host: "turn.elsewhere.example", type: "turn" })))))).toBe("item-not-found");
  });
});

describe("XEP-0215 credentials on a real coturn (scripts/services/coturn.sh)", () => {
  /** Juliet's credentials for the TURN service on this transport, from her server. */
  async function credentialsFor(c: Im, type: "turn" | "turns", transport: "udp" | "tcp"): Promise<Record<string, string>> {
    const list = listed(await c.ask(get(xml("credentials", { xmlns: EXTDISCO }, xml("service", { host: coturn.host, type })))), "credentials");
    return list.find((s) => s.transport === transport)! as Record<string, string>;
  }

  it("coturn allocates a relay with the credentials Juliet got, over UDP, TCP and TLS (TURNS)", async (ctx) => {
    if (!up) return ctx.skip();
    for (const [type, transport, over] of [["turn", "udp", "udp"], ["turn", "tcp", "tcp"], ["turns", "tcp", "tls"]] as const) {
      const s = await credentialsFor(juliet, type, transport);
      const a = await allocate(s.username!, s.password!, over);
      expect(a.relay, `${type}/${over}: ${a.output}`).toMatch(/^127\.0\.0\.1:\d+$/);
    }
  }, 60_000);

  it("coturn refuses a credential past its expiry (a server handing out one-second credentials), and one made with another secret", async (ctx) => {
    if (!up) return ctx.skip();
    const short = await startServer({ users: { romeo: "pw" }, config: config({ ttl: 1 }) });
    const romeo = await connect(short, "romeo", "orchard");
    const s = await credentialsFor(romeo, "turn", "udp");
    // Fresh, it works: the refusal below is the expiry's doing.
    expect((await allocate(s.username!, s.password!, "udp")).relay).toBeDefined();
    await sleep(Date.parse(s.expires!) + 1500 - Date.now());
    const late = await allocate(s.username!, s.password!, "udp");
    expect(late.relay, late.output).toBeUndefined();
    expect(late.output).toContain("Cannot complete Allocation");
    await romeo.stop();
    await short.stop();

    const forged = await startServer({ users: { romeo: "pw" }, config: config({ secret: "not-the-shared-secret" }) });
    const mallory = await connect(forged, "romeo", "orchard");
    const f = await credentialsFor(mallory, "turn", "udp");
    const refused = await allocate(f.username!, f.password!, "udp");
    expect(refused.relay, refused.output).toBeUndefined();
    await mallory.stop();
    await forged.stop();
  }, 60_000);
});
