// The proxy's connections and streams (XEP-0065 §6.3): SOCKS5 connections wait, paired by their
// DST.ADDR (SHA-1 of SID + Requester JID + Target JID), until the Requester activates the pair;
// then the pair is relayed. The proxy knows a stream only by that hash. Limits, each per process
// and per account or per address: connections not activated yet (per process and per client
// address, and each closed if not activated in time), activated streams (per process and per
// Requester's account), and bytes per second (per stream, per Requester's account, per process).
// The Requester's account owns a stream: it asked for it and activated it, and only it can be
// named; the Target is known by the hash only. The counts are this process's: in a cluster each
// node's proxy keeps its own (a stream lives on one node).
import { createHash } from "node:crypto";
import type { Socket } from "node:net";
import { StanzaError } from "../../core/errors.ts";
import { TokenBucket } from "../../core/limits.ts";
import type { Logger } from "../../core/log.ts";
import { Socks5Reply, type Socks5Connection } from "../../transports/socks5.ts";
import type { JID } from "../../xml/jid.ts";
import { Relay } from "./relay.ts";

export interface StreamLimits {
  /** Connections not activated yet (in the handshake or waiting), in the process. */
  readonly maxPending: number;
  /** The same, from one client address. */
  readonly maxPendingPerAddress: number;
  /** From connect to activation; a connection not activated by then is closed. */
  readonly activationTimeoutMs: number;
  /** Activated streams in the process. */
  readonly maxStreams: number;
  /** Activated streams one account has requested. */
  readonly maxStreamsPerAccount: number;
  /** Bytes relayed per stream, both ways; 0: no bound. */
  readonly maxStreamBytes: number;
  readonly idleTimeoutMs: number;
  /** Bytes per second; 0 lifts the limit. */
  readonly streamRate: number;
  readonly accountRate: number;
  readonly processRate: number;
}

/** The DST.ADDR of a stream (§6.3.2): SHA-1 of SID + Requester JID + Target JID, in lower-case hex. */
export function streamHash(sid: string, requester: JID, target: JID): string {
  return createHash("sha1").update(sid + requester.toString() + target.toString(), "utf8").digest("hex");
}

const HASH = /^[0-9a-f]{40}$/i;

/** Bytes a connection may send before activation, which are dropped (§10.1, StreamHost requirements: "ignore any bytes sent before the bytestream is activated"). */
const MAX_EARLY_BYTES = 65_536;

interface Waiting {
  readonly socket: Socket;
  readonly address: string;
  readonly timer: NodeJS.Timeout;
  hash?: string;
}

interface Account { streams: number; readonly bucket: TokenBucket | undefined }

export class StreamTable {
  private readonly limits: StreamLimits;
  private readonly log: Logger;
  /** Connections not activated yet, by socket. */
  private readonly waiting = new Map<Socket, Waiting>();
  private readonly perAddress = new Map<string, number>();
  /** Connections that sent their request, by DST.ADDR: one or two (the Target's, the Requester's). */
  private readonly pairs = new Map<string, Socks5Connection[]>();
  private readonly relays = new Set<Relay>();
  private readonly accounts = new Map<string, Account>();
  private readonly processBucket: TokenBucket | undefined;

  constructor(limits: StreamLimits, log: Logger) {
    this.limits = limits;
    this.log = log;
    this.processBucket = bucket(limits.processRate);
  }

  /** A new connection: counted until it is activated or gone, and closed if not activated in time. */
  admit(socket: Socket): boolean {
    const address = socket.remoteAddress ?? "unknown";
    const fromAddress = this.perAddress.get(address) ?? 0;
    if (this.waiting.size >= this.limits.maxPending || fromAddress >= this.limits.maxPendingPerAddress) {
      // Debug: a flood of connections is no reason for a flood of log lines.
      this.log.debug({ address, pending: this.waiting.size, fromAddress }, "SOCKS5 connection refused: too many not activated");
      return false;
    }
    this.perAddress.set(address, fromAddress + 1);
    const timer = setTimeout(() => socket.destroy(), this.limits.activationTimeoutMs).unref();
    this.waiting.set(socket, { socket, address, timer });
    socket.once("close", () => this.release(socket));
    return true;
  }

