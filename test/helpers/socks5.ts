// A SOCKS5 client for tests of the XEP-0065 proxy, byte-exact: the greeting with no
// authentication, CONNECT to the stream's hash as a DOMAINNAME with port 0 (XEP-0065 §6.3.2),
// then whatever the test writes. It keeps every byte it receives and notes the server's end and
// close, so a test can wait for a number of bytes, for the end, or for the close.
import { createHash } from "node:crypto";
import { connect, type Socket } from "node:net";

/** SHA-1 of SID + Requester JID + Target JID, in hex (XEP-0065 §6.3.2). */
export function dstAddr(sid: string, requester: string, target: string): string {
  return createHash("sha1").update(sid + requester + target).digest("hex");
}

export class Socks5Client {
  readonly socket: Socket;
  private data: Buffer[] = [];
  private size = 0;
  /** The server ended its side (FIN) or the socket closed. */
  ended = false;
  closed = false;
  private waiters: (() => void)[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (d: Buffer) => {
      this.data.push(d);
      this.size += d.length;
      this.wake();
    });
    socket.on("end", () => {
      this.ended = true;
      this.wake();
    });
    socket.on("close", () => {
      this.ended = this.closed = true;
      this.wake();
    });
    socket.on("error", () => {});
  }

  /** A TCP connection to the proxy, nothing sent yet (for limits on connections). */
  static async tcp(port: number, localAddress = "127.0.0.1"): Promise<Socks5Client> {
    const s = connect({ port, host: "127.0.0.1", localAddress, allowHalfOpen: true });
    await new Promise<void>((resolve, reject) => {
      s.once("connect", () => resolve());
      s.once("error", reject);
    });
    return new Socks5Client(s);
  }

  /**
   * Connects and asks for the stream `hash`; resolves with the client once the proxy said
   * "succeeded" (the reply echoing the hash and port), rejects with the reply code it got instead.
   */
  static async open(port: number, hash: string, localAddress?: string): Promise<Socks5Client> {
    const c = await Socks5Client.tcp(port, localAddress);
    c.write(Buffer.from([5, 1, 0]));
    const method = await c.take(2);
    if (method[1] !== 0) throw new Error(`method refused: ${method.toString("hex")}`);
    const addr = Buffer.from(hash, "latin1");
    const req = Buffer.concat([Buffer.from([5, 1, 0, 3, addr.length]), addr, Buffer.from([0, 0])]);
    c.write(req);
    const head = await c.take(2);
    if (head[1] !== 0) throw Object.assign(new Error(`SOCKS5 reply ${head[1]}`), { code: head[1] });
    const rest = await c.take(req.length - 2);
    const expected = Buffer.from(req);
    expected[1] = 0;
    if (!Buffer.concat([head, rest]).equals(expected)) throw new Error(`reply does not echo the request: ${Buffer.concat([head, rest]).toString("hex")}`);
    return c;
  }

  write(data: Buffer | string): void {
    this.socket.write(data);
  }

  /** Ends this side (FIN); the other direction stays open. */
  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** The next `n` bytes, waiting for them. */
  async take(n: number, timeoutMs = 5000): Promise<Buffer> {
    await this.until(() => this.size >= n || this.ended, `${n} bytes`, timeoutMs);
    if (this.size < n) throw new Error(`connection ended after ${this.size} of ${n} bytes`);
    const all = Buffer.concat(this.data);
    this.data = [all.subarray(n)];
    this.size -= n;
    return all.subarray(0, n);
  }

  /** Everything until the proxy ends this connection. */
  async rest(timeoutMs = 5000): Promise<Buffer> {
    await this.until(() => this.ended, "the end", timeoutMs);
    const all = Buffer.concat(this.data);
    this.data = [];
    this.size = 0;
    return all;
  }

  /** Bytes received and not taken. */
  get buffered(): number {
    return this.size;
  }

  /** Waits for the proxy to end the connection (its FIN, or a reset); this side stays as it is. */
  async closedByServer(timeoutMs = 5000): Promise<void> {
    await this.until(() => this.ended, "the end", timeoutMs);
  }

  private async until(done: () => boolean, what: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout waiting for ${what} (${this.size} bytes buffered, ended ${this.ended})`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}
