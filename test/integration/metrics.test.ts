// The metrics listener as Prometheus and a load balancer use it: a scrape read with a Prometheus
// text-format parser, figures that follow what clients do over real sockets (connections by
// transport, logins by mechanism, stanzas by kind, delivery latency, the offline store, the
// archive queue, storage errors), OpenMetrics for a scraper that asks, /health and /ready
// (storage that stops answering, a drain), and the listener off by default.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml } from "../../src/xml/element.ts";
import { SqliteStorage } from "../../src/storage/embedded/sqlite.ts";
import type { StorageProvider } from "../../src/storage/types.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { accounts, connect, presence } from "../helpers/im.ts";
import { RawClient } from "../helpers/raw.ts";
import { SmClient } from "../helpers/sm.ts";
import { BoshClient } from "../helpers/bosh.ts";
import { get, scrape, Scrape } from "../helpers/metrics.ts";
import { spawnSync } from "node:child_process";
import { join } from "node:path";

/** Storage whose offline appends and account reads fail while `failing` says so. */
let failing = { offline: false, accounts: false };
function unreliable(dataDir: string): StorageProvider {
  const inner = new SqliteStorage(join(dataDir, "xmppd.sqlite"));
  return {
    keyval: <T>(name: string) => {
      const s = inner.keyval<T>(name);
      if (name !== "accounts") return s;
      return { ...s, get: (owner: string) => failing.accounts && owner === "" ? Promise.reject(new Error("disk on fire")) : s.get(owner),
        set: s.set.bind(s), add: s.add.bind(s) };
    },
    map: (name) => inner.map(name),
    log: (name) => {
      const s = inner.log(name);
      if (name !== "offline") return s;
      return {
        append: (entries) => failing.offline ? Promise.reject(new Error("disk full")) : s.append(entries),
        query: s.query.bind(s), count: s.count.bind(s), remove: s.remove.bind(s), replace: s.replace.bind(s), clear: s.clear.bind(s), expire: s.expire.bind(s),
      };
    },
    owners: (name) => inner.owners(name),
    purgeOwner: (owner) => inner.purgeOwner(owner),
    close: () => inner.close(),
  };
}

let t: TestServer;
let port: number;
beforeAll(async () => {
  t = await startServer({ config: { metrics: { enabled: true } }, storage: unreliable });
  port = t.server.ports.metrics!;
});
afterAll(() => t.stop());

const chat = (to: string, body: string) => xml("message", { to, type: "chat", id: body }, xml("body", null, body));

