// A fresh xmppd for one conformance profile: its own data folder, a free loopback port, the
// admin account made with the CLI before start (as an operator would), and the server run as a
// child process of this script (stopped by its PID, never by name).
import { spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, createWriteStream } from "node:fs";
import { freePort, startProcess } from "../../test/helpers/process.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dirname, "..", "..");
export const DOMAIN = "localhost";
export const ADMIN = { username: "admin", password: "sinttest-admin-pw" };

export interface ServerProfile {
  /** false: the loopback test profile (no TLS before authentication). */
  requireTls: boolean;
  /** In-band registration open (the fallback when XEP-0133 is not used). */
  registration: boolean;
}

export interface RunningServer {
  port: number;
  dataDir: string;
  /** The self-signed certificate the server made at first start, as a PKCS#12 trust store for java. */
  trustStore: { path: string; password: string };
  logFile: string;
  stop(): Promise<void>;
}

export { freePort };

export async function startServer(profile: ServerProfile, logFile: string): Promise<RunningServer> {
  const dataDir = mkdtempSync(join(tmpdir(), "xmppd-conformance-"));
  const port = await freePort();
  const httpPort = await freePort();
  const proxyPort = await freePort();
  const config = join(dataDir, "config.json");
  writeFileSync(config, JSON.stringify({
    domain: DOMAIN,
    dataDir,
    admins: [`${ADMIN.username}@${DOMAIN}`],
    c2s: { host: "127.0.0.1", port, directTlsPort: 0, requireTls: profile.requireTls },
    // Plain HTTP for XEP-0363's files: Smack PUTs and GETs them with the JVM's own HTTP client.
    http: { host: "127.0.0.1", port: httpPort, tlsPort: 0 },
    modules: {
      upload: { url: `http://127.0.0.1:${httpPort}/upload` },
      // Smack's SOCKS5 file transfer goes through the proxy (XEP-0065): the run is on loopback,
      // where Smack offers no streamhost of its own.
      proxy65: { host: "127.0.0.1", port: proxyPort, advertise: "127.0.0.1" },
    },
    // Every test account of the run is created from 127.0.0.1.
    registration: { enabled: profile.registration, perHourPerAddress: 10_000 },
    // Smack's tests log in many times, some with wrong passwords on purpose.
    auth: { failuresPerMinute: 1000, failuresPerAccount: 1000 },
    // A few accounts carry the traffic of every test of the run, many at once: the input shapers,
    // an allowance per account, are lifted.
    limits: { bytesPerSecond: 0, stanzasPerSecond: 0 },
    log: { level: "warn" },
  }));
  const main = join(root, "src", "main.ts");
  const add = spawnSync(process.execPath, [main, "adduser", `${ADMIN.username}@${DOMAIN}`, ADMIN.password, "-c", config], { encoding: "utf8" });
  if (add.status !== 0) throw new Error(`adduser failed: ${add.stderr}`);

  const log = createWriteStream(logFile);
  // startProcess leaves the proxy off unless the environment names its port: the file's.
  const child = await startProcess(root, { ...process.env, XMPPD_MODULES__PROXY65__PORT: String(proxyPort) }, { args: ["-c", config], output: log, timeoutMs: 30_000 });
  return {
    port,
    dataDir,
    trustStore: trustStore(join(dataDir, "certs", `${DOMAIN}.crt`), join(dataDir, "truststore.p12")),
    logFile,
    stop: () => stop(child, dataDir, log),
  };
}

/**
 * sinttest's own serviceTlsPin does not take in Smack 4.5.0-beta5 (ConnectionConfiguration
 * re-initialises the pinned SSLContext with the default trust managers), so java trusts the
 * certificate through a trust store made with keytool.
 */
function trustStore(cert: string, path: string): { path: string; password: string } {
  const password = "conformance";
  const r = spawnSync("keytool", ["-importcert", "-noprompt", "-alias", "xmppd", "-file", cert, "-keystore", path, "-storetype", "PKCS12", "-storepass", password], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`keytool failed: ${r.stderr}${r.stdout}`);
  return { path, password };
}

async function stop(child: ChildProcess, dataDir: string, log: NodeJS.WritableStream): Promise<void> {
  if (child.exitCode === null) {
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }
  log.end();
  rmSync(dataDir, { recursive: true, force: true });
}
