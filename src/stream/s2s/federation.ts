// The federation: this server's connections with other servers, one route per (our domain, their
// domain) pair. A stanza for another domain goes on the route's stream when one is ready (ours,
// or theirs with XEP-0288), else waits in a bounded queue while a stream is set up: the peer's
// SRV targets tried in turn (src/transports/dns.ts), TLS, authentication. What cannot be sent
// bounces to its local sender (remote-server-not-found, remote-server-timeout; never errors or
// presence, RFC 6120 §8.3.1). What was written but not yet confirmed by the peer (XEP-0198 <a/>
// where it offers stream management, else the answer to a ping sent after it: the peer handles
// a stream's stanzas in order) is written again on a new stream when the old one drops, once;
// then it bounces.
import { type Element, xml } from "../../xml/element.ts";
import { tryParseJid } from "../../xml/jid.ts";
import { NS } from "../../xml/ns.ts";
import { StanzaError } from "../../core/errors.ts";
import { randomToken } from "../../core/ids.ts";
import { Shapers } from "../../core/limits.ts";
import type { RemoteRoute } from "../../core/router.ts";
import { resolveS2S } from "../../transports/dns.ts";
import { connectTcp } from "../../transports/tcp.ts";
import type { Transport } from "../../transports/transport.ts";
import type { S2SContext, S2SLink, S2SPeers } from "./context.ts";
import { S2SInStream } from "./incoming.ts";
import { S2SOutStream } from "./outgoing.ts";

/** What the federation asks of the server besides the streams' context. */
export interface FederationDeps {
  /** Sends the error reply for a stanza back to its (local) sender. */
  bounce(stanza: Element, error: StanzaError): void;
  /** Sends an iq and waits for its answer (the router's request). */
  request(iq: Element, timeoutMs: number): Promise<Element>;
}

/** How often idle streams are looked for, at most (twice per idle timeout when that is shorter). */
const SWEEP_MS = 30_000;
/** How long a ping that confirms what was written may take. */
const CONFIRM_TIMEOUT_MS = 30_000;

/** What the federation counts, for metrics and stats. */
export class FederationCounts {
  stanzasOut = 0;
  stanzasIn = 0;
  bounced = 0;
  failures = 0;
}

export class Federation implements RemoteRoute, S2SPeers {
  readonly counts = new FederationCounts();
  private readonly routes = new Map<string, Route>();
  /** Incoming connections open now, by remote address. */
  private readonly perAddress = new Map<string, number>();
  private readonly sweep: NodeJS.Timeout;
  readonly ctx: S2SContext;
  readonly deps: FederationDeps;

  constructor(ctx: Omit<S2SContext, "peers" | "shapers" | "open">, deps: FederationDeps) {
    const { s2s } = ctx.config;
    const shapers = new Shapers({ bytesPerSecond: s2s.bytesPerSecond, burstBytes: s2s.burstBytes, stanzasPerSecond: s2s.stanzasPerSecond, stanzaBurst: s2s.stanzaBurst });
    this.ctx = { ...ctx, peers: this, shapers, open: new Set() };
    this.deps = deps;
    this.sweep = setInterval(() => this.closeIdle(), Math.min(SWEEP_MS, s2s.idleTimeout * 500)).unref();
  }

  // --- RemoteRoute: stanzas from our users to other domains --------------------------------------

  async send(stanza: Element, domain: string): Promise<void> {
    const from = tryParseJid(stanza.attrs.from ?? "");
    if (!from || !this.ctx.serves(from.domain)) throw new StanzaError("not-allowed", "only this server's entities send to other servers");
    if (this.ctx.serves(domain)) throw new StanzaError("item-not-found");
    this.route(from.domain, domain).send(stanza);
  }

  /** A connection on an S2S listener. */
  accept(transport: Transport): void {
    const address = transport.remoteAddress;
    const open = this.perAddress.get(address) ?? 0;
    if (open >= this.ctx.config.s2s.maxConnectionsPerAddress) {
      this.ctx.log.warn({ ip: address }, "s2s: too many connections from one address");
      transport.end();
      return;
    }
    this.perAddress.set(address, open + 1);
    const stream = new S2SInStream(transport, this.ctx);
    const release = () => {
      const n = (this.perAddress.get(address) ?? 1) - 1;
      if (n <= 0) this.perAddress.delete(address);
      else this.perAddress.set(address, n);
    };
    this.closers.set(stream, release);
  }

  /** Stanzas waiting for a stream, in all and by the local account that sent them. */
  private waitingTotal = 0;
  private readonly waiting = new Map<string, number>();

