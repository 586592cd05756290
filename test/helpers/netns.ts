// A network namespace of a test's own, for a server process cut off from the others for real: two
// veth pairs to it, one its clients reach it by, one for everything else (Redis, Cassandra, the
// other nodes, through relays the test runs on the host side). Taking the second pair's link
// down is the partition: packets are dropped, connections stay open and hang, as when a network
// fails; bringing it up heals it. The addresses are link-local ones on those pairs only
// (169.254.0.0/16, nothing routed, no forwarding): nothing leaves the machine. Needs root and
// iproute2; everything is removed by destroy().
import { spawnSync } from "node:child_process";
import { createServer, connect, type Server, type Socket } from "node:net";

function ip(...args: string[]): void {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr || r.error?.message}`);
}

export class Netns {
  readonly name: string;
  /** The host's end of the pair the other services are reached through, and the namespace's. */
  readonly hostAddress: string;
  readonly innerAddress: string;
  /** The namespace's address on the pair its clients use. */
  readonly clientAddress: string;
  private readonly links: { cluster: string; client: string };

  private constructor(tag: number) {
    this.name = `xmppd-chaos-${tag}`;
    const subnet = `169.254.${100 + (tag % 100)}`;
    this.hostAddress = `${subnet}.1`;
    this.innerAddress = `${subnet}.2`;
    this.clientAddress = `${subnet}.6`;
    this.links = { cluster: `xcc${tag}`, client: `xck${tag}` };
  }

  /** Why namespaces cannot be made here, or undefined when they can. */
  static unavailable(): string | undefined {
    if (process.getuid?.() !== 0) return "not root";
    const r = spawnSync("ip", ["netns", "list"], { encoding: "utf8" });
    if (r.status !== 0) return `no usable iproute2 (${r.stderr || r.error?.message})`;
    return undefined;
  }

  static create(): Netns {
    const n = new Netns(process.pid % 100_000);
    const { cluster, client } = n.links;
    const subnet = n.hostAddress.slice(0, n.hostAddress.lastIndexOf("."));
    try {
      ip("netns", "add", n.name);
      ip("-n", n.name, "link", "set", "lo", "up");
      for (const [link, host, inner] of [[cluster, `${subnet}.1/30`, `${subnet}.2/30`], [client, `${subnet}.5/30`, `${subnet}.6/30`]] as const) {
        ip("link", "add", `${link}h`, "type", "veth", "peer", "name", `${link}n`);
        ip("link", "set", `${link}n`, "netns", n.name);
        ip("addr", "add", host, "dev", `${link}h`);
        ip("link", "set", `${link}h`, "up");
        ip("-n", n.name, "addr", "add", inner, "dev", `${link}n`);
        ip("-n", n.name, "link", "set", `${link}n`, "up");
      }
    } catch (e) {
      n.destroy();
      throw e;
    }
    return n;
  }

  /** The command line that runs `argv` inside the namespace. */
  wrap(argv: string[]): string[] {
    return ["ip", "netns", "exec", this.name, ...argv];
  }

  /** The partition: the link to everything but the clients goes down. */
  cut(): void {
    ip("link", "set", `${this.links.cluster}h`, "down");
  }

  heal(): void {
    ip("link", "set", `${this.links.cluster}h`, "up");
  }

  /** Removes the namespace and both pairs (a pair goes with either of its ends). */
  destroy(): void {
    for (const link of Object.values(this.links)) spawnSync("ip", ["link", "del", `${link}h`]);
    spawnSync("ip", ["netns", "del", this.name]);
  }
}

/** A TCP relay: connections to host:port are piped to target. */
export class Relay {
  readonly port: number;
  private readonly server: Server;
  private readonly sockets: Set<Socket>;

  private constructor(server: Server, port: number, sockets: Set<Socket>) {
    this.server = server;
    this.port = port;
    this.sockets = sockets;
  }

  static async start(host: string, target: { host: string; port: number }): Promise<Relay> {
    const sockets = new Set<Socket>();
    const server = createServer((a) => {
      const b = connect(target);
      for (const s of [a, b]) {
        sockets.add(s);
        s.on("close", () => {
          sockets.delete(s);
          a.destroy();
          b.destroy();
        });
        s.on("error", () => undefined);
      }
      a.pipe(b);
      b.pipe(a);
    });
    await new Promise<void>((r) => server.listen(0, host, r));
    return new Relay(server, (server.address() as { port: number }).port, sockets);
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((r) => this.server.close(() => r()));
  }
}
