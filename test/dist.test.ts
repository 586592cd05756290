// dist/xmppd.service, the systemd unit the README installs: it parses (systemd-analyze verify,
// where systemd is installed: Debian's systemd package has it), it starts the server as the README
// deploys it (./run start -c, as the xmppd user), and it keeps its sandbox: every hardening key
// with its value, the data folder the only one written, the certificates read-only.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");
const text = readFileSync(join(root, "dist", "xmppd.service"), "utf8");
const readme = readFileSync(join(root, "README.md"), "utf8");

/** The unit's settings: section → key → values, in order (a key may be given more than once). */
function parseUnit(unit: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of unit.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) {
      current = new Map();
      sections.set(header[1]!, current);
      continue;
    }
    const eq = line.indexOf("=");
    if (current === undefined || eq < 1) throw new Error(`not a setting of a section: ${line}`);
    const key = line.slice(0, eq);
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1)]);
  }
  return sections;
}

const unit = parseUnit(text);
const service = unit.get("Service")!;
const value = (key: string) => service.get(key)?.join(" | ");

describe("dist/xmppd.service", () => {
  it("has the sections of a service enabled at boot", () => {
    expect([...unit.keys()]).toEqual(["Unit", "Service", "Install"]);
    expect(unit.get("Unit")!.get("After")).toEqual(["network-online.target"]);
    expect(unit.get("Install")!.get("WantedBy")).toEqual(["multi-user.target"]);
  });

  it("starts the server as the README deploys it, as the xmppd user", () => {
    expect(value("ExecStart")).toBe("/opt/xmppd/run start -c /etc/xmppd/xmppd.jsonc");
    expect(value("User")).toBe("xmppd");
    expect(value("Group")).toBe("xmppd");
    expect(value("WorkingDirectory")).toBe("/var/lib/xmppd");
    expect(value("ExecReload")).toBe("/bin/kill -HUP $MAINPID");
    for (const path of ["/opt/xmppd", "/etc/xmppd/xmppd.jsonc", "/var/lib/xmppd/data"]) expect(readme).toContain(path);
  });

  it("keeps its sandbox", () => {
    const hardening: Record<string, string> = {
      NoNewPrivileges: "yes", ProtectSystem: "strict", ProtectHome: "yes", PrivateTmp: "yes", PrivateDevices: "yes", DevicePolicy: "closed",
      ProtectKernelTunables: "yes", ProtectKernelModules: "yes", ProtectKernelLogs: "yes", ProtectControlGroups: "yes", ProtectClock: "yes",
      ProtectHostname: "yes", RestrictNamespaces: "yes", RestrictRealtime: "yes", RestrictSUIDSGID: "yes", LockPersonality: "yes",
      MemoryDenyWriteExecute: "no", SystemCallArchitectures: "native", RestrictAddressFamilies: "AF_UNIX AF_INET AF_INET6",
      CapabilityBoundingSet: "", AmbientCapabilities: "", UMask: "0077",
    };
    for (const [key, v] of Object.entries(hardening)) expect(value(key), key).toBe(v);
    expect(service.get("SystemCallFilter")![0]).toBe("@system-service");
    // Written: the data folder only (dataDir, and the admin socket in it); the certificates read-only.
    expect(value("ReadWritePaths")).toBe("/var/lib/xmppd");
    expect(value("ReadOnlyPaths")).toBe("-/etc/letsencrypt");
    // Why W+X memory stays allowed is said where it is set.
    const lines = text.split("\n");
    const at = lines.indexOf("MemoryDenyWriteExecute=no");
    let start = at;
    while (lines[start - 1]?.startsWith("#")) start--;
    const why = lines.slice(start, at).map((l) => l.replace(/^#\s*/, "")).join(" ");
    expect(why).toMatch(/V8 .*writable\s+and\s+executable/);
  });

  it("is the one the README installs", () => {
    const section = readme.slice(readme.indexOf("### Running as a service"), readme.indexOf("### Invitations"));
    expect(section).toContain("[dist/xmppd.service](dist/xmppd.service)");
    expect(section).toContain("sudo install -m 0644 dist/xmppd.service /etc/systemd/system/");
    expect(section).not.toContain("[Service]");
  });

  const analyze = spawnSync("systemd-analyze", ["--version"], { encoding: "utf8" });
  describe.skipIf(analyze.status !== 0)("systemd-analyze", () => {
    const dir = mkdtempSync(join(tmpdir(), "xmppd-unit-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    // verify checks that ExecStart's program exists: this checkout's ./run stands in for /opt/xmppd's.
    const copy = join(dir, "xmppd.service");
    writeFileSync(copy, text.replaceAll("/opt/xmppd", root));

    it("verifies it without a warning", () => {
      expect(existsSync(join(root, "run"))).toBe(true);
      const r = spawnSync("systemd-analyze", ["verify", "--man=no", copy], { cwd: dir, encoding: "utf8" });
      expect(`${r.stdout}${r.stderr}`).toBe("");
      expect(r.status).toBe(0);
    });

    it("rates its exposure low", () => {
      const r = spawnSync("systemd-analyze", ["security", "--offline=yes", "--no-pager", copy], { cwd: dir, encoding: "utf8" });
      const level = /Overall exposure level for xmppd\.service: ([\d.]+)/.exec(r.stdout);
      // --offline came with systemd 250; older ones cannot rate a unit that is not loaded.
      if (level === null) return;
      expect(Number(level[1])).toBeLessThanOrEqual(2);
    });
  });
});
