// The SOCKS5 handshake (RFC 1928, the subset XEP-0065 uses): the no-authentication method and
// CONNECT to a DOMAINNAME, fed whole, byte by byte and in odd splits; everything else refused with
// RFC 1928's reply for it. And the listener: replies over a real socket, a refused client closed.
import { connect, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { Socks5Handshake, Socks5Reply, listenSocks5, socks5Reply, type HandshakeStep, type Socks5Connection } from "./socks5.ts";

const HASH = "c8c3b5f5a1e5a5c1f4a1b3b0e5c7f9d3e2a1b0c9";
const GREETING = Buffer.from([5, 1, 0]);
const METHOD_OK = Buffer.from([5, 0]);

/** A CONNECT request to a DOMAINNAME (XEP-0065 §6.3.2: the hash, port 0). */
function request(address = HASH, port = 0, over: Partial<{ ver: number; cmd: number; rsv: number; atyp: number }> = {}): Buffer {
  const a = Buffer.from(address, "latin1");
  return Buffer.concat([Buffer.from([over.ver ?? 5, over.cmd ?? 1, over.rsv ?? 0, over.atyp ?? 3, a.length]), a, Buffer.from([port >> 8, port & 0xff])]);
}

/** Feeds the bytes in pieces of `size` and collects what is written, and the last step. */
function feed(bytes: Buffer, size: number): { written: Buffer; last: HandshakeStep } {
  const h = new Socks5Handshake();
  const written: Buffer[] = [];
  let last: HandshakeStep = { state: "pending" };
  for (let i = 0; i < bytes.length && !h.finished; i += size) {
    last = h.push(bytes.subarray(i, i + size));
    if (last.write) written.push(last.write);
  }
  return { written: Buffer.concat(written), last };
}

describe("the handshake", () => {
  for (const size of [1, 2, 3, 7, 1000]) {
    it(`takes a greeting and a CONNECT in pieces of ${size} bytes`, () => {
      const { written, last } = feed(Buffer.concat([GREETING, request(HASH, 0)]), size);
      expect(written).toEqual(METHOD_OK);
      expect(last).toMatchObject({ state: "request", request: { address: HASH, port: 0 } });
    });
  }

  it("is pending until the last byte of the port", () => {
    const h = new Socks5Handshake();
    expect(h.push(GREETING)).toEqual({ state: "pending", write: METHOD_OK });
    const req = request();
    expect(h.push(req.subarray(0, -1))).toEqual({ state: "pending", write: undefined });
    expect(h.finished).toBe(false);
    expect(h.push(req.subarray(-1)).state).toBe("request");
    expect(h.finished).toBe(true);
  });

  it("hands back the bytes after the request, and takes no more input", () => {
    const h = new Socks5Handshake();
    const step = h.push(Buffer.concat([GREETING, request(HASH, 0x1234), Buffer.from("early")]));
    expect(step).toMatchObject({ state: "request", request: { address: HASH, port: 0x1234 } });
    expect((step as { rest: Buffer }).rest.toString()).toBe("early");
    expect(h.push(Buffer.from([5])).state).toBe("refused");
  });

  it("picks no-authentication among several methods, wherever it is in the list", () => {
    expect(feed(Buffer.concat([Buffer.from([5, 3, 2, 1, 0]), request()]), 1)).toMatchObject({ written: METHOD_OK, last: { state: "request" } });
  });

  it("takes any DOMAINNAME of 1 to 255 bytes (what it means is the caller's)", () => {
    expect(feed(Buffer.concat([GREETING, request("x")]), 1).last).toMatchObject({ request: { address: "x" } });
    const long = "a".repeat(255);
    expect(feed(Buffer.concat([GREETING, request(long, 65535)]), 1).last).toMatchObject({ request: { address: long, port: 65535 } });
  });

  const refusals: [string, Buffer, Buffer][] = [
    // Not SOCKS5 at all: nothing to answer in SOCKS5.
    ["SOCKS4", Buffer.from([4, 1, 0, 80, 127, 0, 0, 1, 0]), Buffer.alloc(0)],
    ["TLS", Buffer.from([0x16, 3, 1, 0, 5]), Buffer.alloc(0)],
    ["no methods", Buffer.from([5, 0]), Buffer.from([5, 0xff])],
    ["username/password only", Buffer.from([5, 1, 2]), Buffer.from([5, 0xff])],
    ["GSSAPI and username/password", Buffer.from([5, 2, 1, 2]), Buffer.from([5, 0xff])],
    ["a request of another version", Buffer.concat([GREETING, request(HASH, 0, { ver: 4 })]), METHOD_OK],
    ["BIND", Buffer.concat([GREETING, request(HASH, 0, { cmd: 2 })]), Buffer.concat([METHOD_OK, socks5Reply(Socks5Reply.commandNotSupported)])],
    ["UDP ASSOCIATE", Buffer.concat([GREETING, request(HASH, 0, { cmd: 3 })]), Buffer.concat([METHOD_OK, socks5Reply(Socks5Reply.commandNotSupported)])],
    ["a reserved byte set", Buffer.concat([GREETING, request(HASH, 0, { rsv: 1 })]), Buffer.concat([METHOD_OK, socks5Reply(Socks5Reply.generalFailure)])],
    ["an IPv4 address", Buffer.concat([GREETING, Buffer.from([5, 1, 0, 1, 127, 0, 0, 1, 0, 80])]), Buffer.concat([METHOD_OK, socks5Reply(Socks5Reply.addressTypeNotSupported)])],
    ["an IPv6 address", Buffer.concat([GREETING, Buffer.from([5, 1, 0, 4]), Buffer.alloc(18)]), Buffer.concat([METHOD_OK, socks5Reply(Socks5Reply.addressTypeNotSupported)])],
    ["an empty DOMAINNAME", Buffer.concat([GREETING, Buffer.from([5, 1, 0, 3, 0, 0, 0])]), Buffer.concat([METHOD_OK, socks5Reply(Socks5Reply.generalFailure)])],
  ];
  for (const [what, bytes, reply] of refusals) {
    for (const size of [1, bytes.length]) {
      it(`refuses ${what} (${size === 1 ? "byte by byte" : "in one piece"}) with RFC 1928's reply`, () => {
        const { written, last } = feed(bytes, size);
        expect(last.state).toBe("refused");
        expect(written).toEqual(reply);
      });
    }
  }

  it("never throws, and never holds more than one address, on random input", () => {
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let n = 0; n < 2000; n++) {
      const h = new Socks5Handshake();
      const len = Math.floor(rand() * 600);
      const bytes = Buffer.from(Array.from({ length: len }, () => Math.floor(rand() * 256)));
      // Often a valid start, so that the later states are reached too.
      if (rand() < 0.5) bytes.set([5, 1, 0, 5, 1, 0, 3].slice(0, Math.min(7, len)));
      for (let i = 0; i < bytes.length && !h.finished; i += 1 + Math.floor(rand() * 5)) {
        const step = h.push(bytes.subarray(i, i + 1 + Math.floor(rand() * 5)));
        expect(["pending", "request", "refused"]).toContain(step.state);
        if (step.state === "request") expect(step.request.address.length).toBeLessThanOrEqual(255);
      }
    }
  });
});