  /**
   * Whether one more stanza of `account` may wait for a stream: the process holds at most
   * s2s.maxQueueTotal, one account at most s2s.maxQueuePerAccount, whatever the domains it writes
   * to. Counted until release().
   */
  admit(account: string): boolean {
    const { maxQueueTotal, maxQueuePerAccount } = this.ctx.config.s2s;
    const mine = this.waiting.get(account) ?? 0;
    if (this.waitingTotal >= maxQueueTotal || mine >= maxQueuePerAccount) return false;
    this.waiting.set(account, mine + 1);
    this.waitingTotal++;
    return true;
  }

  release(account: string): void {
    const n = (this.waiting.get(account) ?? 1) - 1;
    if (n <= 0) this.waiting.delete(account);
    else this.waiting.set(account, n);
    this.waitingTotal--;
  }

  /** Per incoming stream: what its end releases (its address's count). */
  private readonly closers = new WeakMap<S2SLink, () => void>();

  // --- S2SPeers: what streams ask -------------------------------------------------------------------

  verify(local: string, remote: string, streamId: string, key: string): Promise<boolean> {
    return this.route(local, remote).verify(streamId, key);
  }

  attachBidi(local: string, remote: string, link: S2SLink): void {
    this.route(local, remote).attachBidi(link);
  }

  detach(link: S2SLink): void {
    this.closers.get(link)?.();
    this.closers.delete(link);
    for (const r of this.routes.values()) r.detached(link);
  }

  /** Streams open now, by who opened them. */
  openStreams(): { in: number; out: number } {
    let out = 0;
    for (const s of this.ctx.open) if (s instanceof S2SOutStream) out++;
    return { in: this.ctx.open.size - out, out };
  }

  /** The routes with a stream or stanzas now, for stats: "ours theirs" -> state. */
  describe(): { local: string; remote: string; state: string; queued: number }[] {
    return [...this.routes.values()].map((r) => ({ local: r.local, remote: r.remote, state: r.state, queued: r.queued }));
  }

  /** Closes every stream (the server stops); what waits bounces. */
  stop(): void {
    clearInterval(this.sweep);
    for (const r of this.routes.values()) r.stop();
    for (const s of [...this.ctx.open]) s.close();
  }

  private route(local: string, remote: string): Route {
    const key = `${local} ${remote}`;
    let r = this.routes.get(key);
    if (!r) this.routes.set(key, (r = new Route(this, local, remote)));
    return r;
  }

  /** Routes with nothing open and nothing waiting go; streams idle for s2s.idleTimeout close. */
  private closeIdle(): void {
    const limit = Date.now() - this.ctx.config.s2s.idleTimeout * 1000;
    for (const s of this.ctx.open) {
      const link = s as Partial<S2SLink> & { close(): void };
      if (link.lastActivity !== undefined && Math.max(link.lastActivity, link.lastSent ?? 0) < limit) link.close();
    }
    for (const [key, r] of this.routes) if (r.unused) this.routes.delete(key);
  }
}

/**
 * A stanza waiting or written and not yet confirmed, with how often it was written; `held`: the
 * account it counts against while it waits for a stream (Federation.admit), until it leaves.
 */
interface Written { stanza: Element; tries: number; held?: string }

class Route {
  readonly local: string;
  readonly remote: string;
  private readonly fed: Federation;
  private out: S2SOutStream | undefined;
  private bidi: S2SLink | undefined;
  private connecting = false;
  /** Waiting for a stream. */
  private queue: Written[] = [];
  /** Written on the current link, not yet confirmed, oldest first. */
  private written: Written[] = [];
  /** Stanzas of the current link confirmed so far (XEP-0198 h, or pings answered). */
  private confirmed = 0;
  /** The peer acknowledges with XEP-0198 on the current outgoing stream. */
  private sm = false;
  /** A ping confirming what was written is on its way. */
  private confirming = false;
  /** db:verify questions waiting for an outgoing stream. */
  private verifies: { streamId: string; key: string; resolve(valid: boolean): void }[] = [];
  private setupTimer: NodeJS.Timeout | undefined;

  constructor(fed: Federation, local: string, remote: string) {
    this.fed = fed;
    this.local = local;
    this.remote = remote;
  }

  get state(): string {
    if (this.out?.ready) return `ready (${this.out.authenticatedBy}${this.out.directTls ? ", direct TLS" : ""}${this.sm ? ", stream management" : ""})`;
    if (this.bidi && !this.bidi.closed) return "ready (their stream, XEP-0288)";
    return this.connecting ? "connecting" : "idle";
  }

  get queued(): number {
    return this.queue.length;
  }

  get unused(): boolean {
    return !this.connecting && this.out === undefined && this.bidi === undefined && this.queue.length === 0 && this.written.length === 0;
  }