  /** A CONNECT request: a stream's hash, paired with the other party's when it comes. */
  connect(c: Socks5Connection): void {
    const w = this.waiting.get(c.socket);
    if (!w) return void c.socket.destroy();
    const hash = c.request.address.toLowerCase();
    // Only a stream's hash is an address here (XEP-0065 §6.3.2, the hostname MUST be the SHA-1).
    if (!HASH.test(hash)) return this.refuse(c, Socks5Reply.hostUnreachable);
    const pair = this.pairs.get(hash) ?? [];
    // One Target per stream (§10.1, StreamHost requirements): a third connection has no place.
    if (pair.length === 2) return this.refuse(c, Socks5Reply.notAllowed);
    w.hash = hash;
    pair.push(c);
    this.pairs.set(hash, pair);
    let early = c.rest.length;
    c.socket.on("data", (chunk: Buffer) => {
      early += chunk.length;
      if (early > MAX_EARLY_BYTES) c.socket.destroy();
    });
    // A party that ends before activation is gone (the sockets are half-open capable for the relay).
    c.socket.on("end", () => c.socket.destroy());
    c.socket.resume();
    c.accept();
  }

  /**
   * Activation (§6.3.5) by `requester` of its stream with `target`: both connected, within the
   * limits; throws the XEP's error otherwise. The pair leaves the waiting table and is relayed.
   */
  activate(requester: JID, sid: string, target: JID): void {
    const hash = streamHash(sid, requester, target);
    const pair = this.pairs.get(hash);
    // Known by its hash only: a wrong Requester, SID or Target finds no stream.
    if (!pair) throw new StanzaError("item-not-found", "no connection for this stream: the SID, the target or the requester's full JID do not match");
    if (pair.length < 2) throw new StanzaError("not-allowed", "only one party is connected");
    const owner = requester.bare.toString();
    const account = this.accounts.get(owner);
    if (this.relays.size >= this.limits.maxStreams) throw new StanzaError("resource-constraint", "the proxy relays as many streams as it can");
    if ((account?.streams ?? 0) >= this.limits.maxStreamsPerAccount) {
      throw new StanzaError("resource-constraint", `at most ${this.limits.maxStreamsPerAccount} streams at a time per account`);
    }
    const [a, b] = pair as [Socks5Connection, Socks5Connection];
    this.pairs.delete(hash);
    for (const c of pair) {
      c.socket.removeAllListeners("data");
      c.socket.removeAllListeners("end");
      this.release(c.socket);
    }
    const acc = account ?? { streams: 0, bucket: bucket(this.limits.accountRate) };
    acc.streams++;
    this.accounts.set(owner, acc);
    const buckets = [bucket(this.limits.streamRate), acc.bucket, this.processBucket].filter((x) => x !== undefined);
    const relay = new Relay(a.socket, b.socket, { maxBytes: this.limits.maxStreamBytes, idleMs: this.limits.idleTimeoutMs, buckets }, (why, bytes) => {
      this.relays.delete(relay);
      if (--acc.streams === 0) this.accounts.delete(owner);
      this.log.info({ requester: requester.toString(), target: target.toString(), bytes, end: why }, "bytestream ended");
    });
    this.relays.add(relay);
    this.log.info({ requester: requester.toString(), target: target.toString() }, "bytestream activated");
  }

  /** Ends every connection and stream (the module unloads). */
  close(): void {
    for (const r of [...this.relays]) r.stop();
    for (const w of [...this.waiting.values()]) w.socket.destroy();
  }

  /** Refused: it no longer counts, though its peer may take a while to close. */
  private refuse(c: Socks5Connection, code: Parameters<Socks5Connection["refuse"]>[0]): void {
    this.release(c.socket);
    c.refuse(code);
  }

  /** A connection activated, refused or gone: it no longer counts as waiting, nor holds a place in its pair. */
  release(socket: Socket): void {
    const w = this.waiting.get(socket);
    if (!w) return;
    this.waiting.delete(socket);
    clearTimeout(w.timer);
    const n = (this.perAddress.get(w.address) ?? 1) - 1;
    if (n === 0) this.perAddress.delete(w.address);
    else this.perAddress.set(w.address, n);
    if (w.hash === undefined) return;
    const pair = this.pairs.get(w.hash);
    const rest = pair?.filter((c) => c.socket !== socket);
    if (!rest || rest.length === pair!.length) return;
    if (rest.length === 0) this.pairs.delete(w.hash);
    else this.pairs.set(w.hash, rest);
  }
}

function bucket(rate: number): TokenBucket | undefined {
  return rate > 0 ? new TokenBucket(rate, rate) : undefined;
}
