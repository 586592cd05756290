// docker/ is the deployment an operator copies, and no Docker engine runs here: this keeps it in
// step with the project. The nodes' configuration loads with the server's own schema; ports agree
// between the config, the Dockerfile, the load balancer and the compose file; the Dockerfile runs
// a command the CLI has, on the Node major the project uses; the images are the versions of the
// services the tests really run (Cassandra of scripts/services/cassandra/pom.xml, Redis and
// HAProxy of the Debian packages). Where the Debian tools are installed (scripts/debian-deps.sh),
// `haproxy -c` checks the load balancer's config and `docker-compose config` the compose file.
// compose.yaml is read by a reader for the plain subset of YAML it is written in (block mappings
// and sequences, scalars, JSON-style flow lists); where Python's YAML is there, both readings agree.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig, stripJsonComments } from "../src/core/config.ts";
import { NODE_FLAGS } from "../src/node-flags.ts";

const root = join(import.meta.dirname, "..");
const dockerDir = join(root, "docker");
const read = (f: string) => readFileSync(join(root, f), "utf8");

type Yaml = string | Yaml[] | { [key: string]: Yaml };

/** The plain YAML subset of compose.yaml: no anchors, tags, multi-line scalars or flow mappings (they throw). */
export function readYaml(text: string): Yaml {
  const lines = text.split("\n").map((raw, i) => ({ n: i + 1, indent: raw.search(/\S/), text: stripComment(raw).trimEnd() }))
    .filter((l) => l.indent >= 0 && l.text.trim() !== "");
  let at = 0;
  const scalar = (s: string, n: number): Yaml => {
    s = s.trim();
    if (/^[&*!|>{]/.test(s)) throw new Error(`line ${n}: '${s}' is outside the subset`);
    if (s.startsWith("[")) return JSON.parse(s) as Yaml[];
    if (s.startsWith('"')) return JSON.parse(s) as string;
    if (s.startsWith("'")) return s.slice(1, -1).replace(/''/g, "'");
    return s;
  };
  const block = (indent: number): Yaml => {
    const first = lines[at]!;
    if (first.text.trimStart().startsWith("- ")) {
      const out: Yaml[] = [];
      while (at < lines.length && lines[at]!.indent === indent && lines[at]!.text.trimStart().startsWith("- ")) {
        const l = lines[at++]!;
        out.push(scalar(l.text.trimStart().slice(2), l.n));
      }
      return out;
    }
    const out: { [key: string]: Yaml } = {};
    while (at < lines.length && lines[at]!.indent === indent) {
      const l = lines[at++]!;
      const m = /^([A-Za-z0-9_.-]+|"[^"]*"):(?:\s+(.*))?$/.exec(l.text.trim());
      if (!m) throw new Error(`line ${l.n}: not 'key: value': ${l.text}`);
      const key = m[1]!.replace(/^"|"$/g, "");
      if (key in out) throw new Error(`line ${l.n}: '${key}' twice`);
      if (m[2] !== undefined) out[key] = scalar(m[2], l.n);
      else if (at < lines.length && lines[at]!.indent > indent) out[key] = block(lines[at]!.indent);
      else if (at < lines.length && lines[at]!.indent === indent && lines[at]!.text.trimStart().startsWith("- ")) out[key] = block(indent);
      else out[key] = "";
    }
    return out;
  };
  const doc = block(0);
  if (at !== lines.length) throw new Error(`line ${lines[at]!.n}: unexpected indentation`);
  return doc;
}

function stripComment(line: string): string {
  let quote = "";
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = "";
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "#" && (i === 0 || /\s/.test(line[i - 1]!))) return line.slice(0, i);
  }
  return line;
}

const obj = (v: Yaml | undefined): { [key: string]: Yaml } => {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error(`not a mapping: ${JSON.stringify(v)}`);
  return v;
};
const list = (v: Yaml | undefined): string[] => {
  if (!Array.isArray(v)) throw new Error(`not a list: ${JSON.stringify(v)}`);
  return v.map(String);
};
/** Compose's ${VAR:-default}, with the default. */
const interpolate = (s: string) => s.replace(/\$\{[A-Z0-9_]+:-([^}]*)\}/g, "$1");

const compose = obj(readYaml(read("docker/compose.yaml")));
const services = obj(compose.services);
const nodeNames = Object.keys(services).filter((n) => obj(services[n]).build !== undefined);
const imageOf = (name: string) => String(obj(services[name]).image);
const tagOf = (name: string) => imageOf(name).split(":")[1] ?? "";
const dockerfile = read("docker/Dockerfile");
const instructions = dockerfile.split("\n").filter((l) => l.trim() && !l.startsWith("#")).map((l) => {
  const [op, ...rest] = l.trim().split(/\s+/);
  return { op: op!.toUpperCase(), args: rest.join(" ") };
});
const instruction = (op: string) => instructions.filter((i) => i.op === op).map((i) => i.args);