describe("the reply", () => {
  it("echoes the DOMAINNAME and port as BND.ADDR and BND.PORT (XEP-0065 §6.3.2)", () => {
    expect(socks5Reply(Socks5Reply.succeeded, { address: "ab", port: 258 })).toEqual(Buffer.from([5, 0, 0, 3, 2, 0x61, 0x62, 1, 2]));
  });

  it("gives 0.0.0.0:0 when there is no address to echo", () => {
    expect(socks5Reply(Socks5Reply.commandNotSupported)).toEqual(Buffer.from([5, 7, 0, 1, 0, 0, 0, 0, 0, 0]));
  });
});

describe("the listener", () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  /** A listener whose requests are answered by `answer`; resolves with its port. */
  async function listen(answer: (c: Socks5Connection) => void, admit = true, handshakeTimeoutMs = 5000): Promise<number> {
    server = await listenSocks5({ host: "127.0.0.1", port: 0, maxConnections: 10, handshakeTimeoutMs, admit: () => admit, onRequest: answer });
    return (server.address() as { port: number }).port;
  }

  /** Connects, writes, and collects everything until the server closes. */
  async function exchange(port: number, bytes: Buffer, byteByByte = false): Promise<Buffer> {
    const s: Socket = connect(port, "127.0.0.1");
    const got: Buffer[] = [];
    s.on("data", (d: Buffer) => got.push(d));
    s.on("error", () => {});
    // Listened for before writing: the server may answer and close before the last write's callback.
    const closed = new Promise<void>((r) => s.once("close", () => r()));
    await new Promise<void>((r) => s.once("connect", () => r()));
    if (byteByByte) for (const b of bytes) await new Promise<void>((r) => s.write(Buffer.from([b]), () => setTimeout(r, 1)));
    else s.write(bytes);
    await closed;
    return Buffer.concat(got);
  }

  it("answers a request byte by byte with the caller's acceptance, and hands over the socket", async () => {
    const port = await listen((c) => {
      c.accept();
      c.socket.end("relayed");
      c.socket.resume();
    });
    const got = await exchange(port, Buffer.concat([GREETING, request()]), true);
    expect(got).toEqual(Buffer.concat([METHOD_OK, socks5Reply(0, { address: HASH, port: 0 }), Buffer.from("relayed")]));
  });

  it("sends the caller's refusal and closes", async () => {
    const port = await listen((c) => c.refuse(Socks5Reply.notAllowed));
    expect(await exchange(port, Buffer.concat([GREETING, request()]))).toEqual(Buffer.concat([METHOD_OK, socks5Reply(Socks5Reply.notAllowed, { address: HASH, port: 0 })]));
  });

  it("closes a connection with a bad handshake after its refusal", async () => {
    const port = await listen(() => expect.unreachable());
    expect(await exchange(port, Buffer.from([5, 1, 2]))).toEqual(Buffer.from([5, 0xff]));
    expect(await exchange(port, Buffer.from("GET / HTTP/1.1\r\n\r\n"))).toEqual(Buffer.alloc(0));
  });

  it("closes a connection the caller does not admit, and one that does not finish its handshake in time", async () => {
    expect(await exchange(await listen(() => {}, false), GREETING)).toEqual(Buffer.alloc(0));
    server!.close();
    const started = Date.now();
    expect(await exchange(await listen(() => {}, true, 300), GREETING)).toEqual(METHOD_OK);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });
});
