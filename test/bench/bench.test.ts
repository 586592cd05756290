// The benchmark tool itself, so that it cannot rot: its quick mode against ours alone, every
// scenario answering (a figure, or "not built" for what the server does not have yet), and no
// run that lost or reordered a message passing as a figure; the reconnect row both ways, with
// the round trips each way waits for; the http row over WebSocket and BOSH; the s2s row with two of ours federating. Not a
// measurement: unpinned, tiny.
import { describe, expect, it } from "vitest";
import { runBench } from "./run.ts";
import { renderTable } from "./table.ts";

describe("benchmark quick mode against ours", () => {
  it("runs every scenario and reports figures or 'not built'", { timeout: 180_000 }, async () => {
    const lines: string[] = [];
    const run = await runBench({
      scenarios: ["login", "reconnect", "sessions", "one2one", "http", "groups", "offline", "s2s"], servers: ["ours"], quick: true, tls: false,
      maxSessions: 1000, pin: false, archive: true, log: (l) => lines.push(l),
    });
    const cell = (row: string) => run.results[row]?.ours;
    // PLAIN runs over direct TLS, so the TLS client path is covered without the TLS-only rows.
    for (const row of ["login.scram", "login.plain", "reconnect.rfc6120.rate", "reconnect.best.p99", "reconnect.resume.rfc6120.rate", "reconnect.resume.best.rate", "rss.1k", "one2one.throughput", "one2one.p99", "http.websocket.throughput", "http.websocket.p99", "http.bosh.throughput", "http.bosh.p99", "s2s.throughput", "s2s.p99"]) {
      expect(cell(row), `${row}: ${JSON.stringify(cell(row))}\n${lines.join("\n")}`).toMatchObject({ status: "ok" });
      expect(cell(row)!.value).toBeGreaterThan(0);
    }
    expect(cell("rss.held")?.value).toBe(1000);
    // Over direct TLS 1.3: TCP, TLS, the stream header, then SCRAM's two steps, the restart, bind
    // and SM enable (or the restart and resume); FAST with Bind 2 or resume inline is one step.
    expect(cell("reconnect.best.rate")?.detail).toMatchObject({ way: "fast", tls: "TLSv1.3" });
    expect([cell("reconnect.rfc6120.trips"), cell("reconnect.resume.rfc6120.trips"), cell("reconnect.best.trips"), cell("reconnect.resume.best.trips")]
      .map((c) => c?.value)).toEqual([8, 7, 4, 4]);
    // Until MUC and the offline store land, these say so instead of counting bounces as figures.
    for (const row of ["groups.100.deliveries", "offline.1000"]) {
      expect(["ok", "not built"]).toContain(cell(row)?.status);
    }
    expect(run.servers.ours?.version).toMatch(/^xmppd /);
    expect(renderTable(run.results, ["ours"])).toMatch(/\| 1:1 delivered msg\/s, 500 pairs \| \/s \| [\d,]+( \*)? \|/);
  });
});
