// The rows of the results table, in order, and its rendering: the servers side by side and our
// ratio to the best rival on each row (above 1 means ours is better, whichever way the row goes).
import type { Cell } from "./scenarios/common.ts";

export interface RowDef {
  id: string;
  label: string;
  unit: string;
  better: "higher" | "lower";
  goal?: string;
}

export const ROWS: RowDef[] = [
  { id: "login.scram", label: "logins/s, SCRAM-SHA-1, 200 concurrent", unit: "/s", better: "higher", goal: "≥ 2× best rival" },
  { id: "login.plain", label: "logins/s, PLAIN over direct TLS, 200 concurrent", unit: "/s", better: "higher" },
  { id: "login.scram.tls", label: "logins/s, SCRAM-SHA-1 over direct TLS, 200 concurrent", unit: "/s", better: "higher" },
  { id: "reconnect.rfc6120.rate", label: "reconnect, new session, SCRAM + restart + bind + SM enable: logins/s, 200 at a time", unit: "/s", better: "higher" },
  { id: "reconnect.rfc6120.p50", label: "reconnect, new session, SCRAM + restart + bind + SM enable: p50 per login, one at a time", unit: "ms", better: "lower" },
  { id: "reconnect.rfc6120.p99", label: "reconnect, new session, SCRAM + restart + bind + SM enable: p99 per login, one at a time", unit: "ms", better: "lower" },
  { id: "reconnect.rfc6120.trips", label: "reconnect, new session, SCRAM + restart + bind + SM enable: round trips", unit: "", better: "lower" },
  { id: "reconnect.best.rate", label: "reconnect, new session, each server's best (ours: FAST + Bind 2): logins/s, 200 at a time", unit: "/s", better: "higher" },
  { id: "reconnect.best.p50", label: "reconnect, new session, each server's best (ours: FAST + Bind 2): p50 per login, one at a time", unit: "ms", better: "lower" },
  { id: "reconnect.best.p99", label: "reconnect, new session, each server's best (ours: FAST + Bind 2): p99 per login, one at a time", unit: "ms", better: "lower" },
  { id: "reconnect.best.trips", label: "reconnect, new session, each server's best (ours: FAST + Bind 2): round trips", unit: "", better: "lower" },
  { id: "reconnect.resume.rfc6120.rate", label: "reconnect, dropped session, SCRAM + restart + SM resume: logins/s, 200 at a time", unit: "/s", better: "higher" },
  { id: "reconnect.resume.rfc6120.p50", label: "reconnect, dropped session, SCRAM + restart + SM resume: p50 per login, one at a time", unit: "ms", better: "lower" },
  { id: "reconnect.resume.rfc6120.p99", label: "reconnect, dropped session, SCRAM + restart + SM resume: p99 per login, one at a time", unit: "ms", better: "lower" },
  { id: "reconnect.resume.rfc6120.trips", label: "reconnect, dropped session, SCRAM + restart + SM resume: round trips", unit: "", better: "lower" },
  { id: "reconnect.resume.best.rate", label: "reconnect, dropped session, each server's best (ours: FAST + SM resume inline): logins/s, 200 at a time", unit: "/s", better: "higher" },
  { id: "reconnect.resume.best.p50", label: "reconnect, dropped session, each server's best (ours: FAST + SM resume inline): p50 per login, one at a time", unit: "ms", better: "lower" },
  { id: "reconnect.resume.best.p99", label: "reconnect, dropped session, each server's best (ours: FAST + SM resume inline): p99 per login, one at a time", unit: "ms", better: "lower" },
  { id: "reconnect.resume.best.trips", label: "reconnect, dropped session, each server's best (ours: FAST + SM resume inline): round trips", unit: "", better: "lower" },
  { id: "rss.1k", label: "RSS per idle session, 1k sessions", unit: "KiB", better: "lower", goal: "≤ 12 KB" },
  { id: "rss.10k", label: "RSS per idle session, 10k sessions", unit: "KiB", better: "lower", goal: "≤ 12 KB" },
  { id: "rss.max", label: "RSS per idle session, most sessions", unit: "KiB", better: "lower", goal: "≤ 12 KB" },
  { id: "rss.held", label: "concurrent sessions held", unit: "", better: "higher", goal: "100,000" },
  { id: "rss-tls.1k", label: "RSS per idle session over direct TLS, 1k sessions", unit: "KiB", better: "lower" },
  { id: "one2one.throughput", label: "1:1 delivered msg/s, 500 pairs", unit: "/s", better: "higher", goal: "≥ 2× best rival" },
  { id: "one2one.p50", label: "1:1 latency p50 at 2,000 msg/s", unit: "ms", better: "lower" },
  { id: "one2one.p99", label: "1:1 latency p99 at 2,000 msg/s", unit: "ms", better: "lower", goal: "≤ 1 ms" },
  { id: "one2one.bare.throughput", label: "1:1 to bare JIDs, one way, 20 in flight: delivered msg/s", unit: "/s", better: "higher", goal: "≥ 50,000 with the archive" },
  { id: "one2one.bare.p50", label: "1:1 to bare JIDs: latency p50 at 2,000 msg/s", unit: "ms", better: "lower" },
  { id: "one2one.bare.p99", label: "1:1 to bare JIDs: latency p99 at 2,000 msg/s", unit: "ms", better: "lower", goal: "≤ 1 ms" },
  { id: "http.websocket.throughput", label: "1:1 over WebSocket (RFC 7395), 100 pairs: delivered msg/s", unit: "/s", better: "higher" },
  { id: "http.websocket.p50", label: "1:1 over WebSocket: latency p50 at 1,000 msg/s", unit: "ms", better: "lower" },
  { id: "http.websocket.p99", label: "1:1 over WebSocket: latency p99 at 1,000 msg/s", unit: "ms", better: "lower" },
  { id: "http.bosh.throughput", label: "1:1 over BOSH (XEP-0206, hold=1, keep-alive), 100 pairs: delivered msg/s", unit: "/s", better: "higher" },
  { id: "http.bosh.p50", label: "1:1 over BOSH: latency p50 at 1,000 msg/s", unit: "ms", better: "lower" },
  { id: "http.bosh.p99", label: "1:1 over BOSH: latency p99 at 1,000 msg/s", unit: "ms", better: "lower" },
  { id: "groups.100.join", label: "room of 100: time for all to join", unit: "s", better: "lower" },
  { id: "groups.100.deliveries", label: "room of 100: deliveries/s", unit: "/s", better: "higher", goal: "≥ 2× best rival" },
  { id: "groups.100.p99", label: "room of 100: p99 to last occupant at 10 msg/s", unit: "ms", better: "lower" },
  { id: "groups.500.join", label: "room of 500: time for all to join", unit: "s", better: "lower" },
  { id: "groups.500.deliveries", label: "room of 500: deliveries/s", unit: "/s", better: "higher", goal: "≥ 2× best rival" },
  { id: "groups.500.p99", label: "room of 500: p99 to last occupant at 10 msg/s", unit: "ms", better: "lower", goal: "≤ 5 ms" },
  { id: "groups.1000.join", label: "room of 1,000: time for all to join", unit: "s", better: "lower", goal: "≤ 4 s" },
  { id: "groups.1000.deliveries", label: "room of 1,000: deliveries/s", unit: "/s", better: "higher", goal: "≥ 2× best rival" },
  { id: "groups.1000.p99", label: "room of 1,000: p99 to last occupant at 10 msg/s", unit: "ms", better: "lower" },
  { id: "offline.1000", label: "offline: 1,000 queued, presence to last delivered", unit: "ms", better: "lower", goal: "≤ 25 ms" },
  { id: "cores.login.scram", label: "logins/s, SCRAM-SHA-1, 2 nodes (Redis cluster) on both cores", unit: "/s", better: "higher" },
  { id: "cores.one2one.throughput", label: "1:1 delivered msg/s, pairs split over 2 nodes on both cores", unit: "/s", better: "higher" },
  { id: "cores.one2one.p50", label: "1:1 latency p50 at 2,000 msg/s, across 2 nodes", unit: "ms", better: "lower" },
  { id: "cores.one2one.p99", label: "1:1 latency p99 at 2,000 msg/s, across 2 nodes", unit: "ms", better: "lower" },
  { id: "s2s.throughput", label: "S2S delivered msg/s, 500 senders to partners on a second server", unit: "/s", better: "higher" },
  { id: "s2s.p50", label: "S2S latency p50 at 2,000 msg/s, across two servers", unit: "ms", better: "lower" },
  { id: "s2s.p99", label: "S2S latency p99 at 2,000 msg/s, across two servers", unit: "ms", better: "lower" },
];

