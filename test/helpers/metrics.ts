// Scrapes a server's metrics listener over HTTP and reads the answer with the Prometheus project's
// own text-format parser (prometheus_client.parser, Debian's python3-prometheus-client, installed
// by scripts/debian-deps.sh), which refuses what Prometheus would not take.
import { spawnSync } from "node:child_process";
import { request } from "node:http";

export interface HttpAnswer { status: number; type: string; body: string }

export function get(port: number, path: string, accept?: string): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, headers: accept ? { accept } : {} }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"] ?? ""), body }));
    });
    req.on("error", reject);
    req.end();
  });
}

export interface Sample { name: string; labels: Record<string, string>; value: number }
export interface Family { name: string; type: string; help: string; samples: Sample[] }

/** Debian's Python, where python3-prometheus-client is (a python3 first on PATH may be another). */
export const PYTHON = "/usr/bin/python3";

// Values go as text ("NaN", "+Inf" are valid sample values, not JSON).
const PARSE = `import sys, json
from prometheus_client.parser import text_string_to_metric_families
out = [{"name": f.name, "type": f.type, "help": f.documentation,
        "samples": [{"name": s.name, "labels": s.labels, "value": repr(float(s.value))} for s in f.samples]}
       for f in text_string_to_metric_families(sys.stdin.read())]
print(json.dumps(out))`;

/** Python's repr of a float as a number: "nan", "inf", "-inf" included. */
function number(text: string): number {
  return text === "nan" ? NaN : text === "inf" ? Infinity : text === "-inf" ? -Infinity : Number(text);
}

/** A scrape as the Prometheus text-format parser reads it; throws what the parser refuses. */
export class Scrape {
  readonly families: Family[];

  constructor(text: string) {
    const r = spawnSync(PYTHON, ["-c", PARSE], { input: text, encoding: "utf8", maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`the Prometheus parser refused the scrape (python3-prometheus-client: scripts/debian-deps.sh): ${r.stderr}`);
    const parsed = JSON.parse(r.stdout) as (Omit<Family, "samples"> & { samples: (Omit<Sample, "value"> & { value: string })[] })[];
    this.families = parsed.map((f) => ({ ...f, samples: f.samples.map((s) => ({ ...s, value: number(s.value) })) }));
  }

  /** A family by name (the parser names a counter's family without its _total). */
  family(name: string): Family | undefined {
    return this.families.find((f) => f.name === name || `${f.name}_total` === name);
  }

  /** Every sample of this name, across families. */
  samples(name: string): Sample[] {
    return this.families.flatMap((f) => f.samples.filter((s) => s.name === name));
  }

  /** The value of the sample `name` whose labels include `labels` (undefined when there is none). */
  value(name: string, labels: Record<string, string> = {}): number | undefined {
    return this.samples(name).find((s) => matches(s, labels))?.value;
  }

  /** The sum of the samples `name` whose labels include `labels`. */
  sum(name: string, labels: Record<string, string> = {}): number {
    return this.samples(name).filter((s) => matches(s, labels)).reduce((n, s) => n + s.value, 0);
  }

  /** A histogram's series: its cumulative buckets by `le`, its count and sum (undefined when it has none). */
  histogram(name: string, labels: Record<string, string> = {}): { buckets: Record<string, number>; count: number; sum: number } | undefined {
    const count = this.value(`${name}_count`, labels);
    if (count === undefined) return undefined;
    const buckets = Object.fromEntries(this.samples(`${name}_bucket`).filter((s) => matches(s, labels)).map((s) => [s.labels.le!, s.value]));
    return { buckets, count, sum: this.value(`${name}_sum`, labels)! };
  }
}

function matches(s: Sample, labels: Record<string, string>): boolean {
  return Object.entries(labels).every(([k, v]) => s.labels[k] === v);
}

export async function scrape(port: number, path = "/metrics"): Promise<Scrape> {
  const r = await get(port, path);
  if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${r.body}`);
  return new Scrape(r.body);
}
