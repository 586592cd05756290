// A TCP relay between a client and the server, so a test can cut a real client's connection the
// way a mobile network does: both sockets destroyed, no </stream:stream>, no TCP goodbye to wait for.
import { createServer, connect, type Server, type Socket } from "node:net";

export class CutProxy {
  readonly port: number;
  private readonly server: Server;
  private readonly pairs: Set<[Socket, Socket]>;

  private constructor(server: Server, port: number, pairs: Set<[Socket, Socket]>) {
    this.server = server;
    this.port = port;
    this.pairs = pairs;
  }

  static async start(targetPort: number): Promise<CutProxy> {
    const pairs = new Set<[Socket, Socket]>();
    const server = createServer((client) => {
      const upstream = connect({ host: "127.0.0.1", port: targetPort });
      const pair: [Socket, Socket] = [client, upstream];
      pairs.add(pair);
      client.pipe(upstream);
      upstream.pipe(client);
      const drop = () => {
        pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on("error", drop).on("close", drop);
      upstream.on("error", drop).on("close", drop);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return new CutProxy(server, (server.address() as { port: number }).port, pairs);
  }

  /** Connections relayed now. */
  get open(): number {
    return this.pairs.size;
  }

  /** Destroys every relayed connection at once. */
  cutAll(): void {
    for (const [a, b] of [...this.pairs]) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
  }

  close(): Promise<void> {
    this.cutAll();
    return new Promise((r) => this.server.close(() => r()));
  }
}
