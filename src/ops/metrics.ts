// The server's metrics in the Prometheus text format (and OpenMetrics 1.0 when a scraper asks
// for it), through prom-client, the standard Node library. Nothing here runs per stanza: the
// server counts into plain numbers (core/telemetry.ts, the storage observer below, the cluster
// bus's counts) and every metric reads them when it is scraped (prom-client's `collect`). Process
// and garbage-collection figures are prom-client's default metrics. Names follow the Prometheus
// conventions: `xmppd_` first, base units (seconds), `_total` on counters.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type RegistryContentType } from "prom-client";
import { Buckets, KINDS, Telemetry, WRITE_BOUNDS } from "../core/telemetry.ts";
import type { QueueStats } from "../storage/archive-queue.ts";
import type { StorageObserver, StoreObserver } from "../storage/observed.ts";

export const TRANSPORTS = ["tcp", "tls", "websocket", "bosh"] as const;
export type TransportName = (typeof TRANSPORTS)[number];

/** The cluster bus's counts (src/cluster/redis.ts BusStats). */
export interface BusCounts { sent: number; acked: number; refused: number; timeouts: number; unreachable: number }

/** What the metrics read of the server, at scrape time. */
export interface MetricsSource {
  readonly telemetry: Telemetry;
  /** Connections accepted since start, by transport (TRANSPORTS order). */
  readonly accepted: Float64Array;
  /** Connections open now, by transport. */
  openConnections(): Promise<Record<TransportName, number>>;
  /** Bound sessions on this node (detached ones included), and how many of them are detached. */
  sessions(): { bound: number; detached: number };
  /** The cluster bus's counts; undefined on a single node. */
  bus(): BusCounts | undefined;
  /** Federation's streams and counts; undefined with it off. */
  s2s(): S2SCounts | undefined;
  /** This node's name and the server's version, for xmppd_info. */
  readonly node: string;
  readonly version: string;
}

/** What the federation counts (src/stream/s2s/federation.ts). */
export interface S2SCounts {
  /** Streams open now: peers' (in) and ours (out). */
  readonly open: { in: number; out: number };
  /** Stanzas written to peers and read from them since start. */
  readonly stanzasOut: number;
  readonly stanzasIn: number;
  /** Stanzas that could not reach a peer and went back to their senders. */
  readonly bounced: number;
  /** Attempts to set up a stream to a peer that failed (no address, refused, TLS or authentication). */
  readonly failures: number;
}

/** Storage as the metrics see it: failed calls and log-store write times, per store. */
export class StorageCounts implements StorageObserver {
  readonly stores = new Map<string, { kind: string; name: string; errors: number; writes: Buckets }>();

  store(kind: "keyval" | "map" | "log", name: string): StoreObserver {
    const s = { kind, name, errors: 0, writes: new Buckets(WRITE_BOUNDS) };
    this.stores.set(`${kind}:${name}`, s);
    return {
      failed: () => void s.errors++,
      wrote: (seconds) => s.writes.observe(seconds),
    };
  }
}

/** A histogram whose buckets are counted elsewhere (Buckets), read when scraped. */
class BucketsHistogram extends Histogram<string> {
  private readonly read: () => Iterable<[Record<string, string>, Buckets]>;

  constructor(name: string, help: string, labelNames: string[], bounds: readonly number[], registry: Registry<RegistryContentType>,
    read: () => Iterable<[Record<string, string>, Buckets]>) {
    super({ name, help, labelNames, buckets: [...bounds], registers: [registry] });
    this.read = read;
  }

