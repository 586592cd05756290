// Smack's Integration Test Framework: fetched and built with Maven (conformance/pom.xml; the first
// run downloads into ~/.m2, later runs work offline), then run with java against one server.
import { spawn, spawnSync } from "node:child_process";
import { createWriteStream, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Exclusions } from "./report.ts";

const dir = join(import.meta.dirname, "..");
const classpathFile = join(dir, "target", "classpath.txt");

/** Compiles the runner and writes the classpath; quiet unless Maven fails. */
export function build(): string {
  const offline = existsSync(classpathFile) ? ["-o"] : [];
  let r = spawnSync("mvn", ["-B", "-q", ...offline, "compile", "dependency:build-classpath", `-Dmdep.outputFile=${classpathFile}`], { cwd: dir, encoding: "utf8" });
  // Offline fails when the pom changed to something not downloaded yet: once more, online.
  if (r.status !== 0 && offline.length) r = spawnSync("mvn", ["-B", "-q", "compile", "dependency:build-classpath", `-Dmdep.outputFile=${classpathFile}`], { cwd: dir, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`mvn failed:\n${r.stdout}\n${r.stderr}`);
  return `${join(dir, "target", "classes")}:${readFileSync(classpathFile, "utf8").trim()}`;
}

export interface SinttestOptions {
  classpath: string;
  port: number;
  securityMode: "disabled" | "required";
  /** A trust store holding the server's self-signed certificate. */
  trustStore?: { path: string; password: string };
  /** XEP-0133 provisioning; without it, sinttest registers its accounts in-band (XEP-0077). */
  admin?: { username: string; password: string };
  replyTimeoutMs: number;
  exclusions: Exclusions;
  /** Only these tests (sinttest.enabledTests syntax), for a quick look at one test. */
  only?: string;
  resultsFile: string;
  logFile: string;
}

/** "org.x.SomeTest.someMethod" names a method; "org.x.SomeTest" a class. */
const isMethod = (name: string) => /^[a-z]/.test(name.slice(name.lastIndexOf(".") + 1));

/** The -D options, as the XMPP Interop Testing runners pass them, plus the runner's own. */
export function properties(o: SinttestOptions): string[] {
  const tests = Object.keys(o.exclusions.tests);
  const p: Record<string, string | undefined> = {
    "sinttest.service": "localhost",
    // An IP literal: Smack connects to it without any DNS lookup.
    "sinttest.host": "127.0.0.1",
    "xmppd.port": String(o.port),
    "sinttest.securityMode": o.securityMode,
    "javax.net.ssl.trustStore": o.trustStore?.path,
    "javax.net.ssl.trustStorePassword": o.trustStore?.password,
    "javax.net.ssl.trustStoreType": o.trustStore ? "PKCS12" : undefined,
    "sinttest.replyTimeout": String(o.replyTimeoutMs),
    "sinttest.adminAccountUsername": o.admin?.username,
    "sinttest.adminAccountPassword": o.admin?.password,
    "sinttest.disabledSpecifications": Object.keys(o.exclusions.specifications).join(",") || undefined,
    "sinttest.disabledTests": tests.filter((t) => !isMethod(t)).join(",") || undefined,
    // Left out by the runner (Runner.enabledAllBut): sinttest's disabledTests would drop the whole class.
    "xmppd.disabledMethods": tests.filter(isMethod).join(",") || undefined,
    "sinttest.disabledConnections": Object.keys(o.exclusions.connections).join(",") || undefined,
    "sinttest.enabledTests": o.only,
    "xmppd.results": o.resultsFile,
    "sinttest.debugger": process.env.SINTTEST_DEBUGGER,
  };
  return Object.entries(p).filter(([, v]) => v !== undefined).map(([k, v]) => `-D${k}=${v}`);
}

/** Runs the suite; resolves with java's exit code (0: every test that ran passed). */
export function runSinttest(o: SinttestOptions): Promise<number> {
  const log = createWriteStream(o.logFile);
  const java = spawn("java", ["-cp", o.classpath, ...properties(o), "dev.xmppd.conformance.Runner"], { stdio: ["ignore", "pipe", "pipe"] });
  java.stdout.pipe(log);
  java.stderr.pipe(log);
  return new Promise((resolve, reject) => {
    java.once("error", reject);
    java.once("exit", (code) => log.end(() => resolve(code ?? 1)));
  });
}
