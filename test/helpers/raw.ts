// A raw XMPP connection for tests that need byte-level control: bad input, exact error elements,
// mechanisms the client libraries lack. Reads are matched against the accumulated text.
import { connect, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from "node:tls";
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";

export const OPEN = (domain = "localhost") =>
  `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='${domain}' version='1.0'>`;

/** A whole <stream:features/> element. */
export const FEATURES = /<stream:features>[\s\S]*?<\/stream:features>/;

export class RawClient {
  socket: Socket | TLSSocket;
  buffer = "";
  closed = false;
  private waiters: (() => void)[] = [];

  private constructor(socket: Socket | TLSSocket) {
    this.socket = socket;
    this.listen();
  }

  private listen(): void {
    this.socket.setEncoding("utf8");
    this.socket.on("data", (d: string) => {
      this.buffer += d;
      this.wake();
    });
    this.socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
    this.socket.on("error", () => {});
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** `localAddress`: the client's own address (any of 127.0.0.0/8 reaches the loopback listener). */
  static connect(port: number, tls = false, localAddress?: string, tlsOptions: ConnectionOptions = {}): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      // tls.connect takes net.connect's options too (localAddress), which its type leaves out.
      const s = tls ? tlsConnect({ host: "127.0.0.1", port, localAddress, rejectUnauthorized: false, ...tlsOptions } as ConnectionOptions)
        : connect({ host: "127.0.0.1", port, localAddress });
      s.once(tls ? "secureConnect" : "connect", () => resolve(new RawClient(s)));
      s.once("error", reject);
    });
  }

  send(data: string): void {
    this.socket.write(data);
  }

  /** Waits until the received text matches; returns the match. Consumes text up to its end. */
  async expect(pattern: RegExp | string, timeoutMs = 5000): Promise<string> {
    const re = typeof pattern === "string" ? new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")) : pattern;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.buffer);
      if (m) {
        this.buffer = this.buffer.slice(m.index + m[0].length);
        return m[0];
      }
      if (this.closed) throw new Error(`closed before ${re}; got: ${this.buffer}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout waiting for ${re}; got: ${this.buffer}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Waits for the server to close the connection. */
  async closedByServer(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error("server did not close the connection");
      await new Promise<void>((r) => {
        const t = setTimeout(r, 50);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** `pipelined`: what follows <starttls/> in the same write, in the clear. */
  async startTls(options: ConnectionOptions = {}, pipelined = ""): Promise<void> {
    this.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>" + pipelined);
    await this.expect("<proceed");
    const plain = this.socket;
    plain.removeAllListeners("data");
    plain.removeAllListeners("close");
    const secure = tlsConnect({ socket: plain, rejectUnauthorized: false, servername: "localhost", ...options });
    await new Promise<void>((r, j) => {
      secure.once("secureConnect", () => r());
      secure.once("error", j);
    });
    this.socket = secure;
    this.buffer = "";
    this.listen();
  }

  /** SCRAM login with SHA-1 or SHA-256 (optionally -PLUS over tls-exporter); returns the server's final message. */
  async scram(user: string, password: string, hash: "SHA-1" | "SHA-256" = "SHA-256", plus = false): Promise<string> {
    const started = await this.scramStart(user, hash, plus);
    return typeof started === "string" ? started : started.finish(password);
  }

  /**
   * The first half of a SCRAM exchange: client-first, then the server's challenge. Returns the
   * <failure/> when there is no challenge, else what sends client-final with a password and
   * returns the server's answer.
   */
  async scramStart(user: string, hash: "SHA-1" | "SHA-256" = "SHA-256", plus = false):
    Promise<string | { serverFirst: string; finish(password: string): Promise<string> }> {
    const alg = hash === "SHA-1" ? "sha1" : "sha256";
    const mech = `SCRAM-${hash}${plus ? "-PLUS" : ""}`;
    const nonce = randomBytes(18).toString("base64");
    const gs2 = plus ? "p=tls-exporter,," : "n,,";
    const first = `n=${user},r=${nonce}`;
    this.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='${mech}'>${Buffer.from(gs2 + first).toString("base64")}</auth>`);
    const ch = await this.expect(/<challenge[^>]*>([^<]*)<\/challenge>|<failure[\s\S]*?<\/failure>/);
    if (ch.startsWith("<failure")) return ch;
    const serverFirst = Buffer.from(/>([^<]*)</.exec(ch)![1]!, "base64").toString();
    return { serverFirst, finish: (password) => this.scramFinish(alg, gs2, first, serverFirst, password, plus) };
  }

  private scramFinish(alg: "sha1" | "sha256", gs2: string, first: string, serverFirst: string, password: string, plus: boolean): Promise<string> {
    const attrs = Object.fromEntries(serverFirst.split(",").map((kv) => [kv[0], kv.slice(2)]));
    const salted = pbkdf2Sync(password, Buffer.from(attrs.s!, "base64"), Number(attrs.i), alg === "sha1" ? 20 : 32, alg);
    const clientKey = createHmac(alg, salted).update("Client Key").digest();
    const storedKey = createHash(alg).update(clientKey).digest();
    let cbData = Buffer.from(gs2);
    if (plus) cbData = Buffer.concat([cbData, (this.socket as TLSSocket).exportKeyingMaterial(32, "EXPORTER-Channel-Binding", Buffer.alloc(0))]);
    const finalNoProof = `c=${cbData.toString("base64")},r=${attrs.r}`;
    const authMessage = `${first},${serverFirst},${finalNoProof}`;
    const sig = createHmac(alg, storedKey).update(authMessage).digest();
    const proof = Buffer.from(clientKey.map((b, i) => b ^ sig[i]!));
    this.send(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>${Buffer.from(`${finalNoProof},p=${proof.toString("base64")}`).toString("base64")}</response>`);
    return this.expect(/<success[^>]*\/>|<success[\s\S]*?<\/success>|<failure[\s\S]*?<\/failure>/);
  }

  /** Open, then STARTTLS and a new header unless `starttls` is false: the stream with the features it was last offered. */
  static async stream(port: number, starttls = true): Promise<{ c: RawClient; features: string }> {
    const c = await RawClient.connect(port);
    c.send(OPEN());
    let features = await c.expect(FEATURES);
    if (starttls) {
      await c.startTls();
      c.send(OPEN());
      features = await c.expect(FEATURES);
    }
    return { c, features };
  }

  /**
   * Open, STARTTLS, SCRAM and, when it succeeds, the restarted stream's features: an authenticated
   * stream before resource binding. `sasl` is the server's <success/> or <failure/>; `features` is ""
   * after a failure.
   */
  static async authenticated(port: number, user: string, password: string, hash: "SHA-1" | "SHA-256" = "SHA-256"):
    Promise<{ c: RawClient; sasl: string; features: string }> {
    const { c } = await RawClient.stream(port);
    const sasl = await c.scram(user, password, hash);
    if (!sasl.startsWith("<success")) return { c, sasl, features: "" };
    c.send(OPEN());
    return { c, sasl, features: await c.expect(FEATURES) };
  }

  /** Open, STARTTLS, SCRAM, restart, bind: a ready session. */
  static async login(port: number, user: string, password: string, resource = "raw"): Promise<RawClient> {
    const { c, sasl } = await RawClient.authenticated(port, user, password);
    if (!sasl.startsWith("<success")) throw new Error(`login failed: ${sasl}`);
    c.send(`<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`);
    await c.expect(/<iq[^>]*id=["']bind["'][\s\S]*?<\/iq>/);
    return c;
  }

  close(): void {
    this.socket.destroy();
  }
}