  /** Our stream when it is ready, else the peer's with XEP-0288 (then none of ours is opened to send). */
  private get link(): S2SLink | undefined {
    if (this.out?.ready) return this.out;
    if (this.bidi && !this.bidi.closed) return this.bidi;
    return undefined;
  }

  send(stanza: Element): void {
    const link = this.link;
    if (link && this.queue.length === 0) {
      this.write(link, { stanza, tries: 1 });
      return;
    }
    if (this.queue.length >= this.fed.ctx.config.s2s.maxQueue) throw new StanzaError("resource-constraint", `too many stanzas wait for ${this.remote}`);
    const account = tryParseJid(stanza.attrs.from ?? "")?.bare.toString() ?? "";
    if (!this.fed.admit(account)) throw new StanzaError("resource-constraint", "too many stanzas wait for other servers");
    this.queue.push({ stanza, tries: 1, held: account });
    if (link) this.flush(link);
    else this.connect();
  }

  private write(link: S2SLink, w: Written): void {
    // A peer that stops reading holds no more of ours than a client may: its stream ends, and
    // what it did not confirm goes again on a new one.
    if (link.buffered > this.fed.ctx.config.limits.connectionBacklog) {
      this.fed.ctx.log.warn({ peer: this.remote, buffered: link.buffered }, "s2s: the peer is not reading its stream");
      link.close();
      this.queue.push(w);
      if (!this.link) this.connect();
      return;
    }
    if (!link.sendStanza(w.stanza)) {
      this.queue.unshift(w);
      return;
    }
    this.leave(w);
    this.written.push(w);
    this.fed.counts.stanzasOut++;
    // A peer that never confirms is not held to it without end: the oldest count as delivered.
    if (this.written.length > 10 * this.fed.ctx.config.s2s.maxQueue) this.confirm(this.confirmed + 1);
    if (this.sm && this.out === link) this.requestAck();
    else this.confirmSoon();
  }

  private flush(link: S2SLink): void {
    for (const w of this.queue.splice(0)) this.write(link, w);
  }

  // --- confirmation ---------------------------------------------------------------------------------

  private ackRequested = false;

  /** One <r/> per turn of the event loop, after what the turn wrote. */
  private requestAck(): void {
    if (this.ackRequested) return;
    this.ackRequested = true;
    setImmediate(() => {
      this.ackRequested = false;
      this.out?.requestAck();
    });
  }

  /** Without XEP-0198: a ping after what was written; its answer confirms all of it. */
  private confirmSoon(): void {
    if (this.confirming) return;
    this.confirming = true;
    setImmediate(() => {
      const link = this.link;
      if (!link || this.written.length === 0) {
        this.confirming = false;
        return;
      }
      const upTo = this.confirmed + this.written.length + 1; // the ping itself
      const ping = xml("iq", { type: "get", id: `s2s-${randomToken(8, "hex")}`, from: this.local, to: this.remote }, xml("ping", { xmlns: NS.ping }));
      const start = this.confirmed;
      this.fed.deps.request(ping, CONFIRM_TIMEOUT_MS).then(() => true, (e: unknown) => !(e instanceof StanzaError && e.condition === "remote-server-timeout"))
        .then((answered) => {
          this.confirming = false;
          // The link the ping went on is still the one (confirmed counts were not reset by a new one).
          if (answered && this.confirmed >= start && this.link === link) this.confirm(upTo);
          if (this.written.length > 0) this.confirmSoon();
        });
    });
  }

  /** The peer handled the first `h` stanzas written on the current link. */
  confirm(h: number): void {
    const n = Math.min(h - this.confirmed, this.written.length);
    if (n <= 0) return;
    this.written.splice(0, n);
    this.confirmed += n;
  }

  // --- the outgoing stream ---------------------------------------------------------------------------

  private connect(): void {
    if (this.connecting || this.out) return;
    this.connecting = true;
    const { s2s } = this.fed.ctx.config;
    this.setupTimer = setTimeout(() => this.setupFailed("remote-server-timeout", `no stream to ${this.remote} within ${s2s.connectTimeout} s`), s2s.connectTimeout * 1000);
    this.setupTimer.unref();
    void this.open().catch((e: unknown) => this.setupFailed("remote-server-not-found", (e as Error).message));
  }

