// Authentication (RFC 6120 §6): each SASL mechanism over a real socket, channel binding, wrong
// passwords, throttling, direct TLS (XEP-0368), and a standard client library (@xmpp/client).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { client } from "@xmpp/client";
import { startServer, type TestServer } from "../helpers/server.ts";
import { OPEN, RawClient } from "../helpers/raw.ts";

let t: TestServer;
beforeAll(async () => {
  t = await startServer({ users: { romeo: "s3cret", "ünïcode": "pässwörd ✓" }, config: { auth: { failuresPerMinute: 100 } } });
});
afterAll(() => t.stop());

async function tlsStream(direct = false): Promise<RawClient> {
  const c = await RawClient.connect(direct ? t.tlsPort : t.port, direct);
  c.send(OPEN());
  await c.expect("</stream:features>");
  if (!direct) {
    await c.startTls();
    c.send(OPEN());
    await c.expect("</stream:features>");
  }
  return c;
}

const plain = (user: string, pass: string, authzid = "") =>
  `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`${authzid}\0${user}\0${pass}`).toString("base64")}</auth>`;

describe("SASL mechanisms", () => {
  for (const hash of ["SHA-1", "SHA-256"] as const) {
    for (const plus of [false, true]) {
      it(`SCRAM-${hash}${plus ? "-PLUS" : ""} succeeds with the server's signature`, async () => {
        const c = await tlsStream();
        expect(await c.scram("romeo", "s3cret", hash, plus)).toMatch(/^<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl">[A-Za-z0-9+/=]+<\/success>/);
        c.close();
      });
    }
  }

  it("SCRAM-SHA-256 with a Unicode username and password", async () => {
    const c = await tlsStream();
    expect(await c.scram("ünïcode", "pässwörd ✓")).toMatch(/^<success/);
    c.close();
  });

  it("PLAIN over TLS succeeds", async () => {
    const c = await tlsStream();
    c.send(plain("romeo", "s3cret"));
    await c.expect("<success xmlns=\"urn:ietf:params:xml:ns:xmpp-sasl\"/>");
    c.close();
  });

  it("PLAIN with an authzid of someone else is invalid-authzid", async () => {
    const c = await tlsStream();
    c.send(plain("romeo", "s3cret", "juliet@localhost"));
    await c.expect("<failure xmlns=\"urn:ietf:params:xml:ns:xmpp-sasl\"><invalid-authzid/>");
    c.close();
  });

  it("an unknown mechanism is invalid-mechanism", async () => {
    const c = await tlsStream();
    c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='DIGEST-MD5'/>");
    await c.expect("<failure xmlns=\"urn:ietf:params:xml:ns:xmpp-sasl\"><invalid-mechanism/>");
    c.close();
  });

  it("bad base64 is incorrect-encoding", async () => {
    const c = await tlsStream();
    c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>!!!notbase64</auth>");
    await c.expect("<failure xmlns=\"urn:ietf:params:xml:ns:xmpp-sasl\"><incorrect-encoding/>");
    c.close();
  });

  it("abort is answered with aborted", async () => {
    const c = await tlsStream();
    c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>${Buffer.from("n,,n=romeo,r=abcdefgh").toString("base64")}</auth>`);
    await c.expect("<challenge");
    c.send("<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
    await c.expect("<failure xmlns=\"urn:ietf:params:xml:ns:xmpp-sasl\"><aborted/>");
    c.close();
  });

  it("direct TLS (XEP-0368) offers SASL at once and logs in", async () => {
    const c = await tlsStream(true);
    expect(await c.scram("romeo", "s3cret", "SHA-256", true)).toMatch(/^<success/);
    c.close();
  });
});

describe("TLS optional (a loopback test profile)", () => {
  it("offers PLAIN and -PLUS only once STARTTLS has secured the stream, and they work there", async () => {
    const s = await startServer({ users: { romeo: "s3cret" }, config: { c2s: { host: "127.0.0.1", requireTls: false } } });
    const c = await RawClient.connect(s.port);
    c.send(OPEN());
    const before = await c.expect(/<stream:features>[\s\S]*?<\/stream:features>/);
    expect(before).not.toContain("<mechanism>PLAIN</mechanism>");
    expect(before).not.toContain("-PLUS</mechanism>");
    await c.startTls();
    c.send(OPEN());
    const after = await c.expect(/<stream:features>[\s\S]*?<\/stream:features>/);
    expect(after).toContain("<mechanism>PLAIN</mechanism>");
    expect(after).toContain("<mechanism>SCRAM-SHA-256-PLUS</mechanism>");
    expect(await c.scram("romeo", "s3cret", "SHA-256", true)).toMatch(/^<success/);
    c.close();
    await s.stop();
  });
});

describe("wrong credentials", () => {
  it("a wrong password is not-authorized, for SCRAM and PLAIN, and an unknown user looks the same", async () => {
    const c = await tlsStream();
    expect(await c.scram("romeo", "wrong")).toMatch(/<failure xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><not-authorized\/>/);
    expect(await c.scram("nobody", "wrong")).toMatch(/<failure xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><not-authorized\/>/);
    c.close();
    const d = await tlsStream(true);
    d.send(plain("romeo", "wrong"));
    await d.expect("<failure xmlns=\"urn:ietf:params:xml:ns:xmpp-sasl\"><not-authorized/>");
    d.close();
  });

  it("repeated failures from one address are throttled, even with the right password", async () => {
    const s = await startServer({ users: { romeo: "s3cret" }, config: { auth: { failuresPerMinute: 2 } } });
    const c = await RawClient.connect(s.tlsPort, true);
    c.send(OPEN());
    await c.expect("</stream:features>");
    expect(await c.scram("romeo", "bad1")).toContain("<not-authorized/>");
    expect(await c.scram("romeo", "bad2")).toContain("<not-authorized/>");
    expect(await c.scram("romeo", "s3cret")).toContain("<temporary-auth-failure/>");
    c.close();
    await s.stop();
  });

  it("after five failures on one stream the stream is closed", async () => {
    const s = await startServer({ users: { romeo: "s3cret" }, config: { auth: { failuresPerMinute: 100 } } });
    const c = await RawClient.connect(s.tlsPort, true);
    c.send(OPEN());
    await c.expect("</stream:features>");
    for (let i = 0; i < 5; i++) c.send(plain("romeo", `bad${i}`));
    await c.expect("<stream:error><policy-violation");
    await c.closedByServer();
    await s.stop();
  });
});

describe("usernames cannot be told apart by their SCRAM challenge", () => {
  /** The server-first message's salt and iteration count for `user`. */
  async function challenge(s: TestServer, user: string): Promise<{ salt: string; iterations: string }> {
    const c = await RawClient.connect(s.tlsPort, true);
    c.send(OPEN());
    await c.expect("</stream:features>");
    const started = await c.scramStart(user);
    c.close();
    if (typeof started === "string") throw new Error(started);
    const a = Object.fromEntries(started.serverFirst.split(",").map((kv) => [kv[0], kv.slice(2)]));
    return { salt: a.s!, iterations: a.i! };
  }

  it("an unknown user gets the iteration count the configuration gives accounts, and the same salt after a restart", async () => {
    const s = await startServer({ users: { romeo: "s3cret" }, config: { auth: { iterations: 5000 } } });
    expect((await challenge(s, "romeo")).iterations).toBe("5000");
    const ghost = await challenge(s, "ghost");
    expect(ghost.iterations).toBe("5000");
    expect(await challenge(s, "Ghost")).toEqual(ghost);
    expect((await challenge(s, "spirit")).salt).not.toBe(ghost.salt);
    await s.stop(false);
    const again = await startServer({ dataDir: s.dataDir, config: { auth: { iterations: 5000 } } });
    expect(await challenge(again, "ghost")).toEqual(ghost);
    await again.stop();
  });

  it("a wrong PLAIN password costs an unknown user the same key derivation as an existing one", async () => {
    // A high count makes the derivation the whole of the time, so a difference in it shows.
    const s = await startServer({ users: { romeo: "s3cret" }, config: { auth: { iterations: 100_000, failuresPerMinute: 100 } } });
    const time = async (user: string): Promise<number> => {
      const c = await RawClient.connect(s.tlsPort, true);
      c.send(OPEN());
      await c.expect("</stream:features>");
      const t0 = performance.now();
      c.send(plain(user, "wrong"));
      await c.expect("<not-authorized/>");
      c.close();
      return performance.now() - t0;
    };
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1]!;
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 5; i++) {
      known.push(await time("romeo"));
      unknown.push(await time(`ghost${i}`));
    }
    expect(median(unknown)).toBeGreaterThan(0.7 * median(known));
    await s.stop();
  });
});

describe("the login throttle", () => {
  /** A direct TLS stream from `localAddress` (127.0.0.1 unless given), features read. */
  async function direct(s: TestServer, localAddress?: string): Promise<RawClient> {
    const c = await RawClient.connect(s.tlsPort, true, localAddress);
    c.send(OPEN());
    await c.expect("</stream:features>");
    return c;
  }

  it("SCRAM exchanges started on 40 connections from one address: only failuresPerMinute of them get a challenge, the right password on the 40th is refused", async () => {
    const s = await startServer({ users: { romeo: "s3cret" }, config: { auth: { failuresPerMinute: 5 } } });
    const conns = await Promise.all(Array.from({ length: 40 }, () => direct(s)));
    // Every client-first is answered before any client-final is sent: no failure is known yet.
    const started = [];
    for (const c of conns) started.push(await c.scramStart("romeo"));
    const challenged = started.filter((x) => typeof x !== "string");
    expect(challenged).toHaveLength(5);
    for (const x of started.slice(5)) expect(x).toContain("<temporary-auth-failure/>");
    const finals = await Promise.all(challenged.map((x) => x.finish("wrong")));
    for (const f of finals) expect(f).toContain("<not-authorized/>");
    expect(await conns[39]!.scram("romeo", "s3cret")).toContain("<temporary-auth-failure/>");
    for (const c of conns) c.close();
    await s.stop();
  });

  it("40 PLAIN <auth/> with wrong passwords on 40 connections at once: at most failuresPerMinute passwords are checked", async () => {
    const s = await startServer({ users: { romeo: "s3cret" }, config: { auth: { failuresPerMinute: 5 } } });
    const conns = await Promise.all(Array.from({ length: 40 }, () => direct(s)));
    for (const [i, c] of conns.entries()) c.send(plain("romeo", `wrong${i}`));
    const answers = await Promise.all(conns.map((c) => c.expect(/<failure[\s\S]*?<\/failure>/)));
    expect(answers.filter((a) => a.includes("<not-authorized/>"))).toHaveLength(5);
    expect(answers.filter((a) => a.includes("<temporary-auth-failure/>"))).toHaveLength(35);
    for (const c of conns) c.close();
    await s.stop();
  });

  it("successful logins do not use the limit up", async () => {
    const s = await startServer({ users: { romeo: "s3cret" }, config: { auth: { failuresPerMinute: 2 } } });
    for (let i = 0; i < 6; i++) {
      const c = await direct(s);
      expect(await c.scram("romeo", "s3cret")).toMatch(/^<success/);
      c.close();
    }
    await s.stop();
  });

  it("failed logins to one account from many addresses delay its further attempts (never a lockout)", async () => {
    const s = await startServer({ users: { romeo: "s3cret" }, config: { auth: { failuresPerMinute: 100, failuresPerAccount: 2 } } });
    const attempt = async (n: number, password: string): Promise<{ answer: string; ms: number }> => {
      const c = await direct(s, `127.0.0.${n}`);
      const t0 = Date.now();
      const answer = await c.scram("romeo", password);
      c.close();
      return { answer, ms: Date.now() - t0 };
    };
    // Two wrong passwords from two addresses are answered at once.
    for (const n of [2, 3]) {
      const { answer, ms } = await attempt(n, "wrong");
      expect(answer).toContain("<not-authorized/>");
      expect(ms).toBeLessThan(900);
    }
    // From a third address, the next one waits its turn (a second), and the one after longer.
    const third = await attempt(4, "wrong");
    expect(third.answer).toContain("<not-authorized/>");
    expect(third.ms).toBeGreaterThanOrEqual(900);
    // The right password still logs in, after its wait.
    const right = await attempt(5, "s3cret");
    expect(right.answer).toMatch(/^<success/);
    expect(right.ms).toBeGreaterThanOrEqual(1800);
    await s.stop();
  });
});

describe("a standard client library", () => {
  it("@xmpp/client logs in over STARTTLS with SCRAM-SHA-1 and binds", async () => {
    const xmpp = client({ service: `xmpp://127.0.0.1:${t.port}`, domain: "localhost", username: "romeo", password: "s3cret", resource: "lib" });
    xmpp.on("error", () => {});
    const address = await xmpp.start();
    expect(address.toString()).toBe("romeo@localhost/lib");
    await xmpp.stop();
  });

  it("@xmpp/client gets an error for a wrong password", async () => {
    const xmpp = client({ service: `xmpp://127.0.0.1:${t.port}`, domain: "localhost", username: "romeo", password: "nope" });
    xmpp.on("error", () => {});
    await expect(xmpp.start()).rejects.toThrow(/not-authorized/);
    await xmpp.stop().catch(() => {});
  });
});