  /** As prom-client's own histograms report: cumulative `le` buckets, then _sum and _count. */
  getForPromString(): Promise<{ name: string; help: string; type: "histogram"; values: unknown[]; aggregator: "sum" }> {
    const values: unknown[] = [];
    const name = (this as unknown as { name: string }).name;
    for (const [labels, b] of this.read()) {
      let cumulative = 0;
      for (let i = 0; i <= b.bounds.length; i++) {
        cumulative += b.counts[i]!;
        values.push({ labels: { ...labels, le: i < b.bounds.length ? b.bounds[i]! : "+Inf" }, value: cumulative, metricName: `${name}_bucket` });
      }
      values.push({ labels, value: b.sum, metricName: `${name}_sum` }, { labels, value: b.count, metricName: `${name}_count` });
    }
    return Promise.resolve({ name, help: (this as unknown as { help: string }).help, type: "histogram", values, aggregator: "sum" });
  }

  override get(): ReturnType<Histogram<string>["get"]> {
    return this.getForPromString() as unknown as ReturnType<Histogram<string>["get"]>;
  }
}

/** Registers every metric of the server on `registry`; each reads its value when scraped. */
export function defineMetrics(registry: Registry<RegistryContentType>, src: MetricsSource, storage: StorageCounts | undefined): void {
  const registers = [registry];
  const t = src.telemetry;
  const counter = <L extends string>(name: string, help: string, labelNames: L[], collect: (c: Counter<L>) => void) =>
    new Counter<L>({ name, help, labelNames, registers, collect(this: Counter<L>) { this.reset(); collect(this); } });
  const gauge = <L extends string>(name: string, help: string, labelNames: L[], collect: (g: Gauge<L>) => void | Promise<void>) =>
    new Gauge<L>({ name, help, labelNames, registers, collect(this: Gauge<L>) { return collect(this); } });

  gauge("xmppd_info", "The server's version and this node's name (always 1).", ["version", "node"], (g) => g.set({ version: src.version, node: src.node }, 1));

  gauge("xmppd_connections", "Client connections open now, by transport: tcp (STARTTLS port), tls (direct TLS, XEP-0368), websocket (RFC 7395), bosh (XEP-0206 sessions).", ["transport"], async (g) => {
    const open = await src.openConnections();
    for (const name of TRANSPORTS) g.set({ transport: name }, open[name]);
  });
  counter("xmppd_connections_accepted_total", "Client connections accepted since start, by transport.", ["transport"], (c) => {
    TRANSPORTS.forEach((name, i) => c.inc({ transport: name }, src.accepted[i]!));
  });
  gauge("xmppd_sessions", "Bound client sessions on this node; `detached` ones wait for a stream management resumption (XEP-0198).", ["state"], (g) => {
    const s = src.sessions();
    g.set({ state: "connected" }, s.bound - s.detached);
    g.set({ state: "detached" }, s.detached);
  });
  counter("xmppd_sessions_bound_total", "Resources bound since start (RFC 6120 §7).", [], (c) => c.inc(t.sessionsBound));

  counter("xmppd_stanzas_received_total", "Stanzas received from this node's client sessions, by kind.", ["kind"], (c) => {
    KINDS.forEach((kind, i) => c.inc({ kind }, t.stanzasIn[i]!));
  });
  counter("xmppd_stanzas_sent_total", "Stanzas written to this node's client sessions, by kind.", ["kind"], (c) => {
    KINDS.forEach((kind, i) => c.inc({ kind }, t.stanzasOut[i]!));
  });
  new BucketsHistogram("xmppd_delivery_seconds",
    "Time from routing a message to its write to the recipient's session on this node, for one message in 16 (the count is of the sample).",
    [], t.delivery.bounds, registry, () => [[{}, t.delivery]]);

  const s2s = (): S2SCounts => src.s2s() ?? { open: { in: 0, out: 0 }, stanzasOut: 0, stanzasIn: 0, bounced: 0, failures: 0 };
  gauge("xmppd_s2s_connections", "Server-to-server streams open now: opened by peers (in) and by this node (out).", ["direction"], (g) => {
    const { open } = s2s();
    g.set({ direction: "in" }, open.in);
    g.set({ direction: "out" }, open.out);
  });
  counter("xmppd_s2s_stanzas_total", "Stanzas exchanged with other servers since start: read from them (in), written to them (out).", ["direction"], (c) => {
    const n = s2s();
    c.inc({ direction: "in" }, n.stanzasIn);
    c.inc({ direction: "out" }, n.stanzasOut);
  });
  counter("xmppd_s2s_bounced_total", "Stanzas for other servers that went back to their senders (remote-server-not-found, -timeout).", [], (c) => c.inc(s2s().bounced));
  counter("xmppd_s2s_failures_total", "Streams to other servers that could not be set up (no address, refused, TLS, authentication).", [], (c) => c.inc(s2s().failures));

  counter("xmppd_auth_total", "SASL authentications by mechanism and result (RFC 6120 §6).", ["mechanism", "result"], (c) => {
    for (const [mechanism, n] of t.authCounts()) {
      c.inc({ mechanism, result: "success" }, n.success);
      c.inc({ mechanism, result: "failure" }, n.failure);
    }
  });

  const off = t.offline;
  gauge("xmppd_offline_queue_depth", "Offline messages (XEP-0160) on their way into storage now: waiting for the account's turn or being written.", [], (g) => g.set(off.pending));
  counter("xmppd_offline_messages_total", "Offline messages by what became of them: stored, delivered at login, refused (the recipient's queue was full).", ["event"], (c) => {
    c.inc({ event: "stored" }, off.stored);
    c.inc({ event: "delivered" }, off.delivered);
    c.inc({ event: "refused" }, off.refused);
  });
  new BucketsHistogram("xmppd_offline_store_seconds", "Time to store one offline message, the account's turn included.", [], off.writes.bounds, registry,
    () => [[{}, off.writes]]);

  const queues = (): [string, QueueStats][] => [...t.queues].map(([name, stats]) => [name, stats()]);
  gauge("xmppd_archive_queue_depth", "Archive writes (XEP-0313; muc: room archives) waiting in memory or being written, by archive.", ["archive"], (g) => {
    for (const [archive, s] of queues()) g.set({ archive }, s.depth);
  });
  counter("xmppd_archive_entries_total", "Archive entries by what became of them: queued, written, dropped (the store failed every retry).", ["archive", "event"], (c) => {
    for (const [archive, s] of queues()) {
      c.inc({ archive, event: "queued" }, s.queued);
      c.inc({ archive, event: "written" }, s.written);
      c.inc({ archive, event: "dropped" }, s.dropped);
    }
  });
  counter("xmppd_archive_queue_waits_total", "Senders that found their archive's queue full and waited for room (back-pressure).", ["archive"], (c) => {
    for (const [archive, s] of queues()) c.inc({ archive }, s.waits);
  });

  counter("xmppd_storage_errors_total", "Storage calls that failed, by store (kind:name).", ["store"], (c) => {
    if (storage) for (const [store, s] of storage.stores) c.inc({ store }, s.errors);
  });
  new BucketsHistogram("xmppd_storage_write_seconds", "Time of each write to a log store (archives: mam, muc-mam in batches; offline: one message), by store.",
    ["store"], WRITE_BOUNDS, registry,
    () => storage === undefined ? [] : [...storage.stores.values()].filter((s) => s.kind === "log").map((s) => [{ store: s.name }, s.writes]));

  counter("xmppd_cluster_bus_messages_total",
    "Messages sent to another cluster node with confirmation, by outcome: acked, refused (the session was gone there), timeout (no answer within cluster.ackTimeout), unreachable. 0 on a single node.",
    ["outcome"], (c) => {
      const b = src.bus() ?? { acked: 0, refused: 0, timeouts: 0, unreachable: 0 };
      c.inc({ outcome: "acked" }, b.acked);
      c.inc({ outcome: "refused" }, b.refused);
      c.inc({ outcome: "timeout" }, b.timeouts);
      c.inc({ outcome: "unreachable" }, b.unreachable);
    });

  collectDefaultMetrics({ register: registry });
}