/** The node config as a node loads it: the mounted file, then the service's XMPPD_* variables. */
function nodeConfig(name: string) {
  const s = obj(services[name]);
  const env = Object.fromEntries(Object.entries(obj(s.environment)).map(([k, v]) => [k, interpolate(String(v))]));
  const mounts = list(s.volumes).map((v) => v.split(":"));
  const file = mounts.find(([, target]) => target === env.XMPPD_CONFIG);
  if (!file) throw new Error(`${name}: XMPPD_CONFIG ${env.XMPPD_CONFIG} is not a mounted file`);
  const { XMPPD_CONFIG: _, ...overrides } = env;
  return { loaded: loadConfig(join(dockerDir, file[0]!), overrides), mounts, env };
}

const haproxy = read("docker/haproxy.cfg");
/** HAProxy sections: `backend c2s` -> its lines. */
const sections = new Map<string, string[]>();
{
  let current = "";
  for (const line of haproxy.split("\n")) {
    if (!line.trim() || line.trim().startsWith("#")) continue;
    if (!/^\s/.test(line)) sections.set((current = line.trim()), []);
    else sections.get(current)?.push(line.trim());
  }
}

describe("docker/ in step with the project", () => {
  it("reads compose.yaml as Python's YAML does, where it is installed", () => {
    const py = spawnSync("python3", ["-c", "import sys, json, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))"], { input: read("docker/compose.yaml"), encoding: "utf8" });
    if (py.status !== 0) return void console.info("python3 yaml not available: the subset reader alone");
    const normalise = (v: unknown): unknown => v === null ? "" : Array.isArray(v) ? v.map(normalise)
      : typeof v === "object" ? Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, normalise(x)])) : String(v);
    expect(compose).toEqual(normalise(JSON.parse(py.stdout)));
  });

  it("has the scale-out pieces: two or more identical xmppd nodes, a load balancer, Redis, Cassandra and an S3 store", () => {
    expect(nodeNames.length).toBeGreaterThanOrEqual(2);
    for (const name of ["lb", "redis", "cassandra", "s3"]) expect(Object.keys(services)).toContain(name);
    const strip = (name: string) => JSON.stringify(services[name]).replaceAll(name, "NODE");
    for (const name of nodeNames) {
      expect(obj(obj(services[name]).build)).toEqual({ context: "..", dockerfile: "docker/Dockerfile" });
      expect(strip(name)).toBe(strip(nodeNames[0]!));
    }
  });

  it("every node's configuration loads with the server's schema, on Cassandra, with files and services that exist", () => {
    for (const name of nodeNames) {
      const { loaded, mounts } = nodeConfig(name);
      const c = loaded.server;
      expect(c.storage.backend).toBe("cassandra");
      for (const point of c.storage.cassandra.contactPoints) {
        const [host, port] = point.split(":");
        expect(Object.keys(services)).toContain(host);
        expect(port ?? "9042").toBe("9042");
      }
      // The certificate is the same on every node, from a mounted folder.
      for (const path of [c.tls.cert!, c.tls.key!]) expect(mounts.some(([, target]) => path.startsWith(`${target}/`))).toBe(true);
      expect(mounts.some(([, target]) => target === c.dataDir)).toBe(true);
      // Docker kills a container stop_grace_period after SIGTERM: the drain must end first.
      const grace = Number(/^(\d+)s$/.exec(String(obj(services[name]).stop_grace_period))?.[1]);
      expect(grace).toBeGreaterThan(c.shutdown.drainTimeout + 5);
    }
  });

  it("the nodes form one cluster: the same Redis service and prefix, each its own stable name", () => {
    const configs = nodeNames.map((name) => ({ name, c: nodeConfig(name).loaded.server.cluster }));
    const redis = obj(services.redis);
    // The Redis service listens on the default port unless its command names another.
    const port = /--port\s+(\d+)/.exec(list(redis.command).join(" "))?.[1] ?? "6379";
    for (const { name, c } of configs) {
      expect(c.redis, name).toBeDefined();
      const url = new URL(c.redis!);
      expect(url.protocol).toBe("redis:");
      expect(url.hostname).toBe("redis");
      expect(url.port || "6379").toBe(port);
      // The node's name is its container's host name: unique, and the same after a restart.
      expect(c.node, name).toBe(String(obj(services[name]).hostname));
      expect(obj(services[name]).depends_on).toHaveProperty("redis");
    }
    expect(new Set(configs.map(({ c }) => c.node)).size).toBe(configs.length);
    expect(new Set(configs.map(({ c }) => `${c.redis} ${c.prefix}`)).size).toBe(1);
  });

  it("the ports agree: node config, Dockerfile EXPOSE, compose, load balancer", () => {
    const { loaded } = nodeConfig(nodeNames[0]!);
    const { c2s, http, metrics, s2s } = loaded.server;
    const federation = s2s.enabled ? [s2s.port, s2s.directTlsPort] : [];
    const ports = [c2s.port, c2s.directTlsPort, http.port, http.tlsPort, ...federation].filter((p) => p !== 0).map(String).sort();
    // The metrics listener is exposed to the compose network (Prometheus), not through the load balancer.
    const exposed = [...ports, ...(metrics.enabled ? [String(metrics.port)] : [])].sort();
    expect(instruction("EXPOSE").join(" ").split(/\s+/).sort()).toEqual(exposed);
    for (const name of nodeNames) expect(list(obj(services[name]).expose).sort()).toEqual(exposed);
    // The load balancer publishes the same ports and sends each to every node's same port.
    const lb = obj(services.lb);
    expect(list(lb.ports).map((p) => p.split(":")).sort()).toEqual(ports.map((p) => [p, p]));
    const binds = [...sections].filter(([name]) => name.startsWith("frontend "));
    expect(binds.map(([, lines]) => lines.find((l) => l.startsWith("bind "))!.split(":").pop()).sort()).toEqual(ports);
    for (const [frontend, lines] of binds) {
      const port = lines.find((l) => l.startsWith("bind "))!.split(":").pop();
      const backend = sections.get(`backend ${lines.find((l) => l.startsWith("default_backend "))!.split(" ")[1]}`);
      expect(backend, frontend).toBeDefined();
      const servers = backend!.filter((l) => l.startsWith("server ")).map((l) => l.split(/\s+/)[2]);
      expect(servers.sort()).toEqual(nodeNames.map((n) => `${n}:${port}`).sort());
      // Health checks speak XMPP to the plain port (a draining node closes it first).
      expect(backend).toContain(`tcp-check connect port ${loaded.server.c2s.port}`);
      expect(backend!.every((l) => !l.startsWith("server ") || l.endsWith(" check"))).toBe(true);
    }
  });

  it("the Dockerfile: the project's Node major, production dependencies, a non-root user, a health check, a command the CLI has", () => {
    const nodeMajor = /NODE_VERSION=(\d+)\./.exec(read("scripts/node.sh"))?.[1];
    expect(instruction("FROM")).toEqual([expect.stringMatching(new RegExp(`^node:${nodeMajor}-`))]);
    expect(instruction("RUN").some((r) => r.includes("npm ci --omit=dev"))).toBe(true);
    const user = instruction("USER");
    expect(user.length).toBe(1);
    expect(user[0]).not.toMatch(/^(root|0)$/);
    for (const copy of instruction("COPY")) {
      for (const src of copy.split(/\s+/).slice(0, -1)) expect(existsSync(join(root, src)), src).toBe(true);
    }
    const health = JSON.parse(instruction("HEALTHCHECK")[0]!.replace(/^.*CMD\s+/, "")) as string[];
    expect(health[0]).toBe("node");
    expect(existsSync(join(root, health[1]!))).toBe(true);
    const entry = JSON.parse(instruction("ENTRYPOINT")[0]!) as string[];
    const cmd = JSON.parse(instruction("CMD")[0]!) as string[];
    expect(entry).toEqual(["node", ...NODE_FLAGS, "src/main.ts"]);
    const usage = execFileSync(process.execPath, [join(root, "src/main.ts"), "--help"], { encoding: "utf8" });
    expect(usage).toMatch(new RegExp(`^  ${cmd[0]} `, "m"));
  });

  it("the images are the versions the tests run", () => {
    const cassandra = /<cassandra\.version>([^<]+)</.exec(read("scripts/services/cassandra/pom.xml"))?.[1];
    expect(imageOf("cassandra")).toBe(`cassandra:${cassandra}`);
    const majorMinor = (v: string | undefined) => /(\d+\.\d+)/.exec(v ?? "")?.[1];
    const redis = spawnSync("redis-server", ["--version"], { encoding: "utf8" });
    if (redis.status === 0) expect(majorMinor(tagOf("redis"))).toBe(majorMinor(/v=(\S+)/.exec(redis.stdout)?.[1]));
    else console.info("redis-server not installed: its version not compared");
    const ha = spawnSync("haproxy", ["-v"], { encoding: "utf8" });
    if (ha.status === 0) expect(majorMinor(tagOf("lb"))).toBe(majorMinor(/version (\S+)/.exec(ha.stdout)?.[1]));
    else console.info("haproxy not installed: its version not compared");
    expect(imageOf("lb")).toMatch(/^haproxy:/);
  });

  it.skipIf(spawnSync("haproxy", ["-v"]).status !== 0)("haproxy -c accepts the load balancer's config (only the nodes' names do not resolve here)", () => {
    const r = spawnSync("haproxy", ["-c", "-f", join(dockerDir, "haproxy.cfg")], { encoding: "utf8" });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const warnings = (r.stdout + r.stderr).split("\n").filter((l) => l.includes("[WARNING]") || l.includes("[ALERT]"));
    expect(warnings.filter((l) => !/could not resolve address 'xmppd\d+'/.test(l))).toEqual([]);
  });

  it.skipIf(spawnSync("docker-compose", ["version"]).status !== 0)("docker-compose config accepts compose.yaml", () => {
    const r = spawnSync("docker-compose", ["-f", join(dockerDir, "compose.yaml"), "config", "-q"], { encoding: "utf8" });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it("the node config file is plain JSON with comments (what the server reads)", () => {
    expect(() => JSON.parse(stripJsonComments(read("docker/xmppd.jsonc")))).not.toThrow();
  });
});
