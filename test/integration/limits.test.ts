// The input shapers as shipped (limits.bytesPerSecond with burstBytes, limits.stanzasPerSecond
// with stanzaBurst), over real sockets: a client that sends faster than them is read slower,
// nothing it sent is lost, the connections of one account share one allowance, and another
// account's ping is answered at once meanwhile.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml } from "../../src/xml/element.ts";
import { loadConfig } from "../../src/core/config.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { connect, type Im } from "../helpers/im.ts";

const PING = "urn:xmpp:ping";
const ping = () => xml("iq", { type: "get", to: "localhost" }, xml("ping", { xmlns: PING }));
/** A presence of about `bytes` bytes (its status text), broadcast to nobody but the sender. */
const fat = (bytes: number) => xml("presence", null, xml("status", null, "x".repeat(bytes)));

/** The shipped limits (Prosody ships c2s 10 kB/s; ejabberd 3,000 B/s with 20 kB bursts). */
const SHIPPED = { bytesPerSecond: 10_000, burstBytes: 100_000, stanzasPerSecond: 50, stanzaBurst: 500 };

describe("input shapers by default", () => {
  const limits = loadConfig(undefined, {}).server.limits;
  let t: TestServer;
  const open: Im[] = [];
  const login = async (user: string, resource = "r") => {
    const c = await connect(t, user, resource, { timeoutMs: 60_000 });
    open.push(c);
    return c;
  };
  beforeAll(async () => {
    // The shipped limits, whatever the test helper sets.
    t = await startServer({ users: { romeo: "pw", mercutio: "pw", tybalt: "pw", juliet: "pw" }, config: { limits: {} } });
  });
  afterAll(async () => {
    await Promise.all(open.map((c) => c.stop().catch(() => {})));
    await t.stop();
  });

  it("are on: bytes and stanzas per second, each with a burst", () => {
    expect(limits).toMatchObject(SHIPPED);
  });

  it("slow a client past its burst, share one allowance among an account's connections, and leave others alone", { timeout: 120_000 }, async () => {
    const { bytesPerSecond: rate, burstBytes: burst, stanzasPerSecond: srate, stanzaBurst: sburst } = SHIPPED;
    const [romeo, mercutio1, mercutio2, tybalt, juliet] = [await login("romeo"), await login("mercutio", "a"), await login("mercutio", "b"), await login("tybalt"), await login("juliet")];
    const chunk = 5000;
    const over = 60_000; // beyond the burst
    const fats = Math.ceil((burst + over) / chunk);
    const started = performance.now();
    // Romeo alone, on one connection: the burst and 60 kB more.
    const oneConnection = (async () => {
      for (let i = 0; i < fats; i++) romeo.send(fat(chunk));
      await romeo.ask(ping());
      return performance.now() - started;
    })();
    // Mercutio, the same split over two connections (each under the burst alone).
    const twoConnections = (async () => {
      for (let i = 0; i < fats; i++) (i % 2 ? mercutio1 : mercutio2).send(fat(chunk));
      await Promise.all([mercutio1.ask(ping()), mercutio2.ask(ping())]);
      return performance.now() - started;
    })();
    // Tybalt: small stanzas, few bytes, more of them than the stanza burst.
    const stanzas = sburst + 3 * srate;
    const manyStanzas = (async () => {
      const replies = [];
      for (let i = 0; i < stanzas; i++) replies.push(tybalt.ask(ping()));
      await Promise.all(replies);
      return performance.now() - started;
    })();
    // Meanwhile Juliet's ping comes back at once.
    await new Promise((r) => setTimeout(r, 500));
    const asked = performance.now();
    await juliet.ask(ping());
    expect(performance.now() - asked).toBeLessThan(1000);

    const wants = (over / rate) * 1000 * 0.7; // 70% of the time the rate takes for what is over the burst
    expect(await oneConnection).toBeGreaterThan(wants);
    expect(await twoConnections).toBeGreaterThan(wants);
    expect(await manyStanzas).toBeGreaterThan(((stanzas - sburst) / srate) * 1000 * 0.7);
  });
});
