// A DNS server on a loopback UDP port for tests that resolve names (RFC 1035 §4 messages, the
// SRV RDATA of RFC 2782): it answers from a fixed zone with TTL 0, NXDOMAIN for a name it does not
// have and an empty answer (NODATA) for a type the name lacks, and keeps every question it was
// asked, so a test can check which queries reached it. Nothing is forwarded anywhere.
import { createSocket, type Socket } from "node:dgram";
import { isIP } from "node:net";

export interface SrvRecord { priority: number; weight: number; port: number; target: string }
export interface DnsRecords { srv?: SrvRecord[]; a?: string[]; aaaa?: string[] }
export interface DnsQuestion { name: string; type: "A" | "AAAA" | "SRV" | number }

const TYPES: Record<number, DnsQuestion["type"]> = { 1: "A", 28: "AAAA", 33: "SRV" };

export class DnsServer {
  /** Every question received, in order; names in lower case without the trailing dot. */
  readonly queries: DnsQuestion[] = [];
  /** The zone, by lower-case name without the trailing dot; tests may change it between queries. */
  readonly zone: Map<string, DnsRecords>;
  private readonly socket: Socket;

  private constructor(socket: Socket, zone: Record<string, DnsRecords>) {
    this.socket = socket;
    this.zone = new Map(Object.entries(zone).map(([k, v]) => [k.toLowerCase(), v]));
    socket.on("message", (msg, rinfo) => {
      const reply = this.answer(msg);
      if (reply !== undefined) socket.send(reply, rinfo.port, rinfo.address);
    });
  }

  /** Listens on `host` (127.0.0.1 or ::1), a free port. */
  static async start(zone: Record<string, DnsRecords>, host = "127.0.0.1"): Promise<DnsServer> {
    const socket = createSocket(isIP(host) === 6 ? "udp6" : "udp4");
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(0, host, () => resolve());
    });
    return new DnsServer(socket, zone);
  }

  /** The resolver option for this server: "127.0.0.1:port" or "[::1]:port". */
  get address(): string {
    const a = this.socket.address();
    return a.family === "IPv6" ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
  }

  /** The questions of one type about one name so far. */
  count(name: string, type: DnsQuestion["type"]): number {
    return this.queries.filter((q) => q.name === name && q.type === type).length;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }

  private answer(msg: Buffer): Buffer | undefined {
    if (msg.length < 12 || msg.readUInt16BE(4) !== 1) return undefined;
    const q = readName(msg, 12);
    if (q === undefined || q.end + 4 > msg.length) return undefined;
    const qtype = msg.readUInt16BE(q.end);
    const type = TYPES[qtype] ?? qtype;
    this.queries.push({ name: q.name, type });
    const records = this.zone.get(q.name);
    const answers = records === undefined ? [] : rdatas(records, type).map((rdata) => resourceRecord(qtype, rdata));
    const header = Buffer.alloc(12);
    header.writeUInt16BE(msg.readUInt16BE(0), 0);
    // QR, the query's opcode and RD, AA, RA; RCODE 3 (NXDOMAIN) for a name not in the zone.
    header.writeUInt16BE(0x8000 | (msg.readUInt16BE(2) & 0x7900) | 0x0400 | 0x0080 | (records === undefined ? 3 : 0), 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    return Buffer.concat([header, msg.subarray(12, q.end + 4), ...answers]);
  }
}

function rdatas(r: DnsRecords, type: DnsQuestion["type"]): Buffer[] {
  if (type === "A") return (r.a ?? []).map((a) => Buffer.from(a.split(".").map(Number)));
  if (type === "AAAA") return (r.aaaa ?? []).map(ipv6Bytes);
  if (type !== "SRV") return [];
  return (r.srv ?? []).map((s) => {
    const fixed = Buffer.alloc(6);
    fixed.writeUInt16BE(s.priority, 0);
    fixed.writeUInt16BE(s.weight, 2);
    fixed.writeUInt16BE(s.port, 4);
    return Buffer.concat([fixed, encodeName(s.target)]);
  });
}

/** An answer about the question's name (a pointer to offset 12), class IN, TTL 0. */
function resourceRecord(qtype: number, rdata: Buffer): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(0xc00c, 0);
  head.writeUInt16BE(qtype, 2);
  head.writeUInt16BE(1, 4);
  head.writeUInt32BE(0, 6);
  head.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([head, rdata]);
}

function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, "").split(".").filter((l) => l !== "");
  return Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, "ascii")])), Buffer.from([0])]);
}

/** An uncompressed name (questions carry no pointers); undefined if it runs off the message. */
function readName(msg: Buffer, offset: number): { name: string; end: number } | undefined {
  const labels: string[] = [];
  let i = offset;
  while (i < msg.length && msg[i]! !== 0) {
    const len = msg[i]!;
    if (len > 63 || i + 1 + len > msg.length) return undefined;
    labels.push(msg.toString("ascii", i + 1, i + 1 + len));
    i += 1 + len;
  }
  if (i >= msg.length) return undefined;
  return { name: labels.join(".").toLowerCase(), end: i + 1 };
}

function ipv6Bytes(address: string): Buffer {
  const [head, tail] = address.includes("::") ? address.split("::") as [string, string] : [address, undefined];
  const h = head === "" ? [] : head.split(":");
  const t = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}