export type Results = Record<string, Record<string, Cell>>; // row id -> server -> cell

/** The generator used most of its core: the figure may be its limit rather than the server's. */
export function generatorBound(c: Cell): boolean {
  return Number(c.detail?.generatorCpu ?? 0) >= 0.9;
}

function show(c: Cell | undefined): string {
  if (!c) return "";
  if (c.status !== "ok") return c.status;
  const v = c.value!.toLocaleString("en-US", { maximumFractionDigits: c.value! < 10 ? 2 : c.value! < 100 ? 1 : 0 });
  return generatorBound(c) ? `${v} *` : v;
}

function ratio(row: RowDef, cells: Record<string, Cell>, ours: string, rivals: string[]): string {
  const o = cells[ours];
  const vals = rivals.map((r) => cells[r]).filter((c): c is Cell => c?.status === "ok" && c.value! > 0).map((c) => c.value!);
  if (o?.status !== "ok" || vals.length === 0 || !(o.value! > 0)) return "";
  const best = row.better === "higher" ? Math.max(...vals) : Math.min(...vals);
  const r = row.better === "higher" ? o.value! / best : best / o.value!;
  return `${r.toFixed(2)}×`;
}

/** A markdown table; rows nobody measured are left out. */
export function renderTable(results: Results, servers: string[]): string {
  const rivals = servers.filter((s) => s !== "ours");
  const head = ["measure", "unit", ...servers, ...(servers.includes("ours") && rivals.length ? ["ours vs best rival"] : []), "goal"];
  const lines = [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`];
  for (const row of ROWS) {
    const cells = results[row.id];
    if (!cells || Object.keys(cells).length === 0) continue;
    const r = [row.label, row.unit, ...servers.map((s) => show(cells[s]))];
    if (servers.includes("ours") && rivals.length) r.push(ratio(row, cells, "ours", rivals));
    r.push(row.goal ?? "");
    lines.push(`| ${r.join(" | ")} |`);
  }
  return lines.join("\n");
}

/** Failure and "not built" notes under the table, so a reader sees why a cell is not a number. */
export function renderNotes(results: Results): string[] {
  const out: string[] = [];
  if (Object.values(results).some((cells) => Object.values(cells).some((c) => c.status === "ok" && generatorBound(c)))) {
    out.push("- \\* the generator used ≥ 90% of its core: the server may do more than this");
  }
  for (const row of ROWS) {
    for (const [server, c] of Object.entries(results[row.id] ?? {})) {
      if (c.status !== "ok" && c.note) out.push(`- ${row.id} / ${server}: ${c.status}: ${c.note}`);
    }
  }
  return out;
}