  private async open(): Promise<void> {
    const ctx = this.fed.ctx;
    const { s2s } = ctx.config;
    const targets = await resolveS2S(this.remote, { resolver: s2s.resolver, routes: s2s.routes });
    if (targets.length === 0) throw new Error(`no address for ${this.remote}`);
    const reasons: string[] = [];
    for (const target of targets) {
      for (const address of target.addresses) {
        if (!this.connecting) return; // gave up meanwhile
        try {
          const transport = await connectTcp({ target, address, serverName: this.remote, tls: ctx.tls(this.local), trust: ctx.trust, timeoutMs: s2s.connectTimeout * 1000 });
          if (!this.connecting) {
            transport.end();
            return;
          }
          this.started(transport);
          return;
        } catch (e) {
          reasons.push(`${address}:${target.port}: ${(e as Error).message}`);
        }
      }
    }
    throw new Error(`cannot connect to ${this.remote} (${reasons.join("; ")})`);
  }

  private started(transport: Transport): void {
    const out = new S2SOutStream(transport, this.fed.ctx, this.local, this.remote, {
      ready: (sm) => this.ready(out, sm),
      acked: (h) => {
        if (this.out === out) this.confirm(h);
      },
      ended: (reason, wasReady) => this.ended(out, reason, wasReady),
    });
    this.out = out;
    for (const v of this.verifies.splice(0)) void out.verify(v.streamId, v.key).then(v.resolve);
  }

  private ready(out: S2SOutStream, sm: boolean): void {
    if (this.out !== out) return;
    if (sm) {
      // Counting starts with what was written after <enable/>: everything on this stream.
      this.sm = true;
      return;
    }
    this.connecting = false;
    clearTimeout(this.setupTimer);
    const link = this.link!;
    if (link === out) this.resetLink();
    this.flush(link);
  }

  /** A new link: what the old one left unconfirmed goes first. */
  private resetLink(): void {
    this.queue = [...this.written, ...this.queue];
    this.written = [];
    this.confirmed = 0;
  }

  private ended(out: S2SOutStream, reason: string, wasReady: boolean): void {
    if (this.out !== out) return;
    this.out = undefined;
    this.sm = false;
    if (!wasReady) {
      this.setupFailed(/timeout/i.test(reason) ? "remote-server-timeout" : "remote-server-not-found", reason);
      return;
    }
    this.lost();
  }

  /** The link dropped: its unconfirmed stanzas are written once more on a new one, then bounce. */
  private lost(): void {
    if (this.link) {
      // XEP-0288: the peer's own stream still reaches it.
      this.resetLink();
      this.flush(this.link);
      return;
    }
    const again = this.written.filter((w) => w.tries < 2);
    const given = this.written.filter((w) => w.tries >= 2);
    this.written = [];
    this.confirmed = 0;
    for (const w of again) w.tries++;
    this.queue = [...again, ...this.queue];
    for (const w of given) this.bounce(w.stanza, new StanzaError("remote-server-timeout", `the connection to ${this.remote} was lost`));
    if (this.queue.length > 0) this.connect();
  }

  private setupFailed(condition: "remote-server-not-found" | "remote-server-timeout", reason: string): void {
    if (!this.connecting && this.out === undefined && this.queue.length === 0 && this.verifies.length === 0) return;
    this.fed.counts.failures++;
    this.fed.ctx.log.info({ peer: this.remote, local: this.local, reason }, "s2s: no stream to the peer");
    this.connecting = false;
    clearTimeout(this.setupTimer);
    const out = this.out;
    this.out = undefined;
    out?.close();
    for (const v of this.verifies.splice(0)) v.resolve(false);
    const error = new StanzaError(condition, reason);
    for (const w of [...this.written, ...this.queue]) {
      this.leave(w);
      this.bounce(w.stanza, error);
    }
    this.written = [];
    this.queue = [];
    this.confirmed = 0;
  }

  /** A stanza no longer waits for a stream: its account's count goes. */
  private leave(w: Written): void {
    if (w.held === undefined) return;
    this.fed.release(w.held);
    w.held = undefined;
  }

  private bounce(stanza: Element, error: StanzaError): void {
    if (stanza.name === "presence") return;
    const type = stanza.attrs.type;
    if (type === "error" || (stanza.name === "iq" && type === "result")) return;
    this.fed.counts.bounced++;
    this.fed.deps.bounce(stanza, error);
  }

  // --- dialback verification, XEP-0288 ----------------------------------------------------------------

  verify(streamId: string, key: string): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.out && !this.out.closed) {
        void this.out.verify(streamId, key).then(resolve);
        return;
      }
      this.verifies.push({ streamId, key, resolve });
      this.connect();
    });
  }

  attachBidi(link: S2SLink): void {
    const before = this.link;
    this.bidi = link;
    if (before === undefined) this.flush(link);
  }

  detached(link: S2SLink): void {
    if (this.bidi !== link) return;
    this.bidi = undefined;
    if (!this.out?.ready) this.lost();
  }

  stop(): void {
    clearTimeout(this.setupTimer);
    this.connecting = false;
    for (const v of this.verifies.splice(0)) v.resolve(false);
  }
}