describe("the scrape", () => {
  it("is the Prometheus text format, with every family the dashboards use, and process and GC figures", async () => {
    const r = await get(port, "/metrics");
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const fams = new Scrape(r.body);
    for (const [name, type] of [
      ["xmppd_connections", "gauge"], ["xmppd_connections_accepted_total", "counter"], ["xmppd_sessions", "gauge"],
      ["xmppd_sessions_bound_total", "counter"], ["xmppd_stanzas_received_total", "counter"], ["xmppd_stanzas_sent_total", "counter"],
      ["xmppd_delivery_seconds", "histogram"], ["xmppd_auth_total", "counter"], ["xmppd_offline_queue_depth", "gauge"],
      ["xmppd_offline_messages_total", "counter"], ["xmppd_offline_store_seconds", "histogram"], ["xmppd_archive_queue_depth", "gauge"],
      ["xmppd_archive_entries_total", "counter"], ["xmppd_storage_errors_total", "counter"], ["xmppd_storage_write_seconds", "histogram"],
      ["xmppd_cluster_bus_messages_total", "counter"], ["xmppd_s2s_connections", "gauge"], ["xmppd_s2s_stanzas_total", "counter"],
      ["xmppd_s2s_bounced_total", "counter"], ["xmppd_s2s_failures_total", "counter"], ["xmppd_info", "gauge"],
      ["process_cpu_seconds_total", "counter"], ["process_resident_memory_bytes", "gauge"], ["nodejs_heap_size_used_bytes", "gauge"],
      ["nodejs_eventloop_lag_p99_seconds", "gauge"], ["nodejs_gc_duration_seconds", "histogram"],
    ] as const) {
      expect(fams.family(name)?.type, name).toBe(type);
    }
    // Federation is off on this server: its streams are none.
    expect(fams.value("xmppd_s2s_connections", { direction: "in" })).toBe(0);
    expect(fams.value("xmppd_s2s_connections", { direction: "out" })).toBe(0);
    expect(fams.value("xmppd_archive_queue_depth", { archive: "mam" })).toBe(0);
    expect(fams.value("xmppd_archive_queue_depth", { archive: "muc" })).toBe(0);
  });

  it.skipIf(spawnSync("promtool", ["--version"]).status !== 0)("passes promtool's lint (check metrics), but for prom-client's own nodejs_*_total gauges", async () => {
    const r = spawnSync("promtool", ["check", "metrics"], { input: (await get(port, "/metrics")).body, encoding: "utf8" });
    const problems = (r.stdout + r.stderr).split("\n").filter((l) => l.trim() !== "" && !/^nodejs_active_\w+_total non-counter metrics should not have "_total" suffix$/.test(l));
    expect(problems).toEqual([]);
  });

  it("follows clients: connections by transport, logins by mechanism and result, sessions", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    const before = await scrape(port);
    const r = await connect(t, romeo!, "phone");
    const raw = await RawClient.login(t.port, juliet!, "pw", "balcony");
    const direct = await RawClient.connect(t.tlsPort, true);
    const refused = await RawClient.authenticated(t.port, juliet!, "wrong");
    expect(refused.sasl).toMatch(/^<failure/);
    const ws = await connect(t, juliet!, "browser", { service: `wss://127.0.0.1:${t.server.ports.https}/xmpp-websocket` });
    const bosh = await BoshClient.create(`https://localhost:${t.server.ports.https}/http-bind`);
    await bosh.login(romeo!, "tab");
    try {
      const after = await scrape(port);
      const delta = (name: string, labels: Record<string, string>) => (after.value(name, labels) ?? 0) - (before.value(name, labels) ?? 0);
      // Romeo, Juliet's raw login and the refused one on the STARTTLS port; one on direct TLS; one WebSocket; one BOSH session.
      expect(delta("xmppd_connections_accepted_total", { transport: "tcp" })).toBe(3);
      expect(delta("xmppd_connections_accepted_total", { transport: "tls" })).toBe(1);
      expect(delta("xmppd_connections_accepted_total", { transport: "websocket" })).toBe(1);
      expect(delta("xmppd_connections_accepted_total", { transport: "bosh" })).toBe(1);
      expect(after.value("xmppd_connections", { transport: "tcp" })).toBe(3);
      expect(after.value("xmppd_connections", { transport: "tls" })).toBe(1);
      expect(after.value("xmppd_connections", { transport: "websocket" })).toBe(1);
      expect(after.value("xmppd_connections", { transport: "bosh" })).toBe(1);
      expect(delta("xmppd_auth_total", { mechanism: "SCRAM-SHA-256", result: "success" })).toBe(1);
      expect(delta("xmppd_auth_total", { mechanism: "SCRAM-SHA-256", result: "failure" })).toBe(1);
      expect(delta("xmppd_auth_total", { mechanism: "PLAIN", result: "success" })).toBe(1);
      expect(after.sum("xmppd_auth_total") - before.sum("xmppd_auth_total")).toBe(5);
      expect(after.value("xmppd_sessions", { state: "connected" })).toBe(4);
      expect(after.value("xmppd_sessions_bound_total")! - (before.value("xmppd_sessions_bound_total") ?? 0)).toBe(4);
    } finally {
      await r.stop();
      await ws.stop();
      await bosh.terminate();
      raw.close();
      direct.close();
      refused.c.close();
    }
    await expect.poll(async () => (await scrape(port)).value("xmppd_connections", { transport: "tcp" })).toBe(0);
    expect((await scrape(port)).value("xmppd_connections", { transport: "websocket" })).toBe(0);
    expect((await scrape(port)).value("xmppd_connections", { transport: "bosh" })).toBe(0);
    expect((await scrape(port)).value("xmppd_sessions", { state: "connected" })).toBe(0);
  });

  it("counts stanzas by kind both ways, and times a sample of the deliveries", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    const r = await connect(t, romeo!);
    const j = await connect(t, juliet!);
    try {
      const before = await scrape(port);
      for (let i = 0; i < 64; i++) r.send(chat(`${juliet}@localhost/r`, `m${i}`));
      await j.next((el) => el.getChildText("body") === "m63", "the last message");
      await r.ask(xml("iq", { type: "get" }, xml("ping", { xmlns: "urn:xmpp:ping" })));
      const after = await scrape(port);
      const delta = (name: string, kind: string) => after.value(name, { kind })! - before.value(name, { kind })!;
      expect(delta("xmppd_stanzas_received_total", "message")).toBe(64);
      expect(delta("xmppd_stanzas_received_total", "iq")).toBe(1);
      expect(delta("xmppd_stanzas_sent_total", "message")).toBe(64);
      expect(delta("xmppd_stanzas_sent_total", "iq")).toBe(1);
      // One message in 16 is timed: 64 messages, 4 samples, each well under a second.
      const h = after.histogram("xmppd_delivery_seconds")!;
      const h0 = before.histogram("xmppd_delivery_seconds")!;
      expect(h.count - h0.count).toBe(4);
      expect(h.buckets["1"]! - h0.buckets["1"]!).toBe(4);
      expect(h.buckets["+Inf"]).toBe(h.count);
      expect(h.sum).toBeGreaterThan(h0.sum);
    } finally {
      await r.stop();
      await j.stop();
    }
  });

  it("counts the offline store (stored, delivered, its store time) and the archive's writes", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    const before = await scrape(port);
    const r = await connect(t, romeo!);
    r.send(chat(`${juliet}@localhost`, "while you slept"));
    await expect.poll(async () => (await scrape(port)).value("xmppd_offline_messages_total", { event: "stored" })! -
      before.value("xmppd_offline_messages_total", { event: "stored" })!).toBe(1);
    const j = await connect(t, juliet!);
    j.send(presence());
    await j.next((el) => el.getChildText("body") === "while you slept", "the stored message");
    // Counted once the flush has removed what it handed over, just after the client has it.
    await expect.poll(async () => (await scrape(port)).value("xmppd_offline_messages_total", { event: "delivered" })! -
      before.value("xmppd_offline_messages_total", { event: "delivered" })!).toBe(1);
    const after = await scrape(port);
    expect(after.histogram("xmppd_offline_store_seconds")!.count - before.histogram("xmppd_offline_store_seconds")!.count).toBe(1);
    expect(after.histogram("xmppd_storage_write_seconds", { store: "offline" })!.count).toBeGreaterThan(0);
    // The archive (XEP-0313) queued the message for both accounts and wrote it in a batch.
    await expect.poll(async () => (await scrape(port)).value("xmppd_archive_entries_total", { archive: "mam", event: "written" })! -
      before.value("xmppd_archive_entries_total", { archive: "mam", event: "written" })!).toBe(2);
    expect((await scrape(port)).histogram("xmppd_storage_write_seconds", { store: "mam" })!.count).toBeGreaterThan(0);
    await r.stop();
    await j.stop();
  });

  it("counts storage calls that fail, by store", async () => {
    const [romeo, juliet] = await accounts(t, "romeo", "juliet");
    const before = (await scrape(port)).value("xmppd_storage_errors_total", { store: "log:offline" }) ?? 0;
    const r = await connect(t, romeo!);
    failing.offline = true;
    try {
      r.send(chat(`${juliet}@localhost`, "lost"));
      // The sender hears that it was not stored (an unexpected failure is internal-server-error).
      const bounce = await r.next((el) => el.name === "message" && el.attrs.type === "error", "the error reply");
      expect(bounce.getChild("error")!.getChildElements()[0]!.name).toBe("internal-server-error");
      await expect.poll(async () => (await scrape(port)).value("xmppd_storage_errors_total", { store: "log:offline" })).toBe(before + 1);
    } finally {
      failing.offline = false;
      await r.stop();
    }
  });

  it("OpenMetrics for a scraper that asks for it", async () => {
    const r = await get(port, "/metrics", "application/openmetrics-text; version=1.0.0");
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^application\/openmetrics-text; version=1\.0\.0/);
    expect(r.body.endsWith("# EOF\n")).toBe(true);
    // A counter's family is named without _total there, its samples with it.
    expect(r.body).toMatch(/^# TYPE xmppd_stanzas_received counter$/m);
    expect(r.body).toMatch(/^xmppd_stanzas_received_total\{kind="message"\} \d+$/m);
    // The Prometheus format is unchanged by it.
    expect((await get(port, "/metrics")).body).toMatch(/^# TYPE xmppd_stanzas_received_total counter$/m);
  });
});

