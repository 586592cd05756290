// docker/'s monitoring against the metrics the server really exports: a server with metrics on is
// scraped and read with the Prometheus project's parser, and every metric the Grafana dashboard
// queries must be in the scrape, with every label its selectors and groupings name; the Prometheus
// scrape config passes promtool and points at the nodes' metrics listener as their config has it.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/core/config.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { RawClient } from "./helpers/raw.ts";
import { scrape, type Scrape } from "./helpers/metrics.ts";

const docker = join(import.meta.dirname, "..", "docker");
const dashboard = JSON.parse(readFileSync(join(docker, "grafana-dashboard.json"), "utf8")) as {
  title: string; uid: string; panels: { title: string; targets: { expr: string }[] }[];
  templating: { list: { definition: string }[] };
};

/** Labels Prometheus adds at scrape time, and the bucket label of histograms. */
const ADDED = new Set(["instance", "job", "le"]);

/** Every PromQL expression of the dashboard (panels and variables). */
const expressions = [...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)), ...dashboard.templating.list.map((v) => v.definition)];

let t: TestServer;
let scraped: Scrape;
beforeAll(async () => {
  t = await startServer({ config: { metrics: { enabled: true } }, users: { romeo: "pw" } });
  // Some traffic, and garbage collections until the histogram that fills on them (GC, reported
  // asynchronously by a PerformanceObserver) has series.
  (await RawClient.login(t.port, "romeo", "pw")).close();
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  for (let i = 0; i < 50; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 100));
    scraped = await scrape(t.server.ports.metrics!);
    if (scraped.samples("nodejs_gc_duration_seconds_sum").length > 0) break;
  }
});
afterAll(() => t.stop());

describe("the Grafana dashboard (docker/grafana-dashboard.json)", () => {
  it("queries only metrics the server exports", () => {
    const names = new Set(expressions.flatMap((e) => e.match(/\b(?:xmppd|process|nodejs)_[a-z0-9_]+\b/g) ?? []));
    expect(names.size).toBeGreaterThan(15);
    const missing = [...names].filter((n) => scraped.samples(n).length === 0);
    expect(missing).toEqual([]);
  });

  it("names only labels those metrics have, in its selectors and groupings", () => {
    const problems: string[] = [];
    for (const e of expressions) {
      for (const m of e.matchAll(/\b((?:xmppd|process|nodejs)_[a-z0-9_]+)\{([^}]*)\}/g)) {
        const have = new Set(scraped.samples(m[1]!).flatMap((s) => Object.keys(s.labels)));
        for (const [, label] of m[2]!.matchAll(/([a-z_]+)\s*=~?/g)) if (!ADDED.has(label!) && !have.has(label!)) problems.push(`${m[1]}: no label ${label}`);
      }
      // sum by (a, b) (… metric …): the labels of the metrics inside.
      for (const m of e.matchAll(/by \(([^)]*)\) \(/g)) {
        const inner = [...e.matchAll(/\b((?:xmppd|process|nodejs)_[a-z0-9_]+)\b/g)].map((x) => x[1]!);
        const have = new Set(inner.flatMap((n) => scraped.samples(n).flatMap((s) => Object.keys(s.labels))));
        for (const label of m[1]!.split(",").map((l) => l.trim())) if (!ADDED.has(label) && !have.has(label)) problems.push(`${e}: no label ${label}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("is a dashboard Grafana imports: a title, a uid, panels with queries, the data source as an input", () => {
    expect(dashboard.title).toBe("xmppd");
    expect(dashboard.uid).toMatch(/^[a-z0-9-]+$/);
    expect(dashboard.panels.length).toBeGreaterThan(10);
    for (const p of dashboard.panels) expect(p.targets.length, p.title).toBeGreaterThan(0);
    expect(JSON.stringify(dashboard)).toContain("${DS_PROMETHEUS}");
  });
});

describe("the Prometheus scrape config (docker/prometheus.yml)", () => {
  // Its two keys that matter here, read as written (promtool below checks the whole file).
  const text = readFileSync(join(docker, "prometheus.yml"), "utf8");
  const metricsPath = /^\s*metrics_path:\s*(\S+)\s*$/m.exec(text)?.[1];
  const targets = (/^\s*- targets:\s*(\[.*\])\s*$/m.exec(text)?.[1] ?? "[]");

  it("scrapes every node of compose.yaml at its metrics listener's port and path", () => {
    const node = loadConfig(join(docker, "xmppd.jsonc"), {}).server.metrics;
    expect(node.enabled).toBe(true);
    // The nodes are the services built from the Dockerfile (compose.yaml: "  xmppdN:" followed by "    build:").
    const nodes = [...readFileSync(join(docker, "compose.yaml"), "utf8").matchAll(/^ {2}([a-z0-9-]+):\n {4}build:/gm)].map((m) => m[1]!);
    expect(nodes.length).toBeGreaterThanOrEqual(2);
    expect(metricsPath).toBe(node.path);
    expect((JSON.parse(targets) as string[]).sort()).toEqual(nodes.map((n) => `${n}:${node.port}`).sort());
  });

  it.skipIf(spawnSync("promtool", ["--version"]).status !== 0)("passes promtool check config", () => {
    const r = spawnSync("promtool", ["check", "config", join(docker, "prometheus.yml")], { encoding: "utf8" });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });
});