describe("the probes", () => {
  it("/health is 200; /ready is 200 while storage answers and 503 with the reason when it does not", async () => {
    expect(await get(port, "/health")).toMatchObject({ status: 200, body: "ok\n" });
    expect(await get(port, "/ready")).toMatchObject({ status: 200, body: "ready\n" });
    failing.accounts = true;
    try {
      expect(await get(port, "/ready")).toMatchObject({ status: 503, body: "not ready: storage: disk on fire\n" });
    } finally {
      failing.accounts = false;
    }
    expect((await get(port, "/ready")).status).toBe(200);
    expect((await get(port, "/nothing")).status).toBe(404);
  });

  it("/ready is 503 'draining' from the moment the server starts to stop, while the metrics stay up", async () => {
    const s = await startServer({ config: { metrics: { enabled: true } }, users: { romeo: "pw" } });
    const mport = s.server.ports.metrics!;
    // A stream-managed client that does not answer the server's <r/>: the drain waits for its ack.
    const { c } = await SmClient.login(s.port, "romeo", "r");
    c.send(presence().toString());
    await c.next((e) => e.name === "presence", "its own presence");
    const stopped = s.stop();
    expect(await get(mport, "/ready")).toMatchObject({ status: 503, body: "not ready: draining\n" });
    expect((await get(mport, "/health")).status).toBe(200);
    expect((await get(mport, "/metrics")).status).toBe(200);
    await stopped;
    await expect(get(mport, "/health")).rejects.toThrow();
  });

  it("the listener is off by default", async () => {
    const s = await startServer();
    try {
      expect(s.server.ports.metrics).toBeUndefined();
      expect(s.server.listening.map((l) => l.name)).not.toContain("metrics");
    } finally {
      await s.stop();
    }
  });
});
